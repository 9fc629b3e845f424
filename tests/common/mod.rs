//! Helpers shared by the integration tests.
#![allow(dead_code)]

use proptest::test_runner::{Config, RngSeed};
use std::process::{Command, Output};

/// Property tests run a fixed number of cases from a fixed seed, so CI is repeatable; set
/// PLUME_PROPTEST_SEED to explore other seeds. Failures print the inputs that failed.
pub fn proptest_config(cases: u32) -> Config {
    let seed = std::env::var("PLUME_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0f_91u64);
    eprintln!("proptest seed {seed}");
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    }
}

/// A scratch directory for tool runs, removed on drop.
#[allow(unused_imports)]
pub use plume::tools::TempDir;

/// Whether a command-line tool is installed; under CI=true a missing tool fails the test
/// instead of skipping it.
pub fn have(bin: &str) -> bool {
    if plume_sim::cosim::which(bin) {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{bin} is not installed under CI"
    );
    eprintln!("SKIPPED: {bin} is not installed");
    false
}

/// Whether python3 can import `module`; under CI=true a missing one fails the test instead
/// of skipping it (`make deps` installs what the tests import).
#[allow(dead_code)]
pub fn python_has(module: &str) -> bool {
    let ok = have("python3")
        && Command::new("python3")
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the {module} Python package is not installed under CI (make deps installs it)"
        );
        eprintln!("SKIPPED: the {module} Python package is not installed");
    }
    ok
}

/// Runs the `plume` binary.
pub fn plume(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plume"))
        .args(args)
        .output()
        .expect("plume runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 2, exactly one line on stderr containing `needle`, no panic, nothing on stdout.
pub fn assert_bad_input(args: &[&str], needle: &str) {
    let o = plume(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(
        err.lines().count(),
        1,
        "{args:?}: stderr should be one line: {err}"
    );
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(o.stdout.is_empty(), "{args:?}");
}
