//! External tools on emitted Verilog: Verilator lint, Icarus compile, Yosys resource estimates
//! for the ZCU104's XCZU7EV, and writing output directories all-or-nothing.

use anyhow::{bail, Context, Result};
pub use plume_hw::rtl::passes::Resources;
use plume_hw::rtl::Module;
use plume_sim::cosim::{available, write_verilog, Tool};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

/// A scratch directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!("plume-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
        Ok(TempDir(p))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

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

/// Writes files into `dir` all-or-nothing: they go to a sibling staging directory first, which is
/// renamed into place only when every file is written. An existing non-empty `dir` is refused.
/// File names may contain directories.
pub fn write_dir_atomically(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    if holds_anything(dir) {
        bail!("output directory {} exists and is not empty", dir.display());
    }
    replace_dir_atomically(dir, files)
}

/// Whether `dir` exists and is not an empty directory (an unreadable one counts as not empty).
pub fn holds_anything(dir: &Path) -> bool {
    dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
}

/// Like `write_dir_atomically`, but a non-empty `dir` is replaced whole (the caller decided it
/// may be): the old directory is moved aside, the new one renamed in, the old one removed.
pub fn replace_dir_atomically(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let name = dir
        .file_name()
        .context("output directory has no name")?
        .to_string_lossy()
        .to_string();
    let staging = parent.join(format!(".{name}.plume-partial-{}", std::process::id()));
    let old = parent.join(format!(".{name}.plume-old-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let result = (|| -> Result<()> {
        for (f, bytes) in files {
            let p = staging.join(f);
            std::fs::create_dir_all(p.parent().unwrap_or(&staging))?;
            std::fs::write(&p, bytes)?;
        }
        let previous = dir.exists();
        if previous {
            std::fs::rename(dir, &old)?;
        }
        if let Err(e) = std::fs::rename(&staging, dir) {
            if previous {
                let _ = std::fs::rename(&old, dir);
            }
            return Err(e.into());
        }
        if previous {
            let _ = std::fs::remove_dir_all(&old);
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result.with_context(|| format!("cannot write {}", dir.display()))
}

/// Writes one file atomically (temporary sibling, then rename).
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let tmp = path.with_extension(format!("plume-partial-{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            e
        })
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Writes a design directory atomically: one Verilog file per module and `manifest.json` —
/// `manifest` with the port list and the file names added. Returns the Verilog file count.
pub fn write_design(
    out: &Path,
    top: &std::rc::Rc<plume_hw::rtl::Module>,
    mut manifest: serde_json::Value,
) -> Result<usize> {
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
    write_dir_atomically(out, &files)?;
    Ok(names.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_empty_output_directory_and_leaves_nothing_behind() {
        let t = TempDir::new("atomic").unwrap();
        let d = t.path().join("out");
        write_dir_atomically(&d, &[("a.txt".into(), b"1".to_vec())]).unwrap();
        let e = write_dir_atomically(&d, &[("b.txt".into(), b"2".to_vec())]).unwrap_err();
        assert!(e.to_string().contains("exists and is not empty"));
        assert!(!d.join("b.txt").exists());
        let names: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
