//! Simulation speed: plume's simulator against Verilator -O3 on the same emitted Verilog and the
//! same recorded stimulus (the output checksums must agree or the run fails).

use anyhow::{bail, Result};
use plume_hw::rtl::Module;
use plume_sim::cosim::{
    build_verilator, stimulus_text, verilator_harness, HarnessInput, VerilatorBuild,
};
use plume_sim::{Recording, Sim};
use std::process::Command;
use std::rc::Rc;
use std::time::Instant;

/// Folds one output word into the checksum (the harness does the same).
fn fold(sum: u64, v: u64) -> u64 {
    sum.rotate_left(7) ^ v
}

/// Folds every word of the given outputs, this cycle, into the checksum.
fn fold_outputs(sim: &mut Sim, outputs: &[plume_sim::compile::Loc], mut sum: u64) -> u64 {
    for l in outputs {
        for &v in sim.peek_loc(*l) {
            sum = fold(sum, v);
        }
    }
    sum
}

/// Bytes of a compiled model: values, tape, register list and tables.
fn model_bytes(prog: &plume_sim::compile::Program) -> usize {
    prog.slots * 8
        + prog.tape.len() * std::mem::size_of::<plume_sim::compile::Instr>()
        + prog
            .regs
            .iter()
            .map(|r| std::mem::size_of_val(r) + r.init.len() * 8)
            .sum::<usize>()
        + (prog.sel_table.len() + prog.cat_table.len() * 2 + prog.deposit_table.len() * 3) * 4
}

pub struct PlumeRun {
    pub checksum: u64,
    pub seconds: f64,
    /// Seconds from the design to a runnable model (compile, merge, native code).
    pub build_seconds: f64,
    /// Bytes of simulation state and program (values, tape, tables, register list).
    pub model_bytes: usize,
}

pub struct VerilatorRun {
    pub checksum: u64,
    pub seconds: f64,
    pub build_seconds: f64,
}

/// Replays a recorded stimulus (all inputs of every cycle, pre-decoded) and checksums every
/// output of every cycle, as the `Preloaded` Verilator harness does.
pub fn plume_replay(top: &Rc<Module>, rec: &Recording) -> Result<PlumeRun> {
    let t = Instant::now();
    let mut sim = Sim::new(top)?;
    let build_seconds = t.elapsed().as_secs_f64();
    let ins: Vec<_> = rec
        .inputs
        .iter()
        .map(|(n, _)| sim.input(n))
        .collect::<Result<_, _>>()?;
    let outs: Vec<_> = rec
        .outputs
        .iter()
        .map(|(n, _)| sim.output(n))
        .collect::<Result<_, _>>()?;
    let stim: Vec<Vec<Vec<u64>>> = rec
        .cycles
        .iter()
        .map(|(v, _)| v.iter().map(|b| b.words().to_vec()).collect())
        .collect();
    let model_bytes = model_bytes(sim.program());
    let mut sum = 0u64;
    let t0 = Instant::now();
    for cycle in &stim {
        for (l, w) in ins.iter().zip(cycle) {
            sim.poke_loc(*l, w);
        }
        sum = fold_outputs(&mut sim, &outs, sum);
        sim.step();
    }
    Ok(PlumeRun {
        checksum: sum,
        seconds: t0.elapsed().as_secs_f64(),
        build_seconds,
        model_bytes,
    })
}

/// The same recorded stimulus on Verilator -O3 (stimulus read into memory before timing).
pub fn verilator_replay(top: &Rc<Module>, rec: &Recording) -> Result<VerilatorRun> {
    let harness = verilator_harness(top, &rec.inputs, &rec.outputs, &HarnessInput::Preloaded);
    let dir = crate::tools::TempDir::new("bench")?;
    let (exe, build_seconds) =
        build_verilator(top, &harness, dir.path(), VerilatorBuild { optimize: true })?;
    let stim = dir.path().join("stim.txt");
    std::fs::write(&stim, stimulus_text(rec))?;
    let mut cmd = Command::new(&exe);
    cmd.arg(&stim);
    timed_run(cmd, build_seconds)
}

/// Runs a benchmark harness, which prints its output checksum (hex) and the seconds it ran.
fn timed_run(mut cmd: Command, build_seconds: f64) -> Result<VerilatorRun> {
    let out = cmd.output()?;
    if !out.status.success() {
        bail!(
            "verilator model failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace();
    let checksum = u64::from_str_radix(it.next().unwrap_or(""), 16)?;
    let seconds: f64 = it.next().unwrap_or("").parse()?;
    Ok(VerilatorRun {
        checksum,
        seconds,
        build_seconds,
    })
}

/// Peak resident memory of this process (Linux `VmHWM`), in bytes.
pub fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
