//! The ZCU104 build flow: for each design, the AXI-wrapped top, a clock/reset shell Vivado's
//! IP integrator recognises, constraints, the Vivado Tcl (block design with the Zynq
//! UltraScale+ PS and an AXI DMA; and an out-of-context run of the design alone), a Makefile,
//! the register map as a C header and a PYNQ-style driver, and a README — written all at once
//! or not at all. Also the checks open tools can make without Vivado: a resource estimate
//! against the XCZU7EV, a Tcl dry run, Verilator lint, Icarus elaboration and Yosys synthesis.
//!
//! The flow knows no design: everything design-specific comes from the registry
//! (`Design::board`: the wrapped top, its register map, the README's stream section, the
//! board runner). `cli` has the verbs (`fpga`, `report`, `serve`); `shell` the Verilog shell.

pub mod cli;
pub mod shell;

use crate::error::{bad, Result};
use crate::registry::{Board, Instance};
use crate::tools::{self, Resources, TempDir};
use anyhow::{bail, Context};
use plume_hw::blocks::axi_lite::{Access, RegMap};
use plume_hw::rtl::passes::estimate;
use plume_hw::rtl::verilog::emit_modules;
use plume_hw::rtl::Module;
use std::path::Path;
use std::process::Command;
use std::rc::Rc;

/// The ZCU104's device, XCZU7EV-2FFVC1156 (Zynq UltraScale+ product table).
pub const PART: &str = "xczu7ev-ffvc1156-2-e";
pub const XCZU7EV_LUT: u64 = 230_400;
pub const XCZU7EV_FF: u64 = 460_800;
pub const XCZU7EV_DSP: u64 = 1_728;
pub const XCZU7EV_BRAM36: u64 = 312;
pub const XCZU7EV_URAM: u64 = 96;
/// pl_clk0 frequencies accepted (MHz).
pub const MHZ_MIN: f64 = 10.0;
pub const MHZ_MAX: f64 = 400.0;
/// AXI DMA stream widths: 8 to 1024 bits in powers of two; the shell pads to at least 32.
pub const DMA_MAX_WIDTH: u32 = 1024;

const BUILD_TCL: &str = include_str!("../../fpga/zcu104/build.tcl");
const OOC_TCL: &str = include_str!("../../fpga/zcu104/ooc.tcl");
const MAKEFILE: &str = include_str!("../../fpga/zcu104/Makefile");

/// One configuration of a registered design, behind AXI: what the flow builds.
pub struct Wrapped {
    /// The design's registry name (`feather`).
    pub design: &'static str,
    /// The configuration's name (`feather_16x16_bitrev`).
    pub name: String,
    pub params: serde_json::Value,
    pub board: Board,
}

impl Wrapped {
    pub fn of(inst: &dyn Instance) -> Result<Wrapped> {
        Ok(Wrapped {
            design: inst.design(),
            name: inst.name(),
            params: inst.params(),
            board: inst.board()?,
        })
    }

    /// Widths of `s_axis_tdata` and `m_axis_tdata`.
    pub fn stream_widths(&self) -> (u32, u32) {
        self.board.stream_widths()
    }

    /// Bytes per beat of the DMA's streams (`s_axis`, `m_axis`).
    pub fn dma_bytes(&self) -> (usize, usize) {
        let (wi, wo) = self.stream_widths();
        (dma_width(wi) as usize / 8, dma_width(wo) as usize / 8)
    }
}
/// The AXI DMA stream width for a port of `w` bits.
pub fn dma_width(w: u32) -> u32 {
    w.next_power_of_two().max(32)
}

/// Checks the clock frequency; the one-line reason otherwise.
pub fn check_clock(mhz: f64) -> std::result::Result<(), String> {
    if !(MHZ_MIN..=MHZ_MAX).contains(&mhz) || !mhz.is_finite() {
        return Err(format!(
            "clock {mhz} MHz is outside the {MHZ_MIN}–{MHZ_MAX} MHz the ZCU104's PL clock takes"
        ));
    }
    Ok(())
}

/// Checks the stream widths against the AXI DMA's.
pub fn check_streams(design: &Wrapped) -> std::result::Result<(), String> {
    let (i, o) = design.stream_widths();
    for (what, w) in [("input", i), ("output", o)] {
        if dma_width(w) > DMA_MAX_WIDTH {
            return Err(format!(
                "{}: the {what} stream is {w} bits; the AXI DMA takes at most {DMA_MAX_WIDTH}",
                design.name
            ));
        }
    }
    Ok(())
}

/// Device capacity of the XCZU7EV (LUT, FF, DSP, BRAM36, URAM).
pub fn capacity() -> [(&'static str, f64); 5] {
    [
        ("LUT", XCZU7EV_LUT as f64),
        ("FF", XCZU7EV_FF as f64),
        ("DSP48E2", XCZU7EV_DSP as f64),
        ("BRAM36", XCZU7EV_BRAM36 as f64),
        ("URAM288", XCZU7EV_URAM as f64),
    ]
}

fn used(r: &Resources) -> [f64; 5] {
    [
        r.lut as f64,
        r.ff as f64,
        r.dsp as f64,
        r.bram36,
        r.uram as f64,
    ]
}

/// `plume synth`'s table: each resource and its share of the XCZU7EV.
pub fn resource_table(r: &Resources) -> String {
    let pct = |x: f64, cap: u64| 100.0 * x / cap as f64;
    let mut s = format!(
        "resource estimate for {} (yosys synth_xilinx -family xcup -flatten; XCZU7EV on ZCU104)\n",
        r.design
    );
    s.push_str(&format!(
        "  {:<8} {:>10} {:>10} {:>8}\n",
        "resource", "used", "device", "share"
    ));
    let rows: [(&str, f64, u64); 6] = [
        ("LUT", r.lut as f64, XCZU7EV_LUT),
        ("FF", r.ff as f64, XCZU7EV_FF),
        ("CARRY8", r.carry as f64, XCZU7EV_LUT / 8),
        ("DSP48E2", r.dsp as f64, XCZU7EV_DSP),
        ("BRAM36", r.bram36, XCZU7EV_BRAM36),
        ("URAM288", r.uram as f64, XCZU7EV_URAM),
    ];
    for (name, used, cap) in rows {
        s.push_str(&format!(
            "  {:<8} {:>10} {:>10} {:>7.2}%\n",
            name,
            used,
            cap,
            pct(used, cap)
        ));
    }
    if r.lutram > 0 {
        s.push_str(&format!(
            "  ({} LUT-RAM/SRL cells among the LUTs' neighbours)\n",
            r.lutram
        ));
    }
    s
}

/// Fails, naming every resource over the device's capacity.
pub fn fits(r: &Resources) -> std::result::Result<(), String> {
    let over: Vec<String> = capacity()
        .iter()
        .zip(used(r))
        .filter(|((_, cap), u)| *u > *cap)
        .map(|((name, cap), u)| format!("{name} {u} of {cap}"))
        .collect();
    if over.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} does not fit the XCZU7EV: {}",
            r.design,
            over.join(", ")
        ))
    }
}

/// The `.xdc`: the clock on `aclk` for the out-of-context run (in the block design the PS's
/// own constraints time pl_clk0, set to the same frequency).
pub fn xdc(name: &str, mhz: f64) -> String {
    format!(
        "# Constraints for {} (generated by plume; do not edit).\n\
         # Read by vivado/ooc.tcl. In the block design (vivado/build.tcl) the clock is the PS's\n\
         # pl_clk0 at the same frequency, constrained by the PS IP itself. No board pins are used:\n\
         # the design talks to the PS only.\n\
         create_clock -period {:.3} -name aclk [get_ports aclk]\n",
        name,
        1000.0 / mhz
    )
}

fn fill(template: &str, design: &Wrapped, mhz: f64) -> String {
    let (wi, wo) = design.stream_widths();
    let (di, d_o) = (dma_width(wi), dma_width(wo));
    template
        .replace("@@NAME@@", &design.name)
        .replace("@@SHELL@@", &format!("plume_{}", design.name))
        .replace("@@PART@@", PART)
        .replace("@@MHZ@@", &format!("{mhz}"))
        .replace("@@DMA_IN@@", &di.to_string())
        .replace("@@DMA_OUT@@", &d_o.to_string())
        .replace("@@DMA_MM@@", &di.max(d_o).max(128).to_string())
}

/// Where the estimate came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EstimateSource {
    Ir,
    Yosys,
}

fn estimate_table(r: &Resources, source: EstimateSource) -> String {
    let mut s = String::from("| resource | used | XCZU7EV | share |\n|---|---:|---:|---:|\n");
    for ((name, cap), u) in capacity().iter().zip(used(r)) {
        s.push_str(&format!(
            "| {name} | {u} | {cap} | {:.1} % |\n",
            100.0 * u / cap
        ));
    }
    s.push_str(match source {
        EstimateSource::Ir => "\n(estimated from plume's IR without synthesis: DSP, BRAM and FF are close; LUTs are rough. `plume fpga zcu104 … --yosys` runs Yosys `synth_xilinx -family xcup` instead.)\n",
        EstimateSource::Yosys => "\n(Yosys `synth_xilinx -family xcup -flatten` on the wrapped design; Vivado's numbers will differ.)\n",
    });
    s
}

fn map_table(map: &RegMap) -> String {
    let mut s = String::from("| offset | word | access | bits | use |\n|---|---|---|---:|---|\n");
    for w in &map.words {
        let acc = match w.access {
            Access::Control => "control",
            Access::ReadWrite => "RW",
            Access::WriteOneToClear => "W1C",
            Access::ReadOnly => "RO",
        };
        s.push_str(&format!(
            "| 0x{:03x} | {} | {acc} | {} | {} |\n",
            w.offset,
            w.name,
            w.width,
            w.doc.replace('|', "/")
        ));
    }
    s
}

fn readme(design: &Wrapped, mhz: f64, est: &Resources, source: EstimateSource) -> String {
    let n = &design.name;
    let (top, map) = (&design.board.top, &design.board.map);
    let (wi, wo) = design.stream_widths();
    format!(
        "# {n} for the ZCU104\n\n\
         Generated by plume {ver} on {date} for `{PART}` (ZCU104) at {mhz} MHz.\n\
         Parameters: `{params}`.\n\n\
         ## Build\n\n\
         ```\nmake          # Vivado batch: block design, synthesis, implementation, bitstream\nmake ooc      # the design alone, out of context, at the same clock\n```\n\n\
         `make` needs Vivado (2021.1 or newer, with Zynq UltraScale+ support; the ZCU104 board files \
         are used when installed). It writes `out/plume.bit`, `out/plume.hwh` (for PYNQ), \
         `out/plume.xsa`, and `reports/utilization.rpt`, `reports/timing_summary.rpt`; it fails \
         when the worst setup slack is negative. `PLUME_JOBS` sets Vivado's parallel jobs.\n\n\
         The block design: the Zynq UltraScale+ PS (`M_AXI_HPM0_FPD` → `accel/s_axi` and the DMA's \
         registers; `S_AXI_HP0_FPD` ← the DMA), an AXI DMA in simple mode (MM2S → `accel/s_axis`, \
         `accel/m_axis` → S2MM), pl_clk0 at {mhz} MHz for everything, and the interrupts \
         (accelerator, MM2S, S2MM) on `pl_ps_irq0`.\n\n\
         ## Files\n\n\
         | file | what |\n|---|---|\n\
         | `rtl/*.v` | the design `{top}` (one file per module) and its shell `plume_{n}` |\n\
         | `constraints/plume.xdc` | the clock for the out-of-context run |\n\
         | `vivado/build.tcl`, `vivado/ooc.tcl` | the Vivado batch scripts |\n\
         | `sw/{n}_regs.h` | the register map as C `#define`s |\n\
         | `sw/{n}.py` | a PYNQ-style driver class (`mmio` with `read`/`write`) |\n\
         {runner}\
         | `plume.json` | what plume built (parameters, files, estimate); marks this directory as plume's |\n\n\
         ## Resource estimate\n\n{table}\n\
         ## Interfaces\n\n\
         `s_axi`: AXI4-Lite, 32-bit data, 4 KiB window. `s_axis`: {wi} bits of data in a {di}-bit \
         stream. `m_axis`: {wo} bits in {do_}-bit beats (`tkeep` all ones). `irq`: CTRL.done \
         when GIER and IER are set (level).\n\n{streams}\n\
         ## Register map\n\n{regs}\n\
         CTRL bit 0 start (write 1), bit 1 done (cleared when CTRL is read), bit 2 idle. Unmapped \
         offsets answer SLVERR.\n\n\
         ## What was checked, and what was not\n\n\
         Checked by plume before this directory was written: the design fits the XCZU7EV by the \
         estimate above; the Tcl scripts parse and their Vivado command sequence runs in `tclsh` \
         with every Vivado command stubbed (no Vivado command was executed). plume's test suite \
         lints the wrapped designs and this shell with Verilator `-Wall`, elaborates them in \
         Icarus, synthesises them with Yosys for `xcup`, and runs them end to end through AXI \
         bus-functional models against the golden model in plume's simulator, Verilator and Icarus.\n\n\
         Not checked: Vivado itself (it is not available where plume is developed), so IP \
         integrator's handling of the block design, timing closure at {mhz} MHz and the bitstream \
         have not been run; nor has the design run on a board.\n",
        ver = env!("CARGO_PKG_VERSION"),
        date = today(),
        params = design.params,
        top = top.name,
        table = estimate_table(est, source),
        di = dma_width(wi),
        do_ = dma_width(wo),
        streams = design.board.doc,
        regs = map_table(map),
        runner = match &design.board.runner {
            Some(r) => format!("| `sw/{}` | {} |\n", r.file, r.doc),
            None => String::new(),
        },
    )
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02}")
}

/// Everything a build directory holds, by relative path.
pub struct Build {
    pub files: Vec<(String, Vec<u8>)>,
    pub estimate: Resources,
    pub source: EstimateSource,
}

/// Generates a build for `design` at `mhz`: validates, estimates (IR, or Yosys when asked),
/// refuses a design that does not fit, and dry-runs the Tcl when `tclsh` exists.
pub fn build(design: &Wrapped, mhz: f64, yosys: bool) -> Result<Build> {
    check_clock(mhz).map_err(bad)?;
    check_streams(design).map_err(bad)?;
    let (top, map) = (&design.board.top, &design.board.map);
    let (est, source) = if yosys {
        (tools::synth(top)?, EstimateSource::Yosys)
    } else {
        (estimate(top), EstimateSource::Ir)
    };
    fits(&est).map_err(|e| {
        let hint = match source {
            EstimateSource::Ir => " (plume's IR estimate; --yosys synthesises for a closer figure)",
            EstimateSource::Yosys => " (Yosys synth_xilinx)",
        };
        bad(format!("{e}{hint}"))
    })?;
    let n = &design.name;
    let mut files: Vec<(String, Vec<u8>)> = emit_modules(top)
        .into_iter()
        .map(|(m, t)| (format!("rtl/{m}.v"), t.into_bytes()))
        .collect();
    files.push((
        format!("rtl/plume_{n}.v"),
        shell::shell(design).into_bytes(),
    ));
    files.push(("constraints/plume.xdc".into(), xdc(n, mhz).into_bytes()));
    let build_tcl = fill(BUILD_TCL, design, mhz);
    let ooc_tcl = fill(OOC_TCL, design, mhz);
    if plume_sim::cosim::which("tclsh") {
        for (name, text) in [("build.tcl", &build_tcl), ("ooc.tcl", &ooc_tcl)] {
            tcl_dry_run(text).with_context(|| format!("vivado/{name} fails its dry run"))?;
        }
    }
    files.push(("vivado/build.tcl".into(), build_tcl.into_bytes()));
    files.push(("vivado/ooc.tcl".into(), ooc_tcl.into_bytes()));
    files.push(("Makefile".into(), fill(MAKEFILE, design, mhz).into_bytes()));
    files.push((format!("sw/{n}_regs.h"), map.c_header().into_bytes()));
    files.push((format!("sw/{n}.py"), map.python_driver().into_bytes()));
    if let Some(r) = &design.board.runner {
        let text = r
            .template
            .replace("@@NAME@@", n)
            .replace("@@MODULE@@", n)
            .replace("@@CLASS@@", &map.python_class())
            .replace("@@HARDWARE@@", &design.params.to_string());
        files.push((format!("sw/{}", r.file), text.into_bytes()));
    }
    files.push((
        "README.md".into(),
        readme(design, mhz, &est, source).into_bytes(),
    ));
    let names: Vec<&String> = files.iter().map(|(n, _)| n).collect();
    let manifest = serde_json::json!({
        "plume_build": "zcu104",
        "generator": format!("plume {}", env!("CARGO_PKG_VERSION")),
        "date": today(),
        "part": PART,
        "design": design.design,
        "name": n,
        "params": design.params,
        "mhz": mhz,
        "top": top.name,
        "shell": format!("plume_{n}"),
        "estimate": { "source": format!("{source:?}").to_lowercase(), "resources": est },
        "files": names,
    });
    files.push(("plume.json".into(), serde_json::to_vec_pretty(&manifest)?));
    Ok(Build {
        files,
        estimate: est,
        source,
    })
}

/// Whether `dir` really is a previous plume build for this board, and so may be replaced
/// whole: its `plume.json` is a ZCU104 build's (not merely a file with the marker key) and
/// every file it lists is there. Files added since (Vivado's runs, notes) go with it.
pub fn is_previous_build(dir: &Path) -> bool {
    let Some(manifest) = std::fs::read_to_string(dir.join("plume.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .filter(|v| v["plume_build"] == "zcu104" && v["part"] == PART)
    else {
        return false;
    };
    let Some(files) = manifest["files"].as_array().filter(|f| !f.is_empty()) else {
        return false;
    };
    files.iter().all(|f| {
        f.as_str()
            .is_some_and(|f| !f.contains("..") && !f.starts_with('/') && dir.join(f).is_file())
    })
}

/// Checks a build's output directory before any work: new, empty, or a previous build.
pub fn check_build_dir(dir: &Path) -> Result<()> {
    crate::output::dir_target(dir, is_previous_build).map_err(|e| match e {
        crate::error::Error::BadInput(m) if m.contains("exists and is not empty") => bad(format!(
            "{} exists and is not a plume build (or holds files plume.json does not list); choose another directory",
            dir.display()
        )),
        other => other,
    })
}

/// Writes a build into `dir` all at once; a previous build there is replaced whole.
pub fn write(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    check_build_dir(dir)?;
    crate::output::replace_dir(dir, files)
}

/// Runs a Vivado script in `tclsh` with every Vivado command stubbed: the script must parse,
/// and its control flow run to the end without error. Returns the Vivado commands it called,
/// in order.
pub fn tcl_dry_run(script: &str) -> anyhow::Result<Vec<String>> {
    let dir = TempDir::new("tcl")?;
    let script_path = dir.path().join("vivado").join("script.tcl");
    std::fs::create_dir_all(script_path.parent().unwrap())?;
    std::fs::create_dir_all(dir.path().join("rtl"))?;
    std::fs::write(dir.path().join("rtl").join("x.v"), "")?;
    std::fs::write(&script_path, script)?;
    let log = dir.path().join("calls.txt");
    let harness = format!(
        r#"
set ::plume_log [open {{{log}}} w]
proc unknown {{args}} {{
    puts $::plume_log [lindex $args 0]
    return ""
}}
proc get_property {{args}} {{
    puts $::plume_log get_property
    set names {{}}
    foreach a $args {{ if {{![string match -* $a]}} {{ lappend names $a }} }}
    switch -- [lindex $names 0] {{
        PROGRESS {{ return "100%" }}
        SLACK {{ return 0.5 }}
        default {{ return "" }}
    }}
}}
proc get_board_parts {{args}} {{ puts $::plume_log get_board_parts; return "xilinx.com:zcu104:part0:1.1" }}
rename file __plume_file
proc file {{sub args}} {{
    if {{$sub in {{mkdir copy delete}}}} {{ puts $::plume_log "file $sub"; return "" }}
    return [__plume_file $sub {{*}}$args]
}}
rename glob __plume_glob
proc glob {{args}} {{
    set r [__plume_glob -nocomplain {{*}}[lsearch -all -inline -not -exact $args -nocomplain]]
    if {{[llength $r] == 0}} {{ return [list stub.bit] }}
    return $r
}}
rename exit __plume_exit
proc exit {{{{code 0}}}} {{ puts $::plume_log "exit $code"; close $::plume_log; __plume_exit $code }}
if {{![info complete [read [open {{{script}}}]]]}} {{ puts stderr "incomplete script"; __plume_exit 3 }}
source {{{script}}}
puts $::plume_log "end"
close $::plume_log
"#,
        log = log.display(),
        script = script_path.display()
    );
    let harness_path = dir.path().join("harness.tcl");
    std::fs::write(&harness_path, harness)?;
    let out = Command::new("tclsh")
        .arg(&harness_path)
        .output()
        .context("cannot run tclsh")?;
    let calls: Vec<String> = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect();
    if !out.status.success() || calls.last().map(String::as_str) != Some("end") {
        bail!(
            "tclsh: {}{}(last call: {})",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
            calls.last().cloned().unwrap_or_default()
        );
    }
    Ok(calls)
}

/// Longest combinational path after `synth_xilinx -family xcup`, in cells (LUTs, CARRY8,
/// wide muxes, DSP48E2) between flip-flops and block RAMs — Yosys `ltp` over every cell but
/// FD*, RAMB* and URAM* — with the resources.
pub fn synth_with_depth(top: &Rc<Module>) -> anyhow::Result<(Resources, LogicDepth)> {
    let (r, text) = tools::yosys_synth(
        top,
        Some("ltp -noff w:* t:* t:FD* %d t:RAMB* %d t:URAM* %d %u"),
    )?;
    let depth =
        parse_ltp(&text).with_context(|| format!("no path length in Yosys ltp output:\n{text}"))?;
    Ok((r, depth))
}

/// The longest path Yosys `ltp` found: its length in cells and the signals it starts and ends
/// at (hierarchical names of the flattened design).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LogicDepth {
    pub cells: u64,
    pub from: String,
    pub to: String,
}

/// Reads `ltp` output: "Longest topological path in m (length=N):" then one line per node,
/// `  k: <net> [bit] (via <cell>)`.
pub fn parse_ltp(text: &str) -> Option<LogicDepth> {
    let mut lines = text.lines().skip_while(|l| !l.contains("length="));
    let head = lines.next()?;
    let i = head.find("length=")?;
    let cells = head[i + 7..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse::<u64>()
        .ok()?;
    let nets: Vec<String> = lines
        .filter_map(|l| {
            let (k, rest) = l.trim().split_once(": ")?;
            k.parse::<u64>().ok()?;
            let net = rest.split(" (via").next()?.trim();
            Some(net.trim_start_matches('\\').to_string())
        })
        .collect();
    Some(LogicDepth {
        cells,
        from: nets.first().cloned().unwrap_or_default(),
        to: nets.last().cloned().unwrap_or_default(),
    })
}
