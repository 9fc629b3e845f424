//! `plume fpga …`, `plume report …` and the hidden `plume serve …`.

use crate::feather_cli::ArrayArgs;
use crate::BirrdParams;
use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use plume::fpga;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum FpgaBoard {
    /// ZCU104 (Zynq UltraScale+ XCZU7EV-2FFVC1156).
    Zcu104 {
        #[command(subcommand)]
        design: FpgaDesign,
    },
}

#[derive(Args, Clone)]
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

#[derive(Subcommand)]
pub enum FpgaDesign {
    /// BIRRD behind AXI: command word over AXI4-Lite, vectors over AXI4-Stream.
    Birrd {
        #[command(flatten)]
        p: BirrdParams,
        #[command(flatten)]
        o: FpgaOpts,
    },
    /// FEATHER (sequencer + core) behind AXI: layer constants over AXI4-Lite, buffers and
    /// program over AXI4-Stream, read-back over AXI4-Stream.
    Feather {
        #[command(flatten)]
        a: ArrayArgs,
        #[command(flatten)]
        o: FpgaOpts,
    },
}

#[derive(Subcommand)]
pub enum ServeDesign {
    Birrd {
        #[command(flatten)]
        p: BirrdParams,
    },
    Feather {
        #[command(flatten)]
        a: ArrayArgs,
    },
}

#[derive(Subcommand)]
pub enum ReportBoard {
    /// ZCU104 (XCZU7EV).
    Zcu104 {
        /// FEATHER array to report instead of the default 16x16.
        #[arg(long, default_value = "16x16")]
        array: String,
        /// BIRRD ports to report instead of the default 16.
        #[arg(long, default_value_t = 16)]
        ports: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn fpga_cmd(d: &fpga::Design, o: &FpgaOpts) -> Result<()> {
    if o.yosys {
        eprintln!(
            "plume: synthesising {} with Yosys for the estimate…",
            d.name()
        );
    }
    let b = fpga::build(d, o.mhz, o.yosys)?;
    fpga::write(&o.out, &b.files)?;
    let r = &b.estimate;
    println!(
        "wrote {} ({} files): {} at {} MHz for {}",
        o.out.display(),
        b.files.len(),
        d.name(),
        o.mhz,
        fpga::PART
    );
    println!(
        "estimate ({}): {} LUT, {} FF, {} DSP48E2, {} BRAM36, {} URAM — fits the XCZU7EV",
        if b.source == fpga::EstimateSource::Yosys {
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
    println!("next: cd {} && make   (needs Vivado)", o.out.display());
    Ok(())
}

pub fn serve(d: &fpga::Design) -> Result<()> {
    use plume::axi::{Host, Stalls};
    use std::io::{BufRead, Write};
    let mut h = Host::new(d.wrapped()?, d.map()?, Stalls::default(), false)?;
    // The wire format is the board's: beats as wide as the AXI DMA's stream (the shell pads).
    let (wi, wo) = d.stream_widths();
    let (di, d_o) = (
        fpga::dma_width(wi) as usize / 8,
        fpga::dma_width(wo) as usize / 8,
    );
    let (ni, no) = (wi.div_ceil(8) as usize, wo.div_ceil(8) as usize);
    let unpad = |bytes: Vec<u8>| -> Result<Vec<u8>> {
        if !bytes.len().is_multiple_of(di) {
            bail!(
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
        let num = |i: usize| -> Result<u64> {
            let t = arg(i);
            let v = match t.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => t.parse(),
            };
            v.map_err(|_| anyhow!("{t:?} is not a number"))
        };
        let reply: Result<String> = (|| match w.first().copied() {
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
            Some(c) => Err(anyhow!("unknown command {c}")),
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

pub fn report_cmd(array: &str, ports: u32, json: bool) -> Result<()> {
    let fa = ArrayArgs {
        array: array.to_string(),
        topology: "bitrev".into(),
        depths: "1024,1024,1024".into(),
    };
    let bp = BirrdParams {
        ports,
        width: 32,
        topology: "bitrev".into(),
    };
    let designs = vec![
        fpga::Design::Birrd(bp.config()?),
        fpga::Design::Feather(fa.config()?, Default::default()),
    ];
    let mut rows = Vec::new();
    for d in &designs {
        let top = d.wrapped()?;
        let t0 = std::time::Instant::now();
        eprintln!(
            "plume: synthesising {} (Yosys synth_xilinx; large designs take many minutes)…",
            top.name
        );
        let (r, depth) = fpga::synth_with_depth(&top)?;
        eprintln!(
            "plume: {} done in {:.0} s",
            top.name,
            t0.elapsed().as_secs_f64()
        );
        rows.push((d.name(), r, depth));
    }
    if json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(n, r, depth)| serde_json::json!({"design": n, "resources": r, "longest_path": depth}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"date": fpga::today(), "part": fpga::PART, "designs": v})
            )?
        );
        return Ok(());
    }
    println!(
        "ZCU104 ({}), Yosys synth_xilinx -family xcup, {}",
        fpga::PART,
        fpga::today()
    );
    println!(
        "{:<26} {:>15} {:>15} {:>8} {:>13} {:>13} {:>10} {:>6}",
        "design (AXI-wrapped)", "LUT", "FF", "LUT-RAM", "DSP", "BRAM36", "URAM", "depth"
    );
    let cap = fpga::capacity();
    for (n, r, depth) in &rows {
        let cell = |u: f64, k: usize| format!("{u} ({:.1}%)", 100.0 * u / cap[k].1);
        println!(
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
        println!("longest path in {n}: {} → {}", depth.from, depth.to);
    }
    println!("LUT-RAM: distributed-memory cells (RAM32M/RAM64M/SRL…), not counted under LUT. depth: cells (LUT, CARRY, MUXF, DSP) on the longest path between flip-flops, block RAMs and ports (Yosys ltp), a proxy for Fmax");
    Ok(())
}
