//! BIRRD as a registered design — its parameters, the generated network, random traffic
//! checked against the golden model, the network behind AXI for the board — and single
//! evaluations on any engine (golden model, plume's simulator, Verilator, Icarus).

use crate::error::{bad, Result};
use crate::registry::{Board, Design, Runner};
use anyhow::Context;
use clap::Args;
use plume_hw::feather::axi::{axi_birrd, birrd_map};
use plume_hw::feather::birrd::{generate, BirrdConfig, Config, Topology, MODES};
use plume_hw::feather::golden;
use plume_hw::rtl::{Bits, Module};
use plume_sim::cosim::{self, Tool};
use plume_sim::harness::{self, Report, StreamBench, StreamCycle, StreamModel, Testbench};
use plume_sim::rng::XorShift;
use plume_sim::Sim;
use std::path::Path;
use std::rc::Rc;
use std::str::FromStr;

/// The network's parameters on the command line.
#[derive(Args, Clone, Debug)]
pub struct BirrdParams {
    /// Ports N: a power of two from 4 to 256.
    #[arg(long, default_value_t = 16)]
    pub ports: u32,
    /// Data width W in bits (1-64); sums wrap around.
    #[arg(long, default_value_t = 32)]
    pub width: u32,
    /// bitrev (public RTL, 2·log2 N stages) or benes (2·log2 N − 1 stages).
    #[arg(long, default_value = "bitrev")]
    pub topology: String,
}

impl BirrdParams {
    pub fn config(&self) -> Result<BirrdConfig> {
        let topology: Topology = self.topology.parse().map_err(bad)?;
        let cfg = BirrdConfig {
            ports: self.ports,
            width: self.width,
            topology,
        };
        cfg.validate().map_err(bad)?;
        Ok(cfg)
    }
}

/// The registry's BIRRD.
pub struct Birrd;

pub static BIRRD: Birrd = Birrd;

const RUN_BIRRD: &str = include_str!("../../fpga/zcu104/run_birrd.py");

impl Design for Birrd {
    type Args = BirrdParams;
    type Config = BirrdConfig;

    fn name(&self) -> &'static str {
        "birrd"
    }

    fn about(&self) -> &'static str {
        "BIRRD, FEATHER's reduce-and-reorder network (N ports × W bits, bitrev or benes)."
    }

    fn config(&self, args: &BirrdParams) -> Result<BirrdConfig> {
        args.config()
    }

    fn board_config(&self) -> BirrdConfig {
        BirrdConfig::default()
    }

    fn instance_name(&self, cfg: &BirrdConfig) -> String {
        cfg.module_name()
    }

    fn top(&self, cfg: &BirrdConfig) -> Result<Rc<Module>> {
        Ok(generate(cfg)?)
    }

    fn manifest(&self, cfg: &BirrdConfig) -> Result<serde_json::Value> {
        Ok(serde_json::json!({
            "stages": cfg.stages(),
            "latency_cycles": cfg.stages(),
            "throughput": "one N-wide vector per cycle",
            "port_layout": {
                "i_data": "port p at bits [p*W +: W]",
                "o_data": "port p at bits [p*W +: W]",
                "i_cmd": "switch row j at bits [j*2S +: 2S], stage 0 in the row's most significant 2 bits; codes 00 pass, 01 add_even, 10 add_odd, 11 swap",
            },
        }))
    }

    fn summary(&self, cfg: &BirrdConfig) -> String {
        format!("latency {} cycles", cfg.stages())
    }

    fn testbench(&self, cfg: &BirrdConfig, cycles: u64, seed: u64) -> Result<Box<dyn Testbench>> {
        Ok(Box::new(StreamBench {
            model: Traffic::new(cfg, seed),
            // At least one vector through the network.
            cycles: cycles.max(cfg.stages() as u64 + 2),
        }))
    }

    fn board(&self, cfg: &BirrdConfig) -> Result<Board> {
        Ok(Board {
            top: axi_birrd(cfg)?,
            map: birrd_map(cfg)?,
            doc: board_doc(cfg),
            runner: Some(Runner {
                file: "run_birrd.py",
                template: RUN_BIRRD,
                doc: "streams a vector package from `plume birrd export` through the board and checks every output against the golden model (PYNQ)",
            }),
        })
    }
}

/// The build README's section on the streams and on running vectors on the board.
fn board_doc(c: &BirrdConfig) -> String {
    format!(
        "Each `s_axis` beat is one input vector: port p in bits [{w}p+{wm}:{w}p] (the DMA \
         stream is padded to a power of two; padding bits are ignored). Each beat leaves on \
         `m_axis` {s} cycles later, reduced and reordered by the configuration in \
         `CMD_*`; `tlast` travels with its beat. CTRL.done rises when a beat with `tlast` \
         has left; `BEATS` counts beats out. BIRRD cannot stall, so the wrapper admits a \
         beat only when its output FIFO has room for it and every beat in flight: \
         back-pressure on `m_axis` never loses a beat.\n",
        w = c.width,
        wm = c.width - 1,
        s = c.stages()
    ) + &format!(
        "\n### Running on the board\n\n```\n# on the development machine\nplume birrd route --ports {p} --topology {t} --target '{{\"0\":[0,1]}}' > config.json\nplume birrd export --ports {p} --width {w} --topology {t} --config @config.json -o vectors/\n# on the ZCU104 (PYNQ), in this directory after `make`\nsudo python3 sw/run_birrd.py vectors/\n```\n\n`run_birrd.py` writes `CMD_*`, sends the vectors with one MM2S transfer while one S2MM \
         transfer takes the results, and compares every output vector with the golden model's.\n",
        p = c.ports,
        t = c.topology,
        w = c.width
    )
}

/// Random configurations and data every cycle; each output vector must be the golden
/// model's for the vector that entered `stages` cycles earlier.
pub struct Traffic {
    cfg: BirrdConfig,
    rng: XorShift,
}

impl Traffic {
    pub fn new(cfg: &BirrdConfig, seed: u64) -> Traffic {
        Traffic {
            cfg: *cfg,
            rng: XorShift::new(seed),
        }
    }
}

impl StreamModel for Traffic {
    fn inputs(&self) -> Vec<String> {
        vec!["i_data".into(), "i_cmd".into()]
    }

    fn outputs(&self) -> Vec<String> {
        vec!["o_data".into()]
    }

    fn latency(&self) -> u64 {
        self.cfg.stages() as u64
    }

    fn unit(&self) -> String {
        "output vectors".into()
    }

    fn next(&mut self) -> StreamCycle {
        let config = random_config(&self.cfg, &mut self.rng);
        let inputs = random_inputs(&self.cfg, &mut self.rng);
        let want = golden::birrd(&self.cfg, &config, &inputs)
            .expect("random configurations and inputs have the network's shape");
        StreamCycle {
            inputs: vec![self.cfg.pack(&inputs), self.cfg.command_word(&config)],
            expect: vec![Some(self.cfg.pack(&want))],
        }
    }

    fn show(&self, _port: &str, v: &Bits) -> String {
        format!("{:?}", self.cfg.unpack(v))
    }
}

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

/// Random traffic on the network for `cycles` cycles (reset included), every output vector
/// checked against the golden model (`Traffic`).
pub fn simulate(
    cfg: &BirrdConfig,
    cycles: u64,
    seed: u64,
    vcd: Option<&Path>,
    record: bool,
) -> anyhow::Result<Report> {
    cfg.validate()?;
    let top = generate(cfg)?;
    let mut tb = StreamBench {
        model: Traffic::new(cfg, seed),
        cycles,
    };
    harness::simulate(&top, &mut tb, vcd, record).with_context(|| format!("seed {seed}"))
}

/// Runs one input vector through the network on `engine` and returns the N outputs.
pub fn eval(
    cfg: &BirrdConfig,
    config: &Config,
    inputs: &[u64],
    engine: Engine,
) -> anyhow::Result<Vec<u64>> {
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
