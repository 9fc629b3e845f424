//! The FEATHER family: BIRRD and the FEATHER core as registered designs, and the family's own
//! commands — `plume birrd route | draw | eval | export | bench` and
//! `plume feather run | net | switch | export`.
//!
//! * `birrd`, `design`: the two designs (parameters, top, testbench, board).
//! * `birrd_cli`, `draw`: the BIRRD commands and the SVG of a configured network.
//! * `layer`: running compiled layers on the simulated core; `host`: the same through AXI,
//!   and the board package; `cli`, `net`: the FEATHER commands; `demo`: `plume demo`'s part;
//!   `tensors`: operands and results as `.npy` and JSON files.

pub mod birrd;
pub mod birrd_cli;
pub mod cli;
pub mod demo;
pub mod design;
pub mod draw;
pub mod host;
pub mod layer;
pub mod net;
pub mod session;
pub mod tensors;

use crate::error::Result;
use crate::registry::{Entry, Family};
use clap::{ArgMatches, Command};
use std::path::Path;

pub use birrd::BIRRD;
pub use design::FEATHER_DESIGN;

pub struct FeatherFamily;

pub static FEATHER: FeatherFamily = FeatherFamily;

impl Family for FeatherFamily {
    fn name(&self) -> &'static str {
        "feather"
    }

    fn designs(&self) -> Vec<&'static dyn Entry> {
        vec![&BIRRD, &FEATHER_DESIGN]
    }

    fn commands(&self) -> Vec<Command> {
        vec![birrd_cli::command(), cli::command()]
    }

    fn run(&self, name: &str, m: &ArgMatches) -> Result<()> {
        match name {
            "birrd" => birrd_cli::run(m),
            _ => cli::run_command(m),
        }
    }

    fn demo(&self, out: &Path) -> Result<()> {
        demo::demo(out)
    }
}
