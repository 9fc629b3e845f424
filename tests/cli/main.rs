//! The `plume` command as a user meets it: outputs, agreement between engines, and bad input
//! (one line on stderr, exit code 2, no partial files).

#[path = "../common/mod.rs"]
mod common;

mod campaign;

use common::{assert_bad_input, plume, stderr, stdout};
use plume_sim::cosim::{self, Tool};
use std::path::Path;
use std::process::Command;

const EVAL: &[&str] = &["birrd", "eval", "--ports", "4", "--width", "8"];

fn eval_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    EVAL.iter().copied().chain(extra.iter().copied()).collect()
}

#[test]
fn bad_parameters_and_configurations() {
    assert_bad_input(
        &["gen", "birrd", "--ports", "12", "-o", "/tmp/plume-never"],
        "ports must be a power of two from 4 to 256, got 12",
    );
    assert!(!Path::new("/tmp/plume-never").exists());
    assert_bad_input(&["sim", "birrd", "--ports", "512"], "got 512");
    assert_bad_input(
        &["sim", "birrd", "--width", "0"],
        "width must be from 1 to 64 bits, got 0",
    );
    assert_bad_input(
        &["sim", "birrd", "--topology", "omega"],
        "unknown topology 'omega'",
    );
    assert_bad_input(&["sim", "birrd", "--ports", "many"], "--ports");
    assert_bad_input(
        &["sim", "birrd", "--ports", "4", "--vcd", "/proc/plume/w.vcd"],
        "cannot create /proc/plume",
    );
    let ok_config = "[[0,0],[0,0],[0,0]]";
    assert_bad_input(
        &eval_args(&["--config", "[[0,0],[0,0]]", "--inputs", "1,2,3,4"]),
        "configuration has 2 stages, the 4-port bitrev network has 3",
    );
    assert_bad_input(
        &eval_args(&["--config", "[[0,0,0],[0,0],[0,0]]", "--inputs", "1,2,3,4"]),
        "stage 0 has 3 switches",
    );
    assert_bad_input(
        &eval_args(&["--config", "[[0,7],[0,0],[0,0]]", "--inputs", "1,2,3,4"]),
        "stage 0 switch 1: unknown mode code 7",
    );
    assert_bad_input(
        &eval_args(&["--config", "[[0,0],[0,0],[0,0", "--inputs", "1,2,3,4"]),
        "configuration is not valid JSON",
    );
    assert_bad_input(
        &eval_args(&[
            "--encoding",
            "names",
            "--config",
            "[[\"pass\",\"spin\"],[0,0],[0,0]]",
            "--inputs",
            "1,2,3,4",
        ]),
        "unknown mode 'spin'",
    );
    assert_bad_input(
        &eval_args(&["--config", ok_config, "--inputs", "1,2,3"]),
        "expected 4 inputs, got 3",
    );
    assert_bad_input(
        &eval_args(&["--config", ok_config, "--inputs", "1,2,3,256"]),
        "input 3 = 256 does not fit in 8 bits",
    );
    assert_bad_input(
        &eval_args(&["--config", ok_config, "--inputs", "1,2,x,4"]),
        "input 2 'x' is not an unsigned integer",
    );
    assert_bad_input(
        &eval_args(&[
            "--config", ok_config, "--inputs", "1,2,3,4", "--engine", "spice",
        ]),
        "unknown engine 'spice'",
    );
    assert_bad_input(
        &eval_args(&[
            "--config",
            ok_config,
            "--inputs",
            "1,2,3,4",
            "--encoding",
            "hex",
        ]),
        "unknown encoding 'hex'",
    );
}

#[test]
fn gen_refuses_a_non_empty_directory_and_writes_nothing() {
    let t = common::TempDir::new("cli-gen").unwrap();
    let d = t.path().join("busy");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("keep.txt"), "mine").unwrap();
    assert_bad_input(
        &["gen", "birrd", "--ports", "4", "-o", d.to_str().unwrap()],
        "exists and is not empty",
    );
    let names: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["keep.txt"]);
    assert_eq!(
        std::fs::read_dir(t.path()).unwrap().count(),
        1,
        "no staging directory left behind"
    );
}

#[test]
fn gen_writes_verilog_and_a_manifest() {
    let t = common::TempDir::new("cli-gen").unwrap();
    let d = t.path().join("b8");
    let o = plume(&[
        "gen",
        "birrd",
        "--ports",
        "8",
        "--width",
        "16",
        "--topology",
        "benes",
        "-o",
        d.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["top"], "birrd_n8_w16_benes");
    assert_eq!(m["latency_cycles"], 5);
    assert_eq!(m["parameters"]["topology"], "benes");
    let ports = m["ports"].as_array().unwrap();
    let width_of = |n: &str| {
        ports.iter().find(|p| p["name"] == n).unwrap()["width"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        (width_of("i_data"), width_of("o_data"), width_of("i_cmd")),
        (128, 128, 4 * 2 * 5)
    );
    for f in m["files"].as_array().unwrap() {
        assert!(d.join(f.as_str().unwrap()).is_file(), "{f}");
    }
}

/// `plume birrd eval` prints the same line on every engine, and the line is right: here an
/// allo-encoded configuration is checked against a hand-worked answer.
#[test]
fn eval_agrees_on_all_engines() {
    // N=4 bitrev: stage 0 adds each pair into its even output ([1+2, 2, 3+4, 4]), the wiring
    // [0,2,1,3] gives [3, 7, 2, 4], stage 1 passes, wiring gives [3, 2, 7, 4], stage 2 swaps
    // the first pair: [2, 3, 7, 4].
    let allo = eval_args(&[
        "--encoding",
        "allo",
        "--config",
        "[[2,2],[0,0],[3,0]]",
        "--inputs",
        "1,2,3,4",
    ]);
    let rtl = eval_args(&[
        "--encoding",
        "rtl",
        "--config",
        "[[1,1],[0,0],[3,0]]",
        "--inputs",
        "1,2,3,4",
    ]);
    let names = eval_args(&[
        "--encoding",
        "names",
        "--config",
        "[[\"add_even\",\"add_even\"],[\"pass\",\"pass\"],[\"swap\",\"pass\"]]",
        "--inputs",
        "1,2,3,4",
    ]);
    let mut lines = Vec::new();
    for args in [&allo, &rtl, &names] {
        for engine in ["golden", "sim", "verilator", "icarus"] {
            let tool = match engine {
                "verilator" => Some(Tool::Verilator),
                "icarus" => Some(Tool::Icarus),
                _ => None,
            };
            if tool.is_some_and(|t| !cosim::require(t).unwrap()) {
                continue;
            }
            let mut a = args.clone();
            a.extend(["--engine", engine]);
            let o = plume(&a);
            assert!(o.status.success(), "{engine}: {}", stderr(&o));
            lines.push((engine, stdout(&o)));
        }
    }
    for (engine, line) in &lines {
        assert_eq!(line, "[2,3,7,4]\n", "{engine}");
    }
}

#[test]
fn sim_writes_a_vcd_with_the_design_hierarchy() {
    let t = common::TempDir::new("cli-vcd").unwrap();
    let vcd = t.path().join("w.vcd");
    let o = plume(&[
        "sim",
        "birrd",
        "--ports",
        "4",
        "--width",
        "8",
        "--cycles",
        "50",
        "--vcd",
        vcd.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("simulated 50 cycles"), "{}", stdout(&o));
    let (vars, changes) = plume_sim::vcd::summarize(&vcd).unwrap();
    let has = |name: &str, width: u32| vars.iter().any(|(n, w)| n == name && *w == width);
    assert!(has("birrd_n4_w8_bitrev.clk", 1), "{vars:?}");
    assert!(has("birrd_n4_w8_bitrev.i_data", 32));
    assert!(has("birrd_n4_w8_bitrev.stage1_sw0.o_lo", 8));
    assert!(has("birrd_n4_w8_bitrev.stage0_sw1.mode", 2));
    assert!(changes > 100, "{changes}");
    // Nothing but the waveform is left in the directory.
    assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1);
}

#[test]
fn route_output_evaluates_to_the_requested_sums() {
    let o = plume(&[
        "birrd",
        "route",
        "--ports",
        "16",
        "--target",
        r#"{"6":[0,4],"5":[1,5],"0":[15]}"#,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let config = stdout(&o);
    let inputs: Vec<String> = (0..16).map(|i| (i * 10 + 1).to_string()).collect();
    let e = plume(&[
        "birrd",
        "eval",
        "--ports",
        "16",
        "--config",
        config.trim(),
        "--inputs",
        &inputs.join(","),
    ]);
    assert!(e.status.success(), "{}", stderr(&e));
    let out: Vec<u64> = serde_json::from_str(&stdout(&e)).unwrap();
    assert_eq!((out[6], out[5], out[0]), (1 + 41, 11 + 51, 151));
}

#[test]
fn route_reports_unroutable_with_exit_3() {
    use plume_hw::feather::birrd::Topology;
    use plume_hw::feather::compiler::route::{RouteError, Router};
    use plume_sim::rng::XorShift;
    // Find an unroutable reduction on the 8-port bit-reversal network (about 1 % are).
    let router = Router::new(8, Topology::Bitrev).unwrap();
    let mut rng = XorShift::new(5);
    let target = (0..5000)
        .map(|_| plume::feather::birrd_cli::random_target(&mut rng, 8, 8, 8))
        .find(|t| {
            matches!(
                router.route(t, std::time::Duration::from_secs(5)),
                Err(RouteError::Unroutable(_))
            )
        })
        .expect("an unroutable target among 5000");
    let json = serde_json::to_string(
        &target
            .iter()
            .map(|(o, v)| (o.to_string(), v.clone()))
            .collect::<std::collections::BTreeMap<_, _>>(),
    )
    .unwrap();
    let o = plume(&["birrd", "route", "--ports", "8", "--target", &json]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with(
            "plume: unroutable: no configuration of the 8-port bitrev network satisfies outputs"
        ),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
    assert!(o.stdout.is_empty());
}

#[test]
fn route_bad_input() {
    let r = |t: &str| {
        ["birrd", "route", "--ports", "8", "--target", t]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    let run = |t: &str, needle: &str| {
        let args = r(t);
        let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        assert_bad_input(&refs, needle);
    };
    run(
        "{\"1\":[0,2],\"3\":[2]}",
        "input 2 is wanted by outputs 1 and 3",
    );
    run("{\"1\":[0,2", "target is not valid JSON");
    run("[1,2]", "target must be a JSON object");
    run("{\"x\":[0]}", "target output 'x' is not a port number");
    run("{\"8\":[0]}", "output port 8 is out of range");
    run("{\"1\":[8]}", "input port 8 (for output 1) is out of range");
    assert_bad_input(
        &["birrd", "route", "--ports", "12", "--target", "{}"],
        "ports must be a power of two",
    );
}

/// The SVG parses as XML, has one coloured box per switch, and its output labels say what the
/// golden model computes.
#[test]
fn draw_renders_a_valid_svg_that_matches_the_golden_model() {
    use plume_hw::feather::birrd::{BirrdConfig, Topology};
    let t = common::TempDir::new("cli-draw").unwrap();
    let svg = t.path().join("net.svg");
    let config = "[[1,1,1,1],[0,2,0,0],[3,0,0,0],[0,0,0,3],[0,1,0,0],[0,0,0,0]]";
    let o = plume(&[
        "birrd",
        "draw",
        "--ports",
        "8",
        "--config",
        config,
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let switches: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("switch"))
        .collect();
    assert_eq!(switches.len(), 6 * 4);
    assert_eq!(switches[0].attribute("data-mode"), Some("add_even"));
    // Output labels against the golden model evaluated on inputs 2^i.
    let cfg = BirrdConfig {
        ports: 8,
        width: 64,
        topology: Topology::Bitrev,
    };
    let rows: Vec<Vec<serde_json::Value>> = serde_json::from_str(config).unwrap();
    let modes: Vec<Vec<_>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| {
                    plume_hw::feather::birrd::Mode::decode(
                        plume_hw::feather::birrd::Encoding::Rtl,
                        v,
                    )
                    .unwrap()
                })
                .collect()
        })
        .collect();
    let out = plume_hw::feather::golden::birrd(
        &cfg,
        &modes,
        &(0..8).map(|i| 1u64 << (8 * i)).collect::<Vec<_>>(),
    )
    .unwrap();
    for node in doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("output"))
    {
        let p: usize = node.attribute("data-port").unwrap().parse().unwrap();
        let mut counts = vec![0u32; 8];
        for (i, c) in counts.iter_mut().enumerate() {
            *c = ((out[p] >> (8 * i)) & 0xff) as u32;
        }
        assert_eq!(
            node.text().unwrap(),
            format!("out {p} = {}", plume::feather::draw::set_label(&counts))
        );
    }
}

#[test]
fn feather_bad_input() {
    let run = ["feather", "run", "--gemm", "4,4,4"];
    fn with<'a>(run: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        run.iter().copied().chain(extra.iter().copied()).collect()
    }
    assert_bad_input(&with(&run, &["--array", "12x16"]), "powers of two");
    assert_bad_input(&with(&run, &["--array", "16x128"]), "from 2 to 64");
    assert_bad_input(&with(&run, &["--array", "16by16"]), "expected AHxAW");
    assert_bad_input(&with(&run, &["--array", "4x2"]), "at least 4 columns");
    assert_bad_input(&with(&run, &["--layout", "HWC_Q16"]), "unknown layout");
    assert_bad_input(&with(&run, &["--layout", "HWC_C4W2"]), "unknown layout");
    assert_bad_input(&with(&run, &["--dataflow", "os"]), "unknown dataflow");
    assert_bad_input(
        &["feather", "run", "--gemm", "4,0,4"],
        "every dimension must be at least 1",
    );
    assert_bad_input(
        &["feather", "run", "--gemm", "4,-1,4"],
        "not a non-negative integer",
    );
    assert_bad_input(&["feather", "run", "--gemm", "4,4"], "expected 3");
    assert_bad_input(
        &["feather", "run", "--conv", "1,3,4,4,8,7,7,1,0"],
        "does not fit",
    );
    assert_bad_input(&["feather", "net", "vgg16"], "unknown network");
    let dw = |spec: &'static str, extra: &[&'static str]| -> Vec<&'static str> {
        ["feather", "run", "--array", "8x8", "--depthwise", spec]
            .into_iter()
            .chain(extra.iter().copied())
            .collect()
    };
    assert_bad_input(
        &dw("1,5,8,8,3,3,1,1", &[]),
        "C must be a power of two up to AW = 8",
    );
    assert_bad_input(&dw("1,16,8,8,3,3,1,1", &[]), "C must be a power of two");
    assert_bad_input(&dw("1,4,2,2,5,5,1,0", &[]), "does not fit");
    assert_bad_input(&dw("1,4,8,8,3,3,1", &[]), "expected 8");
    assert_bad_input(
        &dw("1,4,8,8,3,3,0,1", &[]),
        "N, C, H, W, R, S, STRIDE and DILATION must be at least 1",
    );
    assert_bad_input(
        &[
            "feather",
            "export",
            "--array",
            "8x8",
            "--depthwise",
            "1,3,8,8,3,3,1,1",
            "-o",
            "/nonexistent/never",
        ],
        "C must be a power of two up to AW = 8",
    );
    assert_bad_input(
        &dw("1,4,8,8,3,3,1,1", &["--block", "3x3"]),
        "9 output pixels per patch, the array has 8 rows",
    );
    assert_bad_input(&dw("1,4,8,8,3,3,1,1", &["--block", "2by2"]), "expected HxW");
    assert_bad_input(
        &dw("1,4,8,8,3,3,1,1", &["--stream", "window"]),
        "a depthwise layer streams its patches",
    );
    assert_bad_input(
        &dw("1,4,8,8,3,3,1,1", &["--layout", "HWC_C8"]),
        "which this layout does not allow",
    );
    let dir = common::TempDir::new("feather-data").unwrap();
    let data = dir.path().join("d.json");
    std::fs::write(&data, r#"{"a":[1,2,3],"b":[1,2,3,4]}"#).unwrap();
    assert_bad_input(
        &[
            "feather",
            "run",
            "--gemm",
            "2,2,2",
            "--data",
            data.to_str().unwrap(),
        ],
        "\"a\" has 3 elements, the layer needs 4",
    );
    std::fs::write(&data, "{").unwrap();
    assert_bad_input(
        &[
            "feather",
            "run",
            "--gemm",
            "2,2,2",
            "--data",
            data.to_str().unwrap(),
        ],
        "not valid JSON",
    );
    // A VCD path in a missing directory: refused, and no partial file left anywhere.
    let vcd = dir.path().join("missing/run.vcd");
    let o = plume(&with(
        &run,
        &["--array", "4x4", "--vcd", vcd.to_str().unwrap()],
    ));
    assert_ne!(o.status.code(), Some(0));
    assert!(!dir.path().join("missing").exists());
}

#[test]
fn feather_run_checks_against_the_golden_model() {
    let dir = common::TempDir::new("feather-run").unwrap();
    let data = dir.path().join("d.json");
    // A 2x3 by 3x2 GEMM by hand: zero points 0, scale 1.0 (2^24), so C = A·B exactly.
    std::fs::write(
        &data,
        r#"{"a":[1,2,3,4,5,6],"b":[1,0,0,1,1,1],"scale":16777216}"#,
    )
    .unwrap();
    let o = plume(&[
        "feather",
        "run",
        "--array",
        "4x4",
        "--gemm",
        "2,3,2",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("output: 4 elements bit-exact"), "{out}");
    assert!(out.contains("(timing model "), "{out}");
    let vcd = dir.path().join("conv.vcd");
    let o = plume(&[
        "feather",
        "run",
        "--array",
        "4x4",
        "--conv",
        "1,3,5,5,4,3,3,1,1",
        "--dataflow",
        "is",
        "--layout",
        "HWC_C2W2",
        "--vcd",
        vcd.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&vcd).unwrap();
    assert!(
        text.contains("$scope module nest"),
        "VCD has the NEST hierarchy"
    );
    assert!(text.contains("pe_r3_c3"), "VCD reaches the PEs");
}

#[test]
fn feather_net_verifies_its_smallest_layers() {
    let o = plume(&[
        "feather",
        "net",
        "mobilenetv3",
        "--array",
        "8x8",
        "--verify",
        "4",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("simulated 4 layers on the programmable core (sequencer, buffers sized per layer): every output bit-exact against the golden model, every cycle count equal to the timing model"),
        "{out}"
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.split_whitespace().any(|w| w == "s") && !l.starts_with("total"))
            .count(),
        4,
        "{out}"
    );
    assert!(out.contains("total  62 layers"), "{out}");
}

/// `--engine sim` over a layer range: every layer simulated (bit-exact, the model's cycles —
/// the command fails otherwise), the JSON table says so layer by layer, the plot is an SVG.
#[test]
fn feather_net_simulates_a_layer_range_and_reports_json_and_a_plot() {
    let t = common::TempDir::new("net-sim").unwrap();
    let svg = t.path().join("net.svg");
    let o = plume(&[
        "feather",
        "net",
        "mobilenetv3",
        "--array",
        "8x8",
        "--engine",
        "sim",
        "--layers",
        "1..3",
        "--json",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(
        layers
            .iter()
            .map(|l| l["layer"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    for l in layers {
        let groups = l["groups"].as_u64().unwrap();
        assert_eq!(
            l["simulated_cycles"].as_u64().unwrap() * groups,
            l["cycles"].as_u64().unwrap(),
            "{l}"
        );
        let u = l["utilisation"].as_f64().unwrap();
        let want = l["macs"].as_f64().unwrap() / (64.0 * l["cycles"].as_f64().unwrap());
        assert!((u - want).abs() < 1e-12, "{l}");
    }
    assert!(layers[1]["depthwise"].as_bool().unwrap());
    let err = stderr(&o);
    assert!(err.contains("[3/3] layer 3:"), "{err}");
    assert!(err.contains("left"), "progress with the time left: {err}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"), "{}", &text[..100.min(text.len())]);
    assert!(text.contains("mobilenetv3 on FEATHER 8x8"));
}

#[test]
fn gen_feather_is_lint_clean() {
    let dir = common::TempDir::new("gen-feather").unwrap();
    let out = dir.path().join("f");
    let o = plume(&[
        "gen",
        "feather",
        "--array",
        "4x4",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["top"], "feather_top_4x4_bitrev");
    assert_eq!(m["sequencer"]["tables"].as_array().unwrap().len(), 6);
    if !common::have("verilator") {
        return;
    }
    let files: Vec<String> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| out.join(f.as_str().unwrap()).to_string_lossy().into_owned())
        .collect();
    let o = Command::new("verilator")
        .args([
            "--lint-only",
            "-Wall",
            "--top-module",
            "feather_top_4x4_bitrev",
        ])
        .args(&files)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn demo_writes_its_files() {
    let dir = common::TempDir::new("demo").unwrap();
    let out = dir.path().join("out");
    let o = plume(&["demo", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("outputs bit-exact against the golden convolution"),
        "{text}"
    );
    for f in [
        "birrd16.v",
        "birrd16.vcd",
        "birrd16.svg",
        "feather8x8.vcd",
        "fred8.svg",
        "fred_fabric_fred-d.svg",
        "fred_fabric_mesh.svg",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    assert!(
        text.contains("80 KiB exact at all 20 NPUs"),
        "the FRED demo checks its data: {text}"
    );
    let (vars, _) = plume_sim::vcd::summarize(&out.join("feather8x8.vcd")).unwrap();
    assert!(
        vars.len() > 100,
        "the FEATHER waveform has the design's signals"
    );
}

/// Every lifecycle verb reaches a design through the registry, and refuses its bad
/// parameters the same way (one line, exit 2) before doing any work.
#[test]
fn lifecycle_verbs_refuse_bad_parameters_for_every_design() {
    for verb in [
        &["sim"][..],
        &["check"],
        &["synth"],
        &["bench"],
        &["serve"],
        &["report", "zcu104"],
    ] {
        let with = |extra: &[&'static str]| -> Vec<&str> {
            verb.iter().copied().chain(extra.iter().copied()).collect()
        };
        assert_bad_input(&with(&["birrd", "--ports", "12"]), "got 12");
        assert_bad_input(&with(&["feather", "--array", "12x16"]), "powers of two");
        assert_bad_input(&with(&["fir", "--taps", "65"]), "taps must be from 1 to 64");
        assert_bad_input(
            &with(&["rfemu", "--scenario", "/nonexistent.toml"]),
            "cannot read scenario",
        );
        assert_bad_input(&with(&["fred", "--m", "5"]), "must be 2 or 3");
        assert_bad_input(
            &with(&["sdq", "--groups", "3"]),
            "must divide the MX block of 32",
        );
        assert_bad_input(
            &with(&["sdq_dense", "--units", "0"]),
            "units must be from 1",
        );
        assert_bad_input(&with(&["sdqq"]), "sdqq");
    }
    assert_bad_input(
        &["check", "feather", "--array", "4x4", "--cycles", "0"],
        "--cycles must be at least 1",
    );
    assert_bad_input(
        &[
            "fpga",
            "zcu104",
            "feather",
            "--core",
            "-o",
            "/tmp/plume-never",
        ],
        "drop --core",
    );
    assert!(!Path::new("/tmp/plume-never").exists());
}

/// `plume bench` replays one recorded stimulus on plume's simulator and on Verilator and fails
/// unless their output checksums agree; its table has both speeds, both build times and the
/// cold-start ratio.
#[test]
fn bench_compares_plume_with_verilator_on_one_stimulus() {
    if !cosim::require(Tool::Verilator).unwrap() {
        return;
    }
    let out = plume(&["bench", "fir", "--taps", "4", "--cycles", "3000"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    let row: Vec<f64> = text
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    // plume cyc/s, Verilator cyc/s, ratio, plume build, Verilator build, cold ×, KB, MB.
    assert_eq!(row.len(), 8, "{text}");
    assert!(
        row[0] > 0.0 && row[1] > 0.0 && row[3] >= 0.0 && row[4] > 0.0,
        "{text}"
    );
    // The ratio is printed to two decimals.
    assert!(
        (row[2] - row[0] / row[1]).abs() <= 0.006 + 0.01 * row[2],
        "{text}"
    );
}

/// `feather run --data/--out` against NumPy (tests/cli/npy_check.py): int8 and uint8 operands
/// saved by NumPy, a GEMM, a strided, padded convolution and a tiled depthwise convolution
/// computed by NumPy from their definitions, plume's output tensor and accumulators read back with numpy.load.
#[test]
fn feather_tensors_in_and_out_as_npy_agree_with_numpy() {
    if !common::python_has("numpy") {
        return;
    }
    let t = common::TempDir::new("npy-check").unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/npy_check.py");
    let o = Command::new("python3")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_plume"))
        .arg(t.path())
        .output()
        .unwrap();
    let text = stdout(&o);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("gemm 9x37x13: c.npy and acc.npy equal NumPy's"),
        "{text}"
    );
    assert!(text.contains("y.npy and acc.npy equal NumPy's"), "{text}");
    assert!(
        text.contains(
            "depthwise (1, 9, 11, 8) * (8, 3, 3) stride 2 pad 1: y.npy and acc.npy equal NumPy's"
        ),
        "{text}"
    );
    // layer.json reads back as --data and gives the same output.
    let again = t.path().join("again");
    let o = plume(&[
        "feather",
        "run",
        "--array",
        "8x8",
        "--gemm",
        "9,37,13",
        "--data",
        t.path().join("gemm_out/layer.json").to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["a.npy", "b.npy", "c.npy", "acc.npy"] {
        assert_eq!(
            std::fs::read(again.join(f)).unwrap(),
            std::fs::read(t.path().join("gemm_out").join(f)).unwrap(),
            "{f}"
        );
    }
}

/// Bad tensor files: one line each, exit 2, and `--out` writes nothing on a refused run.
#[test]
fn feather_tensor_files_that_do_not_fit_the_layer_are_refused() {
    let t = common::TempDir::new("npy-bad").unwrap();
    let d = t.path();
    let run = |data: &Path, out: &Path| {
        vec![
            "feather".to_string(),
            "run".into(),
            "--array".into(),
            "8x8".into(),
            "--gemm".into(),
            "2,3,4".into(),
            "--data".into(),
            data.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ]
    };
    let check = |args: Vec<String>, needle: &str| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_bad_input(&a, needle);
    };
    // A good pair to start from, written by plume itself.
    let good = d.join("good");
    let o = plume(&[
        "feather",
        "run",
        "--array",
        "8x8",
        "--gemm",
        "2,3,4",
        "--out",
        good.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bad = d.join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::copy(good.join("b.npy"), bad.join("a.npy")).unwrap();
    std::fs::copy(good.join("b.npy"), bad.join("b.npy")).unwrap();
    check(
        run(&bad, &d.join("o1")),
        "a has shape [3, 4], the layer needs [2, 3]",
    );
    std::fs::copy(good.join("acc.npy"), bad.join("a.npy")).unwrap();
    check(
        run(&bad, &d.join("o2")),
        "has dtype <i4; operands are 8-bit",
    );
    std::fs::write(bad.join("a.npy"), b"not numpy").unwrap();
    check(run(&bad, &d.join("o3")), "not a NumPy .npy file");
    std::fs::remove_file(bad.join("a.npy")).unwrap();
    check(run(&bad, &d.join("o4")), "a.npy");
    // A dtype contradicting the JSON's flag.
    std::fs::copy(good.join("a.npy"), bad.join("a.npy")).unwrap();
    let signed = if std::fs::read(good.join("layer.json"))
        .unwrap()
        .windows(19)
        .any(|w| w == b"\"iact_signed\": true")
    {
        "false"
    } else {
        "true"
    };
    std::fs::write(
        bad.join("quant.json"),
        format!("{{\"iact_signed\": {signed}}}"),
    )
    .unwrap();
    check(run(&bad, &d.join("o5")), "\"iact_signed\" is");
    std::fs::write(bad.join("quant.json"), "{\"zp_i\": 300}").unwrap();
    check(
        run(&bad, &d.join("o6")),
        "\"zp_i\" must be an integer -128 to 255",
    );
    // A non-empty output directory is refused before anything runs.
    check(run(&good, &good), "not empty");
    for k in 1..=6 {
        assert!(!d.join(format!("o{k}")).exists(), "o{k} was written");
    }
}

/// `feather run --tiled` on buffers too small for the layer: tiles, every tile's CYCLES equal
/// to the compiler's, the output bit-exact — and `--out` gets the assembled tensor.
#[test]
fn feather_run_tiles_a_layer_larger_than_its_buffers() {
    let t = common::TempDir::new("tiled").unwrap();
    let out = t.path().join("o");
    let o = plume(&[
        "feather",
        "run",
        "--array",
        "8x8",
        "--depths",
        "64,64,64",
        "--conv",
        "1,6,10,9,13,3,3,1,1",
        "--tiled",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains(" tiles, "), "{text}");
    assert!(
        text.contains("CYCLES of every tile = the compiler's"),
        "{text}"
    );
    assert!(
        text.contains("elements bit-exact against the golden model"),
        "{text}"
    );
    assert!(out.join("y.npy").exists());
}

/// `feather net --engine board`: each layer tiled for the given buffers and run through the
/// AXI-wrapped top (the command fails unless outputs are bit-exact and every tile's CYCLES is
/// the compiler's); the JSON carries tiles and bus cycles per layer.
#[test]
fn feather_net_runs_layers_tiled_through_the_board() {
    let o = plume(&[
        "feather",
        "net",
        "mobilenetv3",
        "--array",
        "8x8",
        "--depths",
        "64,64,64",
        "--engine",
        "board",
        "--layers",
        "12..13",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["engine"], "board");
    for l in v["layers"].as_array().unwrap() {
        let b = &l["board"];
        assert!(b["tiles"].as_u64().unwrap() > 1, "{l}");
        // Tiles pay their own pipeline fill: never fewer cycles than the layer in one piece.
        assert!(
            b["compute_cycles"].as_u64().unwrap() >= l["cycles"].as_u64().unwrap(),
            "{l}"
        );
        assert!(b["load_cycles"].as_u64().unwrap() > 0, "{l}");
    }
}

/// A convolution streamed from its compact input: `feather run --stream window` on the
/// sequencer-driven core, and `feather export` of a layer whose lowered (im2col) input does not
/// fit the board's buffers — auto picks windows, and the package (window table included) is
/// verified through the AXI-wrapped top; asked to stream lowered, the same export is refused.
#[test]
fn feather_streams_convolutions_from_their_compact_input() {
    let o = plume(&[
        "feather",
        "run",
        "--array",
        "8x8",
        "--conv",
        "1,19,13,11,21,3,3,2,2,2",
        "--stream",
        "window",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("input: compact NHWC, 429 streaming-buffer lines"),
        "{text}"
    );
    assert!(text.contains("dilation=2"), "{text}");
    assert!(
        text.contains("bit-exact against the golden model"),
        "{text}"
    );
    let t = common::TempDir::new("window-export").unwrap();
    let conv = ["--array", "8x8", "--conv", "1,16,20,20,16,3,3,1,1"];
    let out = t.path().join("auto");
    let mut args = vec!["feather", "export"];
    args.extend(conv);
    args.extend(["-o", out.to_str().unwrap()]);
    let o = plume(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("verified through AXI"),
        "{}",
        stdout(&o)
    );
    assert!(out.join("packet7_windows.bin").exists());
    let lowered = t.path().join("lowered");
    let mut args = vec!["feather", "export"];
    args.extend(conv);
    args.extend(["--stream", "lowered", "-o", lowered.to_str().unwrap()]);
    // Lowered, the layer does not fit whole: it is exported as a session of tiles instead.
    let o = plume(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("the streamed operand needs 16000 lines")
            && stdout(&o).contains("exported as a session of tiles")
            && stdout(&o).contains("every tile's CYCLES = the compiler's"),
        "{}",
        stdout(&o)
    );
    assert!(lowered.join("session.json").exists());
}
