//! `plume chakra`: MSCCL-IR algorithms into Chakra execution traces, and Chakra traces
//! replayed on the fabric model — the producer → representation → consumer workflow with
//! plume at both ends (and `plume fred sim --et` writing what a fabric run scheduled).

use super::fabric::{FabricConfig, Kind, Program};
use super::{human, human_ns, init_chunk, parse_bytes, progress_printer, report, run_program};
use crate::chakra::{self, msccl, Meta};
use crate::error::{bad, failed, Result};
use crate::input;
use crate::output::{dir_target, write_dir};
use clap::{ArgMatches, Args, Command, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
enum ChakraCmd {
    /// An MSCCL-IR XML algorithm (msccl-tools) as a Chakra trace: one <prefix>.<rank>.et per
    /// GPU, sends and receives with their chunks, dependencies from the threadblocks.
    Convert {
        /// The algorithm (XML).
        xml: PathBuf,
        /// Collective size per rank (D), e.g. 1MiB.
        #[arg(long)]
        bytes: String,
        /// File prefix (default: the algorithm's name).
        #[arg(long)]
        prefix: Option<String>,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Replay a Chakra trace (a directory of <prefix>.<rank>.et) on the fabric model.
    Run(RunArgs),
}

#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    /// The trace's directory.
    pub dir: PathBuf,
    /// fred-d, fred-c or mesh.
    #[arg(long)]
    pub fabric: String,
    /// Packet size in bytes.
    #[arg(long, default_value_t = 4096)]
    pub packet: u64,
    /// Head latency per link in ns.
    #[arg(long, default_value_t = 20.0)]
    pub link_ns: f64,
    /// Carry data and check the result (traces plume wrote, of a collective it can check).
    #[arg(long)]
    pub verify: bool,
}

pub fn command() -> Command {
    ChakraCmd::augment_subcommands(
        Command::new("chakra")
            .about("Chakra execution traces: convert MSCCL-IR XML algorithms, replay traces on the FRED / mesh fabric model.")
            .subcommand_required(true),
    )
}

pub fn run(m: &ArgMatches) -> Result<()> {
    match crate::cli::parsed::<ChakraCmd>(m)? {
        ChakraCmd::Convert {
            xml,
            bytes,
            prefix,
            out,
        } => convert(&xml, &bytes, prefix.as_deref(), &out),
        ChakraCmd::Run(a) => replay(&a),
    }
}

/// Most ranks a trace may have (the fabric model's limit).
const MAX_RANKS: usize = super::fabric::MAX_NPUS as usize;

fn check_prefix(p: &str) -> Result<()> {
    let ok = !p.is_empty()
        && p.len() <= 100
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(bad(format!(
            "prefix {p:?}: use letters, digits, _ and - (at most 100)"
        )));
    }
    Ok(())
}

/// Writes `prog` as a trace in `dir` (all files or none).
pub fn write_trace(dir: &Path, prefix: &str, prog: &Program, meta: &Meta) -> Result<()> {
    check_prefix(prefix)?;
    let files: Vec<(String, Vec<u8>)> = chakra::encode(prog, meta)
        .into_iter()
        .enumerate()
        .map(|(r, b)| (chakra::file_name(prefix, r), b))
        .collect();
    let bytes: usize = files.iter().map(|f| f.1.len()).sum();
    write_dir(dir, &files)?;
    crate::outln!(
        "wrote {}: a Chakra trace of {} ranks ({}.<rank>.et, {} nodes, {})",
        dir.display(),
        prog.ranks.len(),
        prefix,
        prog.ranks.iter().map(|r| r.len()).sum::<usize>(),
        human(bytes as f64)
    );
    Ok(())
}

fn convert(xml: &Path, bytes: &str, prefix: Option<&str>, out: &Path) -> Result<()> {
    dir_target(out, |_| false)?;
    let bytes = parse_bytes(bytes)?;
    let text = input::read_text(xml, "MSCCL algorithm")?;
    let (prog, layout) =
        msccl::import(&text, bytes).map_err(|e| bad(format!("{}: {e}", xml.display())))?;
    let prefix = prefix.unwrap_or(&layout.name).to_string();
    let meta = Meta {
        collective: Some(layout.coll.clone()),
        source: format!("msccl:{}", layout.name),
        groups: None,
        msccl: Some(layout),
    };
    write_trace(out, &prefix, &prog, &meta)
}

/// Reads the trace in `dir`: the program and its metadata.
pub fn read_trace(dir: &Path) -> Result<(Program, Meta)> {
    let (prefix, n) = chakra::find_files(dir).map_err(bad)?;
    if n > MAX_RANKS || n < 2 {
        return Err(bad(format!(
            "{}: {n} ranks; the fabric model takes 2 to {MAX_RANKS}",
            dir.display()
        )));
    }
    let mut ranks = Vec::with_capacity(n);
    for r in 0..n {
        let name = chakra::file_name(&prefix, r);
        let bytes = input::read_file(&dir.join(&name), "Chakra trace")?;
        ranks.push(chakra::decode_file(&bytes, &name).map_err(bad)?);
    }
    chakra::program(&ranks).map_err(bad)
}

/// The fat tree's L1 size for `n` ranks: 4 NPUs per switch when that leaves two switches or
/// more, else 2, else 1.
fn per_l1(n: u32) -> u32 {
    [4, 2, 1]
        .into_iter()
        .find(|p| n % p == 0 && n / p >= 2)
        .unwrap_or(1)
}

fn replay(a: &RunArgs) -> Result<()> {
    let kind = Kind::parse(&a.fabric).ok_or_else(|| {
        bad(format!(
            "unknown fabric {:?} (fred-d, fred-c, mesh)",
            a.fabric
        ))
    })?;
    let (prog, meta) = read_trace(&a.dir)?;
    let n = prog.ranks.len() as u32;
    if a.verify && (prog.chunk_bytes.saturating_mul(prog.chunks as u64) > super::MAX_VERIFY_BYTES) {
        return Err(bad(
            "--verify carries the data: at most 16 MiB per rank".to_string()
        ));
    }
    let mut fc = FabricConfig::wafer(kind, n);
    fc.per_l1 = per_l1(n);
    fc.packet = a.packet;
    fc.link_ns = a.link_ns;
    let mut progress = progress_printer();
    let (fab, o, seconds) = run_program(&fc, &prog, a.verify, &mut progress)?;
    let bytes_per_rank = prog.chunk_bytes * prog.chunks as u64;
    crate::outln!(
        "{}: {} ranks, {} nodes ({}) on {}: {}",
        a.dir.display(),
        n,
        prog.ranks.iter().map(|r| r.len()).sum::<usize>(),
        if meta.source.is_empty() {
            "a foreign trace"
        } else {
            &meta.source
        },
        kind.name(),
        human_ns(o.time_ns)
    );
    let members: Vec<u32> = (0..n).collect();
    report(
        &fab,
        &o,
        seconds,
        &members,
        bytes_per_rank.max(1),
        "D = the rank's whole buffer",
    )?;
    if let Some(data) = &o.data {
        let checked = check(&prog, &meta, data)?;
        crate::outln!("  {checked}");
    }
    Ok(())
}

/// Checks replayed data against the golden result the trace's metadata implies.
fn check(prog: &Program, meta: &Meta, data: &[Vec<Vec<u32>>]) -> Result<String> {
    let words = (prog.chunk_bytes / 4).max(1) as usize;
    if let Some(l) = &meta.msccl {
        let init = move |r: u32, c: u32| init_chunk(r, c, words);
        let mut any = false;
        for r in 0..l.ngpus {
            for c in 0..l.o_chunks {
                let Some(want) = l.expected(c, &init) else {
                    return Ok(format!(
                        "not checked: plume knows the golden result of allgather and allreduce, not {:?}",
                        l.coll
                    ));
                };
                any = true;
                if data[r as usize][(l.i_chunks + c) as usize] != want {
                    return Err(failed(format!(
                        "rank {r}: output chunk {c} differs from the golden {} result",
                        l.coll
                    )));
                }
            }
        }
        if any {
            return Ok(format!(
                "every one of {} ranks holds the golden {} result in its {} output chunks",
                l.ngpus, l.coll, l.o_chunks
            ));
        }
    }
    if let (Some((groups, dirs)), Some(c)) = (&meta.groups, &meta.collective) {
        let coll = super::collective::Collective::parse(c).ok_or_else(|| {
            bad(format!(
                "the trace's collective {c:?} is not one plume checks"
            ))
        })?;
        let n = super::check_groups(data, groups, (prog.chunks, *dirs), coll, prog.chunk_bytes)?;
        return Ok(format!(
            "every one of {n} ranks holds the golden {c} result"
        ));
    }
    Ok("not checked: the trace does not say which collective it implements".into())
}
