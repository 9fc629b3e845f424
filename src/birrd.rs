//! Running BIRRD networks: random traffic checked against the golden model every cycle, and
//! single evaluations on any engine (golden model, plume's simulator, Verilator, Icarus).

use crate::rng::XorShift;
use anyhow::{bail, Context, Result};
use plume_hw::feather::birrd::{generate, BirrdConfig, Config, MODES};
use plume_hw::feather::golden;
use plume_hw::rtl::Bits;
use plume_sim::cosim::{self, Tool};
use plume_sim::{Recording, Sim};
use std::collections::VecDeque;
use std::path::Path;
use std::str::FromStr;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Golden,
    Sim,
    Verilator,
    Icarus,
}

impl FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "golden" => Ok(Engine::Golden),
            "sim" => Ok(Engine::Sim),
            "verilator" => Ok(Engine::Verilator),
            "icarus" => Ok(Engine::Icarus),
            _ => Err(format!(
                "unknown engine '{s}' (expected golden, sim, verilator or icarus)"
            )),
        }
    }
}

pub fn random_config(cfg: &BirrdConfig, rng: &mut XorShift) -> Config {
    (0..cfg.stages())
        .map(|_| {
            (0..cfg.switches())
                .map(|_| MODES[(rng.next() % 4) as usize])
                .collect()
        })
        .collect()
}

pub fn random_inputs(cfg: &BirrdConfig, rng: &mut XorShift) -> Vec<u64> {
    let mask = if cfg.width == 64 {
        u64::MAX
    } else {
        (1u64 << cfg.width) - 1
    };
    (0..cfg.ports).map(|_| rng.next() & mask).collect()
}

pub struct SimReport {
    pub cycles: u64,
    pub checked: u64,
    pub seconds: f64,
    pub recording: Option<Recording>,
}

/// Random configurations and data every cycle; every output vector is compared with the golden
/// model of the vector that entered `stages` cycles earlier. Fails on the first disagreement.
pub fn simulate(
    cfg: &BirrdConfig,
    cycles: u64,
    seed: u64,
    vcd: Option<&Path>,
    record: bool,
) -> Result<SimReport> {
    cfg.validate()?;
    let top = generate(cfg)?;
    let mut sim = Sim::new(&top)?;
    if let Some(p) = vcd {
        sim.trace_vcd(p)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if record {
        sim.record();
    }
    let data = sim.input("i_data")?;
    let cmd = sim.input("i_cmd")?;
    let out = sim.output("o_data")?;
    let rst = sim.input("rst")?;
    let latency = cfg.stages() as usize;
    let mut rng = XorShift::new(seed);
    let mut pending: VecDeque<Option<Vec<u64>>> = VecDeque::new();
    let t0 = Instant::now();
    let mut checked = 0;
    sim.poke_loc(rst, &[1]);
    sim.step();
    sim.poke_loc(rst, &[0]);
    for c in 1..cycles.max(1) {
        let config = random_config(cfg, &mut rng);
        let inputs = random_inputs(cfg, &mut rng);
        sim.poke_loc(data, cfg.pack(&inputs).words());
        sim.poke_loc(cmd, cfg.command_word(&config).words());
        pending.push_back(Some(golden::birrd(cfg, &config, &inputs)?));
        if pending.len() > latency {
            if let Some(want) = pending.pop_front().flatten() {
                let got = cfg.unpack(&Bits::from_words(out.width, sim.peek_loc(out)));
                if got != want {
                    bail!("cycle {c}: simulator output {got:?} differs from golden model {want:?} (seed {seed})");
                }
                checked += 1;
            }
        }
        sim.step();
    }
    let seconds = t0.elapsed().as_secs_f64();
    sim.finish_vcd()?;
    Ok(SimReport {
        cycles: sim.cycle(),
        checked,
        seconds,
        recording: sim.take_recording(),
    })
}

/// Runs one input vector through the network on `engine` and returns the N outputs.
pub fn eval(
    cfg: &BirrdConfig,
    config: &Config,
    inputs: &[u64],
    engine: Engine,
) -> Result<Vec<u64>> {
    let want = golden::birrd(cfg, config, inputs)?;
    if engine == Engine::Golden {
        return Ok(want);
    }
    let top = generate(cfg)?;
    let mut sim = Sim::new(&top)?;
    sim.record();
    // Cycle 0: reset. Cycle 1: the vector enters. Cycle 1 + S: it leaves.
    sim.poke_u64("rst", 1)?;
    sim.step();
    sim.poke_u64("rst", 0)?;
    sim.poke("i_data", &cfg.pack(inputs))?;
    sim.poke("i_cmd", &cfg.command_word(config))?;
    sim.step();
    sim.poke("i_data", &Bits::zero(cfg.ports * cfg.width))?;
    sim.poke("i_cmd", &Bits::zero(cfg.cmd_width()))?;
    for _ in 1..cfg.stages() {
        sim.step();
    }
    let at = sim.cycle() as usize;
    let got = cfg.unpack(&sim.peek("o_data")?);
    sim.step();
    if engine == Engine::Sim {
        return Ok(got);
    }
    let rec = sim.take_recording().expect("recording was started");
    let tool = if engine == Engine::Verilator {
        Tool::Verilator
    } else {
        Tool::Icarus
    };
    let dir = crate::tools::TempDir::new("eval")?;
    let lines = cosim::run(tool, &top, &rec, dir.path())?;
    let hex = lines
        .get(at)
        .and_then(|l| l.first())
        .with_context(|| format!("{} printed no output for cycle {at}", tool.name()))?;
    let v = Bits::from_hex(cfg.ports * cfg.width, hex)
        .map_err(|e| anyhow::anyhow!("{} output: {e}", tool.name()))?;
    Ok(cfg.unpack(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use plume_hw::feather::birrd::Topology;

    #[test]
    fn random_traffic_matches_golden_on_both_topologies() {
        for topology in [Topology::Bitrev, Topology::Benes] {
            for ports in [4, 8, 16] {
                let cfg = BirrdConfig {
                    ports,
                    width: 16,
                    topology,
                };
                let r = simulate(&cfg, 200, 7, None, false).unwrap();
                assert_eq!(r.checked, 199 - cfg.stages() as u64);
            }
        }
    }
}
