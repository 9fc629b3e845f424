//! Co-simulation: replay a recorded stimulus on the emitted Verilog in Verilator and Icarus
//! Verilog, and compare every output on every cycle with what plume's simulator sampled.
//!
//! Both testbenches follow the cycle semantics of `engine.rs`: apply the cycle's inputs with the
//! clock low, let logic settle, print the outputs, raise the clock. Icarus runs a Verilog
//! testbench; Verilator a generated C++ harness (the same one the benchmark uses). Values
//! travel as hexadecimal text, one line per cycle, so widths of any size pass unchanged.
//!
//! Registers are undefined in Verilog until reset, so a clocked recording must start with
//! `rst` = 1 and cycle 0 is not compared.

use crate::engine::Recording;
use plume_hw::rtl::verilog::emit_modules;
use plume_hw::rtl::Module;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Verilator,
    Icarus,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Verilator => "verilator",
            Tool::Icarus => "icarus",
        }
    }

    fn binary(self) -> &'static str {
        match self {
            Tool::Verilator => "verilator",
            Tool::Icarus => "iverilog",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CosimError {
    #[error("{0} is not installed (run `make deps`)")]
    Missing(&'static str),
    #[error("{tool} failed to build the design:\n{log}")]
    Build { tool: &'static str, log: String },
    #[error("{tool} failed to run:\n{log}")]
    Run { tool: &'static str, log: String },
    #[error(
        "{tool} disagrees with plume at cycle {cycle} on {signal}: plume {expected}, {tool} {got}"
    )]
    Mismatch {
        tool: &'static str,
        cycle: usize,
        signal: String,
        expected: String,
        got: String,
    },
    #[error("{tool} produced {got} cycles of output, expected {want}")]
    Short {
        tool: &'static str,
        got: usize,
        want: usize,
    },
    #[error("recording must start with rst = 1 (registers are undefined in Verilog until reset)")]
    NoReset,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Whether a tool is on PATH.
pub fn available(tool: Tool) -> bool {
    which(tool.binary())
}

pub fn which(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

/// For tests: `Ok(true)` when the tool is there; `Ok(false)` (a loud skip) when it is missing
/// on a developer machine; an error when it is missing under CI, where a skip would hide a gap.
pub fn require(tool: Tool) -> Result<bool, CosimError> {
    if available(tool) {
        Ok(true)
    } else if std::env::var("CI").is_ok_and(|v| v == "true") {
        Err(CosimError::Missing(tool.binary()))
    } else {
        eprintln!(
            "SKIPPED: {} is not installed; run `make deps` (under CI=true this is a failure)",
            tool.binary()
        );
        Ok(false)
    }
}

/// Writes every module of the design as `<name>.v` into `dir`; returns the file paths.
pub fn write_verilog(top: &Rc<Module>, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut files = Vec::new();
    for (name, text) in emit_modules(top) {
        let p = dir.join(format!("{name}.v"));
        std::fs::write(&p, text)?;
        files.push(p);
    }
    Ok(files)
}

pub fn stimulus_text(rec: &Recording) -> String {
    let mut s = format!("{}\n", rec.cycles.len());
    for (ins, _) in &rec.cycles {
        let line: Vec<String> = ins.iter().map(|b| b.to_hex()).collect();
        s.push_str(&line.join(" "));
        s.push('\n');
    }
    s
}

fn icarus_testbench(top: &Module, rec: &Recording, stim: &Path, out: &Path) -> String {
    let mut s = String::from("`timescale 1ns/1ns\nmodule plume_tb;\n");
    if top.clocked {
        s.push_str("  reg clk;\n");
    }
    for (n, w) in &rec.inputs {
        let _ = writeln!(s, "  reg [{}:0] p_{n};", w - 1);
    }
    for (n, w) in &rec.outputs {
        let _ = writeln!(s, "  wire [{}:0] p_{n};", w - 1);
    }
    s.push_str("  integer fi, fo, n, c, r;\n");
    let mut conns: Vec<String> = Vec::new();
    if top.clocked {
        conns.push(".clk(clk)".into());
    }
    conns.extend(
        rec.inputs
            .iter()
            .chain(&rec.outputs)
            .map(|(n, _)| format!(".{n}(p_{n})")),
    );
    let _ = writeln!(s, "  {} dut ({});", top.name, conns.join(", "));
    s.push_str("  initial begin\n");
    if top.clocked {
        s.push_str("    clk = 0;\n");
    }
    let _ = writeln!(s, "    fi = $fopen(\"{}\", \"r\");", stim.display());
    let _ = writeln!(s, "    fo = $fopen(\"{}\", \"w\");", out.display());
    s.push_str("    r = $fscanf(fi, \"%d\\n\", n);\n    for (c = 0; c < n; c = c + 1) begin\n");
    let fmt_in = vec!["%h"; rec.inputs.len()].join(" ");
    let args_in: Vec<String> = rec.inputs.iter().map(|(n, _)| format!("p_{n}")).collect();
    if !rec.inputs.is_empty() {
        let _ = writeln!(
            s,
            "      r = $fscanf(fi, \"{fmt_in}\\n\", {});",
            args_in.join(", ")
        );
    }
    s.push_str("      #1;\n");
    let fmt_out = vec!["%h"; rec.outputs.len()].join(" ");
    let args_out: Vec<String> = rec.outputs.iter().map(|(n, _)| format!("p_{n}")).collect();
    let _ = writeln!(
        s,
        "      $fwrite(fo, \"{fmt_out}\\n\", {});",
        args_out.join(", ")
    );
    if top.clocked {
        s.push_str("      clk = 1;\n      #1;\n      clk = 0;\n");
    }
    s.push_str("      #1;\n    end\n    $fclose(fo);\n    $finish;\n  end\nendmodule\n");
    s
}

/// How the generated Verilator harness gets its inputs.
pub enum HarnessInput {
    /// Read from a stimulus file and print every output of every cycle (co-simulation).
    File,
    /// Read a whole stimulus file into memory first, then time the run alone; prints a
    /// checksum of all outputs of every cycle (`bench::fold` in plume computes the same) and
    /// the time spent (benchmark).
    Preloaded,
}

/// C++ for a Verilator model of `top`.
pub fn verilator_harness(
    top: &Module,
    inputs: &[(String, u32)],
    outputs: &[(String, u32)],
    mode: &HarnessInput,
) -> String {
    let cls = format!("V{}", top.name);
    let mut s = format!(
        "#include \"{cls}.h\"\n#include \"verilated.h\"\n#include <chrono>\n#include <cstdint>\n#include <cstdio>\n#include <cstring>\n#include <string>\n\n"
    );
    s.push_str(
        "static void parse_hex(const char* t, uint32_t* w, int nw) {\n  memset(w, 0, sizeof(uint32_t) * nw);\n  int len = strlen(t);\n  for (int i = 0; i < len; ++i) {\n    char ch = t[len - 1 - i];\n    uint32_t d = (ch >= '0' && ch <= '9') ? ch - '0' : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10 : 0;\n    if (i / 8 < nw) w[i / 8] |= d << (4 * (i % 8));\n  }\n}\n\n",
    );
    s.push_str(
        "static void print_hex(FILE* f, const uint32_t* w, int width) {\n  for (int d = (width + 3) / 4 - 1; d >= 0; --d) fputc(\"0123456789abcdef\"[(w[d / 8] >> (4 * (d % 8))) & 15], f);\n}\n\n",
    );
    let _ = writeln!(s, "int main(int argc, char** argv) {{\n  Verilated::commandArgs(argc, argv);\n  {cls}* dut = new {cls};");
    let max_w = inputs
        .iter()
        .chain(outputs)
        .map(|(_, w)| *w)
        .max()
        .unwrap_or(1);
    let max_words = (max_w as usize).div_ceil(32) + 2;
    let _ = writeln!(s, "  uint32_t w[{max_words}];");
    let set_port = |s: &mut String, name: &str, width: u32| {
        if width <= 64 {
            let _ = writeln!(
                s,
                "    dut->{name} = (uint64_t)w[0] | ((uint64_t)w[1] << 32);"
            );
        } else {
            let _ = writeln!(
                s,
                "    for (int i = 0; i < {}; ++i) dut->{name}[i] = w[i];",
                (width as usize).div_ceil(32)
            );
        }
    };
    let get_port = |s: &mut String, name: &str, width: u32| {
        if width <= 64 {
            let _ = writeln!(s, "    {{ uint64_t v = dut->{name}; w[0] = (uint32_t)v; w[1] = (uint32_t)(v >> 32); }}");
        } else {
            let _ = writeln!(
                s,
                "    for (int i = 0; i < {}; ++i) w[i] = dut->{name}[i];",
                (width as usize).div_ceil(32)
            );
        }
    };
    // The clock cycle of the benchmark harnesses: evaluate, fold every output word into the
    // checksum (`bench::fold` does the same), clock edge; then the loop's end and the timer.
    // Narrow outputs arrive with their top word zeroed by `get_port`; wider ones need it here.
    let timed_cycle = |s: &mut String| {
        if top.clocked {
            s.push_str("    dut->clk = 0;\n");
        }
        s.push_str("    dut->eval();\n");
        for (name, width) in outputs {
            get_port(s, name, *width);
            let nw32 = (*width as usize).div_ceil(32);
            if nw32 % 2 == 1 && *width > 64 {
                let _ = writeln!(s, "    w[{nw32}] = 0;");
            }
            let _ = writeln!(
                s,
                "    for (int i = 0; i < {}; ++i) {{ uint64_t v = (uint64_t)w[2 * i] | ((uint64_t)w[2 * i + 1] << 32); sum = ((sum << 7) | (sum >> 57)) ^ v; }}",
                (*width as usize).div_ceil(64)
            );
        }
        if top.clocked {
            s.push_str("    dut->clk = 1;\n    dut->eval();\n");
        }
        s.push_str("  }\n  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();\n");
    };
    match mode {
        HarnessInput::File => {
            let _ = writeln!(s, "  FILE* fi = fopen(argv[1], \"r\");\n  FILE* fo = fopen(argv[2], \"w\");\n  if (!fi || !fo) return 2;");
            let _ = writeln!(s, "  static char buf[{}];\n  long n = 0;\n  if (fscanf(fi, \"%ld\", &n) != 1) return 3;", max_w / 4 + 16);
            s.push_str("  for (long c = 0; c < n; ++c) {\n");
            for (name, width) in inputs {
                s.push_str("    if (fscanf(fi, \"%s\", buf) != 1) return 3;\n");
                let _ = writeln!(
                    s,
                    "    parse_hex(buf, w, {});",
                    (*width as usize).div_ceil(32).max(2)
                );
                set_port(&mut s, name, *width);
            }
            if top.clocked {
                s.push_str("    dut->clk = 0;\n");
            }
            s.push_str("    dut->eval();\n");
            for (k, (name, width)) in outputs.iter().enumerate() {
                get_port(&mut s, name, *width);
                if k > 0 {
                    s.push_str("    fputc(' ', fo);\n");
                }
                let _ = writeln!(s, "    print_hex(fo, w, {width});");
            }
            s.push_str("    fputc('\\n', fo);\n");
            if top.clocked {
                s.push_str("    dut->clk = 1;\n    dut->eval();\n");
            }
            s.push_str("  }\n  fclose(fo);\n  fclose(fi);\n");
        }
        HarnessInput::Preloaded => {
            let nwords: Vec<usize> = inputs
                .iter()
                .map(|(_, w)| (*w as usize).div_ceil(32).max(2))
                .collect();
            let per_cycle: usize = nwords.iter().sum();
            let _ = writeln!(
                s,
                "  FILE* fi = fopen(argv[1], \"r\");\n  if (!fi) return 2;"
            );
            let _ = writeln!(s, "  static char buf[{}];\n  long n = 0;\n  if (fscanf(fi, \"%ld\", &n) != 1) return 3;", max_w / 4 + 16);
            let _ = writeln!(
                s,
                "  uint32_t* stim = new uint32_t[(size_t)n * {per_cycle}];"
            );
            s.push_str("  for (long c = 0; c < n; ++c) {\n");
            let mut off = 0;
            for nw in &nwords {
                let _ = writeln!(s, "    if (fscanf(fi, \"%s\", buf) != 1) return 3;\n    parse_hex(buf, stim + (size_t)c * {per_cycle} + {off}, {nw});");
                off += nw;
            }
            s.push_str("  }\n  fclose(fi);\n");
            s.push_str("  uint64_t sum = 0;\n  auto t0 = std::chrono::steady_clock::now();\n");
            s.push_str("  for (long c = 0; c < n; ++c) {\n");
            let mut off = 0;
            for ((name, width), nw) in inputs.iter().zip(&nwords) {
                let _ = writeln!(
                    s,
                    "    memcpy(w, stim + (size_t)c * {per_cycle} + {off}, {} * sizeof(uint32_t));",
                    nw
                );
                off += nw;
                set_port(&mut s, name, *width);
            }
            timed_cycle(&mut s);
            s.push_str(
                "  printf(\"%016llx %.6f\\n\", (unsigned long long)sum, secs);\n  delete[] stim;\n",
            );
        }
    }
    s.push_str("  dut->final();\n  delete dut;\n  return 0;\n}\n");
    s
}

/// Options for building a Verilator model.
#[derive(Clone, Copy)]
pub struct VerilatorBuild {
    /// C++ and Verilator optimisation: fast builds for tests, -O3 for benchmarks.
    pub optimize: bool,
}

/// Builds a Verilator executable for `top` with the given harness in `dir`; returns its path and
/// the build time in seconds.
pub fn build_verilator(
    top: &Rc<Module>,
    harness: &str,
    dir: &Path,
    opts: VerilatorBuild,
) -> Result<(PathBuf, f64), CosimError> {
    if !available(Tool::Verilator) {
        return Err(CosimError::Missing("verilator"));
    }
    let files = write_verilog(top, &dir.join("rtl"))?;
    let cpp = dir.join("harness.cpp");
    std::fs::write(&cpp, harness)?;
    let obj = dir.join("obj");
    let opt = if opts.optimize { "-O3" } else { "-O0" };
    let mut cmd = Command::new("verilator");
    cmd.args([
        "--cc",
        "--exe",
        "--build",
        "-j",
        "2",
        "--top-module",
        &top.name,
        opt,
        "-o",
        "vsim",
    ]);
    cmd.arg("-Mdir").arg(&obj);
    cmd.arg("-MAKEFLAGS")
        .arg(format!("OPT_FAST={opt} OPT_SLOW=-O0 OPT_GLOBAL={opt}"));
    cmd.args(&files).arg(&cpp);
    let t0 = Instant::now();
    let out = cmd.output()?;
    let secs = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return Err(CosimError::Build {
            tool: "verilator",
            log: tail(&log, 40),
        });
    }
    Ok((obj.join("vsim"), secs))
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// Runs the recording on `tool`; returns the outputs of every cycle as hexadecimal strings.
pub fn run(
    tool: Tool,
    top: &Rc<Module>,
    rec: &Recording,
    dir: &Path,
) -> Result<Vec<Vec<String>>, CosimError> {
    if !available(tool) {
        return Err(CosimError::Missing(tool.binary()));
    }
    std::fs::create_dir_all(dir)?;
    let dir = dir.canonicalize()?;
    let stim = dir.join("stim.txt");
    let out = dir.join("out.txt");
    std::fs::write(&stim, stimulus_text(rec))?;
    let _ = std::fs::remove_file(&out);
    match tool {
        Tool::Icarus => {
            let files = write_verilog(top, &dir.join("rtl"))?;
            let tb = dir.join("plume_tb.v");
            std::fs::write(&tb, icarus_testbench(top, rec, &stim, &out))?;
            let vvp = dir.join("sim.vvp");
            let o = Command::new("iverilog")
                .args(["-g2005", "-s", "plume_tb", "-o"])
                .arg(&vvp)
                .args(&files)
                .arg(&tb)
                .output()?;
            if !o.status.success() {
                return Err(CosimError::Build {
                    tool: "icarus",
                    log: String::from_utf8_lossy(&o.stderr).into_owned(),
                });
            }
            let o = Command::new("vvp").arg("-n").arg(&vvp).output()?;
            if !o.status.success() {
                return Err(CosimError::Run {
                    tool: "icarus",
                    log: String::from_utf8_lossy(&o.stderr).into_owned(),
                });
            }
        }
        Tool::Verilator => {
            let harness = verilator_harness(top, &rec.inputs, &rec.outputs, &HarnessInput::File);
            let (exe, _) =
                build_verilator(top, &harness, &dir, VerilatorBuild { optimize: false })?;
            let o = Command::new(&exe).arg(&stim).arg(&out).output()?;
            if !o.status.success() {
                return Err(CosimError::Run {
                    tool: "verilator",
                    log: String::from_utf8_lossy(&o.stderr).into_owned(),
                });
            }
        }
    }
    let text = std::fs::read_to_string(&out)?;
    Ok(text
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect())
}

/// Replays the recording on `tool` and compares every output of every cycle; returns the
/// number of cycles compared.
pub fn check(
    tool: Tool,
    top: &Rc<Module>,
    rec: &Recording,
    dir: &Path,
) -> Result<usize, CosimError> {
    let first = if top.clocked {
        let rst_is_first = rec.inputs.first().is_some_and(|(n, _)| n == "rst");
        if !rst_is_first
            || rec
                .cycles
                .first()
                .is_none_or(|(ins, _)| ins[0].to_u64() != 1)
        {
            return Err(CosimError::NoReset);
        }
        1
    } else {
        0
    };
    let got = run(tool, top, rec, dir)?;
    if got.len() < rec.cycles.len() {
        return Err(CosimError::Short {
            tool: tool.name(),
            got: got.len(),
            want: rec.cycles.len(),
        });
    }
    for (c, ((_, want), line)) in rec.cycles.iter().zip(&got).enumerate().skip(first) {
        for (k, (name, _)) in rec.outputs.iter().enumerate() {
            let expected = want[k].to_hex();
            let g = line.get(k).cloned().unwrap_or_default();
            if g != expected {
                return Err(CosimError::Mismatch {
                    tool: tool.name(),
                    cycle: c,
                    signal: name.clone(),
                    expected,
                    got: g,
                });
            }
        }
    }
    Ok(rec.cycles.len() - first)
}
