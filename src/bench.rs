//! Simulation speed: plume's simulator against Verilator on the same emitted Verilog and the same
//! random stimulus (xorshift64 in both; the output checksums must agree or the run fails).

use crate::rng::XorShift;
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
        + (prog.sel_table.len()
            + prog.cat_table.len() * 2
            + prog.deposit_table.len() * 3
            + prog.gather_table.len() * 2)
            * 4
}

pub struct PlumeRun {
    pub checksum: u64,
    pub seconds: f64,
    /// Bytes of simulation state and program (values, tape, tables, register list).
    pub model_bytes: usize,
}

/// Random inputs every cycle (reset in cycle 0), checksum of every output of every cycle.
pub fn plume_random(top: &Rc<Module>, cycles: u64, seed: u64) -> Result<PlumeRun> {
    let mut sim = Sim::new(top)?;
    let prog = sim.program();
    let inputs: Vec<_> = prog
        .input_order
        .iter()
        .map(|n| (n.clone(), prog.inputs[n]))
        .collect();
    let outputs: Vec<_> = prog.output_order.iter().map(|n| prog.outputs[n]).collect();
    let model_bytes = model_bytes(prog);
    let mut rng = XorShift::new(seed);
    let mut buf = vec![0u64; inputs.iter().map(|(_, l)| l.words()).max().unwrap_or(1)];
    let mut sum = 0u64;
    let t0 = Instant::now();
    for c in 0..cycles {
        for (name, l) in &inputs {
            if name == "rst" {
                sim.poke_loc(*l, &[(c == 0) as u64]);
                continue;
            }
            let n = l.words();
            for w in buf.iter_mut().take(n) {
                *w = rng.next();
            }
            if l.width % 64 != 0 {
                buf[n - 1] &= (1u64 << (l.width % 64)) - 1;
            }
            sim.poke_loc(*l, &buf[..n]);
        }
        sum = fold_outputs(&mut sim, &outputs, sum);
        sim.step();
    }
    Ok(PlumeRun {
        checksum: sum,
        seconds: t0.elapsed().as_secs_f64(),
        model_bytes,
    })
}

pub struct VerilatorRun {
    pub checksum: u64,
    pub seconds: f64,
    pub build_seconds: f64,
}

/// Builds the design with Verilator -O3 and runs the same random stimulus.
pub fn verilator_random(top: &Rc<Module>, cycles: u64, seed: u64) -> Result<VerilatorRun> {
    let sim = Sim::new(top)?;
    let prog = sim.program();
    let ins: Vec<(String, u32)> = prog
        .input_order
        .iter()
        .map(|n| (n.clone(), prog.inputs[n].width))
        .collect();
    let outs: Vec<(String, u32)> = prog
        .output_order
        .iter()
        .map(|n| (n.clone(), prog.outputs[n].width))
        .collect();
    let harness = verilator_harness(top, &ins, &outs, &HarnessInput::Random { cycles, seed });
    let dir = crate::tools::TempDir::new("bench")?;
    let (exe, build_seconds) =
        build_verilator(top, &harness, dir.path(), VerilatorBuild { optimize: true })?;
    timed_run(Command::new(&exe), build_seconds)
}

/// Replays a recorded stimulus (all inputs of every cycle, pre-decoded) and checksums every
/// output of every cycle, as the `Preloaded` Verilator harness does.
pub fn plume_replay(top: &Rc<Module>, rec: &Recording) -> Result<PlumeRun> {
    let mut sim = Sim::new(top)?;
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

/// Routing time by network size and pattern kind: a permutation sends every input to a distinct
/// output; a reduction splits all inputs into groups of 1–8, each to a distinct output.
pub struct RouteStats {
    pub ports: u32,
    pub kind: &'static str,
    pub cases: usize,
    pub median_ms: f64,
    pub worst_ms: f64,
    pub unroutable: usize,
    pub timeouts: usize,
}

/// A random target: inputs and outputs shuffled, then up to `groups` outputs each get the sum of
/// the next 1–`max_group` inputs (fewer when inputs run out). `max_group` = 1 gives a
/// permutation of the chosen inputs; `groups` = n with `max_group` = 1 a full permutation.
pub fn random_target(
    rng: &mut XorShift,
    n: usize,
    groups: usize,
    max_group: usize,
) -> plume_hw::feather::route::Target {
    let mut ins: Vec<usize> = (0..n).collect();
    let mut outs: Vec<usize> = (0..n).collect();
    for k in (1..n).rev() {
        ins.swap(k, (rng.next() % (k as u64 + 1)) as usize);
        outs.swap(k, (rng.next() % (k as u64 + 1)) as usize);
    }
    let mut target = plume_hw::feather::route::Target::new();
    let mut at = 0;
    for &o in outs.iter().take(groups) {
        if at == n {
            break;
        }
        let g = (1 + (rng.next() % max_group as u64) as usize).min(n - at);
        target.insert(o, ins[at..at + g].to_vec());
        at += g;
    }
    target
}

pub fn route_stats(
    ports: u32,
    topology: plume_hw::feather::birrd::Topology,
    reduction: bool,
    cases: usize,
    budget: std::time::Duration,
    seed: u64,
) -> Result<RouteStats> {
    use plume_hw::feather::route::{RouteError, Router};
    let router = Router::new(ports, topology)?;
    let mut rng = XorShift::new(seed);
    let mut times = Vec::with_capacity(cases);
    let (mut unroutable, mut timeouts) = (0, 0);
    for _ in 0..cases {
        let target = random_target(
            &mut rng,
            ports as usize,
            ports as usize,
            if reduction { 8 } else { 1 },
        );
        let t0 = Instant::now();
        match router.route(&target, budget) {
            Ok(_) => {}
            Err(RouteError::Unroutable(_)) => unroutable += 1,
            Err(RouteError::Timeout(_)) => timeouts += 1,
            Err(e) => bail!("{e}"),
        }
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(RouteStats {
        ports,
        kind: if reduction {
            "reduction"
        } else {
            "permutation"
        },
        cases,
        median_ms: times[times.len() / 2],
        worst_ms: *times.last().unwrap(),
        unroutable,
        timeouts,
    })
}
