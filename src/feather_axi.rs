//! A host model for FEATHER behind AXI (`plume_hw::feather::axi::axi_feather`): what the Zynq
//! PS does on the board, done cycle by cycle on plume's simulator through the bus-functional
//! models of `axi.rs`. Layer constants go over AXI4-Lite, buffer lines and the loop-compressed
//! program over AXI4-Stream, then start, wait for done (polling CTRL), read `CYCLES`, and
//! stream the output lines back. Every bus signal can stall at random.

use crate::axi::{stream, LiteMaster, OKAY};
use anyhow::{bail, Context, Result};
use plume_hw::feather::axi::{axi_feather, feather_map, feather_stream_width, Target};
use plume_hw::feather::golden::Quant;
use plume_hw::feather::mapper::{gather, place, Dataflow, Schedule};
use plume_hw::feather::program;
use plume_hw::feather::sequencer::{SeqConfig, SeqLayout};
use plume_hw::lib::axi_lite::RegMap;
use plume_hw::rtl::{Bits, Module};
use plume_sim::{Recording, Sim};
use std::rc::Rc;

/// Random stalls (percent) on each bus.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stalls {
    pub lite: u64,
    pub stream_in: u64,
    pub stream_out: u64,
    pub seed: u64,
}

pub struct AxiRun {
    /// The output tensor (M×N row-major), read back over `m_axis`.
    pub out: Vec<u8>,
    /// `CYCLES` as the hardware counted it.
    pub cycles: u64,
    /// Entries the wrapper reports written (`ENTRIES`).
    pub entries: u64,
    /// Bus cycles of each phase: parameters + data in, run (start to done), read-back.
    pub phases: [u64; 3],
    pub recording: Option<Recording>,
    pub top: Rc<Module>,
}

struct Host<'a> {
    sim: Sim,
    map: &'a RegMap,
    bfm: LiteMaster,
    stalls: Stalls,
    packets: u64,
}

impl Host<'_> {
    fn write(&mut self, name: &str, value: u64) -> Result<()> {
        let off = self
            .map
            .offset(name)
            .with_context(|| format!("no register {name}"))?;
        let width = self.map.params.iter().find(|p| p.name == name).unwrap().width;
        for k in 0..width.div_ceil(32) {
            let v = (value >> (32 * k)) as u32;
            let resp = self
                .bfm
                .write(&mut self.sim, (off + 4 * k) as u64, v, 0xf)?;
            if resp != OKAY {
                bail!("writing {name} answered {resp}");
            }
        }
        Ok(())
    }

    fn read(&mut self, name: &str) -> Result<u64> {
        let off = self
            .map
            .offset(name)
            .with_context(|| format!("no register {name}"))?;
        let (v, resp) = self.bfm.read(&mut self.sim, off as u64)?;
        if resp != OKAY {
            bail!("reading {name} answered {resp}");
        }
        Ok(v as u64)
    }

    /// Sends one packet of entries to `target` from entry 0.
    fn send(&mut self, target: Target, entries: &[Bits]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.write("wr_target", target as u64)?;
        self.write("wr_base", 0)?;
        let dw = self.sim.input("s_axis_tdata")?.width;
        let mut beats = Vec::new();
        for e in entries {
            let n = e.width().div_ceil(dw);
            for k in 0..n {
                let w = (e.width() - k * dw).min(dw);
                let mut beat = Bits::zero(dw);
                beat.set_slice(0, &e.slice(k * dw, w));
                beats.push((beat, false));
            }
        }
        beats.last_mut().unwrap().1 = true;
        self.packets += 1;
        stream(
            &mut self.sim,
            &beats,
            0,
            self.stalls.stream_in,
            0,
            self.stalls.seed ^ self.packets,
        )?;
        Ok(())
    }

    /// Pulses start and polls CTRL until done; returns the cycles it took.
    fn start_and_wait(&mut self, limit: u64) -> Result<u64> {
        let t0 = self.sim.cycle();
        if self.bfm.write(&mut self.sim, 0, 1, 0xf)? != OKAY {
            bail!("CTRL write refused");
        }
        loop {
            let (ctrl, _) = self.bfm.read(&mut self.sim, 0)?;
            if ctrl & 2 != 0 {
                return Ok(self.sim.cycle() - t0);
            }
            if self.sim.cycle() - t0 > limit {
                bail!("no done within {limit} cycles of start");
            }
        }
    }
}

fn line_bits(line: &[u8]) -> Bits {
    let mut b = Bits::zero(8 * line.len() as u32);
    for (i, &x) in line.iter().enumerate() {
        b.set_slice(8 * i as u32, &Bits::from_u64(8, x as u64));
    }
    b
}

/// Runs a compiled layer on the AXI-wrapped FEATHER as a host would, on plume's simulator.
pub fn run_axi(
    sched: &Schedule,
    seq: &SeqConfig,
    a: &[u8],
    bm: &[u8],
    q: &Quant,
    stalls: Stalls,
    record: bool,
) -> Result<AxiRun> {
    let cfg = &sched.cfg;
    let top = axi_feather(cfg, seq)?;
    let map = feather_map(cfg, seq)?;
    let lay = SeqLayout::new(cfg, seq);
    let prog = program::build(sched);
    let tables = lay.encode(&prog).map_err(|e| anyhow::anyhow!(e))?;
    let mut sim = Sim::new(&top)?;
    if record {
        sim.record();
    }
    sim.poke_u64("rst", 1)?;
    LiteMaster::idle(&mut sim)?;
    for n in ["s_axis_tlast", "s_axis_tvalid", "m_axis_tready"] {
        sim.poke_u64(n, 0)?;
    }
    sim.poke("s_axis_tdata", &Bits::zero(feather_stream_width(cfg)))?;
    sim.step();
    sim.poke_u64("rst", 0)?;
    let mut h = Host {
        sim,
        map: &map,
        bfm: LiteMaster::new(stalls.seed, stalls.lite),
        stalls,
        packets: 0,
    };

    // Layer constants: for the inputs-stationary dataflow the streamed operand is B.
    let (zx, zy, sx, sy) = match sched.dataflow {
        Dataflow::Ws => (q.zp_i, q.zp_w, q.iact_signed, q.weight_signed),
        Dataflow::Is => (q.zp_w, q.zp_i, q.weight_signed, q.iact_signed),
    };
    for (name, v) in [
        ("rows", sched.map.rows as u64),
        ("zp_i", zx as u64),
        ("zp_w", zy as u64),
        ("iact_signed", sx as u64),
        ("weight_signed", sy as u64),
        ("scale", q.scale as u64),
        ("zp_o", q.zp_o as u64),
        ("out_signed", q.out_signed as u64),
        ("length", sched.uops.len() as u64),
    ] {
        h.write(name, v)?;
    }
    let (s_lines, w_lines) = place(sched, a, bm, q.zp_i, q.zp_w);
    let s_target = if sched.in_buf == 0 {
        Target::Stream0
    } else {
        Target::Stream1
    };
    let s_bits: Vec<Bits> = s_lines.iter().map(|l| line_bits(l)).collect();
    let w_bits: Vec<Bits> = w_lines.iter().map(|l| line_bits(l)).collect();
    h.send(s_target, &s_bits)?;
    h.send(Target::Weights, &w_bits)?;
    let mut want_entries = (s_bits.len() + w_bits.len()) as u64;
    for (sel, entries) in &tables {
        h.send(Target::table(*sel), entries)?;
        want_entries += entries.len() as u64;
    }
    let entries = h.read("entries")?;
    if entries != want_entries {
        bail!("the wrapper wrote {entries} entries; {want_entries} were sent");
    }
    let t_in = h.sim.cycle();

    h.write("op", 0)?;
    let limit = 2 * sched.uops.len() as u64 + 10_000;
    let t_run = h.start_and_wait(limit)?;
    let cycles = h.read("cycles")?;

    let lines = sched.out.lines(sched.gemm.m, sched.gemm.n);
    h.write("op", 1)?;
    h.write("rd_sel", sched.out_buf as u64)?;
    h.write("rd_base", 0)?;
    h.write("rd_count", lines as u64)?;
    let t0 = h.sim.cycle();
    if h.bfm.write(&mut h.sim, 0, 1, 0xf)? != OKAY {
        bail!("CTRL write refused");
    }
    let (got, _) = stream(
        &mut h.sim,
        &[],
        lines,
        0,
        h.stalls.stream_out,
        h.stalls.seed ^ 0x5eed,
    )?;
    // done follows the last beat by two cycles (registered, then CTRL); a host polls.
    let mut polls = 0;
    while h.bfm.read(&mut h.sim, 0)?.0 & 2 == 0 {
        polls += 1;
        if polls == 4 {
            bail!("CTRL does not report done after the read-back");
        }
    }
    let t_read = h.sim.cycle() - t0;
    for (i, (_, last)) in got.iter().enumerate() {
        if *last != (i + 1 == got.len()) {
            bail!("m_axis beat {i}: tlast = {last}");
        }
    }
    let aw = cfg.aw;
    let out_lines: Vec<Vec<u8>> = got
        .iter()
        .map(|(d, _)| (0..aw).map(|b| d.slice(8 * b, 8).to_u64() as u8).collect())
        .collect();
    let recording = h.sim.take_recording();
    Ok(AxiRun {
        out: gather(sched, &out_lines),
        cycles,
        entries,
        phases: [t_in, t_run, t_read],
        recording,
        top,
    })
}
