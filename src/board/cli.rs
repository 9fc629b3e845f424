//! The board flow's verbs, for every registered design: `plume fpga zcu104 <design>`,
//! `plume report zcu104 [<design>]` and the hidden `plume serve <design>`.

use super::{dma_width, Wrapped};
use crate::cli::{instance, per_design};
use crate::error::{bad, Result};
use crate::registry;
use clap::{Arg, ArgAction, ArgMatches, Args, Command};
use plume_sim::bfm::{Host, Stalls};
use std::path::PathBuf;

#[derive(Args)]
pub struct FpgaOpts {
    /// Clock (pl_clk0) in MHz, 10 to 400.
    #[arg(long, default_value_t = 100.0)]
    mhz: f64,
    /// Output directory: new, empty, or a previous plume build (replaced whole).
    #[arg(short, long)]
    out: PathBuf,
    /// Estimate resources with Yosys synth_xilinx instead of plume's IR estimate (slow for
    /// large designs).
    #[arg(long)]
    yosys: bool,
}

/// The commands: `fpga`, `report`, `serve`.
pub fn commands() -> Vec<Command> {
    let fpga = Command::new("fpga")
        .about("A ZCU104 build directory for a design: Verilog, AXI shell, constraints, Vivado Tcl, Makefile (`make` runs Vivado), C header, PYNQ driver, board runner, README.")
        .subcommand_required(true)
        .subcommand(per_design(
            Command::new("zcu104").about("ZCU104 (Zynq UltraScale+ XCZU7EV-2FFVC1156)."),
            FpgaOpts::augment_args,
        ));
    let mut zcu104 = Command::new("zcu104")
        .about("ZCU104 (XCZU7EV): every design at its board configuration, or one design as given.")
        .arg(
            Arg::new("json")
                .long("json")
                .global(true)
                .action(ArgAction::SetTrue)
                .help("Print JSON instead of a table."),
        );
    for d in registry::designs() {
        zcu104 = zcu104.subcommand(d.with_args(Command::new(d.name()).about(d.about())));
    }
    let report = Command::new("report")
        .about("Resources (share of the device) and longest combinational path of every design at its board configuration, by Yosys.")
        .subcommand_required(true)
        .subcommand(zcu104);
    let serve = per_design(
        Command::new("serve")
            .hide(true)
            .about("Serve a design behind AXI on plume's simulator over stdin/stdout, one command per line, for host-software tests: `W <offset> <value>`, `R <offset>`, `SEND <file>` (MM2S), `RECV <beats> <file>` (S2MM), `XFER <file> <beats> <file>` (both at once), `INFO` (bytes per beat in and out), `QUIT`. Replies `OK …` or `ERR <message>`."),
        |c| c,
    );
    vec![fpga, report, serve]
}

/// Runs `verb` if it is one of this module's.
pub fn run(verb: &str, m: &ArgMatches) -> Option<Result<()>> {
    Some(match verb {
        "fpga" => fpga(m),
        "report" => report(m),
        "serve" => instance(m).and_then(|(inst, _)| serve(&Wrapped::of(&*inst)?)),
        _ => return None,
    })
}

fn fpga(m: &ArgMatches) -> Result<()> {
    let (_, board) = m.subcommand().ok_or_else(|| bad("no board given"))?;
    let (inst, sub) = instance(board)?;
    let o: FpgaOpts = crate::cli::parsed(sub)?;
    super::check_build_dir(&o.out)?;
    super::check_clock(o.mhz).map_err(bad)?;
    let d = Wrapped::of(&*inst)?;
    super::check_streams(&d).map_err(bad)?;
    if o.yosys {
        eprintln!(
            "plume: synthesising {} with Yosys for the estimate…",
            inst.name()
        );
    }
    let b = super::build(&d, o.mhz, o.yosys)?;
    super::write(&o.out, &b.files)?;
    let r = &b.estimate;
    crate::outln!(
        "wrote {} ({} files): {} at {} MHz for {}",
        o.out.display(),
        b.files.len(),
        d.name,
        o.mhz,
        super::PART
    );
    crate::outln!(
        "estimate ({}): {} LUT, {} FF, {} DSP48E2, {} BRAM36, {} URAM — fits the XCZU7EV",
        if b.source == super::EstimateSource::Yosys {
            "yosys"
        } else {
            "IR, no synthesis"
        },
        r.lut,
        r.ff,
        r.dsp,
        r.bram36,
        r.uram
    );
    crate::outln!("next: cd {} && make   (needs Vivado)", o.out.display());
    Ok(())
}

/// Serves the wrapped design: the board's wire format, beats as wide as the AXI DMA's stream
/// (the shell pads).
pub fn serve(d: &Wrapped) -> Result<()> {
    use std::io::{BufRead, Write};
    let mut h = Host::new(
        d.board.top.clone(),
        d.board.map.clone(),
        Stalls::default(),
        false,
    )?;
    let (wi, wo) = d.stream_widths();
    let (di, d_o) = (dma_width(wi) as usize / 8, dma_width(wo) as usize / 8);
    let (ni, no) = (wi.div_ceil(8) as usize, wo.div_ceil(8) as usize);
    let unpad = |bytes: Vec<u8>| -> anyhow::Result<Vec<u8>> {
        if !bytes.len().is_multiple_of(di) {
            anyhow::bail!(
                "{} bytes is not a whole number of {di}-byte beats",
                bytes.len()
            );
        }
        Ok(bytes.chunks(di).flat_map(|c| c[..ni].to_vec()).collect())
    };
    let pad = |bytes: Vec<u8>| -> Vec<u8> {
        bytes
            .chunks(no)
            .flat_map(|c| {
                let mut v = c.to_vec();
                v.resize(d_o, 0);
                v
            })
            .collect()
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let w: Vec<&str> = line.split_whitespace().collect();
        let arg = |i: usize| w.get(i).copied().unwrap_or("");
        let num = |i: usize| -> anyhow::Result<u64> {
            let t = arg(i);
            let v = match t.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => t.parse(),
            };
            v.map_err(|_| anyhow::anyhow!("{t:?} is not a number"))
        };
        let reply: anyhow::Result<String> = (|| match w.first().copied() {
            Some("W") => Ok(format!("OK {}", h.mmio_write(num(1)?, num(2)? as u32)?)),
            Some("R") => {
                let (v, r) = h.mmio_read(num(1)?)?;
                Ok(format!("OK {v} {r}"))
            }
            Some("SEND") => {
                h.send(&unpad(std::fs::read(arg(1))?)?)?;
                Ok("OK".into())
            }
            Some("RECV") => {
                let bytes = h.receive(num(1)? as usize)?;
                std::fs::write(arg(2), pad(bytes))?;
                Ok("OK".into())
            }
            Some("XFER") => {
                let bytes = h.transfer(&unpad(std::fs::read(arg(1))?)?, num(2)? as usize)?;
                std::fs::write(arg(3), pad(bytes))?;
                Ok("OK".into())
            }
            Some("INFO") => Ok(format!("OK {di} {d_o}")),
            Some("QUIT") | None => Ok("BYE".into()),
            Some(c) => Err(anyhow::anyhow!("unknown command {c}")),
        })();
        let text = reply.unwrap_or_else(|e| format!("ERR {e:#}"));
        writeln!(out, "{text}")?;
        out.flush()?;
        if text == "BYE" {
            break;
        }
    }
    Ok(())
}

fn report(m: &ArgMatches) -> Result<()> {
    let (_, zcu) = m.subcommand().ok_or_else(|| bad("no board given"))?;
    let json = zcu.get_flag("json");
    let designs: Vec<Box<dyn registry::Instance>> = match zcu.subcommand() {
        Some(_) => vec![instance(zcu)?.0],
        None => registry::designs()
            .into_iter()
            .map(|d| d.board_instance())
            .collect(),
    };
    let mut rows = Vec::new();
    for inst in &designs {
        let d = Wrapped::of(&**inst)?;
        let top = &d.board.top;
        let t0 = std::time::Instant::now();
        eprintln!(
            "plume: synthesising {} (Yosys synth_xilinx; large designs take many minutes)…",
            top.name
        );
        let (r, depth) = super::synth_with_depth(top)?;
        eprintln!(
            "plume: {} done in {:.0} s",
            top.name,
            t0.elapsed().as_secs_f64()
        );
        rows.push((d.name, r, depth));
    }
    if json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(n, r, depth)| serde_json::json!({"design": n, "resources": r, "longest_path": depth}))
            .collect();
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"date": super::today(), "part": super::PART, "designs": v})
            )?
        );
        return Ok(());
    }
    crate::outln!(
        "ZCU104 ({}), Yosys synth_xilinx -family xcup, {}",
        super::PART,
        super::today()
    );
    crate::outln!(
        "{:<26} {:>15} {:>15} {:>8} {:>13} {:>13} {:>10} {:>6}",
        "design (AXI-wrapped)",
        "LUT",
        "FF",
        "LUT-RAM",
        "DSP",
        "BRAM36",
        "URAM",
        "depth"
    );
    let cap = super::capacity();
    for (n, r, depth) in &rows {
        let cell = |u: f64, k: usize| format!("{u} ({:.1}%)", 100.0 * u / cap[k].1);
        crate::outln!(
            "{:<26} {:>15} {:>15} {:>8} {:>13} {:>13} {:>10} {:>6}",
            n,
            cell(r.lut as f64, 0),
            cell(r.ff as f64, 1),
            r.lutram,
            cell(r.dsp as f64, 2),
            cell(r.bram36, 3),
            cell(r.uram as f64, 4),
            depth.cells
        );
    }
    for (n, _, depth) in &rows {
        crate::outln!("longest path in {n}: {} → {}", depth.from, depth.to);
    }
    crate::outln!("LUT-RAM: distributed-memory cells (RAM32M/RAM64M/SRL…), not counted under LUT. depth: cells (LUT, CARRY, MUXF, DSP) on the longest path between flip-flops, block RAMs and ports (Yosys ltp), a proxy for Fmax");
    Ok(())
}
