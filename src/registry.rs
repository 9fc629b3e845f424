//! The design registry: every accelerator family plume knows, and through it every design the
//! lifecycle verbs (`gen`, `sim`, `check`, `synth`, `bench`, `fpga zcu104`, `report zcu104`,
//! `serve`) work on.
//!
//! A family implements `Design` once per design — its parameters (command-line flags and a
//! validated, serialisable configuration), the generated top, a testbench with the golden
//! model's checks, and the design behind AXI for the board — and `Family` once, for its own
//! verbs (`plume birrd route`, `plume feather run`) and its part of `plume demo`. Adding a
//! family is one folder in `hw/src/`, one in `src/`, and one line in `FAMILIES`.

use crate::error::{bad, Result};
use clap::{ArgMatches, Args, Command};
use plume_hw::blocks::axi_lite::RegMap;
use plume_hw::rtl::Module;
use plume_sim::harness::Testbench;
use serde::Serialize;
use std::path::Path;
use std::rc::Rc;

/// Every family, in the order `plume demo` and `plume report` go through them.
pub static FAMILIES: &[&dyn Family] = &[
    &crate::feather::FEATHER,
    &crate::fir::FIR,
    &crate::rfemu::RFEMU,
    &crate::fred::FRED,
    &crate::sdq::SDQ,
];

/// A design, written once by its family.
pub trait Design: Sync + 'static {
    /// Command-line flags of the parameters.
    type Args: Args;
    /// The validated parameters (serialised into manifests and board builds).
    type Config: Serialize + Clone + 'static;

    /// The word after a verb: `plume gen <name>`.
    fn name(&self) -> &'static str;
    fn about(&self) -> &'static str;
    /// The configuration the flags describe, validated (bad flags are bad input).
    fn config(&self, args: &Self::Args) -> Result<Self::Config>;
    /// The configuration `plume report zcu104` builds when not told otherwise.
    fn board_config(&self) -> Self::Config;
    /// A name for one configuration, for build directories and register maps
    /// (`birrd_n16_w32_bitrev`).
    fn instance_name(&self, cfg: &Self::Config) -> String;
    /// The parameters as the board flow records them (`plume.json`, the runner's check that a
    /// package fits the bitstream).
    fn params(&self, cfg: &Self::Config) -> serde_json::Value {
        serde_json::to_value(cfg).unwrap_or_default()
    }
    /// The generated top.
    fn top(&self, cfg: &Self::Config) -> Result<Rc<Module>>;
    /// What `plume gen` writes into `manifest.json` besides the ports and files (latency,
    /// bit layouts, …).
    fn manifest(&self, cfg: &Self::Config) -> Result<serde_json::Value>;
    /// What `plume gen` says about the top after its name ("latency 8 cycles").
    fn summary(&self, cfg: &Self::Config) -> String;
    /// Random stimulus checked against the golden model: `cycles` cycles in all (reset
    /// included; a testbench made of whole transactions may round up), from `seed`.
    fn testbench(&self, cfg: &Self::Config, cycles: u64, seed: u64) -> Result<Box<dyn Testbench>>;
    /// The design behind AXI, for the board flow and `plume serve`.
    fn board(&self, cfg: &Self::Config) -> Result<Board>;
}

/// A design behind AXI: `clk`, active-high `rst`, AXI4-Lite `s_axi_*` (register map `map`),
/// AXI4-Stream `s_axis_*` and `m_axis_*`, `o_irq`.
pub struct Board {
    pub top: Rc<Module>,
    pub map: RegMap,
    /// The README's section on the data streams and on running the design on the board.
    pub doc: String,
    /// The host program for the board, if the family has one.
    pub runner: Option<Runner>,
}

impl Board {
    /// Widths of `s_axis_tdata` and `m_axis_tdata`.
    pub fn stream_widths(&self) -> (u32, u32) {
        let width = |name: &str, ports: &[(String, u32)]| {
            ports
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |(_, id)| self.top.node(*id).width)
        };
        (
            width("s_axis_tdata", &self.top.inputs),
            width("m_axis_tdata", &self.top.outputs),
        )
    }
}

/// A board runner: a Python template (`@@NAME@@`, `@@MODULE@@`, `@@CLASS@@`, `@@HARDWARE@@`
/// are filled in) written to `sw/<file>`.
pub struct Runner {
    pub file: &'static str,
    pub template: &'static str,
    /// One line for the build's README.
    pub doc: &'static str,
}

/// A family: its designs, its own verbs, its part of the demo.
pub trait Family: Sync {
    fn name(&self) -> &'static str;
    fn designs(&self) -> Vec<&'static dyn Entry>;
    /// Top-level commands of the family's own (`plume birrd …`, `plume feather …`).
    fn commands(&self) -> Vec<Command> {
        Vec::new()
    }
    /// Runs one of `commands` (`name` is its name).
    fn run(&self, name: &str, _m: &ArgMatches) -> Result<()> {
        Err(bad(format!(
            "the {} family has no command {name}",
            self.name()
        )))
    }
    /// The family's part of `plume demo`, writing into `out`.
    fn demo(&self, _out: &Path) -> Result<()> {
        Ok(())
    }
}

/// A registered design as the lifecycle verbs see it (object safe; every `Design` is one).
pub trait Entry: Sync {
    fn name(&self) -> &'static str;
    fn about(&self) -> &'static str;
    /// `cmd` with the design's parameter flags.
    fn with_args(&self, cmd: Command) -> Command;
    /// The configuration parsed from `m`.
    fn instance(&'static self, m: &ArgMatches) -> Result<Box<dyn Instance>>;
    /// The board configuration.
    fn board_instance(&'static self) -> Box<dyn Instance>;
}

/// One configuration of a design.
pub trait Instance {
    /// The design's registry name.
    fn design(&self) -> &'static str;
    fn name(&self) -> String;
    fn params(&self) -> serde_json::Value;
    fn top(&self) -> Result<Rc<Module>>;
    fn manifest(&self) -> Result<serde_json::Value>;
    fn summary(&self) -> String;
    fn testbench(&self, cycles: u64, seed: u64) -> Result<Box<dyn Testbench>>;
    fn board(&self) -> Result<Board>;
}

impl<D: Design> Entry for D {
    fn name(&self) -> &'static str {
        Design::name(self)
    }

    fn about(&self) -> &'static str {
        Design::about(self)
    }

    fn with_args(&self, cmd: Command) -> Command {
        D::Args::augment_args(cmd)
    }

    fn instance(&'static self, m: &ArgMatches) -> Result<Box<dyn Instance>> {
        let args: D::Args = crate::cli::parsed(m)?;
        let cfg = self.config(&args)?;
        Ok(Box::new(Configured { design: self, cfg }))
    }

    fn board_instance(&'static self) -> Box<dyn Instance> {
        Box::new(Configured {
            design: self,
            cfg: self.board_config(),
        })
    }
}

struct Configured<D: Design> {
    design: &'static D,
    cfg: D::Config,
}

impl<D: Design> Instance for Configured<D> {
    fn design(&self) -> &'static str {
        self.design.name()
    }
    fn name(&self) -> String {
        self.design.instance_name(&self.cfg)
    }
    fn params(&self) -> serde_json::Value {
        self.design.params(&self.cfg)
    }
    fn top(&self) -> Result<Rc<Module>> {
        self.design.top(&self.cfg)
    }
    fn manifest(&self) -> Result<serde_json::Value> {
        self.design.manifest(&self.cfg)
    }
    fn summary(&self) -> String {
        self.design.summary(&self.cfg)
    }
    fn testbench(&self, cycles: u64, seed: u64) -> Result<Box<dyn Testbench>> {
        self.design.testbench(&self.cfg, cycles, seed)
    }
    fn board(&self) -> Result<Board> {
        self.design.board(&self.cfg)
    }
}

/// Every registered design, family by family.
pub fn designs() -> Vec<&'static dyn Entry> {
    FAMILIES.iter().flat_map(|f| f.designs()).collect()
}

/// The registered design called `name`.
pub fn find(name: &str) -> Result<&'static dyn Entry> {
    designs()
        .into_iter()
        .find(|d| d.name() == name)
        .ok_or_else(|| {
            let known: Vec<&str> = designs().iter().map(|d| d.name()).collect();
            bad(format!(
                "unknown design {name:?} (registered: {})",
                known.join(", ")
            ))
        })
}

/// One configuration of design `d`, for code that holds a typed configuration.
pub fn instance<D: Design>(d: &'static D, cfg: D::Config) -> Box<dyn Instance> {
    Box::new(Configured { design: d, cfg })
}
