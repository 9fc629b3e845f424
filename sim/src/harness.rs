//! The equivalence harness: golden model ≡ plume's simulator ≡ Verilator ≡ Icarus, for any
//! block.
//!
//! A block brings a `Testbench`: it drives the design cycle by cycle and checks every result
//! against its golden model. `simulate` resets the design, runs the testbench on plume's
//! simulator (with a waveform and a recording if asked) and reports what was checked; the
//! recording then replays on the emitted Verilog in Verilator and Icarus (`replay`), which
//! must match plume's simulator on every output of every cycle. So a new block gets the
//! four-way check by writing its golden model, not a new harness.
//!
//! Most blocks are streams: inputs every cycle, results a fixed number of cycles later.
//! For those the golden model is a `StreamModel` and `StreamBench` is the testbench.

use crate::cosim::{self, CosimError, Tool};
use crate::engine::{Recording, Sim, SimError};
use plume_hw::rtl::{Bits, Module};
use std::collections::VecDeque;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(transparent)]
    Sim(#[from] SimError),
    /// The design and its golden model disagree (or the testbench could not run).
    #[error("{0}")]
    Mismatch(String),
    #[error(transparent)]
    Cosim(#[from] CosimError),
}

/// Drives a design and checks it against a golden model.
pub trait Testbench {
    /// What one checked result is called in reports ("output vectors", "layers").
    fn unit(&self) -> String;
    /// Runs `top` from the first cycle after reset (`rst` low) to the end of the test,
    /// stepping the simulator itself; fails on the first result that differs from the golden
    /// model. Returns the number of results checked.
    fn run(&mut self, sim: &mut Sim, top: &Rc<Module>) -> Result<u64, HarnessError>;
}

/// What a run checked.
#[derive(Debug)]
pub struct Report {
    /// Cycles simulated, the reset cycle included.
    pub cycles: u64,
    pub checked: u64,
    pub unit: String,
    pub seconds: f64,
    /// Every input and output of every cycle, when asked for (for `replay`).
    pub recording: Option<Recording>,
}

/// Resets `top` for one cycle, then runs the testbench on plume's simulator.
pub fn simulate(
    top: &Rc<Module>,
    tb: &mut dyn Testbench,
    vcd: Option<&Path>,
    record: bool,
) -> Result<Report, HarnessError> {
    simulate_watched(top, tb, vcd, record, None)
}

/// `simulate`, publishing the cycle count in `progress` as the run goes (`Sim::watch`).
pub fn simulate_watched(
    top: &Rc<Module>,
    tb: &mut dyn Testbench,
    vcd: Option<&Path>,
    record: bool,
    progress: Option<Arc<AtomicU64>>,
) -> Result<Report, HarnessError> {
    let mut sim = Sim::new(top)?;
    if let Some(p) = progress {
        sim.watch(p);
    }
    if let Some(p) = vcd {
        sim.trace_vcd(p)?;
    }
    if record {
        sim.record();
    }
    let t0 = Instant::now();
    if top.clocked {
        sim.poke_u64("rst", 1)?;
        sim.step();
        sim.poke_u64("rst", 0)?;
    }
    let checked = tb.run(&mut sim, top)?;
    let seconds = t0.elapsed().as_secs_f64();
    sim.finish_vcd()?;
    Ok(Report {
        cycles: sim.cycle(),
        checked,
        unit: tb.unit(),
        seconds,
        recording: sim.take_recording(),
    })
}

/// Replays a recorded run on the emitted Verilog in `tool`; every output of every cycle must
/// equal plume's simulator. Returns the cycles compared.
pub fn replay(
    tool: Tool,
    top: &Rc<Module>,
    rec: &Recording,
    work: &Path,
) -> Result<usize, CosimError> {
    cosim::check(tool, top, rec, work)
}

/// One cycle of a stream: the input values, and what the outputs must be `latency` cycles
/// later (`None` where the golden model does not care), in the orders of
/// `StreamModel::inputs` and `StreamModel::outputs`.
pub struct StreamCycle {
    pub inputs: Vec<Bits>,
    pub expect: Vec<Option<Bits>>,
}

/// A golden model of a stream: random inputs every cycle and what they must produce.
pub trait StreamModel {
    /// The input ports the model drives (every input but `rst`).
    fn inputs(&self) -> Vec<String>;
    /// The output ports it checks.
    fn outputs(&self) -> Vec<String>;
    /// Cycles from a cycle's inputs to its outputs.
    fn latency(&self) -> u64;
    /// What a checked result is called ("output vectors").
    fn unit(&self) -> String;
    /// The next cycle.
    fn next(&mut self) -> StreamCycle;
    /// How a value of `port` reads in a mismatch message (hexadecimal unless overridden).
    fn show(&self, _port: &str, v: &Bits) -> String {
        format!("0x{}", v.to_hex())
    }
}

/// The testbench of a stream model: `cycles` cycles in all (the reset cycle included); each
/// cycle's expected outputs are compared `latency` cycles later, and a cycle counts as one
/// checked result when the model expected anything of it.
pub struct StreamBench<M: StreamModel> {
    pub model: M,
    pub cycles: u64,
}

impl<M: StreamModel> Testbench for StreamBench<M> {
    fn unit(&self) -> String {
        self.model.unit()
    }

    fn run(&mut self, sim: &mut Sim, _top: &Rc<Module>) -> Result<u64, HarnessError> {
        let ins = self
            .model
            .inputs()
            .iter()
            .map(|n| sim.input(n).map(|l| (n.clone(), l)))
            .collect::<Result<Vec<_>, _>>()?;
        let outs = self
            .model
            .outputs()
            .iter()
            .map(|n| sim.output(n).map(|l| (n.clone(), l)))
            .collect::<Result<Vec<_>, _>>()?;
        let latency = self.model.latency() as usize;
        let mut pending: VecDeque<Vec<Option<Bits>>> = VecDeque::with_capacity(latency + 1);
        let mut checked = 0;
        let start = sim.cycle();
        for _ in start..self.cycles.max(start) {
            let c = self.model.next();
            for ((name, l), v) in ins.iter().zip(&c.inputs) {
                if v.width() != l.width {
                    return Err(SimError::Width {
                        name: name.clone(),
                        want: l.width,
                        got: v.width(),
                    }
                    .into());
                }
                sim.poke_loc(*l, v.words());
            }
            pending.push_back(c.expect);
            if pending.len() > latency {
                let want = pending.pop_front().unwrap_or_default();
                let mut any = false;
                for ((name, l), w) in outs.iter().zip(&want) {
                    let Some(w) = w else { continue };
                    any = true;
                    let got = Bits::from_words(l.width, sim.peek_loc(*l));
                    if got != *w {
                        return Err(HarnessError::Mismatch(format!(
                            "cycle {}: {name} is {} but the golden model gives {}",
                            sim.cycle(),
                            self.model.show(name, &got),
                            self.model.show(name, w)
                        )));
                    }
                }
                checked += any as u64;
            }
            sim.step();
        }
        Ok(checked)
    }
}
