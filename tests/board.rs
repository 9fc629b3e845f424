//! The board flow (`plume fpga`, `plume serve`): the ZCU104 build flow: `plume fpga zcu104 <design>` writes a complete build directory whose
//! Verilog (design + AXI shell) is lint-clean in Verilator, elaborates in Icarus and
//! synthesises with Yosys for xcup; whose Vivado Tcl runs to the end in tclsh with Vivado's
//! commands stubbed, in the order a block-design build needs; whose C header compiles and
//! Python driver parses. The IR resource estimate tracks Yosys. Bad input: one line, exit 2,
//! nothing written.

mod common;

use common::{assert_bad_input, plume};
use plume::board::{self as fpga, Wrapped};
use plume::feather::design::FeatherBuild;
use plume::feather::{BIRRD, FEATHER_DESIGN};
use plume::registry;
use plume_hw::feather::birrd::{BirrdConfig, Topology};
use plume_hw::feather::sequencer::SeqConfig;
use plume_hw::feather::top::FeatherConfig;
use std::path::Path;
use std::process::Command;

/// The board view of a FEATHER (programmable top) or BIRRD configuration.
fn feather(cfg: FeatherConfig, seq: SeqConfig) -> Wrapped {
    let b = FeatherBuild {
        cfg,
        seq,
        core_only: false,
    };
    Wrapped::of(&*registry::instance(&FEATHER_DESIGN, b)).unwrap()
}

fn birrd(cfg: BirrdConfig) -> Wrapped {
    Wrapped::of(&*registry::instance(&BIRRD, cfg)).unwrap()
}

/// Runs a tool; it must succeed (and, with `quiet`, print nothing on stderr). Returns stdout.
fn tool(cmd: &mut Command, what: &str, quiet: bool) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && (!quiet || err.is_empty()),
        "{what}: {err}"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a generated board runner (`sw/run_*.py`) on `package` with the PYNQ stand-in, its
/// hardware served by `plume serve <server…>`: (exit code, stdout).
fn run_board(script: &Path, package: &Path, server: &[&str]) -> (Option<i32>, String) {
    let mut cmd = vec![env!("CARGO_BIN_EXE_plume"), "serve"];
    cmd.extend_from_slice(server);
    let o = Command::new("python3")
        .arg(script)
        .arg(package)
        .args(["--bit", "unused.bit"])
        .env(
            "PYTHONPATH",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pynq_mock"),
        )
        .env("PLUME_SIM_SERVER", serde_json::json!(cmd).to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    (o.status.code(), format!("{text}{err}"))
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walk(dir) {
        out.push(e.strip_prefix(dir).unwrap().display().to_string());
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v
}

/// Generates a build and checks it with every open tool there is.
fn check_build(args: &[&str], name: &str, tmp: &Path) {
    let dir = tmp.join(name);
    let mut full = vec!["fpga", "zcu104"];
    full.extend_from_slice(args);
    let d = dir.to_str().unwrap();
    full.extend_from_slice(&["-o", d]);
    let o = plume(&full);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let files = files_under(&dir);
    for f in [
        "Makefile",
        "README.md",
        "plume.json",
        "constraints/plume.xdc",
        "vivado/build.tcl",
        "vivado/ooc.tcl",
    ] {
        assert!(files.contains(&f.to_string()), "{f} missing: {files:?}");
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("plume.json")).unwrap()).unwrap();
    let shell = manifest["shell"].as_str().unwrap().to_string();
    let listed: Vec<String> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    let mut on_disk = files.clone();
    on_disk.retain(|f| f != "plume.json");
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(listed_sorted, on_disk, "plume.json lists exactly the files");
    let rtl: Vec<std::path::PathBuf> = walk(&dir.join("rtl"));
    if common::have("verilator") {
        tool(
            Command::new("verilator")
                .args(["--lint-only", "-Wall", "--top-module", &shell])
                .args(&rtl),
            &format!("verilator lint of {shell}"),
            false,
        );
    }
    if common::have("iverilog") {
        tool(
            Command::new("iverilog")
                .args(["-g2005", "-Wall", "-s", &shell, "-o"])
                .arg(tmp.join(format!("{name}.vvp")))
                .args(&rtl),
            &format!("iverilog on {shell}"),
            true,
        );
    }
    if common::have("tclsh") {
        let script = std::fs::read_to_string(dir.join("vivado/build.tcl")).unwrap();
        let calls = fpga::tcl_dry_run(&script).unwrap();
        // The block-design build, in order.
        let order = [
            "create_project",
            "create_bd_design",
            "create_bd_cell",
            "apply_bd_automation",
            "assign_bd_address",
            "validate_bd_design",
            "make_wrapper",
            "launch_runs",
            "wait_on_run",
            "open_run",
            "report_utilization",
            "report_timing_summary",
            "write_hw_platform",
            "end",
        ];
        let mut at = 0;
        for step in order {
            let k = calls[at..]
                .iter()
                .position(|c| c == step)
                .unwrap_or_else(|| panic!("{step} missing after call {at}: {calls:?}"));
            at += k;
        }
        assert!(!calls.iter().any(|c| c.starts_with("exit")), "{calls:?}");
        let ooc = std::fs::read_to_string(dir.join("vivado/ooc.tcl")).unwrap();
        let calls = fpga::tcl_dry_run(&ooc).unwrap();
        for step in ["read_verilog", "read_xdc", "synth_design", "route_design"] {
            assert!(calls.iter().any(|c| c == step), "{step}: {calls:?}");
        }
    }
    if common::have("cc") {
        let header = files.iter().find(|f| f.ends_with("_regs.h")).unwrap();
        let c = tmp.join(format!("{name}.c"));
        std::fs::write(
            &c,
            format!(
                "#include \"{}\"\nint main(void) {{ return 0; }}\n",
                dir.join(header).display()
            ),
        )
        .unwrap();
        tool(
            Command::new("cc")
                .args(["-Wall", "-Werror", "-o"])
                .arg(tmp.join(format!("{name}.bin")))
                .arg(&c),
            &format!("cc on {header}"),
            false,
        );
    }
    if common::have("python3") {
        for py in files.iter().filter(|f| f.ends_with(".py")) {
            tool(
                Command::new("python3")
                    .args(["-c", "import ast,sys; ast.parse(open(sys.argv[1]).read())"])
                    .arg(dir.join(py)),
                py,
                false,
            );
        }
    }
}

#[test]
fn build_directories_pass_every_open_tool_check() {
    let t = common::TempDir::new("fpga").unwrap();
    check_build(
        &["feather", "--array", "4x4", "--mhz", "150"],
        "f4",
        t.path(),
    );
    // 8 ports × 12 bits: a 96-bit stream padded to the DMA's 128.
    check_build(
        &["birrd", "--ports", "8", "--width", "12", "--yosys"],
        "b8",
        t.path(),
    );
    let xdc = std::fs::read_to_string(t.path().join("f4/constraints/plume.xdc")).unwrap();
    assert!(xdc.contains("create_clock -period 6.667"), "{xdc}");
    let tcl = std::fs::read_to_string(t.path().join("f4/vivado/build.tcl")).unwrap();
    assert!(tcl.contains("set mhz     150") && tcl.contains("xczu7ev-ffvc1156-2-e"));
    let b8 = std::fs::read_to_string(t.path().join("b8/vivado/build.tcl")).unwrap();
    assert!(b8.contains("set in_w    128"), "padded DMA width");
    // A previous build is replaced whole.
    let d = t.path().join("f4");
    std::fs::write(d.join("stale.txt"), "x").unwrap();
    let o = plume(&[
        "fpga",
        "zcu104",
        "feather",
        "--array",
        "4x4",
        "-o",
        d.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(!d.join("stale.txt").exists());
    assert!(d.join("plume.json").exists());
}

#[test]
fn bad_input_writes_nothing() {
    let t = common::TempDir::new("fpga-bad").unwrap();
    let out = t.path().join("never");
    let o = out.to_str().unwrap();
    assert_bad_input(
        &[
            "fpga", "zcu104", "feather", "--array", "4x4", "--mhz", "900", "-o", o,
        ],
        "outside the 10–400 MHz",
    );
    assert_bad_input(
        &["fpga", "zcu104", "feather", "--array", "64x64", "-o", o],
        "does not fit the XCZU7EV:",
    );
    assert_bad_input(
        &[
            "fpga", "zcu104", "birrd", "--ports", "64", "--width", "32", "-o", o,
        ],
        "the input stream is 2048 bits; the AXI DMA takes at most 1024",
    );
    assert_bad_input(&["fpga", "zcu104", "sdqq", "-o", o], "sdqq");
    assert_bad_input(
        &["fpga", "zcu104", "sdq", "--units", "64", "-o", o],
        "the output stream is 2240 bits; the AXI DMA takes at most 1024",
    );
    assert_bad_input(&["fpga", "vcu118", "feather", "-o", o], "vcu118");
    assert_bad_input(
        &[
            "feather",
            "export",
            "--array",
            "4x4",
            "--gemm",
            "16,8192,16",
            "--depths",
            "2,2,2",
            "-o",
            o,
        ],
        "see --depths); nor can it be tiled: cannot be tiled into the buffers",
    );
    assert_bad_input(
        &[
            "feather", "export", "--array", "4x4", "--depths", "1000,8,8", "--gemm", "4,4,4", "-o",
            o,
        ],
        "power of two",
    );
    assert!(!out.exists());
    // A directory that is not a plume build is left alone.
    let mine = t.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep").unwrap();
    assert_bad_input(
        &[
            "fpga",
            "zcu104",
            "feather",
            "--array",
            "4x4",
            "-o",
            mine.to_str().unwrap(),
        ],
        "is not a plume build",
    );
    assert_eq!(
        std::fs::read_to_string(mine.join("notes.txt")).unwrap(),
        "keep"
    );
    assert_eq!(std::fs::read_dir(&mine).unwrap().count(), 1);
    let names: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names, vec!["mine".to_string()], "no staging left behind");
}

#[test]
fn tcl_dry_run_catches_broken_scripts() {
    if !common::have("tclsh") {
        return;
    }
    assert!(fpga::tcl_dry_run("create_project x\nif {1} {\n").is_err());
    assert!(fpga::tcl_dry_run("set a [expr {1 +}]\n").is_err());
    assert!(fpga::tcl_dry_run("plume_undefined_proc_call 1\nexit 1\n").is_err());
    assert!(fpga::tcl_dry_run("set x [lindex {a b} 0\n").is_err());
    assert_eq!(
        fpga::tcl_dry_run("create_project x\nlaunch_runs y\n").unwrap(),
        vec!["create_project", "launch_runs", "end"]
    );
}

/// The IR estimate against Yosys on the same wrapped designs: DSP and block RAM exact, FF
/// within 15 %, LUT within a factor of 1.6 (it is the rough one).
#[test]
fn ir_estimate_tracks_yosys() {
    if !common::have("yosys") {
        return;
    }
    let designs = [
        feather(
            FeatherConfig::new(4, 4),
            SeqConfig {
                desc_depth: 64,
                pattern_depth: 256,
                config_depth: 16,
                window_depth: 64,
            },
        ),
        birrd(BirrdConfig {
            ports: 8,
            width: 16,
            topology: Topology::Benes,
        }),
    ];
    for d in designs {
        let top = &d.board.top;
        let e = plume_hw::rtl::passes::estimate(top);
        let (y, depth) = fpga::synth_with_depth(top).unwrap();
        eprintln!("{}: IR {e:?}\n  yosys {y:?}, {depth:?}", d.name);
        assert_eq!(e.dsp, y.dsp, "{}", d.name);
        assert_eq!(e.bram36, y.bram36, "{}", d.name);
        let ratio = |a: u64, b: u64| a as f64 / b.max(1) as f64;
        let ff = ratio(e.ff, y.ff);
        assert!((0.85..=1.15).contains(&ff), "FF {} vs {}", e.ff, y.ff);
        let lut = ratio(e.lut, y.lut);
        assert!(
            (1.0 / 1.6..=1.6).contains(&lut),
            "LUT {} vs {}",
            e.lut,
            y.lut
        );
        assert!(depth.cells >= 2, "a real path has cells on it");
        assert!(!depth.from.is_empty() && !depth.to.is_empty(), "{depth:?}");
        assert!(fpga::fits(&y).is_ok());
    }
}

#[test]
fn reads_yosys_ltp_output() {
    let text = "18. Executing LTP pass (find longest path).\n\nLongest topological path in t (length=3):\n    0: \\r [2]\n    1: $auto$x.X [3] (via $abc$1)\n    2: $auto$x.CO [3] (via $auto$carry4)\n    3: \\q.i_wdata [4] (via $abc$2)\n";
    let d = fpga::parse_ltp(text).unwrap();
    assert_eq!(
        (d.cells, d.from.as_str(), d.to.as_str()),
        (3, "r [2]", "q.i_wdata [4]")
    );
    assert!(fpga::parse_ltp("nothing here").is_none());
}

#[test]
fn fit_check_names_what_overflows() {
    let mut r = plume::tools::Resources {
        design: "x".into(),
        lut: 300_000,
        dsp: 10,
        bram36: 400.0,
        ..Default::default()
    };
    let e = fpga::fits(&r).unwrap_err();
    assert!(
        e.contains("LUT 300000 of 230400") && e.contains("BRAM36 400 of 312"),
        "{e}"
    );
    assert!(!e.contains("DSP"), "{e}");
    r.lut = 1000;
    r.bram36 = 312.0;
    assert!(fpga::fits(&r).is_ok());
}

/// The board's host software, end to end, with the board replaced by plume's simulator: the
/// generated `sw/run_feather.py` and driver run a package from `plume feather export` through
/// a PYNQ stand-in whose MMIO and DMA calls go to `plume serve feather` (the AXI-wrapped
/// FEATHER behind the bus-functional models). A corrupted golden output must be reported
/// (exit 1) and a package for other hardware refused (exit 2).
#[test]
fn board_runner_drives_the_simulated_hardware() {
    if !common::have("python3") {
        return;
    }
    let t = common::TempDir::new("fpga-runner").unwrap();
    let build = t.path().join("build");
    let pkg = t.path().join("layer");
    let other = t.path().join("other");
    let b = build.to_str().unwrap();
    assert!(
        plume(&["fpga", "zcu104", "feather", "--array", "4x4", "-o", b])
            .status
            .success()
    );
    let conv = "1,5,6,6,6,3,3,1,1";
    let o = plume(&[
        "feather",
        "export",
        "--array",
        "4x4",
        "--conv",
        conv,
        "-o",
        pkg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = plume(&[
        "feather",
        "export",
        "--array",
        "4x8",
        "--gemm",
        "8,8,8",
        "-o",
        other.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let script = build.join("sw/run_feather.py");
    let server = ["feather", "--array", "4x4"];
    let (code, text) = run_board(&script, &pkg, &server);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("output matches the golden model: 36 x 6 bytes"),
        "{text}"
    );
    let layer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pkg.join("layer.json")).unwrap()).unwrap();
    assert!(
        text.contains(&format!(
            "CYCLES = {} (compiler: {})",
            layer["cycles"], layer["cycles"]
        )),
        "{text}"
    );
    let mut golden = std::fs::read(pkg.join("golden.u8")).unwrap();
    golden[7] ^= 0x40;
    std::fs::write(pkg.join("golden.u8"), &golden).unwrap();
    let (code, text) = run_board(&script, &pkg, &server);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("(1 of 216 elements differ)"), "{text}");
    let (code, text) = run_board(&script, &other, &server);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("the package is for feather_4x8_bitrev"),
        "{text}"
    );
    // A layer too large for the build's buffers: a session of tiles, double-buffered (the
    // next band's rows sent while a band runs), played step by step by the same script.
    let session = t.path().join("session");
    let o = plume(&[
        "feather",
        "export",
        "--array",
        "4x4",
        "--conv",
        "1,8,24,24,8,3,3,1,1",
        "-o",
        session.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("does not fit the buffers whole"), "{said}");
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(session.join("session.json")).unwrap()).unwrap();
    let tiles = s["tiles"].as_array().unwrap().len();
    assert!(tiles > 1 && s["double_buffered"] == true, "{s}");
    let (code, text) = run_board(&script, &session, &server);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("CYCLES of {tiles} tiles = the compiler's"))
            && text.contains("output matches the golden model: 576 x 8 bytes"),
        "{text}"
    );
    // A reduction too deep for the buffers: K chunks whose partial sums stay in the output
    // buffer between runs; only the last chunk of each output block quantizes (CYCLES reads
    // 0 after the others) and is read back.
    let chunks = t.path().join("chunks");
    let o = plume(&[
        "feather",
        "export",
        "--array",
        "4x4",
        "--gemm",
        "8,2048,8",
        "-o",
        chunks.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(chunks.join("session.json")).unwrap()).unwrap();
    let split = s["tiles"].as_array().unwrap();
    assert!(split.iter().any(|t| t["last"] == false), "{s}");
    let (code, text) = run_board(&script, &chunks, &server);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("CYCLES of {} tiles = the compiler's", split.len()))
            && text.contains("output matches the golden model: 8 x 8 bytes"),
        "{text}"
    );
    let mut golden = std::fs::read(session.join("golden.u8")).unwrap();
    golden[4000] ^= 1;
    std::fs::write(session.join("golden.u8"), &golden).unwrap();
    let (code, text) = run_board(&script, &session, &server);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("(1 of 4608 elements differ)"), "{text}");
}

/// The shell simulates in Icarus: through `aclk`/`aresetn` and the 12-bit AXI4-Lite window a
/// testbench writes a parameter, reads it back, reads CTRL (idle after reset), and sees
/// `tkeep` all ones and `s_axis_tready` up.
#[test]
fn shell_simulates_in_icarus() {
    if !common::have("iverilog") {
        return;
    }
    let t = common::TempDir::new("fpga-shell").unwrap();
    let cases = [
        (
            feather(FeatherConfig::new(4, 4), SeqConfig::default()),
            vec!["feather", "--array", "4x4"],
            "zp_o",
            0x5au32,
        ),
        (
            birrd(BirrdConfig {
                ports: 8,
                width: 12,
                topology: Topology::Bitrev,
            }),
            vec!["birrd", "--ports", "8", "--width", "12"],
            "cmd_0",
            0x3c5u32,
        ),
    ];
    for (design, args, reg, value) in cases {
        let dir = t.path().join(&design.name);
        let mut full = vec!["fpga", "zcu104"];
        full.extend_from_slice(&args);
        full.extend_from_slice(&["-o", dir.to_str().unwrap()]);
        assert!(plume(&full).status.success());
        let off = design.board.map.offset(reg).unwrap();
        let (_, wo) = design.stream_widths();
        let keep = fpga::dma_width(wo) / 8;
        let shell = format!("plume_{}", design.name);
        let tb = format!(
            r#"`timescale 1ns/1ps
module tb;
  reg aclk = 0, aresetn = 0;
  always #5 aclk = ~aclk;
  reg [11:0] awaddr = 0, araddr = 0;
  reg awvalid = 0, wvalid = 0, bready = 0, arvalid = 0, rready = 0;
  reg [31:0] wdata = 0;
  wire awready, wready, bvalid, arready, rvalid, s_tready, m_tlast, m_tvalid, irq;
  wire [1:0] bresp, rresp;
  wire [31:0] rdata;
  wire [{km}:0] m_tkeep;
  {shell} dut (
    .aclk(aclk), .aresetn(aresetn),
    .s_axi_awaddr(awaddr), .s_axi_awvalid(awvalid), .s_axi_awready(awready),
    .s_axi_wdata(wdata), .s_axi_wstrb(4'hf), .s_axi_wvalid(wvalid), .s_axi_wready(wready),
    .s_axi_bresp(bresp), .s_axi_bvalid(bvalid), .s_axi_bready(bready),
    .s_axi_araddr(araddr), .s_axi_arvalid(arvalid), .s_axi_arready(arready),
    .s_axi_rdata(rdata), .s_axi_rresp(rresp), .s_axi_rvalid(rvalid), .s_axi_rready(rready),
    .s_axis_tdata({{{dw}{{1'b0}}}}), .s_axis_tlast(1'b0), .s_axis_tvalid(1'b0), .s_axis_tready(s_tready),
    .m_axis_tdata(), .m_axis_tkeep(m_tkeep), .m_axis_tlast(m_tlast), .m_axis_tvalid(m_tvalid),
    .m_axis_tready(1'b1), .irq(irq));
  integer n;
  reg [31:0] got;
  reg aw_hs, w_hs, b_hs, ar_hs, r_hs, fin;
  // Handshakes are sampled at the clock edge, before the design's registers move.
  task write(input [11:0] a, input [31:0] d);
    begin
      @(negedge aclk); awaddr = a; wdata = d; awvalid = 1; wvalid = 1; bready = 1;
      n = 0; fin = 0;
      while (!fin) begin
        @(posedge aclk);
        aw_hs = awvalid & awready; w_hs = wvalid & wready; b_hs = bvalid & bready;
        if (b_hs && bresp != 0) begin $display("FAIL bresp %0d", bresp); $finish; end
        #1;
        if (aw_hs) awvalid = 0;
        if (w_hs) wvalid = 0;
        if (b_hs) begin bready = 0; fin = 1; end
        n = n + 1; if (n > 50) begin $display("FAIL write timeout"); $finish; end
      end
    end
  endtask
  task read(input [11:0] a);
    begin
      @(negedge aclk); araddr = a; arvalid = 1; rready = 1;
      n = 0; fin = 0;
      while (!fin) begin
        @(posedge aclk);
        ar_hs = arvalid & arready; r_hs = rvalid & rready;
        if (r_hs) got = rdata;
        #1;
        if (ar_hs) arvalid = 0;
        if (r_hs) begin rready = 0; fin = 1; end
        n = n + 1; if (n > 50) begin $display("FAIL read timeout"); $finish; end
      end
    end
  endtask
  initial begin
    repeat (4) @(posedge aclk);
    aresetn = 1;
    repeat (2) @(posedge aclk);
    write(12'h{off:03x}, 32'h{value:x});
    read(12'h{off:03x});
    if (got !== 32'h{value:x}) begin $display("FAIL readback %h", got); $finish; end
    read(12'h000);
    if (got[2] !== 1'b1) begin $display("FAIL ctrl %h", got); $finish; end
    if (m_tkeep !== {{{keep}{{1'b1}}}} || s_tready !== 1'b1 || m_tvalid !== 1'b0) begin $display("FAIL streams"); $finish; end
    $display("PASS");
    $finish;
  end
endmodule
"#,
            km = keep - 1,
            dw = fpga::dma_width(design.stream_widths().0),
        );
        let tb_path = dir.join("tb.v");
        std::fs::write(&tb_path, tb).unwrap();
        let mut rtl = walk(&dir.join("rtl"));
        rtl.push(tb_path);
        let vvp = dir.join("sim.vvp");
        tool(
            Command::new("iverilog")
                .args(["-g2005", "-s", "tb", "-o"])
                .arg(&vvp)
                .args(&rtl),
            "iverilog on the testbench",
            false,
        );
        let text = tool(Command::new("vvp").arg(&vvp), "vvp", false);
        assert!(text.contains("PASS"), "{}: {text}", design.name);
    }
}

/// The BIRRD runner the same way: a routed reduce-and-reorder pattern exported with
/// `plume birrd export`, streamed through `sw/run_birrd.py` (MM2S and S2MM at once) on the
/// simulated wrapped BIRRD, 8 ports × 12 bits (padded to 128-bit DMA beats); a corrupted
/// expected vector is reported.
#[test]
fn birrd_runner_drives_the_simulated_hardware() {
    if !common::have("python3") {
        return;
    }
    let t = common::TempDir::new("fpga-birrd-runner").unwrap();
    let build = t.path().join("build");
    let pkg = t.path().join("vectors");
    let net = ["--ports", "8", "--width", "12"];
    let mut args = vec!["fpga", "zcu104", "birrd"];
    args.extend_from_slice(&net);
    args.extend_from_slice(&["-o", build.to_str().unwrap()]);
    assert!(plume(&args).status.success());
    let route = plume(&[
        "birrd",
        "route",
        "--ports",
        "8",
        "--target",
        r#"{"6":[0,4],"1":[1,5,2],"3":[7]}"#,
    ]);
    assert!(route.status.success());
    let config = String::from_utf8_lossy(&route.stdout).trim().to_string();
    let mut args = vec!["birrd", "export"];
    args.extend_from_slice(&net);
    args.extend_from_slice(&[
        "--config",
        &config,
        "--vectors",
        "50",
        "-o",
        pkg.to_str().unwrap(),
    ]);
    let o = plume(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(pkg.join("in.bin")).unwrap().len(), 50 * 16);
    let script = build.join("sw/run_birrd.py");
    let mut server = vec!["birrd"];
    server.extend_from_slice(&net);
    let (code, text) = run_board(&script, &pkg, &server);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("50 vectors through BIRRD, BEATS counted 50"),
        "{text}"
    );
    let mut golden = std::fs::read(pkg.join("golden.bin")).unwrap();
    golden[16 * 9 + 3] ^= 1;
    std::fs::write(pkg.join("golden.bin"), &golden).unwrap();
    let (code, text) = run_board(&script, &pkg, &server);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("1 of 50 output vectors differ from the golden model (first: [9])"),
        "{text}"
    );
}

/// The RF emulator's runner the same way: a package of the two-reflector scenario exported
/// with `plume rfemu export` (parameters and samples in one stream), played through
/// `sw/run_rfemu.py` on the simulated wrapped emulator; a corrupted expected sample is
/// reported.
#[test]
fn rfemu_runner_drives_the_simulated_hardware() {
    if !common::have("python3") {
        return;
    }
    let t = common::TempDir::new("fpga-rfemu-runner").unwrap();
    let build = t.path().join("build");
    let pkg = t.path().join("run");
    let scen = format!(
        "{}/fpga/scenarios/two_reflectors.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let o = plume(&[
        "fpga",
        "zcu104",
        "rfemu",
        "--scenario",
        &scen,
        "-o",
        build.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = plume(&[
        "rfemu",
        "export",
        "--scenario",
        &scen,
        "--samples",
        "1200",
        "--input",
        "chirp",
        "-o",
        pkg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let script = build.join("sw/run_rfemu.py");
    let (code, text) = run_board(&script, &pkg, &["rfemu", "--scenario", &scen]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(
            "1200 samples of two_reflectors through the emulator, BEATS counted 1200, FAULT 0"
        ),
        "{text}"
    );
    let got = std::fs::read(pkg.join("received.bin")).unwrap();
    let mut golden = std::fs::read(pkg.join("golden.bin")).unwrap();
    assert!(got == golden);
    golden[4 * 700 + 1] ^= 1;
    std::fs::write(pkg.join("golden.bin"), &golden).unwrap();
    let (code, text) = run_board(&script, &pkg, &["rfemu", "--scenario", &scen]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "1 of 1200 receiver samples differ from the fixed-point model (first: [700])"
        ),
        "{text}"
    );
}

/// The FRED switch's runner the same way: a package of three phases (two all-reduce groups,
/// a reduce-and-multicast phase, unicasts into a reduction) exported with `plume fred export`,
/// loaded and streamed through `sw/run_fred.py` on the simulated wrapped switch; a corrupted
/// expected flit is reported.
#[test]
fn fred_runner_drives_the_simulated_hardware() {
    if !common::have("python3") {
        return;
    }
    let t = common::TempDir::new("fpga-fred-runner").unwrap();
    let build = t.path().join("build");
    let pkg = t.path().join("run");
    let hw = ["--ports", "4", "--width", "16"];
    let mut args = vec!["fpga", "zcu104", "fred"];
    args.extend_from_slice(&hw);
    args.extend_from_slice(&["-o", build.to_str().unwrap()]);
    let o = plume(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let traffic = r#"[
        {"flows":[{"ins":[0,1],"outs":[0,1]},{"ins":[2,3],"outs":[2,3]}],"flits":12},
        {"flows":[{"ins":[0,1,2],"outs":[3]},{"ins":[3],"outs":[0,1,2]}],"flits":9},
        {"flows":[{"ins":[0,1],"outs":[0,1]},{"ins":[2,3],"outs":[2,3]}],"flits":5},
        {"flows":[{"ins":[1],"outs":[2]},{"ins":[3],"outs":[0]}],"flits":7}
    ]"#;
    let mut args = vec!["fred", "export"];
    args.extend_from_slice(&hw);
    args.extend_from_slice(&["--traffic", traffic, "-o", pkg.to_str().unwrap()]);
    let o = plume(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // In: 17 all-reduce releases × 4 + 9 × 4 + 7 × 2; out: 17 × 4 + 9 × 4 + 7 × 2.
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(text.contains("3 phases, 118 flits in, 118 out"), "{text}");
    let script = build.join("sw/run_fred.py");
    let mut server = vec!["fred"];
    server.extend_from_slice(&hw);
    let (code, text) = run_board(&script, &pkg, &server);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("118 flits in, 118 out through the switch, FLITS_OUT counted 118, FAULT 0"),
        "{text}"
    );
    let mut golden = std::fs::read(pkg.join("golden.bin")).unwrap();
    golden[16 * 40] ^= 1;
    std::fs::write(pkg.join("golden.bin"), &golden).unwrap();
    let (code, text) = run_board(&script, &pkg, &server);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("1 of 10 (port, phase) streams differ from the flow golden model"),
        "{text}"
    );
}

/// The SDQ runner plays a GEMM package (`plume sdq run --export`, itself checked through AXI
/// first) on the simulated board build and finds every result equal to the golden model; a
/// corrupted golden result is reported with its row and channel.
#[test]
fn sdq_runner_drives_the_simulated_hardware() {
    if !common::have("python3") {
        return;
    }
    let t = common::TempDir::new("fpga-sdq-runner").unwrap();
    let build = t.path().join("build");
    let pkg = t.path().join("run");
    let hw = ["--units", "2", "--depth", "16"];
    let mut args = vec!["fpga", "zcu104", "sdq"];
    args.extend_from_slice(&hw);
    args.extend_from_slice(&["-o", build.to_str().unwrap()]);
    let o = plume(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut args = vec!["sdq", "run", "--gemm", "3,32,5"];
    args.extend_from_slice(&hw);
    args.extend_from_slice(&["--export", pkg.to_str().unwrap()]);
    let o = plume(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Three tiles of 2 channels: 3 × (2 × 4 weight chunks + 3 rows × 4 chunks) in, 3 × 3 out.
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(text.contains("60 beats in, 9 out"), "{text}");
    let script = build.join("sw/run_sdq.py");
    let mut server = vec!["sdq"];
    server.extend_from_slice(&hw);
    let (code, text) = run_board(&script, &pkg, &server);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("GEMM 3x32x5: 60 beats in, 9 out, BEATS counted 9"),
        "{text}"
    );
    assert_eq!(
        std::fs::metadata(pkg.join("results.f32")).unwrap().len(),
        15 * 4
    );
    // Tile 1 (channels 2-3), row 2: beat 5; channel 3 is unit 1, bytes 4-7.
    let mut golden = std::fs::read(pkg.join("golden.bin")).unwrap();
    let ob = golden.len() / 9;
    golden[5 * ob + 5] ^= 1;
    std::fs::write(pkg.join("golden.bin"), &golden).unwrap();
    let (code, text) = run_board(&script, &pkg, &server);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("1 of 15 results differ from the golden model (first: row 2, channel 3)"),
        "{text}"
    );
}
