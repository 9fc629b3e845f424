//! External tools on emitted Verilog: Verilator lint, Icarus compile, Yosys resource estimates
//! for the ZCU104's XCZU7EV; and a design's Verilog written as a directory.

pub use crate::output::TempDir;
use anyhow::{bail, Result};
pub use plume_hw::rtl::passes::Resources;
use plume_hw::rtl::Module;
use plume_sim::cosim::{available, write_verilog, Tool};
use std::path::Path;
use std::process::Command;
use std::rc::Rc;

/// `verilator --lint-only -Wall` on the design's files; any warning is an error.
pub fn lint(top: &Rc<Module>) -> Result<()> {
    if !available(Tool::Verilator) {
        bail!("verilator is not installed (run `make deps`)");
    }
    let dir = TempDir::new("lint")?;
    let files = write_verilog(top, dir.path())?;
    let out = Command::new("verilator")
        .args(["--lint-only", "-Wall", "--top-module", &top.name])
        .args(&files)
        .output()?;
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() || log.contains("%Warning") {
        bail!(
            "verilator --lint-only -Wall reports problems in {}:\n{log}",
            top.name
        );
    }
    Ok(())
}

/// `iverilog -g2005` compiles the design.
pub fn icarus_compiles(top: &Rc<Module>) -> Result<()> {
    if !available(Tool::Icarus) {
        bail!("iverilog is not installed (run `make deps`)");
    }
    let dir = TempDir::new("iverilog")?;
    let files = write_verilog(top, dir.path())?;
    let out = Command::new("iverilog")
        .args(["-g2005", "-Wall", "-s", &top.name, "-o"])
        .arg(dir.path().join("a.out"))
        .args(&files)
        .output()?;
    if !out.status.success() {
        bail!(
            "iverilog -g2005 fails on {}:\n{}",
            top.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Runs Yosys `synth_xilinx -family xcup` on the design and counts its cells.
pub fn synth(top: &Rc<Module>) -> Result<Resources> {
    Ok(yosys_synth(top, None)?.0)
}

/// Yosys `synth_xilinx -family xcup -flatten -noiopad` on the design: its cell counts, and the
/// output of one more Yosys command run on the result when `after` is given.
pub fn yosys_synth(top: &Rc<Module>, after: Option<&str>) -> Result<(Resources, String)> {
    if !plume_sim::cosim::which("yosys") {
        bail!("yosys is not installed (run `make deps`)");
    }
    let dir = TempDir::new("synth")?;
    let files = write_verilog(top, dir.path())?;
    let reads: Vec<String> = files
        .iter()
        .map(|f| format!("read_verilog {};", f.display()))
        .collect();
    let stat = dir.path().join("stat.txt");
    let extra = dir.path().join("extra.txt");
    let mut script = format!(
        "{} synth_xilinx -family xcup -flatten -noiopad -top {}; tee -q -o {} stat",
        reads.join(" "),
        top.name,
        stat.display()
    );
    if let Some(cmd) = after {
        script.push_str(&format!("; tee -q -o {} {cmd}", extra.display()));
    }
    let out = Command::new("yosys").args(["-q", "-p", &script]).output()?;
    if !out.status.success() {
        bail!(
            "yosys failed on {}:\n{}{}",
            top.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = std::fs::read_to_string(&stat)?;
    let extra = std::fs::read_to_string(&extra).unwrap_or_default();
    Ok((Resources::from_yosys_stat(&top.name, &text), extra))
}

/// Writes a design directory atomically: one Verilog file per module and `manifest.json` —
/// `manifest` with the port list and the file names added. Returns the Verilog file count.
pub fn write_design(
    out: &Path,
    top: &std::rc::Rc<plume_hw::rtl::Module>,
    mut manifest: serde_json::Value,
) -> crate::Result<usize> {
    use plume_hw::rtl::verilog::{emit_modules, port_list};
    let mut files: Vec<(String, Vec<u8>)> = emit_modules(top)
        .into_iter()
        .map(|(n, t)| (format!("{n}.v"), t.into_bytes()))
        .collect();
    let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    let ports: Vec<serde_json::Value> = port_list(top)
        .into_iter()
        .map(|p| serde_json::json!({"name": p.name, "direction": if p.output { "output" } else { "input" }, "width": p.width}))
        .collect();
    manifest["top"] = serde_json::json!(top.name);
    manifest["generator"] = serde_json::json!(format!("plume {}", env!("CARGO_PKG_VERSION")));
    manifest["ports"] = serde_json::json!(ports);
    manifest["files"] = serde_json::json!(names);
    files.push((
        "manifest.json".into(),
        serde_json::to_vec_pretty(&manifest)?,
    ));
    crate::output::write_dir(out, &files)?;
    Ok(names.len())
}
