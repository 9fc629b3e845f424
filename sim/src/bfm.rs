//! Bus-functional models for plume's simulator: a cycle-accurate AXI4-Lite master with the
//! slave-side protocol checks built in (once a slave raises `bvalid` / `rvalid` it must hold
//! it, with its payload unchanged, until the handshake), an AXI4-Stream source and sink that
//! check the same hold rule on `m_axis`, and a `Host` that drives any AXI-wrapped design the
//! way a Zynq PS with an AXI DMA does. Random stalls on every valid and ready exercise a
//! design's back-pressure handling.

use crate::engine::{Sim, SimError};
use crate::rng::XorShift;
use plume_hw::blocks::axi_lite::RegMap;
use plume_hw::rtl::{Bits, Module};
use std::rc::Rc;

#[derive(Debug, thiserror::Error)]
pub enum BfmError {
    #[error(transparent)]
    Sim(#[from] SimError),
    /// The design broke the bus protocol, or did not answer in time.
    #[error("{0}")]
    Protocol(String),
    /// The request itself was wrong (an unknown register, a transfer of the wrong size).
    #[error("{0}")]
    Request(String),
}

pub type Result<T> = std::result::Result<T, BfmError>;

fn protocol<T>(msg: String) -> Result<T> {
    Err(BfmError::Protocol(msg))
}

fn request<T>(msg: String) -> Result<T> {
    Err(BfmError::Request(msg))
}

pub const OKAY: u8 = 0;
pub const SLVERR: u8 = 2;

pub struct LiteMaster {
    rng: XorShift,
    /// Probability (percent) that the master waits one more cycle before asserting a valid or
    /// a ready.
    pub stall: u64,
    /// Cycles spent in transactions.
    pub cycles: u64,
    /// Upper bound on the cycles one transaction may take.
    pub timeout: u64,
    /// A signal sampled on every cycle a transaction spends (for observing side effects).
    pub watch: Option<&'static str>,
    pub samples: Vec<u64>,
}

impl LiteMaster {
    pub fn new(seed: u64, stall: u64) -> LiteMaster {
        LiteMaster {
            rng: XorShift::new(seed),
            stall,
            cycles: 0,
            timeout: 1000,
            watch: None,
            samples: Vec::new(),
        }
    }

    fn sample(&mut self, sim: &mut Sim) -> Result<()> {
        if let Some(w) = self.watch {
            self.samples.push(sim.peek_u64(w)?);
        }
        Ok(())
    }

    fn wait(&mut self) -> bool {
        self.stall > 0 && self.rng.next() % 100 < self.stall
    }

    /// Drives every master signal idle (call once after reset).
    pub fn idle(sim: &mut Sim) -> Result<()> {
        for n in [
            "s_axi_awaddr",
            "s_axi_awvalid",
            "s_axi_wdata",
            "s_axi_wstrb",
            "s_axi_wvalid",
            "s_axi_bready",
            "s_axi_araddr",
            "s_axi_arvalid",
            "s_axi_rready",
        ] {
            sim.poke_u64(n, 0)?;
        }
        Ok(())
    }

    /// One write; returns the response code.
    pub fn write(&mut self, sim: &mut Sim, addr: u64, data: u32, strb: u8) -> Result<u8> {
        let (mut aw_done, mut w_done) = (false, false);
        let (mut aw_on, mut w_on, mut b_on) = (false, false, false);
        let mut held: Option<u64> = None;
        for _ in 0..self.timeout {
            aw_on |= !aw_done && !self.wait();
            w_on |= !w_done && !self.wait();
            b_on |= aw_done && w_done && !self.wait();
            sim.poke_u64("s_axi_awaddr", addr)?;
            sim.poke_u64("s_axi_awvalid", (aw_on && !aw_done) as u64)?;
            sim.poke_u64("s_axi_wdata", data as u64)?;
            sim.poke_u64("s_axi_wstrb", strb as u64)?;
            sim.poke_u64("s_axi_wvalid", (w_on && !w_done) as u64)?;
            sim.poke_u64("s_axi_bready", b_on as u64)?;
            let awready = sim.peek_u64("s_axi_awready")? == 1;
            let wready = sim.peek_u64("s_axi_wready")? == 1;
            let bvalid = sim.peek_u64("s_axi_bvalid")? == 1;
            let bresp = sim.peek_u64("s_axi_bresp")?;
            if let Some(h) = held {
                if !bvalid || h != bresp {
                    return protocol(format!(
                        "bvalid or bresp changed before the response was taken (cycle {})",
                        sim.cycle()
                    ));
                }
            }
            self.sample(sim)?;
            let aw_hs = aw_on && !aw_done && awready;
            let w_hs = w_on && !w_done && wready;
            let b_hs = bvalid && b_on;
            if bvalid && !(aw_done && w_done) {
                return protocol(format!(
                    "bvalid before both the write address and data were taken (cycle {})",
                    sim.cycle()
                ));
            }
            sim.step();
            self.cycles += 1;
            aw_done |= aw_hs;
            w_done |= w_hs;
            if b_hs {
                Self::idle(sim)?;
                return Ok(bresp as u8);
            }
            held = if bvalid { Some(bresp) } else { None };
        }
        protocol(format!(
            "write to {addr:#x} got no response in {} cycles",
            self.timeout
        ))
    }

    /// One read; returns (data, response code).
    pub fn read(&mut self, sim: &mut Sim, addr: u64) -> Result<(u32, u8)> {
        let (mut ar_done, mut ar_on, mut r_on) = (false, false, false);
        let mut held: Option<(u64, u64)> = None;
        for _ in 0..self.timeout {
            ar_on |= !ar_done && !self.wait();
            r_on |= ar_done && !self.wait();
            sim.poke_u64("s_axi_araddr", addr)?;
            sim.poke_u64("s_axi_arvalid", (ar_on && !ar_done) as u64)?;
            sim.poke_u64("s_axi_rready", r_on as u64)?;
            let arready = sim.peek_u64("s_axi_arready")? == 1;
            let rvalid = sim.peek_u64("s_axi_rvalid")? == 1;
            let rdata = sim.peek_u64("s_axi_rdata")?;
            let rresp = sim.peek_u64("s_axi_rresp")?;
            if let Some(h) = held {
                if !rvalid || h != (rdata, rresp) {
                    return protocol(format!(
                        "rvalid or its payload changed before the data was taken (cycle {})",
                        sim.cycle()
                    ));
                }
            }
            if rvalid && !ar_done {
                return protocol(format!(
                    "rvalid before the read address was taken (cycle {})",
                    sim.cycle()
                ));
            }
            self.sample(sim)?;
            let ar_hs = ar_on && !ar_done && arready;
            let r_hs = rvalid && r_on;
            sim.step();
            self.cycles += 1;
            ar_done |= ar_hs;
            if r_hs {
                Self::idle(sim)?;
                return Ok((rdata as u32, rresp as u8));
            }
            held = if rvalid { Some((rdata, rresp)) } else { None };
        }
        protocol(format!(
            "read of {addr:#x} got no data in {} cycles",
            self.timeout
        ))
    }
}

/// Streams `beats` (data, last) into a block's `s_axis_*` port and collects what leaves its
/// `m_axis_*` port, with random stalls on the source's `tvalid` and the sink's `tready`
/// (percent). Checks on every cycle that the block holds `m_axis_tvalid` with unchanged data
/// until the sink takes it. Returns the received beats and the cycles spent.
pub fn stream_through(
    sim: &mut Sim,
    beats: &[(Bits, bool)],
    src_stall: u64,
    sink_stall: u64,
    seed: u64,
) -> Result<(Vec<(Bits, bool)>, u64)> {
    stream(sim, beats, beats.len(), src_stall, sink_stall, seed)
}

/// Like `stream_through`, but waits for `expect` beats out (0 for a write-only transfer) once
/// every beat has gone in.
pub fn stream(
    sim: &mut Sim,
    beats: &[(Bits, bool)],
    expect: usize,
    src_stall: u64,
    sink_stall: u64,
    seed: u64,
) -> Result<(Vec<(Bits, bool)>, u64)> {
    stream_paced(
        sim,
        beats,
        expect,
        src_stall,
        sink_stall,
        seed,
        Pace::default(),
    )
}

/// A memory behind the stream: the source's beat `i` exists `latency + i·beat_cycles` cycles
/// after the transfer starts (a read from DRAM: first-beat latency, then its bandwidth); the
/// sink takes a beat at most every `beat_cycles` cycles (writes at the same bandwidth,
/// posted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace {
    pub latency: u64,
    pub beat_cycles: u64,
}

impl Default for Pace {
    /// No memory in the way: a beat every cycle from the first.
    fn default() -> Pace {
        Pace {
            latency: 0,
            beat_cycles: 1,
        }
    }
}

impl Pace {
    /// Cycles `stream_paced` takes to move `beats` beats in from the source when the design
    /// is always ready and no random stall is asked for.
    pub fn read_cycles(&self, beats: u64) -> u64 {
        self.latency + beats.saturating_sub(1) * self.beat_cycles + 1
    }
}

/// `stream` with the source and sink paced by a memory (`Pace`) as well as stalled at random.
pub fn stream_paced(
    sim: &mut Sim,
    beats: &[(Bits, bool)],
    expect: usize,
    src_stall: u64,
    sink_stall: u64,
    seed: u64,
    pace: Pace,
) -> Result<(Vec<(Bits, bool)>, u64)> {
    let mut rng = XorShift::new(seed);
    let mut stall = |p: u64| p > 0 && rng.next() % 100 < p;
    let (mut sent, mut got) = (0usize, Vec::new());
    let mut offering = false;
    let mut held: Option<(Bits, u64)> = None;
    let limit = (20 + pace.beat_cycles) * (beats.len() + expect) as u64 + 100 + pace.latency;
    let width = sim.input("s_axis_tdata")?.width;
    let mut last_take: Option<u64> = None;
    for cycle in 0..limit {
        let arrived = cycle >= pace.latency + sent as u64 * pace.beat_cycles;
        offering |= sent < beats.len() && arrived && !stall(src_stall);
        let ready = last_take.is_none_or(|t| cycle >= t + pace.beat_cycles) && !stall(sink_stall);
        let (d, l) = beats
            .get(sent)
            .cloned()
            .unwrap_or((Bits::zero(width), false));
        sim.poke("s_axis_tdata", &d)?;
        sim.poke_u64("s_axis_tlast", l as u64)?;
        sim.poke_u64("s_axis_tvalid", offering as u64)?;
        sim.poke_u64("m_axis_tready", ready as u64)?;
        let s_ready = sim.peek_u64("s_axis_tready")? == 1;
        let m_valid = sim.peek_u64("m_axis_tvalid")? == 1;
        let m_data = sim.peek("m_axis_tdata")?;
        let m_last = sim.peek_u64("m_axis_tlast")?;
        if let Some(h) = &held {
            if !m_valid || *h != (m_data.clone(), m_last) {
                return protocol(format!("m_axis_tvalid or its data changed before the sink took the beat (cycle {cycle})"));
            }
        }
        if m_valid && ready {
            last_take = Some(cycle);
            got.push((m_data, m_last == 1));
            held = None;
        } else {
            held = if m_valid {
                Some((m_data, m_last))
            } else {
                None
            };
        }
        if offering && s_ready {
            sent += 1;
            offering = false;
        }
        sim.step();
        if got.len() > expect {
            return protocol(format!(
                "{} beats came out; {expect} were expected",
                got.len()
            ));
        }
        if sent == beats.len() && got.len() == expect {
            sim.poke_u64("s_axis_tvalid", 0)?;
            sim.poke_u64("m_axis_tready", 0)?;
            return Ok((got, cycle + 1));
        }
    }
    protocol(format!(
        "stream stalled: {sent} of {} beats went in and {} of {expect} came out in {limit} cycles",
        beats.len(),
        got.len()
    ))
}

/// Random stalls (percent) on each bus.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stalls {
    pub lite: u64,
    pub stream_in: u64,
    pub stream_out: u64,
    pub seed: u64,
}

/// Bytes of `b`, LSB first, `nbytes` of them (zero beyond its width).
pub fn bits_bytes(b: &Bits, nbytes: usize, out: &mut Vec<u8>) {
    for i in 0..nbytes as u32 {
        let lo = 8 * i;
        let v = if lo >= b.width() {
            0
        } else {
            b.slice(lo, (b.width() - lo).min(8)).to_u64() as u8
        };
        out.push(v);
    }
}

/// A host for an AXI-wrapped design on plume's simulator, driving it through the
/// bus-functional models: register access by name or offset, and DMA-like stream transfers.
pub struct Host {
    pub sim: Sim,
    top: Rc<Module>,
    pub map: RegMap,
    bfm: LiteMaster,
    stalls: Stalls,
    transfers: u64,
    /// The memory the host's stream transfers come from and go to (`Pace::default()`: none).
    pub dram: Pace,
}

impl Host {
    /// Simulates `top` (an AXI-wrapped design with register map `map`) and resets it.
    pub fn new(top: Rc<Module>, map: RegMap, stalls: Stalls, record: bool) -> Result<Host> {
        let mut sim = Sim::new(&top)?;
        if record {
            sim.record();
        }
        sim.poke_u64("rst", 1)?;
        LiteMaster::idle(&mut sim)?;
        for n in ["s_axis_tlast", "s_axis_tvalid", "m_axis_tready"] {
            sim.poke_u64(n, 0)?;
        }
        let w = sim.input("s_axis_tdata")?.width;
        sim.poke("s_axis_tdata", &Bits::zero(w))?;
        sim.step();
        sim.poke_u64("rst", 0)?;
        Ok(Host {
            sim,
            top,
            map,
            bfm: LiteMaster::new(stalls.seed, stalls.lite),
            stalls,
            transfers: 0,
            dram: Pace::default(),
        })
    }

    pub fn top(&self) -> Rc<Module> {
        self.top.clone()
    }

    /// One AXI4-Lite write; returns the response code.
    pub fn mmio_write(&mut self, offset: u64, value: u32) -> Result<u8> {
        self.bfm.write(&mut self.sim, offset, value, 0xf)
    }

    /// One AXI4-Lite read: (value, response code).
    pub fn mmio_read(&mut self, offset: u64) -> Result<(u32, u8)> {
        self.bfm.read(&mut self.sim, offset)
    }

    pub fn write(&mut self, name: &str, value: u64) -> Result<()> {
        let off = self
            .map
            .offset(name)
            .ok_or_else(|| BfmError::Request(format!("no register {name}")))?;
        let width = self
            .map
            .params
            .iter()
            .find(|p| p.name == name)
            .unwrap()
            .width;
        for k in 0..width.div_ceil(32) {
            let resp = self.mmio_write((off + 4 * k) as u64, (value >> (32 * k)) as u32)?;
            if resp != OKAY {
                return protocol(format!("writing {name} answered {resp}"));
            }
        }
        Ok(())
    }

    pub fn read(&mut self, name: &str) -> Result<u64> {
        let off = self
            .map
            .offset(name)
            .ok_or_else(|| BfmError::Request(format!("no register {name}")))?;
        let (v, resp) = self.mmio_read(off as u64)?;
        if resp != OKAY {
            return protocol(format!("reading {name} answered {resp}"));
        }
        Ok(v as u64)
    }

    /// An MM2S transfer: `bytes` as beats into `s_axis`, `tlast` on the last (a beat of W bits
    /// takes ceil(W/8) bytes, LSB first).
    /// Returns the cycles the transfer took.
    pub fn send(&mut self, bytes: &[u8]) -> Result<u64> {
        let beats = self.beats_of(bytes)?;
        self.transfers += 1;
        let (_, cycles) = stream_paced(
            &mut self.sim,
            &beats,
            0,
            self.stalls.stream_in,
            0,
            self.stalls.seed ^ self.transfers,
            self.dram,
        )?;
        Ok(cycles)
    }

    /// An S2MM transfer of `beats` beats from `m_axis`; checks `tlast` is on the last only.
    pub fn receive(&mut self, beats: usize) -> Result<Vec<u8>> {
        self.transfers += 1;
        let (got, _) = stream_paced(
            &mut self.sim,
            &[],
            beats,
            0,
            self.stalls.stream_out,
            self.stalls.seed ^ self.transfers,
            self.dram,
        )?;
        Self::bytes_of(&got)
    }

    /// MM2S and S2MM at once: `bytes` go in while `beats` beats are taken out.
    pub fn transfer(&mut self, bytes: &[u8], beats: usize) -> Result<Vec<u8>> {
        let input = self.beats_of(bytes)?;
        self.transfers += 1;
        let (got, _) = stream(
            &mut self.sim,
            &input,
            beats,
            self.stalls.stream_in,
            self.stalls.stream_out,
            self.stalls.seed ^ self.transfers,
        )?;
        Self::bytes_of(&got)
    }

    fn beats_of(&self, bytes: &[u8]) -> Result<Vec<(Bits, bool)>> {
        let dw = self.sim.input("s_axis_tdata")?.width;
        let nb = dw.div_ceil(8) as usize;
        if bytes.is_empty() || !bytes.len().is_multiple_of(nb) {
            return request(format!(
                "a transfer of {} bytes is not a whole number of {nb}-byte beats",
                bytes.len()
            ));
        }
        Ok(bytes
            .chunks(nb)
            .enumerate()
            .map(|(i, c)| {
                let mut b = Bits::zero(dw);
                for (j, &x) in c.iter().enumerate() {
                    let lo = 8 * j as u32;
                    let w = (dw - lo).min(8);
                    b.set_slice(lo, &Bits::from_u64(w, x as u64 & ((1 << w) - 1)));
                }
                (b, (i + 1) * nb == bytes.len())
            })
            .collect())
    }

    fn bytes_of(got: &[(Bits, bool)]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for (i, (d, last)) in got.iter().enumerate() {
            if *last != (i + 1 == got.len()) {
                return protocol(format!("m_axis beat {i}: tlast = {last}"));
            }
            bits_bytes(d, d.width().div_ceil(8) as usize, &mut out);
        }
        Ok(out)
    }

    /// Pulses CTRL.start and polls CTRL until done; returns the cycles it took.
    pub fn start_and_wait(&mut self, limit: u64) -> Result<u64> {
        let t0 = self.sim.cycle();
        if self.mmio_write(0, 1)? != OKAY {
            return protocol("CTRL write refused".into());
        }
        self.wait_done(t0, limit)
    }

    /// Polls CTRL until done; returns the cycles since `t0`.
    pub fn wait_done(&mut self, t0: u64, limit: u64) -> Result<u64> {
        loop {
            if self.mmio_read(0)?.0 & 2 != 0 {
                return Ok(self.sim.cycle() - t0);
            }
            if self.sim.cycle() - t0 > limit {
                return protocol(format!("no done within {limit} cycles of start"));
            }
        }
    }
}
