//! The emulator as a registered design: `--scenario FILE` (a built-in two-reflector scenario
//! when not given; the 9-node case on the board), a testbench that streams random I/Q and
//! every epoch's parameters through the core and compares each receiver's output with the
//! fixed-point model bit for bit, and the emulator behind AXI.

use super::{parse_scenario, NINE_NODE};
use crate::error::{bad, Result};
use crate::registry::{Board, Design, Runner};
use clap::Args;
use plume_hw::rfemu::golden::fixed::Fixed;
use plume_hw::rfemu::plan::Plan;
use plume_hw::rfemu::scenario::Scenario;
use plume_hw::rfemu::{axi, emu, Iq, PathParams, RfConfig};
use plume_hw::rtl::{Bits, Module};
use plume_sim::engine::Sim;
use plume_sim::harness::{HarnessError, StreamBench, StreamCycle, StreamModel, Testbench};
use plume_sim::rng::XorShift;
use serde::Serialize;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;

/// The scenario `plume gen|sim|check rfemu` build when not given one: a transmitter, a
/// receiver and two moving reflectors that see each other (seven paths, feedback included),
/// with short epochs so a short run crosses many parameter updates.
pub const TWO_REFLECTORS: &str = include_str!("../../fpga/scenarios/two_reflectors.toml");

const RUN_RFEMU: &str = include_str!("../../fpga/zcu104/run_rfemu.py");

#[derive(Args, Clone, Debug)]
pub struct RfParams {
    /// The scenario (TOML; see fpga/scenarios/). Default: the built-in two-reflector scenario.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
}

/// A scenario and the hardware planned for it.
#[derive(Clone, Debug, Serialize)]
pub struct RfBuild {
    pub scenario: Scenario,
    pub cfg: RfConfig,
}

impl RfBuild {
    pub fn new(sc: Scenario) -> Result<RfBuild> {
        let plan = Plan::new(&sc, 0.0).map_err(bad)?;
        Ok(RfBuild {
            cfg: plan.cfg,
            scenario: sc,
        })
    }
}

pub struct RfEmu;

pub static RFEMU_DESIGN: RfEmu = RfEmu;

impl Design for RfEmu {
    type Args = RfParams;
    type Config = RfBuild;

    fn name(&self) -> &'static str {
        "rfemu"
    }

    fn about(&self) -> &'static str {
        "RF emulator: direct-path nodes (delay, fractional delay, Doppler, gain; reflector feedback) for one scenario."
    }

    fn config(&self, a: &RfParams) -> Result<RfBuild> {
        let sc = match &a.scenario {
            Some(p) => super::load_scenario(p)?,
            None => parse_scenario(TWO_REFLECTORS, "the built-in two-reflector scenario")?,
        };
        RfBuild::new(sc)
    }

    fn board_config(&self) -> RfBuild {
        parse_scenario(NINE_NODE, "the 9-node scenario")
            .and_then(RfBuild::new)
            .expect("the built-in 9-node scenario plans")
    }

    fn instance_name(&self, b: &RfBuild) -> String {
        emu::module_name(&b.cfg)
    }

    fn params(&self, b: &RfBuild) -> serde_json::Value {
        serde_json::json!({ "scenario": b.scenario.name, "config": b.cfg })
    }

    fn top(&self, b: &RfBuild) -> Result<Rc<Module>> {
        Ok(emu::generate(&b.cfg)?)
    }

    fn manifest(&self, b: &RfBuild) -> Result<serde_json::Value> {
        let cfg = &b.cfg;
        Ok(serde_json::json!({
            "latency_cycles": cfg.latency(),
            "throughput": "one sample (every transmitter's I/Q) per cycle",
            "min_delay_samples": cfg.min_delay(),
            "row_samples": cfg.row_samples(),
            "paths": cfg.paths.iter().map(|p| serde_json::json!({
                "src": cfg.node_names[p.src], "dst": cfg.node_names[p.dst], "buffer": p.depth,
            })).collect::<Vec<_>>(),
            "param_fields": cfg.param_fields().to_json(),
            "port_layout": {
                "i_tx": format!("transmitter k's sample at bits [k*{w} +: {w}]: I low, Q high, {s} bits each", w = cfg.iq_bits(), s = cfg.sample_bits),
                "o_rx": format!("receiver k's sample at bits [k*{w} +: {w}], the same layout", w = cfg.iq_bits()),
                "i_pdata": "one path's parameters, fields in param_fields (LSB first)",
            },
            "nodes": cfg.node_names,
        }))
    }

    fn summary(&self, b: &RfBuild) -> String {
        format!(
            "{} paths, latency {} cycles, shortest delay {} samples",
            b.cfg.paths.len(),
            b.cfg.latency(),
            b.cfg.min_delay()
        )
    }

    fn testbench(&self, b: &RfBuild, cycles: u64, seed: u64) -> Result<Box<dyn Testbench>> {
        let horizon = cycles as f64 / b.scenario.sample_rate_hz;
        let plan = Plan::new(&b.scenario, horizon).map_err(|e| {
            bad(format!(
                "{} cycles run past the scenario's plan: {e}",
                cycles
            ))
        })?;
        Ok(Box::new(StreamBench {
            model: Stimulus::new(plan, seed),
            cycles,
        }))
    }

    fn board(&self, b: &RfBuild) -> Result<Board> {
        let core = emu::generate(&b.cfg)?;
        let map = axi::map(&b.cfg)?;
        let top = axi::wrap(&b.cfg, &core, &map)?;
        Ok(Board {
            top,
            map,
            doc: axi::stream_doc(&b.cfg),
            runner: Some(Runner {
                file: "run_rfemu.py",
                template: RUN_RFEMU,
                doc: "plays a package from `plume rfemu export` through the board and checks every receiver sample against the fixed-point model (PYNQ)",
            }),
        })
    }
}

/// Random I/Q with random pauses, and every epoch's parameters written while the epoch
/// before runs; each receiver's output must be the fixed-point model's, and no lane may
/// ever miss a row.
pub struct Stimulus {
    plan: Plan,
    model: Fixed,
    rng: XorShift,
    /// The transmitters' samples when given (one sequence each); random when not.
    input: Option<Vec<Vec<Iq>>>,
    /// Parameter writes still to do: (path, word).
    writes: VecDeque<(usize, Bits)>,
    /// The epoch whose parameters `writes` holds (all written when empty).
    next_epoch: u64,
    /// Samples sent.
    n: u64,
    params: Vec<Vec<PathParams>>,
}

impl Stimulus {
    pub fn new(plan: Plan, seed: u64) -> Stimulus {
        Stimulus::with_input(plan, None, seed)
    }

    /// Given transmitter samples (one sequence each, all as long): no sample is sent after
    /// the last.
    pub fn with_input(plan: Plan, input: Option<Vec<Vec<Iq>>>, seed: u64) -> Stimulus {
        let mut s = Stimulus {
            model: Fixed::new(&plan.cfg),
            plan,
            input,
            rng: XorShift::new(seed),
            writes: VecDeque::new(),
            next_epoch: 0,
            n: 0,
            params: Vec::new(),
        };
        s.queue(0);
        s
    }

    fn epoch_params(&mut self, k: u64) -> Vec<PathParams> {
        while self.params.len() as u64 <= k {
            let e = self.params.len() as u64;
            self.params.push(self.plan.params(e));
        }
        self.params[k as usize].clone()
    }

    fn queue(&mut self, k: u64) {
        let cfg = self.plan.cfg.clone();
        for (p, pp) in self.epoch_params(k).into_iter().enumerate() {
            let word = cfg
                .encode_params(&pp)
                .expect("planned parameters fit their fields");
            self.writes.push_back((p, word));
        }
        self.next_epoch = k;
    }

    fn sample(&mut self) -> Iq {
        let s = self.plan.cfg.sample_bits;
        let v = self.rng.next();
        let f = |x: u64| ((x << (64 - s)) as i64 >> (64 - s)) as i32;
        (f(v), f(v >> 32))
    }
}

/// A sample or a node output as bits: I low, Q high.
pub fn iq_bits(v: &[Iq], s: u32) -> Bits {
    let mut out = Bits::zero(2 * s * v.len().max(1) as u32);
    for (k, &(i, q)) in v.iter().enumerate() {
        let k = k as u32;
        out.set_slice(2 * s * k, &Bits::from_i64(s, i as i64));
        out.set_slice(2 * s * k + s, &Bits::from_i64(s, q as i64));
    }
    out
}

impl StreamModel for Stimulus {
    fn inputs(&self) -> Vec<String> {
        ["i_valid", "i_tx", "i_pwr", "i_ppath", "i_pdata"]
            .map(String::from)
            .to_vec()
    }

    fn outputs(&self) -> Vec<String> {
        ["o_valid", "o_rx", "o_fault"].map(String::from).to_vec()
    }

    fn latency(&self) -> u64 {
        self.plan.cfg.latency() as u64
    }

    fn unit(&self) -> String {
        "cycles".into()
    }

    fn next(&mut self) -> StreamCycle {
        let cfg = self.plan.cfg.clone();
        let epoch = cfg.epoch as u64;
        let pw = cfg.param_fields().width();
        // One parameter write a cycle while some are due.
        let write = self.writes.pop_front();
        // A sample, three cycles in four; an epoch's first sample only once all its
        // parameters are in (a write in this cycle lands at its end).
        let boundary = self.n.is_multiple_of(epoch);
        let ready = !boundary || (self.next_epoch == self.n / epoch && write.is_none());
        let more = self
            .input
            .as_ref()
            .is_none_or(|x| x.first().is_some_and(|t| (self.n as usize) < t.len()));
        let valid = ready && more && !self.rng.next().is_multiple_of(4);
        let tx: Vec<Iq> = match &self.input {
            Some(x) if valid => x.iter().map(|t| t[self.n as usize]).collect(),
            Some(x) => vec![(0, 0); x.len()],
            None => (0..cfg.tx().len()).map(|_| self.sample()).collect(),
        };
        let mut expect_rx = None;
        if valid {
            let params = &self.params;
            let out = self.model.step(&tx, &mut |k| params[k as usize].clone());
            expect_rx = Some(iq_bits(&out, cfg.sample_bits));
            if boundary {
                // Epoch k has started: its successor's parameters go in from the next cycle.
                self.queue(self.n / epoch + 1);
            }
            self.n += 1;
        }
        let (pwr, path, data) = match write {
            Some((p, w)) => (1, p as u64, w),
            None => (0, 0, Bits::zero(pw)),
        };
        StreamCycle {
            inputs: vec![
                Bits::from_u64(1, valid as u64),
                iq_bits(&tx, cfg.sample_bits),
                Bits::from_u64(1, pwr),
                Bits::from_u64(emu::path_bits(&cfg), path),
                data,
            ],
            expect: vec![
                Some(Bits::from_u64(1, valid as u64)),
                expect_rx,
                Some(Bits::zero(1)),
            ],
        }
    }

    fn show(&self, port: &str, v: &Bits) -> String {
        if port != "o_rx" {
            return v.to_u64().to_string();
        }
        let s = self.plan.cfg.sample_bits;
        (0..v.width() / (2 * s))
            .map(|k| {
                let i = v.slice(2 * s * k, s).to_i64();
                let q = v.slice(2 * s * k + s, s).to_i64();
                format!("({i}, {q})")
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Given samples through the core on plume's simulator: every receiver's output as the
/// simulator computed it, each checked against the fixed-point model as it comes out (and
/// `o_fault` low on every cycle).
pub struct Capture {
    pub stim: Stimulus,
    pub samples: usize,
    /// Each receiver's output, sample by sample, read from the simulated core.
    pub outputs: Vec<Vec<Iq>>,
}

impl Testbench for Capture {
    fn unit(&self) -> String {
        "samples".into()
    }

    fn run(&mut self, sim: &mut Sim, _top: &Rc<Module>) -> std::result::Result<u64, HarnessError> {
        let names = self.stim.inputs();
        let ins = names
            .iter()
            .map(|n| sim.input(n))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let (o_valid, o_rx, o_fault) = (
            sim.output("o_valid")?,
            sim.output("o_rx")?,
            sim.output("o_fault")?,
        );
        let cfg = self.stim.plan.cfg.clone();
        let s = cfg.sample_bits;
        let latency = self.stim.latency() as usize;
        let mut pending: VecDeque<Option<Bits>> = VecDeque::new();
        self.outputs = vec![Vec::new(); cfg.rx().len()];
        let mut got = 0;
        while got < self.samples {
            let c = self.stim.next();
            for (l, v) in ins.iter().zip(&c.inputs) {
                sim.poke_loc(*l, v.words());
            }
            pending.push_back(c.expect[1].clone());
            if pending.len() > latency {
                let want = pending.pop_front().flatten();
                let valid = sim.peek_loc(o_valid)[0] & 1 == 1;
                if sim.peek_loc(o_fault)[0] & 1 == 1 {
                    return Err(HarnessError::Mismatch(format!(
                        "cycle {}: a lane missed a row of its source's history (o_fault)",
                        sim.cycle()
                    )));
                }
                if valid != want.is_some() {
                    return Err(HarnessError::Mismatch(format!(
                        "cycle {}: o_valid is {valid}, the model says {}",
                        sim.cycle(),
                        want.is_some()
                    )));
                }
                if let Some(w) = want {
                    let v = Bits::from_words(o_rx.width, sim.peek_loc(o_rx));
                    if v != w {
                        return Err(HarnessError::Mismatch(format!(
                            "cycle {}: o_rx is {} but the fixed-point model gives {}",
                            sim.cycle(),
                            self.stim.show("o_rx", &v),
                            self.stim.show("o_rx", &w)
                        )));
                    }
                    for (r, out) in self.outputs.iter_mut().enumerate() {
                        let r = r as u32;
                        out.push((
                            v.slice(2 * s * r, s).to_i64() as i32,
                            v.slice(2 * s * r + s, s).to_i64() as i32,
                        ));
                    }
                    got += 1;
                }
            }
            sim.step();
        }
        Ok(got as u64)
    }
}
