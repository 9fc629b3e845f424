//! The bad-input campaign: every command, run with malformed, huge, hostile and interrupted
//! input. Each case must end within its time limit and a memory limit, with the documented
//! exit code and one line on stderr (no panic, no backtrace), print nothing on stdout, and
//! leave its working directory and its scratch space exactly as they were. Cases are rows of
//! tables; a new family adds its rows (its designs' bad parameters are `DESIGNS`).

use crate::common::{self, TempDir};
use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every case must end within this (the slowest refuse only after generating a design).
const LIMIT: Duration = Duration::from_secs(60);
/// Address space a case may use: allocating what a hostile size asks for would abort.
const MEMORY: u64 = 6 << 30;

/// One invocation and what it must do.
struct Case {
    args: Vec<String>,
    code: i32,
    needle: String,
}

fn case(args: &[&str], code: i32, needle: &str) -> Case {
    Case {
        args: args.iter().map(|s| s.to_string()).collect(),
        code,
        needle: needle.to_string(),
    }
}

/// Every file below `dir`, with its size and kind.
fn snapshot(dir: &Path) -> BTreeSet<(PathBuf, u64, bool)> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p.clone());
            }
            out.insert((p, if m.is_file() { m.len() } else { 0 }, m.is_dir()));
        }
    }
    out
}

/// Runs plume in `work` with `TMPDIR` = `tmp`, bounded in time and memory; returns (exit
/// code, stdout, stderr). A case that runs out of time is killed and reported.
fn run(args: &[String], work: &Path, tmp: &Path) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plume"));
    cmd.args(args)
        .current_dir(work)
        .env("TMPDIR", tmp)
        .env("CI", "")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; it only lowers this child's address-space limit.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: MEMORY,
                rlim_max: MEMORY,
            };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("plume starts");
    let t0 = Instant::now();
    loop {
        if let Some(_status) = child.try_wait().unwrap() {
            break;
        }
        if t0.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} ran longer than {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let o = child.wait_with_output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs a table; returns how many cases it held.
fn check_all(cases: &[Case], work: &Path, tmp: &Path) -> usize {
    for c in cases {
        let before = snapshot(work);
        let (code, out, err) = run(&c.args, work, tmp);
        let args = &c.args;
        assert_eq!(
            code,
            Some(c.code),
            "{args:?}: exit {code:?}, stderr {err:?}"
        );
        assert_eq!(
            err.lines().count(),
            1,
            "{args:?}: stderr is not one line: {err:?}"
        );
        assert!(err.starts_with("plume: "), "{args:?}: {err:?}");
        assert!(
            err.contains(&c.needle),
            "{args:?}: {err:?} does not say {:?}",
            c.needle
        );
        assert!(
            !err.contains("panicked") && !err.contains("backtrace") && err.len() < 1200,
            "{args:?}: {err:?}"
        );
        assert!(out.is_empty(), "{args:?}: printed {out:?}");
        assert_eq!(
            snapshot(work),
            before,
            "{args:?} changed its working directory"
        );
        assert!(
            snapshot(tmp).is_empty(),
            "{args:?} left scratch files: {:?}",
            snapshot(tmp)
        );
    }
    cases.len()
}

/// Per design: flags that each lifecycle verb must refuse, and the message.
const DESIGNS: &[(&str, &[(&[&str], &str)])] = &[
    (
        "birrd",
        &[
            (
                &["--ports", "12"],
                "ports must be a power of two from 4 to 256, got 12",
            ),
            (&["--ports", "-4"], "'-4'"),
            (&["--ports", "512"], "got 512"),
            (&["--width", "0"], "width must be from 1 to 64 bits, got 0"),
            (&["--width", "99999999999"], "--width"),
            (&["--topology", "omega"], "unknown topology 'omega'"),
            (&["--topology", ""], "unknown topology ''"),
            (&["--ports"], "--ports"),
        ],
    ),
    (
        "feather",
        &[
            (&["--array", "12x16"], "powers of two"),
            (&["--array", "16by16"], "expected AHxAW"),
            (&["--array", "4x2"], "at least 4 columns"),
            (&["--array", "99999999999x4"], "expected AHxAW"),
            (&["--depths", "1000,8,8"], "power of two"),
            (&["--depths", "8,8"], "expected 3"),
            (&["--depths", "0,8,8"], "power of two"),
            (&["--array", "4x"], "expected AHxAW"),
            (&["--topology", "mesh"], "unknown topology"),
        ],
    ),
    (
        "fir",
        &[
            (&["--taps", "0"], "taps must be from 1 to 64, got 0"),
            (&["--taps", "65"], "taps must be from 1 to 64"),
            (&["--taps", "-1"], "'-1'"),
            (&["--width", "1"], "sample width must be from 2 to 27 bits"),
            (
                &["--coef-width", "19"],
                "coefficient width must be from 2 to 18 bits",
            ),
        ],
    ),
    (
        "fred",
        &[
            (&["--ports", "1"], "ports must be from 2 to 256, got 1"),
            (
                &["--ports", "65"],
                "a whole switch has at most 64 ports, got 65",
            ),
            (&["--m", "4"], "must be 2 or 3, got 4"),
            (
                &["--width", "65"],
                "width must be from 1 to 64 bits, got 65",
            ),
            (&["--phases", "0"], "phases must be from 1 to 256, got 0"),
            (&["--phases", "257"], "phases must be from 1 to 256"),
            (
                &["--depth", "3"],
                "input buffer depth must be a power of two from 2 to 64 flits, got 3",
            ),
            (&["--depth", "128"], "got 128"),
            (&["--ports", "x"], "--ports"),
        ],
    ),
    (
        "fred_net",
        &[
            (&["--ports", "1"], "ports must be from 2 to 256, got 1"),
            (&["--m", "4"], "must be 2 or 3, got 4"),
            (
                &["--width", "65"],
                "width must be from 1 to 64 bits, got 65",
            ),
        ],
    ),
    (
        "sdq",
        &[
            (
                &["--n", "9"],
                "N (kept per group) must be from 1 to M = 8, got 9",
            ),
            (
                &["--groups", "3"],
                "a chunk of 24 positions (groups × M) must divide the MX block of 32",
            ),
            (
                &["--acc-bits", "20"],
                "accumulator width must be from 27 to 64 bits, got 20",
            ),
            (
                &["--acc-lsb", "-127"],
                "accumulator LSB exponent must be from -126",
            ),
            (&["--units", "0"], "units must be from 1 to 64, got 0"),
            (
                &["--depth", "0"],
                "weight buffer depth must be from 1 to 65536 chunks, got 0",
            ),
            (&["--inlier-format", "fp3"], "unknown number format"),
        ],
    ),
    (
        "sdq_dense",
        &[
            (
                &["--block", "12"],
                "a chunk of 8 positions (groups × M) must divide the MX block of 12",
            ),
            (&["--units", "65"], "units must be from 1 to 64, got 65"),
        ],
    ),
    (
        "rfemu",
        &[
            (&["--scenario", "missing.toml"], "cannot read scenario"),
            (
                &["--scenario", "s_near.toml"],
                "shortest range it can emulate",
            ),
            (&["--scenario", "s_syntax.toml"], "line 1"),
            (&["--scenario", "/dev/zero"], "is larger than 64 MiB"),
            (&["--scenario"], "--scenario"),
        ],
    ),
];

/// What each lifecycle verb needs besides the design's flags.
fn verbs(out: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        (v(&["gen"]), v(&["-o", out])),
        (v(&["sim"]), v(&[])),
        (v(&["check"]), v(&[])),
        (v(&["synth"]), v(&[])),
        (v(&["bench"]), v(&[])),
        (v(&["serve"]), v(&[])),
        (v(&["fpga", "zcu104"]), v(&["-o", out])),
        (v(&["report", "zcu104"]), v(&[])),
    ]
}

/// Commands, flags and values that are not plume's.
fn usage_cases() -> Vec<Case> {
    let long = "9".repeat(100_000);
    vec![
        case(&["frobnicate"], 2, "unrecognized subcommand 'frobnicate'"),
        case(&["gen"], 2, "requires a subcommand"),
        case(&["gen", "sdqq", "-o", "x"], 2, "'sdqq'"),
        case(&["fpga", "vcu118", "feather", "-o", "x"], 2, "'vcu118'"),
        case(
            &["sim", "birrd", "--cycles", "0"],
            2,
            "--cycles must be at least 1",
        ),
        case(
            &["check", "birrd", "--cycles", "0"],
            2,
            "--cycles must be at least 1",
        ),
        case(&["sim", "birrd", "--cycles", "-1"], 2, "--cycles"),
        case(&["sim", "birrd", "--seed", "x"], 2, "--seed"),
        case(&["sim", "birrd", "--ports", &long], 2, "characters in all"),
        case(&["sim", "birrd", "--frob"], 2, "--frob"),
        case(&["birrd", "route", "--ports", "8"], 2, "--target"),
        case(&["feather", "run"], 2, "--gemm"),
        case(&["feather", "net"], 2, "NET"),
        case(&["feather", "net", "vgg16"], 2, "unknown network"),
        case(
            &["feather", "net", "mobilenetv3", "--layers", "0..3"],
            2,
            "mobilenetv3 has layers 1..62",
        ),
        case(
            &["feather", "net", "resnet50", "--layers", "50..60"],
            2,
            "resnet50 has layers 1..53",
        ),
        case(
            &["feather", "net", "resnet50", "--layers", "5..2"],
            2,
            "expected A..B",
        ),
        case(
            &["feather", "net", "resnet50", "--engine", "verilator"],
            2,
            "expected model, sim or board",
        ),
        case(
            &["feather", "net", "resnet50", "--stream", "im2col"],
            2,
            "expected auto, window or lowered",
        ),
        case(
            &[
                "feather",
                "net",
                "mobilenetv3",
                "--depths",
                "4,4,4",
                "--engine",
                "board",
                "--layers",
                "2..3",
            ],
            2,
            "layer 2: cannot be tiled into the buffers",
        ),
        case(
            &[
                "feather", "run", "--array", "8x8", "--depths", "4,4,4", "--gemm", "4,4096,4",
                "--tiled",
            ],
            2,
            "cannot be tiled into the buffers",
        ),
        case(
            &[
                "feather", "run", "--array", "8x8", "--gemm", "4,4,4", "--tiled", "--engine",
                "icarus",
            ],
            2,
            "--tiled runs on plume's simulator",
        ),
        case(
            &[
                "feather",
                "run",
                "--array",
                "8x8",
                "--gemm",
                "4,4,4",
                "--tiled",
                "--dram-bytes",
                "0",
            ],
            2,
            "DRAM bandwidth 0 bytes per cycle is out of range (1 to 1024)",
        ),
        case(
            &[
                "feather",
                "net",
                "resnet50",
                "--engine",
                "board",
                "--dram-latency",
                "200000",
            ],
            2,
            "DRAM latency 200000 cycles is out of range (0 to 100000)",
        ),
        case(
            &[
                "feather",
                "net",
                "resnet50",
                "--plot",
                "/nonexistent-plume-dir/x.svg",
            ],
            2,
            "directory /nonexistent-plume-dir does not exist",
        ),
        case(
            &[
                "feather", "net", "resnet50", "--engine", "sim", "--verify", "2",
            ],
            2,
            "--verify K belongs to --engine model",
        ),
        case(
            &[
                "feather",
                "run",
                "--gemm",
                "4,4,4",
                "--data",
                "/nonexistent-plume-dir",
            ],
            2,
            "cannot read data file",
        ),
        case(
            &["feather", "run", "--gemm", "4,4,4", "--dram-bytes", "2000"],
            2,
            "DRAM bandwidth 2000 bytes per cycle is out of range",
        ),
        case(
            &["feather", "net", "resnet50", "--array", "3x3"],
            2,
            "powers of two",
        ),
        case(&["demo", "--out"], 2, "--out"),
    ]
}

/// Configurations, targets and inputs of the BIRRD commands.
fn birrd_cases(work: &Path) -> Vec<Case> {
    let dir = work.display().to_string();
    let eval = |extra: &[&str]| -> Vec<String> {
        ["birrd", "eval", "--ports", "4", "--width", "8"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    let ok = "[[0,0],[0,0],[0,0]]";
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let mut cases = Vec::new();
    for (config, needle) in [
        ("[[0,0],[0,0]]", "configuration has 2 stages"),
        ("[[0,0,0],[0,0],[0,0]]", "stage 0 has 3 switches"),
        (
            "[[0,7],[0,0],[0,0]]",
            "stage 0 switch 1: unknown mode code 7",
        ),
        ("[[0,-1],[0,0],[0,0]]", "stage 0 switch 1"),
        ("[[0,1e99],[0,0],[0,0]]", "stage 0 switch 1"),
        ("[[0,0],[0,0],[0,0", "configuration is not valid JSON"),
        ("{\"a\":1}", "must be a JSON array"),
        ("[1,2,3]", "stage 0 is not an array"),
        ("", "configuration is not valid JSON"),
        (&deep, "configuration is not valid JSON"),
        ("@/dev/zero", "is larger than 64 MiB"),
        ("@/nonexistent/c.json", "cannot read configuration"),
        (&format!("@{dir}"), "cannot read configuration"),
    ] {
        cases.push(Case {
            args: eval(&["--config", config, "--inputs", "1,2,3,4"]),
            code: 2,
            needle: needle.to_string(),
        });
    }
    for (inputs, needle) in [
        ("1,2,3", "expected 4 inputs, got 3"),
        ("1,2,3,256", "input 3 = 256 does not fit in 8 bits"),
        ("1,2,x,4", "input 2 'x' is not an unsigned integer"),
        ("1,2,3,-4", "input 3 '-4' is not an unsigned integer"),
        (
            "1,2,3,99999999999999999999",
            "is not an unsigned integer below 2^64",
        ),
        ("", "is not an unsigned integer"),
    ] {
        cases.push(Case {
            args: eval(&["--config", ok, "--inputs", inputs]),
            code: 2,
            needle: needle.to_string(),
        });
    }
    cases.push(Case {
        args: eval(&["--config", ok, "--inputs", "1,2,3,4", "--engine", "spice"]),
        code: 2,
        needle: "unknown engine 'spice'".into(),
    });
    cases.push(Case {
        args: eval(&["--config", ok, "--inputs", "1,2,3,4", "--encoding", "hex"]),
        code: 2,
        needle: "unknown encoding 'hex'".into(),
    });
    let route = |target: &str| -> Vec<String> {
        ["birrd", "route", "--ports", "8", "--target", target]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    for (target, needle) in [
        (
            "{\"1\":[0,2],\"3\":[2]}",
            "input 2 is wanted by outputs 1 and 3",
        ),
        ("{\"1\":[0,0]}", "input 0 is listed twice for output 1"),
        ("{\"0\":[]}", "target output 0 lists no inputs"),
        ("{\"1\":[0],\"1\":[2]}", "key \"1\" appears twice"),
        ("{\"1\":[0,2", "target is not valid JSON"),
        ("[1,2]", "target must be a JSON object"),
        ("{\"x\":[0]}", "target output 'x' is not a port number"),
        ("{\"-1\":[0]}", "target output '-1' is not a port number"),
        ("{\"8\":[0]}", "output port 8 is out of range"),
        ("{\"1\":[8]}", "input port 8 (for output 1) is out of range"),
        ("{\"1\":[18446744073709551615]}", "is out of range"),
        ("{\"1\":[1.5]}", "input 1.5 is not a port number"),
        ("{\"1\":7}", "inputs must be an array"),
        ("@/dev/zero", "is larger than 64 MiB"),
    ] {
        cases.push(Case {
            args: route(target),
            code: 2,
            needle: needle.to_string(),
        });
    }
    cases.push(case(
        &["birrd", "route", "--ports", "12", "--target", "{}"],
        2,
        "ports must be a power of two",
    ));
    let export = |extra: &[&str]| -> Vec<String> {
        ["birrd", "export", "--ports", "4", "--config", ok]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    for (extra, needle) in [
        (
            &["--vectors", "18446744073709551615", "-o", "e"][..],
            "--vectors must be from 1 to",
        ),
        (
            &["--vectors", "0", "-o", "e"],
            "--vectors must be from 1 to",
        ),
        (&["-o", "/dev/null/e"], "/dev/null is not a directory"),
        (&["-o", "/proc/e"], "/proc is not writable"),
    ] {
        cases.push(Case {
            args: export(extra),
            code: 2,
            needle: needle.to_string(),
        });
    }
    // A package the board build of the same network would refuse (2,048-bit stream).
    let pass32 = format!(
        "[{}]",
        vec![format!("[{}]", vec!["0"; 16].join(",")); 10].join(",")
    );
    cases.push(case(
        &[
            "birrd", "export", "--ports", "32", "--width", "64", "--config", &pass32, "-o", "e",
        ],
        2,
        "the input stream is 2048 bits",
    ));
    for (out, needle) in [
        ("/", "it is a directory"),
        (".", "it is a directory"),
        ("/dev/null/x.svg", "/dev/null is not a directory"),
        ("/proc/x.svg", "/proc is not writable"),
    ] {
        cases.push(Case {
            args: ["birrd", "draw", "--ports", "4", "--config", ok, "-o", out]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            code: 2,
            needle: needle.to_string(),
        });
    }
    cases
}

/// Layer shapes, data files and outputs of the FEATHER commands.
fn feather_cases(work: &Path) -> Vec<Case> {
    let data = work.join("bad.json").display().to_string();
    let dup = work.join("dup.json").display().to_string();
    let mut cases = Vec::new();
    let run = |extra: &[&str]| -> Vec<String> {
        ["feather", "run", "--array", "4x4"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    for (extra, needle) in [
        (
            &["--gemm", "4,0,4"][..],
            "every dimension must be at least 1",
        ),
        (&["--gemm", "4,-1,4"], "not a non-negative integer"),
        (&["--gemm", "4,4"], "expected 3"),
        (
            &["--gemm", "1000000,1000000,1000000"],
            "would hold 1000000×1000000 elements",
        ),
        (
            &["--gemm", "18446744073709551615,1,1"],
            "is larger than 1048576",
        ),
        (&["--gemm", "4096,4096,4096"], "buffer lines"),
        (&["--conv", "1,3,4,4,8,7,7,1,0"], "does not fit"),
        (&["--conv", "1,1,1,1,1,1,1,0,0"], "must be at least 1"),
        (
            &["--conv", "1,1,1,1,1,1,1,1,18446744073709551615"],
            "is larger than",
        ),
        (
            &["--conv", "1024,1024,1024,1024,1,1,1,1,0"],
            "would hold 1024×1024×1024×1024 elements",
        ),
        (
            &["--gemm", "4,4,4", "--layout", "HWC_Q16"],
            "unknown layout",
        ),
        (&["--gemm", "4,4,4", "--dataflow", "os"], "unknown dataflow"),
        (&["--gemm", "4,4,4", "--stream", "im2col"], "unknown stream"),
        (
            &["--gemm", "4,4,4", "--stream", "window"],
            "only convolutions have windows",
        ),
        (
            &[
                "--conv",
                "1,4,5,5,4,3,3,1,1",
                "--stream",
                "window",
                "--dataflow",
                "is",
            ],
            "only the weights-stationary dataflow streams windows",
        ),
        (
            &["--gemm", "8,8,8", "--stream", "window", "--tiled"],
            "only convolutions have windows",
        ),
        (
            &[
                "--conv",
                "1,4,5,5,4,3,3,1,1",
                "--stream",
                "window",
                "--tiled",
                "--dataflow",
                "is",
            ],
            "only the weights-stationary dataflow streams windows",
        ),
        (
            &[
                "--conv",
                "1,64,9,9,4,3,3,1,1",
                "--stream",
                "window",
                "--tiled",
                "--depths",
                "16,1024,1024",
            ],
            "cannot be tiled into the buffers",
        ),
        (
            &["--conv", "1,4,5,5,4,3,3,1,1,0"],
            "DILATION must be at least 1",
        ),
        (
            &["--conv", "1,4,5,5,4,3,3,1,0,3"],
            "(dilation 3) does not fit the 5x5 input",
        ),
        (
            &["--conv", "1,4,5,5,4,3,3,300,1", "--stream", "window"],
            "stride and padding must be at most 255",
        ),
        (&["--gemm", "4,4,4", "--engine", "spice"], "unknown engine"),
        (
            &["--gemm", "2,2,2", "--data", &data],
            "\"a\" has 3 elements, the layer needs 4",
        ),
        (
            &["--gemm", "2,2,2", "--data", &dup],
            "key \"a\" appears twice",
        ),
        (
            &["--gemm", "2,2,2", "--data", "/dev/zero"],
            "is larger than 64 MiB",
        ),
        (
            &["--gemm", "2,2,2", "--data", "/nonexistent"],
            "cannot read data file",
        ),
        (&["--gemm", "4,4,4", "--vcd", "/"], "it is a directory"),
        (
            &["--gemm", "4,4,4", "--vcd", "/dev/null/w.vcd"],
            "is not a directory",
        ),
        (
            &["--gemm", "4,4,4", "--vcd", "/proc/x/w.vcd"],
            "directory /proc/x does not exist",
        ),
        (
            &["--gemm", "4,4,4", "--vcd", "/proc/w.vcd"],
            "/proc is not writable",
        ),
    ] {
        cases.push(Case {
            args: run(extra),
            code: 2,
            needle: needle.to_string(),
        });
    }
    let export = |extra: &[&str]| -> Vec<String> {
        ["feather", "export", "--array", "4x4"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    for (extra, needle) in [
        (
            &["--gemm", "16,8192,16", "--depths", "2,2,2", "-o", "e"][..],
            "nor can it be tiled: cannot be tiled into the buffers",
        ),
        (
            &["--gemm", "4,4,4", "-o", "/dev/null/e"],
            "is not a directory",
        ),
        (
            &["--gemm", "4,4,4", "-o", "/proc/e"],
            "/proc is not writable",
        ),
        (
            &["--gemm", "4,4,4", "-o", "bad.json"],
            "exists and is not a directory",
        ),
    ] {
        cases.push(Case {
            args: export(extra),
            code: 2,
            needle: needle.to_string(),
        });
    }
    cases.push(case(
        &[
            "feather", "switch", "--array", "4x4", "--gemm", "8,8,8", "--n2", "0",
        ],
        2,
        "--n2 must be at least 1",
    ));
    cases
}

/// The RF emulator: scenarios that are not TOML, not physical or not emulatable; recordings
/// that are not SigMF plume reads; sizes; outputs.
fn rfemu_cases(work: &Path) -> Vec<Case> {
    let head = "carrier_hz = 1e9\nsample_rate_hz = 100e6\n";
    let tx = "[[nodes]]\nname = \"t\"\nrole = \"tx\"\nposition = [0.0, 0.0, 0.0]\n";
    let rx = "[[nodes]]\nname = \"r\"\nrole = \"rx\"\nposition = [3000.0, 0.0, 0.0]\n";
    let scenarios = [
        ("s_syntax.toml", "carrier_hz = [".to_string(), "line 1"),
        (
            "s_unknown.toml",
            format!("{head}frobs = 3\n{tx}{rx}"),
            "unknown field `frobs`",
        ),
        ("s_empty.toml", String::new(), "missing field `carrier_hz`"),
        (
            "s_inf.toml",
            format!("carrier_hz = inf\nsample_rate_hz = 100e6\n{tx}{rx}"),
            "carrier_hz must be a finite number above zero",
        ),
        (
            "s_taps.toml",
            format!("{head}[emulator]\ntaps = 3\n{tx}{rx}"),
            "emulator.taps",
        ),
        (
            "s_dup.toml",
            format!("{head}{tx}{tx}{rx}"),
            "node name \"t\" is used twice",
        ),
        (
            "s_near.toml",
            format!("{head}{tx}[[nodes]]\nname = \"r\"\nrole = \"rx\"\nposition = [1.0, 0.0, 0.0]\n"),
            "shortest range it can emulate",
        ),
        (
            "s_fast.toml",
            format!("{head}{tx}[[nodes]]\nname = \"r\"\nrole = \"rx\"\nposition = [3000.0, 0.0, 0.0]\nvelocity = [4e8, 0.0, 0.0]\n"),
            "not slower than light",
        ),
    ];
    let mut cases = Vec::new();
    for (file, body, needle) in &scenarios {
        std::fs::write(work.join(file), body).unwrap();
        cases.push(case(&["rfemu", "plan", "--scenario", file], 2, needle));
        cases.push(case(
            &["rfemu", "run", "--scenario", file, "-o", "r"],
            2,
            needle,
        ));
    }
    std::fs::write(
        work.join("ok.toml"),
        format!("{head}duration_s = 1e-3\n{tx}{rx}"),
    )
    .unwrap();
    // Recordings: at the wrong rate, of a type plume does not read, ragged, without data,
    // holding a NaN.
    let meta = |rate: &str, dt: &str| {
        format!("{{\"global\":{{\"core:datatype\":\"{dt}\",\"core:sample_rate\":{rate},\"core:version\":\"1.0.0\"}},\"captures\":[],\"annotations\":[]}}")
    };
    let recs: [(&str, String, Option<Vec<u8>>, &str); 6] = [
        (
            "rate",
            meta("1e6", "ci16_le"),
            Some(vec![0; 8]),
            "recorded at 1000000 S/s",
        ),
        (
            "type",
            meta("100e6", "ri8"),
            Some(vec![0; 8]),
            "is not one plume reads",
        ),
        (
            "ragged",
            meta("100e6", "ci16_le"),
            Some(vec![0; 7]),
            "not a whole number",
        ),
        (
            "nodata",
            meta("100e6", "ci16_le"),
            None,
            "cannot read SigMF data",
        ),
        (
            "nan",
            meta("100e6", "cf32_le"),
            Some([f32::NAN.to_le_bytes(), 0f32.to_le_bytes()].concat()),
            "sample 0 is not a finite number",
        ),
        (
            "nometa",
            "[1,2]".into(),
            Some(vec![]),
            "no \"global\" object",
        ),
    ];
    for (name, m, data, needle) in recs {
        std::fs::write(work.join(format!("{name}.sigmf-meta")), m).unwrap();
        if let Some(d) = data {
            std::fs::write(work.join(format!("{name}.sigmf-data")), d).unwrap();
        }
        let input = format!("{name}.sigmf-meta");
        cases.push(case(
            &[
                "rfemu",
                "run",
                "--scenario",
                "ok.toml",
                "--samples",
                "100",
                "--input",
                &input,
                "-o",
                "r",
            ],
            2,
            needle,
        ));
    }
    let run = |extra: &[&str]| -> Vec<String> {
        ["rfemu", "run", "--scenario", "ok.toml"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    for (extra, needle) in [
        (
            &["--samples", "0", "-o", "r"][..],
            "--samples must be from 1",
        ),
        (
            &["--samples", "18446744073709551615", "-o", "r"],
            "--samples must be from 1",
        ),
        (
            &["--samples", "200000", "-o", "r"],
            "the scenario is planned for duration_s",
        ),
        (
            &["--bounces", "99", "-o", "r"],
            "--bounces must be from 0 to 6",
        ),
        (&["--engine", "spice", "-o", "r"], "unknown engine"),
        (
            &[
                "--engine",
                "golden",
                "--input",
                "rate.sigmf-meta",
                "-o",
                "r",
            ],
            "needs an analytic input",
        ),
        (
            &["--input", "/dev/zero", "-o", "r"],
            "is larger than 64 MiB",
        ),
        (
            &["--input", "missing.sigmf-meta", "-o", "r"],
            "cannot read SigMF metadata",
        ),
        (&["-o", "/dev/null/r"], "is not a directory"),
        (&["-o", "/proc/r"], "/proc is not writable"),
        (&["-o", "bad.json"], "exists and is not a directory"),
    ] {
        cases.push(Case {
            args: run(extra),
            code: 2,
            needle: needle.to_string(),
        });
    }
    for (out, needle) in [
        ("p.jpg", "written as .png or .svg"),
        ("/", "it is a directory"),
        ("/proc/p.png", "/proc is not writable"),
        ("nodir/p.png", "directory nodir does not exist"),
    ] {
        cases.push(case(
            &[
                "rfemu",
                "plot",
                "--scenario",
                "ok.toml",
                "--samples",
                "1000",
                "-o",
                out,
            ],
            2,
            needle,
        ));
    }
    for (scen, needle) in [
        ("missing.toml", "cannot read scenario"),
        ("/dev/zero", "is larger than 64 MiB"),
        (".", "cannot read scenario .: Is a directory"),
    ] {
        cases.push(case(&["rfemu", "plan", "--scenario", scen], 2, needle));
    }
    cases.push(case(
        &["rfemu", "ops", "--taps", "3"],
        2,
        "--taps must be 1, 2, 4 or 8",
    ));
    cases
}

/// The FRED router: flows that are not JSON, not flows, overlapping, out of range, huge.
fn fred_cases() -> Vec<Case> {
    let ok = r#"[{"ins":[0,1],"outs":[0,1]}]"#;
    let mut cases = Vec::new();
    for (flows, needle) in [
        ("[", "flows"),
        ("[1]", "flow 0 is not an object"),
        (r#"[{"ins":[0]}]"#, "flow 0 has no outs array"),
        (
            r#"[{"ins":[0],"outs":[1],"ins":[2]}]"#,
            "key \"ins\" appears twice",
        ),
        (
            r#"[{"ins":[0],"outs":[99999999999]}]"#,
            "is not a port number",
        ),
        (r#"[{"ins":[0],"outs":[8]}]"#, "out of range"),
        (
            r#"[{"ins":[0],"outs":[1]},{"ins":[2],"outs":[1]}]"#,
            "output port 1 is in flow 0 and flow 1",
        ),
        (r#"[{"ins":[3,3],"outs":[1]}]"#, "lists input port 3 twice"),
        ("@/dev/zero", "is larger than 64 MiB"),
        ("@missing.json", "cannot read flows"),
    ] {
        cases.push(case(
            &["fred", "route", "--ports", "8", "--flows", flows],
            2,
            needle,
        ));
    }
    for (flags, needle) in [
        (&["--ports", "1"][..], "ports must be from 2 to 256"),
        (&["--ports", "300"], "ports must be from 2 to 256"),
        (&["--m", "1"], "must be 2 or 3"),
        (&["--ports", "-8"], "'-8'"),
        (&["--timeout-ms", "x"], "--timeout-ms"),
    ] {
        let mut args = vec!["fred", "route", "--flows", ok];
        args.extend_from_slice(flags);
        cases.push(case(&args, 2, needle));
    }
    for (out, needle) in [
        ("/", "it is a directory"),
        ("/proc/f.svg", "/proc is not writable"),
        ("nodir/f.svg", "directory nodir does not exist"),
    ] {
        cases.push(case(
            &["fred", "draw", "--ports", "4", "--flows", ok, "-o", out],
            2,
            needle,
        ));
    }
    let sim = [
        "fred",
        "sim",
        "--fabric",
        "mesh",
        "--collective",
        "allreduce",
    ];
    for (flags, needle) in [
        (&["--bytes", "0"][..], "must be from 1 byte to 16 GiB"),
        (&["--bytes", "17GiB"], "must be from 1 byte to 16 GiB"),
        (&["--bytes", "99999999999999999999"], "must be from 1 byte"),
        (&["--bytes", "4 TiB"], "unknown unit \"TiB\""),
        (&["--bytes", "-5"], "expected a whole number of bytes"),
        (&["--bytes", "GiB"], "expected a whole number of bytes"),
        (&["--bytes", "1GiB", "--verify"], "at most 16 MiB per NPU"),
        (
            &["--bytes", "1MiB", "--group", "tp"],
            "unknown group \"tp\"",
        ),
        (
            &["--bytes", "1MiB", "--group", "dp", "--mp", "3"],
            "MP(3) × PP(2) must divide the 20 NPUs",
        ),
        (
            &["--bytes", "1MiB", "--group", "mp", "--mp", "1"],
            "groups of one NPU",
        ),
        (
            &["--bytes", "1MiB", "--npus", "1"],
            "npus must be from 2 to 1024",
        ),
        (
            &["--bytes", "1MiB", "--npus", "4096"],
            "npus must be from 2 to 1024",
        ),
        (
            &["--bytes", "1MiB", "--packet", "0"],
            "packet must be at least 1 byte",
        ),
        (&["--bytes", "1MiB", "--link-ns", "-1"], "link latency"),
        (&["--bytes", "1MiB", "--link-ns", "NaN"], "link latency"),
        (&["--bytes", "8"], "cannot be split into 40 chunks"),
        (
            &["--bytes", "1MiB", "--algo", "tree"],
            "unknown algorithm \"tree\"",
        ),
        (
            &["--bytes", "1MiB", "--algo", "2d", "--group", "dp"],
            "--algo 2d is the mesh's whole-wafer All-Reduce",
        ),
        (
            &["--bytes", "1MiB", "--svg", "/proc/h.svg"],
            "/proc is not writable",
        ),
        (
            &["--bytes", "1MiB", "--svg", "nodir/h.svg"],
            "directory nodir does not exist",
        ),
        (
            &["--bytes", "1MiB", "--et", "/proc/et"],
            "/proc is not writable",
        ),
    ] {
        let mut args = sim.to_vec();
        args.extend_from_slice(flags);
        cases.push(case(&args, 2, needle));
    }
    cases.push(case(
        &[
            "fred",
            "sim",
            "--fabric",
            "torus",
            "--collective",
            "allreduce",
            "--bytes",
            "1MiB",
        ],
        2,
        "unknown fabric \"torus\"",
    ));
    cases.push(case(
        &[
            "fred",
            "sim",
            "--fabric",
            "mesh",
            "--collective",
            "gather",
            "--bytes",
            "1MiB",
        ],
        2,
        "unknown collective \"gather\"",
    ));
    cases.push(case(
        &[
            "fred",
            "sim",
            "--fabric",
            "fred-c",
            "--collective",
            "allreduce",
            "--bytes",
            "1MiB",
            "--npus",
            "6",
        ],
        2,
        "a multiple of 4 NPUs (at least two L1 switches)",
    ));
    let ar = r#"[{"flows":[{"ins":[0,1],"outs":[0,1]}],"flits":4}]"#;
    for (traffic, flags, needle) in [
        ("[]", &[][..], "traffic must be a non-empty JSON array"),
        ("{}", &[], "traffic must be a non-empty JSON array"),
        (
            r#"[{"flows":[]}]"#,
            &[],
            "run 0: flits must be a whole number",
        ),
        (
            r#"[{"flows":[],"flits":-1}]"#,
            &[],
            "run 0: flits must be a whole number",
        ),
        (r#"[{"flits":3}]"#, &[], "run 0 has no flows"),
        (
            r#"[{"flows":[],"flits":3,"x":1}]"#,
            &[],
            "run 0: unknown field \"x\"",
        ),
        (
            r#"[{"flows":[{"ins":[0],"outs":[9]}],"flits":1}]"#,
            &[],
            "run 0: flow 0: output port 9 is out of range",
        ),
        (
            r#"[{"flows":[{"ins":[0],"outs":[1]},{"ins":[1],"outs":[1]}],"flits":1}]"#,
            &[],
            "run 0: output port 1 is in flow 0 and flow 1",
        ),
        (
            r#"[{"flows":[{"ins":[0],"outs":[1]}],"flits":0}]"#,
            &[],
            "run 0: flits must be at least 1",
        ),
        (
            r#"[{"flows":[{"ins":[0],"outs":[1]}],"flits":99999999999}]"#,
            &[],
            "at most 16777216 flits",
        ),
        (
            r#"[{"flows":[{"ins":[0],"outs":[1]}],"flits":1},{"flows":[{"ins":[1],"outs":[1]}],"flits":1}]"#,
            &["--phases", "1"],
            "the traffic uses 2 different phases; the switch holds 1",
        ),
        (ar, &["--ports", "128"], "at most 64 ports"),
        (ar, &["--depth", "5"], "power of two"),
        ("@/dev/zero", &[], "is larger than 64 MiB"),
    ] {
        let mut args = vec!["fred", "export", "--traffic", traffic, "-o", "pkg"];
        args.extend_from_slice(flags);
        cases.push(case(&args, 2, needle));
    }
    cases.push(case(
        &["fred", "export", "--traffic", ar, "-o", "/proc/pkg"],
        2,
        "/proc is not writable",
    ));
    cases.push(case(
        &[
            "fred",
            "export",
            "--m",
            "2",
            "--traffic",
            r#"[{"flows":[{"ins":[0,2],"outs":[0]},{"ins":[1,4],"outs":[2]},{"ins":[3,5],"outs":[1]}],"flits":1}]"#,
            "-o",
            "pkg",
        ],
        3,
        "phase 0: routing conflict: flows 0, 1, 2",
    ));
    cases.push(case(
        &[
            "fred",
            "route",
            "--ports",
            "8",
            "--m",
            "2",
            "--flows",
            r#"[{"ins":[0,2],"outs":[0]},{"ins":[1,4],"outs":[2]},{"ins":[3,5],"outs":[1]}]"#,
        ],
        3,
        "routing conflict: flows 0, 1, 2",
    ));
    cases
}

/// Chakra traces and MSCCL algorithms: unreadable, malformed, truncated, inconsistent.
fn chakra_cases(work: &Path) -> Vec<Case> {
    let step = |ty: &str| {
        format!("<step s=\"0\" type=\"{ty}\" srcbuf=\"o\" srcoff=\"0\" dstbuf=\"o\" dstoff=\"0\" cnt=\"1\" depid=\"-1\" deps=\"-1\" hasdep=\"0\"/>")
    };
    let algo = |gpu1: &str| {
        format!(
            "<algo name=\"a\" ngpus=\"2\" coll=\"allgather\" inplace=\"1\">\
             <gpu id=\"0\" i_chunks=\"0\" o_chunks=\"2\" s_chunks=\"0\"><tb id=\"0\" send=\"1\" recv=\"-1\" chan=\"0\">{}</tb></gpu>\
             {gpu1}</algo>",
            step("s")
        )
    };
    let gpu1 = |body: &str| {
        format!("<gpu id=\"1\" i_chunks=\"0\" o_chunks=\"2\" s_chunks=\"0\">{body}</gpu>")
    };
    let xmls = [
        ("x_not.xml", "<algo".to_string(), "not XML"),
        ("x_root.xml", "<foo/>".to_string(), "not MSCCL-IR's <algo>"),
        (
            "x_gpus.xml",
            "<algo ngpus=\"3\"/>".to_string(),
            "ngpus is 3 but there are 0 <gpu> elements",
        ),
        (
            "x_one.xml",
            "<algo ngpus=\"1\"/>".to_string(),
            "ngpus must be from 2",
        ),
        (
            "x_cpy.xml",
            algo(&gpu1(&format!(
                "<tb id=\"0\" send=\"-1\" recv=\"0\" chan=\"0\">{}</tb>",
                step("cpy")
            ))),
            "step type \"cpy\" is not supported",
        ),
        (
            "x_peer.xml",
            algo(&gpu1(&format!(
                "<tb id=\"0\" send=\"-1\" recv=\"-1\" chan=\"0\">{}</tb>",
                step("r")
            ))),
            "whose recv peer is -1",
        ),
        (
            "x_attr.xml",
            algo(&gpu1("<tb id=\"0\" send=\"-1\" recv=\"0\"></tb>")),
            "<tb> at line 1 has no chan attribute",
        ),
        (
            "x_off.xml",
            algo(&gpu1(&format!(
                "<tb id=\"0\" send=\"-1\" recv=\"0\" chan=\"0\">{}</tb>",
                step("r").replace("dstoff=\"0\"", "dstoff=\"9\"")
            ))),
            "outside the rank's buffers",
        ),
    ];
    let mut cases = Vec::new();
    for (file, body, needle) in &xmls {
        std::fs::write(work.join(file), body).unwrap();
        cases.push(case(
            &["chakra", "convert", file, "--bytes", "1MiB", "-o", "et"],
            2,
            needle,
        ));
    }
    std::fs::write(
        work.join("ok.xml"),
        algo(&gpu1(&format!(
            "<tb id=\"0\" send=\"-1\" recv=\"0\" chan=\"0\">{}</tb>",
            step("r")
        ))),
    )
    .unwrap();
    for (flags, needle) in [
        (
            &["missing.xml", "--bytes", "1MiB", "-o", "et"][..],
            "cannot read MSCCL algorithm",
        ),
        (
            &["ok.xml", "--bytes", "1", "-o", "et"],
            "cannot be split into the 2 chunks",
        ),
        (
            &["ok.xml", "--bytes", "1MiB", "--prefix", "a/b", "-o", "et"],
            "use letters, digits",
        ),
        (
            &["ok.xml", "--bytes", "1MiB", "-o", "/proc/et"],
            "/proc is not writable",
        ),
    ] {
        let mut args = vec!["chakra", "convert"];
        args.extend_from_slice(flags);
        cases.push(case(&args, 2, needle));
    }
    // Trace directories: none, truncated, two prefixes, a gap, garbage.
    let dirs: [(&str, &[(&str, &[u8])], &str); 5] = [
        ("t_empty", &[], "found none"),
        (
            "t_two",
            &[("a.0.et", b"\x00"), ("b.0.et", b"\x00")],
            "found prefixes",
        ),
        (
            "t_gap",
            &[("a.0.et", b"\x00"), ("a.2.et", b"\x00")],
            "without gaps",
        ),
        (
            "t_junk",
            &[("a.0.et", b"\xff\xff\xff"), ("a.1.et", b"\x00")],
            "a.0.et: the GlobalMetadata does not decode",
        ),
        (
            "t_cut",
            &[("a.0.et", b"\x00\x09\x08\x01"), ("a.1.et", b"\x00")],
            "a.0.et: node 0 at byte 1 does not decode",
        ),
    ];
    for (dir, files, needle) in dirs {
        let d = work.join(dir);
        std::fs::create_dir_all(&d).unwrap();
        for (name, bytes) in files {
            std::fs::write(d.join(name), bytes).unwrap();
        }
        cases.push(case(&["chakra", "run", dir, "--fabric", "mesh"], 2, needle));
    }
    cases.push(case(
        &["chakra", "run", "missing", "--fabric", "mesh"],
        2,
        "cannot read the directory",
    ));
    cases.push(case(
        &["chakra", "run", "t_empty", "--fabric", "ring"],
        2,
        "unknown fabric \"ring\"",
    ));
    cases
}

/// `plume sdq quantize`: unreadable, truncated or lying safetensors files, impossible N:M
/// settings, unknown formats, missing tensors.
fn sdq_cases(work: &Path) -> Vec<Case> {
    let data: Vec<u8> = (0..8 * 16)
        .flat_map(|i| (i as f32 * 0.01).to_le_bytes())
        .collect();
    let header = r#"{"a.weight":{"dtype":"F32","shape":[8,16],"data_offsets":[0,512]}}"#;
    let good: Vec<u8> = [
        &(header.len() as u64).to_le_bytes()[..],
        header.as_bytes(),
        &data,
    ]
    .concat();
    std::fs::write(work.join("ok.safetensors"), &good).unwrap();
    std::fs::write(work.join("cut.safetensors"), &good[..good.len() - 10]).unwrap();
    std::fs::write(
        work.join("junk.safetensors"),
        b"not a safetensors file at all",
    )
    .unwrap();
    let lying: Vec<u8> = [&(1u64 << 40).to_le_bytes()[..], header.as_bytes()].concat();
    std::fs::write(work.join("lying.safetensors"), &lying).unwrap();
    let odd = r#"{"b.weight":{"dtype":"F32","shape":[8,12],"data_offsets":[0,384]}}"#;
    let oddf: Vec<u8> = [
        &(odd.len() as u64).to_le_bytes()[..],
        odd.as_bytes(),
        &data[..384],
    ]
    .concat();
    std::fs::write(work.join("odd.safetensors"), &oddf).unwrap();
    let mut cases = Vec::new();
    for (flags, needle) in [
        (
            &["--safetensors", "missing.safetensors"][..],
            "cannot read safetensors",
        ),
        (
            &["--safetensors", "cut.safetensors"],
            "not a valid safetensors file",
        ),
        (
            &["--safetensors", "junk.safetensors"],
            "not a valid safetensors file",
        ),
        (
            &["--safetensors", "lying.safetensors"],
            "not a valid safetensors file",
        ),
        (
            &["--safetensors", "odd.safetensors"],
            "no 2-D tensor named *.weight whose rows split into groups of 8",
        ),
        (
            &["--safetensors", "ok.safetensors", "--n", "9"],
            "N (kept per group) must be from 1 to M = 8, got 9",
        ),
        (
            &["--safetensors", "ok.safetensors", "--outliers", "8"],
            "outliers per group must be at most N = 7",
        ),
        (
            &["--safetensors", "ok.safetensors", "--m", "0"],
            "group size M must be from 1 to 64",
        ),
        (
            &["--safetensors", "ok.safetensors", "--inlier-format", "fp3"],
            "unknown number format \"fp3\"",
        ),
        (
            &[
                "--safetensors",
                "ok.safetensors",
                "--outlier-format",
                "e8m0",
            ],
            "e8m0 is a scale format",
        ),
        (
            &["--safetensors", "ok.safetensors", "--block", "0"],
            "MX block must be from 1 to 1024",
        ),
        (
            &["--safetensors", "ok.safetensors", "--tensor", "nope"],
            "tensor \"nope\" is not in",
        ),
    ] {
        let mut args = vec!["sdq", "quantize", "-o", "q"];
        args.extend_from_slice(flags);
        cases.push(case(&args, 2, needle));
    }
    cases.push(case(
        &[
            "sdq",
            "quantize",
            "--safetensors",
            "ok.safetensors",
            "-o",
            "/proc/q",
        ],
        2,
        "/proc is not writable",
    ));
    for (flags, needle) in [
        (
            &["--gemm", "4,64"][..],
            "expected M,K,N, three positive integers",
        ),
        (&["--gemm", "4,0,8"], "expected M,K,N"),
        (
            &["--gemm", "4,60,8"],
            "is not a whole number of 8-position chunks",
        ),
        (
            &["--gemm", "4,8192,8"],
            "the weight buffers hold 128 (--depth)",
        ),
        (
            &["--gemm", "4096,65536,4096", "--depth", "65536"],
            "MACs; plume sdq run takes up to",
        ),
        (&["--engine", "fpga"], "unknown engine \"fpga\""),
        (&["--acc-bits", "99"], "accumulator width must be from"),
        (
            &["--m", "8", "--n", "0"],
            "N (kept per group) must be from 1",
        ),
        (&["--export", "/proc/sdq"], "/proc is not writable"),
        (&["--vcd", "/"], "it is a directory"),
        (
            &["--units", "64", "--export", "x"],
            "the output stream is 2240 bits; the AXI DMA takes at most 1024",
        ),
    ] {
        let mut args = vec!["sdq", "run"];
        args.extend_from_slice(flags);
        cases.push(case(&args, 2, needle));
    }
    // The encoder report and embeddings: a model directory that is not one.
    std::fs::create_dir_all(work.join("bert")).unwrap();
    std::fs::copy(
        work.join("ok.safetensors"),
        work.join("bert/model.safetensors"),
    )
    .unwrap();
    std::fs::write(
        work.join("bert/tokenizer.json"),
        "{\"model\": {\"type\": \"BPE\"}}",
    )
    .unwrap();
    for (args, needle) in [
        (
            &["sdq", "report", "--model", "nowhere", "-o", "r"][..],
            "cannot read nowhere/model.safetensors",
        ),
        (
            &["sdq", "report", "--model", "bert", "-o", "r"],
            "plume reads WordPiece (BERT) tokenizers",
        ),
        (
            &["sdq", "report", "--model", "bert", "--n", "9", "-o", "r"],
            "N (kept per group) must be from 1 to M = 8",
        ),
        (
            &["sdq", "report", "--model", "bert", "-o", "/proc/r"],
            "/proc is not writable",
        ),
        (
            &["sdq", "embed", "--model", "nowhere"],
            "cannot read nowhere/model.safetensors",
        ),
        (
            &["sdq", "embed", "--model", "bert"],
            "plume reads WordPiece (BERT) tokenizers",
        ),
    ] {
        cases.push(case(args, 2, needle));
    }
    cases
}

/// Board builds: clock, fit, stream widths, and directories that are not plume's.
fn board_cases() -> Vec<Case> {
    vec![
        case(
            &[
                "fpga", "zcu104", "feather", "--array", "4x4", "--mhz", "900", "-o", "b",
            ],
            2,
            "outside the 10–400 MHz",
        ),
        case(
            &[
                "fpga", "zcu104", "feather", "--array", "4x4", "--mhz", "NaN", "-o", "b",
            ],
            2,
            "outside the 10–400 MHz",
        ),
        case(
            &[
                "fpga", "zcu104", "birrd", "--ports", "64", "--yosys", "-o", "b",
            ],
            2,
            "the input stream is 2048 bits",
        ),
        case(
            &["fpga", "zcu104", "feather", "--array", "64x64", "-o", "b"],
            2,
            "does not fit the XCZU7EV",
        ),
        case(
            &["fpga", "zcu104", "feather", "--core", "-o", "b"],
            2,
            "drop --core",
        ),
        case(
            &["fpga", "zcu104", "fir", "-o", "fake"],
            2,
            "is not a plume build",
        ),
        case(
            &["fpga", "zcu104", "fir", "-o", "/dev/null"],
            2,
            "exists and is not a directory",
        ),
        case(&["gen", "fir", "-o", "fake"], 2, "exists and is not empty"),
    ]
}

#[test]
fn every_command_refuses_hostile_input_cleanly() {
    let t = TempDir::new("campaign").unwrap();
    let work = t.path().join("work");
    let tmp = t.path().join("tmp");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(work.join("bad.json"), r#"{"a":[1,2,3],"b":[1,2,3,4]}"#).unwrap();
    std::fs::write(
        work.join("dup.json"),
        r#"{"a":[1,2,3,4],"a":[1,2,3,4],"b":[1,2,3,4]}"#,
    )
    .unwrap();
    // A directory that merely claims to be a build (the files it lists are not there), with a
    // file of the user's in it.
    let fake = work.join("fake");
    std::fs::create_dir(&fake).unwrap();
    std::fs::write(
        fake.join("plume.json"),
        r#"{"plume_build":"zcu104","part":"xczu7ev-ffvc1156-2-e","files":["rtl/a.v"]}"#,
    )
    .unwrap();
    std::fs::write(fake.join("notes.txt"), "mine").unwrap();

    let mut cases = usage_cases();
    for (design, bad) in DESIGNS {
        for (verb, extra) in verbs("out") {
            for (flags, needle) in bad.iter() {
                let args: Vec<String> = verb
                    .iter()
                    .cloned()
                    .chain([design.to_string()])
                    .chain(flags.iter().map(|s| s.to_string()))
                    .chain(extra.iter().cloned())
                    .collect();
                cases.push(Case {
                    args,
                    code: 2,
                    needle: needle.to_string(),
                });
            }
        }
    }
    cases.extend(birrd_cases(&work));
    cases.extend(feather_cases(&work));
    cases.extend(rfemu_cases(&work));
    cases.extend(fred_cases());
    cases.extend(chakra_cases(&work));
    cases.extend(sdq_cases(&work));
    cases.extend(board_cases());
    let n = check_all(&cases, &work, &tmp);
    eprintln!("{n} hostile invocations refused cleanly");
    assert!(n >= 600, "{n} cases");
}

/// A closed standard output ends a command quietly; a full one is one line and exit 1.
#[test]
fn output_that_cannot_be_written_ends_cleanly() {
    // Broken pipe: the reader goes away after the first bytes.
    let mut child = Command::new(env!("CARGO_BIN_EXE_plume"))
        .args(["feather", "net", "resnet50", "--array", "16x16"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    use std::io::Read;
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.is_empty(), "{err}");
    assert!(o.status.code() != Some(101), "no panic");
    // A full disk behind standard output.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_plume"))
        .args(["feather", "net", "resnet50", "--array", "16x16"])
        .stdout(full)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim(),
        "plume: cannot write to standard output: No space left on device (os error 28)"
    );
}

/// Outputs that are special files are written in place, never renamed over; `-` is standard
/// output.
#[test]
fn special_files_and_standard_output_are_written_in_place() {
    let t = TempDir::new("special").unwrap();
    let fifo = t.path().join("svg.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads the NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let reader = {
        let f = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(f).unwrap())
    };
    let config = "[[0,0],[0,0],[0,0]]";
    let o = common::plume(&[
        "birrd",
        "draw",
        "--ports",
        "4",
        "--config",
        config,
        "-o",
        fifo.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(reader.join().unwrap().starts_with("<svg"));
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    let o = common::plume(&[
        "birrd", "draw", "--ports", "4", "--config", config, "-o", "-",
    ]);
    assert!(o.status.success());
    assert!(common::stdout(&o).starts_with("<svg"));
    let o = common::plume(&[
        "sim",
        "birrd",
        "--ports",
        "4",
        "--cycles",
        "20",
        "--vcd",
        "/dev/null",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
}

/// SIGINT or SIGTERM in the middle of a write leaves neither the output nor staging or
/// scratch files; staging a killed process left behind is swept by the next write.
#[test]
fn interrupted_runs_leave_nothing_behind() {
    let t = TempDir::new("interrupt").unwrap();
    let work = t.path().join("work");
    let tmp = t.path().join("tmp");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    for (sig, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_plume"))
            .args([
                "sim",
                "birrd",
                "--ports",
                "64",
                "--cycles",
                "100000000",
                "--vcd",
                "w.vcd",
            ])
            .current_dir(&work)
            .env("TMPDIR", &tmp)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the waveform is being staged.
        let t0 = Instant::now();
        while snapshot(&work).is_empty() {
            assert!(t0.elapsed() < Duration::from_secs(30), "no staging file");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: signals our own child.
        unsafe { libc::kill(child.id() as libc::pid_t, sig) };
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code));
        assert!(snapshot(&work).is_empty(), "{:?}", snapshot(&work));
        assert!(snapshot(&tmp).is_empty(), "{:?}", snapshot(&tmp));
    }
    // A staging directory of a process that died without cleaning up (SIGKILL).
    let stale = work.join(".b4.plume-partial-999999999");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("half.v"), "module").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_plume"))
        .args(["gen", "birrd", "--ports", "4", "-o", "b4"])
        .current_dir(&work)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(!stale.exists(), "stale staging swept");
    assert!(work.join("b4/manifest.json").is_file());
}

/// The layer the old read-back wait was too short for (1,024 lines) exports.
#[test]
fn a_layer_with_a_long_read_back_exports() {
    let t = TempDir::new("export-long").unwrap();
    let out = t.path().join("e");
    let o = common::plume(&[
        "feather",
        "export",
        "--array",
        "4x4",
        "--gemm",
        "32,4,128",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(out.join("layer.json").is_file());
}
