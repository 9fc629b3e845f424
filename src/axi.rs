//! A cycle-accurate AXI4-Lite master (bus-functional model) for plume's simulator, with the
//! protocol checks of the slave side built in: once a slave raises `bvalid` / `rvalid` it must
//! hold it, with its payload unchanged, until the handshake. Random stalls on every master
//! signal (valid delays, ready delays) exercise the slave's back-pressure handling.

use crate::rng::XorShift;
use anyhow::{bail, Result};
use plume_hw::rtl::Bits;
use plume_sim::Sim;

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
                    bail!(
                        "bvalid or bresp changed before the response was taken (cycle {})",
                        sim.cycle()
                    );
                }
            }
            self.sample(sim)?;
            let aw_hs = aw_on && !aw_done && awready;
            let w_hs = w_on && !w_done && wready;
            let b_hs = bvalid && b_on;
            if bvalid && !(aw_done && w_done) {
                bail!(
                    "bvalid before both the write address and data were taken (cycle {})",
                    sim.cycle()
                );
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
        bail!(
            "write to {addr:#x} got no response in {} cycles",
            self.timeout
        )
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
                    bail!(
                        "rvalid or its payload changed before the data was taken (cycle {})",
                        sim.cycle()
                    );
                }
            }
            if rvalid && !ar_done {
                bail!(
                    "rvalid before the read address was taken (cycle {})",
                    sim.cycle()
                );
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
        bail!("read of {addr:#x} got no data in {} cycles", self.timeout)
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
    let mut rng = XorShift::new(seed);
    let mut stall = |p: u64| p > 0 && rng.next() % 100 < p;
    let (mut sent, mut got) = (0usize, Vec::new());
    let mut offering = false;
    let mut held: Option<(Bits, u64)> = None;
    let limit = 20 * (beats.len() + expect) as u64 + 100;
    let width = sim.input("s_axis_tdata")?.width;
    for cycle in 0..limit {
        offering |= sent < beats.len() && !stall(src_stall);
        let ready = !stall(sink_stall);
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
                bail!("m_axis_tvalid or its data changed before the sink took the beat (cycle {cycle})");
            }
        }
        if m_valid && ready {
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
            bail!("{} beats came out; {expect} were expected", got.len());
        }
        if sent == beats.len() && got.len() == expect {
            sim.poke_u64("s_axis_tvalid", 0)?;
            sim.poke_u64("m_axis_tready", 0)?;
            return Ok((got, cycle + 1));
        }
    }
    bail!(
        "stream stalled: {sent} of {} beats went in and {} of {expect} came out in {limit} cycles",
        beats.len(),
        got.len()
    )
}
