//! The `plume` command line, built from the registry: every lifecycle verb gets one
//! subcommand per registered design (`plume sim birrd …`, `plume sim feather …`), each with
//! the design's own parameter flags; every family adds its own commands (`plume birrd route`).
//! Errors end with one line on stderr and the exit code of their kind (`error.rs`).

use crate::error::{bad, Error, Result};
use crate::registry::{self, Entry, Instance, FAMILIES};
use crate::{board, verbs};
use clap::{ArgMatches, Args, Command, FromArgMatches};
use std::path::PathBuf;
use std::process::ExitCode;

/// Output directory of `plume gen`.
#[derive(Args)]
pub struct GenArgs {
    /// Output directory (must not exist or be empty).
    #[arg(short, long)]
    pub out: PathBuf,
}

/// Random stimulus for `plume sim`.
#[derive(Args)]
pub struct SimArgs {
    /// Cycles to simulate, the reset cycle included.
    #[arg(long, default_value_t = 10_000)]
    pub cycles: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write a VCD waveform here.
    #[arg(long)]
    pub vcd: Option<PathBuf>,
}

/// Random stimulus for `plume check`.
#[derive(Args)]
pub struct CheckArgs {
    /// Cycles to simulate and replay, the reset cycle included.
    #[arg(long, default_value_t = 500)]
    pub cycles: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Args)]
pub struct SynthArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Stimulus for `plume bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Cycles of the design's testbench to record and replay.
    #[arg(long, default_value_t = 200_000)]
    pub cycles: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Args)]
pub struct DemoArgs {
    /// Output directory.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
}

/// One subcommand per registered design, each with the design's flags and `verb_args`.
pub fn per_design(verb: Command, verb_args: fn(Command) -> Command) -> Command {
    let mut v = verb.subcommand_required(true);
    for d in registry::designs() {
        v = v.subcommand(verb_args(
            d.with_args(Command::new(d.name()).about(d.about())),
        ));
    }
    v
}

/// The whole command tree.
pub fn command() -> Command {
    let mut cmd = Command::new("plume")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Hardware generator, cycle simulator and golden models for FEATHER, RF-emulation, FRED and SDQ accelerators")
        .subcommand_required(true)
        .subcommand(per_design(
            Command::new("gen").about("Generate Verilog (one file per module) and a manifest.json."),
            GenArgs::augment_args,
        ))
        .subcommand(per_design(
            Command::new("sim").about(
                "Cycle-simulate with random stimulus, checking every result against the golden model.",
            ),
            SimArgs::augment_args,
        ))
        .subcommand(per_design(
            Command::new("check").about(
                "Golden model ≡ plume simulator ≡ Verilator ≡ Icarus on the same stimulus, plus Verilator lint.",
            ),
            CheckArgs::augment_args,
        ))
        .subcommand(per_design(
            Command::new("synth").about("Resource estimate with Yosys synth_xilinx for the ZCU104's XCZU7EV."),
            SynthArgs::augment_args,
        ))
        .subcommand(per_design(
            Command::new("bench").about(
                "Simulation speed: the design's testbench recorded, then replayed on plume's simulator and on Verilator -O3.",
            ),
            BenchArgs::augment_args,
        ));
    for c in board::cli::commands() {
        cmd = cmd.subcommand(c);
    }
    for f in FAMILIES {
        for c in f.commands() {
            cmd = cmd.subcommand(c);
        }
    }
    negative_values_are_values(cmd.subcommand(DemoArgs::augment_args(Command::new("demo").about(
        "Every family's demonstration: generated, simulated and cross-checked designs, written into --out.",
    ))))
}

/// `--ports -4` is a negative number given to `--ports` (and refused as such), not an unknown
/// flag `-4`.
fn negative_values_are_values(cmd: Command) -> Command {
    cmd.mut_args(|a| {
        if a.get_action().takes_values() {
            a.allow_negative_numbers(true)
        } else {
            a
        }
    })
    .mut_subcommands(negative_values_are_values)
}

/// The design named by a verb's subcommand, configured from its flags.
pub fn instance(m: &ArgMatches) -> Result<(Box<dyn Instance>, &ArgMatches)> {
    let (name, sub) = m.subcommand().ok_or_else(|| bad("no design given"))?;
    let entry: &'static dyn Entry = registry::find(name)?;
    Ok((entry.instance(sub)?, sub))
}

pub fn parsed<A: FromArgMatches>(m: &ArgMatches) -> Result<A> {
    A::from_arg_matches(m).map_err(|e| bad(first_line(&e.to_string())))
}

/// A clap message as one line: its first paragraph (up to the first blank line), joined.
fn first_line(text: &str) -> String {
    let para: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let joined = para.join(" ");
    let joined = joined.trim_start_matches("error: ").to_string();
    if joined.is_empty() {
        "invalid arguments".into()
    } else {
        joined
    }
}

fn dispatch(m: &ArgMatches) -> Result<()> {
    let (verb, vm) = m.subcommand().ok_or_else(|| bad("no command given"))?;
    match verb {
        "gen" => {
            let (inst, sub) = instance(vm)?;
            verbs::gen(&*inst, &parsed::<GenArgs>(sub)?.out)
        }
        "sim" => {
            let (inst, sub) = instance(vm)?;
            let a: SimArgs = parsed(sub)?;
            verbs::sim(&*inst, a.cycles, a.seed, a.vcd.as_deref())
        }
        "check" => {
            let (inst, sub) = instance(vm)?;
            let a: CheckArgs = parsed(sub)?;
            verbs::check(&*inst, a.cycles, a.seed)
        }
        "synth" => {
            let (inst, sub) = instance(vm)?;
            verbs::synth(&*inst, parsed::<SynthArgs>(sub)?.json)
        }
        "bench" => {
            let (inst, sub) = instance(vm)?;
            let a: BenchArgs = parsed(sub)?;
            verbs::bench(&*inst, a.cycles, a.seed)
        }
        "demo" => {
            let out = parsed::<DemoArgs>(vm)?.out;
            FAMILIES.iter().try_for_each(|f| f.demo(&out))
        }
        _ => {
            if let Some(r) = board::cli::run(verb, vm) {
                return r;
            }
            match FAMILIES
                .iter()
                .find(|f| f.commands().iter().any(|c| c.get_name() == verb))
            {
                Some(f) => f.run(verb, vm),
                None => Err(bad(format!("unknown command {verb}"))),
            }
        }
    }
}

/// Parses the command line, runs it, and turns the outcome into an exit code.
pub fn main() -> ExitCode {
    // Die quietly on a closed pipe (`plume feather net resnet50 | head`), as Unix tools do.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    crate::output::install_signal_cleanup();
    let m = match command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    ExitCode::SUCCESS
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    ExitCode::from(2)
                }
                _ => {
                    eprintln!("plume: {}", shorten(&first_line(&e.render().to_string())));
                    ExitCode::from(2)
                }
            };
        }
    };
    match dispatch(&m) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(e),
    }
}

/// Bad input, an unroutable target, a time budget: one line. A failed check keeps the
/// details a tool printed (a lint log, a mismatch) on the lines after its first.
fn report(e: Error) -> ExitCode {
    let text = e.to_string();
    match e {
        Error::Quiet => {}
        Error::Failed(_) => {
            let lines: Vec<String> = text.lines().map(shorten).collect();
            eprintln!("plume: {}", lines.join("\n"));
        }
        _ => eprintln!(
            "plume: {}",
            shorten(text.trim().lines().next().unwrap_or(""))
        ),
    }
    ExitCode::from(e.exit_code())
}

/// Not an echo of a 100-kB argument: a line cut at 400 characters.
fn shorten(line: &str) -> String {
    const MAX: usize = 400;
    let n = line.chars().count();
    if n > MAX {
        let cut: String = line.chars().take(MAX).collect();
        format!("{cut}… ({n} characters in all)")
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_tree_is_consistent() {
        super::command().debug_assert();
    }

    #[test]
    fn every_registered_design_gets_every_lifecycle_verb() {
        let cmd = super::command();
        for d in crate::registry::designs() {
            for path in [
                &["gen"][..],
                &["sim"],
                &["check"],
                &["synth"],
                &["bench"],
                &["serve"],
                &["fpga", "zcu104"],
                &["report", "zcu104"],
            ] {
                let mut c = &cmd;
                for p in path {
                    c = c.find_subcommand(p).unwrap_or_else(|| panic!("{p}"));
                }
                assert!(
                    c.find_subcommand(d.name()).is_some(),
                    "{path:?} {}",
                    d.name()
                );
            }
        }
    }
}
