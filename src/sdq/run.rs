//! `plume sdq run`: a GEMM Y = X·Ŵᵀ through the generated engine, checked bit for bit against
//! the golden model. W (N × K, heavy-tailed) is decomposed with the SDQ configuration — or,
//! with `--dense`, quantized to MX INT8 for the dense baseline engine — X (M × K) is random
//! INT8; output channels go through in tiles of R (the engine's units): each tile's weights
//! are loaded, then every activation row streams past them. `--engine verilator` replays the
//! recorded run on the emitted Verilog in Verilator, every output of every cycle compared.

use super::design::{dense_int8, EngineArgs, GemmStream};
use super::{heavy_tailed, SdqArgs};
use crate::error::{bad, Result};
use plume_hw::rtl::Bits;
use plume_hw::sdq::decompose::{decompose, sqnr_db};
use plume_hw::sdq::dot::Chunk;
use plume_hw::sdq::engine::{chunks_of, generate_engine, EngineConfig, ENGINE_LATENCY};
use plume_hw::sdq::golden::{dot, DotResult};
use plume_sim::cosim::{self, Tool};
use plume_sim::harness::{self, HarnessError, StreamBench};
use plume_sim::rng::XorShift;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

/// Largest M·K·N a run takes (the golden model and the simulator both do every MAC).
pub const MAX_MACS: u64 = 1 << 28;

#[derive(clap::Args, Clone, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub sdq: SdqArgs,
    #[command(flatten)]
    pub engine_args: EngineArgs,
    /// The GEMM: M (activation rows), K (reduction), N (output channels).
    #[arg(long, default_value = "16,256,32")]
    pub gemm: String,
    /// sim (plume's simulator) or verilator (sim, then the recorded run replayed in
    /// Verilator).
    #[arg(long, default_value = "sim")]
    pub engine: String,
    /// Run the dense INT8 baseline engine (the SDQ flags are ignored).
    #[arg(long)]
    pub dense: bool,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also check the GEMM through the AXI-wrapped engine (30 % stalls on every bus) and
    /// write it as a package for the board build's `sw/run_sdq.py`.
    #[arg(long)]
    pub export: Option<PathBuf>,
    /// Write the run's waveform (VCD).
    #[arg(long)]
    pub vcd: Option<PathBuf>,
}

fn parse_gemm(s: &str) -> Result<(usize, usize, usize)> {
    let v: Vec<&str> = s.split(',').collect();
    let parsed: Option<Vec<usize>> = v.iter().map(|x| x.trim().parse().ok()).collect();
    match parsed.as_deref() {
        Some(&[m, k, n]) if m > 0 && k > 0 && n > 0 => Ok((m, k, n)),
        _ => Err(bad(format!(
            "--gemm {s:?}: expected M,K,N, three positive integers"
        ))),
    }
}

pub fn run(a: &RunArgs) -> Result<()> {
    let (m, k, n) = parse_gemm(&a.gemm)?;
    let sdq = if a.dense {
        dense_int8(a.sdq.block)
    } else {
        a.sdq.config()?
    };
    let cfg: EngineConfig = a.engine_args.config(sdq)?;
    let verilator = match a.engine.as_str() {
        "sim" => false,
        "verilator" => true,
        e => {
            return Err(bad(format!(
                "unknown engine {e:?} (expected sim or verilator)"
            )))
        }
    };
    let c = cfg.dot.chunk() as usize;
    if !k.is_multiple_of(c) {
        return Err(bad(format!(
            "K = {k} is not a whole number of {c}-position chunks (groups × M); pad the rows with zero weights"
        )));
    }
    if k / c > cfg.depth as usize {
        return Err(bad(format!(
            "K = {k} needs {} chunks per row; the weight buffers hold {} (--depth)",
            k / c,
            cfg.depth
        )));
    }
    let macs = (m as u64).saturating_mul(k as u64).saturating_mul(n as u64);
    if macs > MAX_MACS {
        return Err(bad(format!(
            "--gemm {m},{k},{n} is {macs} MACs; plume sdq run takes up to {MAX_MACS}"
        )));
    }
    let vcd_target = a
        .vcd
        .as_deref()
        .map(|p| crate::output::file_target(p, "waveform"))
        .transpose()?;
    // A package is checked for the board before anything runs.
    let wrapped = match &a.export {
        Some(out) => {
            crate::output::dir_target(out, |_| false)?;
            Some(wrap(a, &cfg)?)
        }
        None => None,
    };
    if verilator && !cosim::available(Tool::Verilator) {
        return Err(crate::error::failed(
            "verilator is not installed (run `make deps`)",
        ));
    }
    let w = heavy_tailed(n * k, a.seed, 0.02);
    let d = decompose(&cfg.dot.sdq, &w, n, k, None).map_err(bad)?;
    let rows = chunks_of(&cfg.dot, &d).map_err(bad)?;
    let mut rng = XorShift::new(a.seed ^ 0xa5a5);
    let x: Vec<Vec<i8>> = (0..m)
        .map(|_| (0..k).map(|_| rng.next() as u8 as i8).collect())
        .collect();
    let x_chunks: Vec<Vec<Vec<i8>>> = x
        .iter()
        .map(|r| r.chunks(c).map(|ch| ch.to_vec()).collect())
        .collect();

    // The plan: per tile of R channels, load, then stream every row.
    let units = cfg.units as usize;
    let beat = cfg.beat();
    // Units past the last channel get a row of zero codes (their results are not used).
    let mut zero_row = rows[0].clone();
    for e in zero_row
        .iter_mut()
        .flat_map(|ch| ch.groups.iter_mut().flatten().flatten())
    {
        e.1 = 0;
    }
    for ch in &mut zero_row {
        ch.scales = [0, 0];
    }
    let mut queue = VecDeque::new();
    let mut results: Vec<Vec<DotResult>> = vec![Vec::new(); m];
    let (mut load_cycles, mut stream_cycles) = (0u64, 0u64);
    for t in (0..n).step_by(units) {
        let tile: Vec<Vec<Chunk>> = (t..t + units)
            .map(|r| rows.get(r).cloned().unwrap_or_else(|| zero_row.clone()))
            .collect();
        for b in cfg.weight_beats(&tile) {
            queue.push_back((b, None));
            load_cycles += 1;
        }
        for (i, xr) in x_chunks.iter().enumerate() {
            let res: Vec<DotResult> = tile.iter().map(|r| dot(&cfg.dot, r, xr)).collect();
            for (j, ch) in xr.iter().enumerate() {
                let last = j + 1 == xr.len();
                let expect = last.then(|| super::design::out_word(&cfg, &res));
                queue.push_back((beat.activations(ch, last), expect));
                stream_cycles += 1;
            }
            results[i].extend(res.into_iter().take((n - t).min(units)));
        }
    }
    let beats = queue.len() as u64;
    let stream: Vec<(Bits, Option<Bits>)> = if a.export.is_some() {
        queue.iter().cloned().collect()
    } else {
        Vec::new()
    };
    let top = generate_engine(&cfg)?;
    eprintln!(
        "plume: {} beats through {} ({} units × {} positions per cycle)",
        beats,
        cfg.module_name(),
        units,
        c
    );
    let mut tb = StreamBench {
        model: GemmStream::fixed(&cfg, queue),
        cycles: 1 + beats + ENGINE_LATENCY,
    };
    let staged = vcd_target
        .as_ref()
        .map(crate::output::StagedFile::create)
        .transpose()?;
    let progress = crate::verbs::Progress::start(tb.cycles);
    let r = harness::simulate_watched(
        &top,
        &mut tb,
        staged.as_ref().map(|s| s.path()),
        verilator,
        Some(progress.counter()),
    );
    progress.stop();
    let report = r.map_err(|e| match e {
        HarnessError::Mismatch(m) => crate::error::failed(m),
        other => other.into(),
    })?;
    let mut line = format!(
        "engine ≡ golden: {} rows × {n} channels bit-exact ({} cycles, {:.0} cycles/s)",
        m,
        report.cycles,
        report.cycles as f64 / report.seconds.max(1e-9)
    );
    if verilator {
        let rec = report
            .recording
            .as_ref()
            .ok_or_else(|| bad("the simulator kept no recording"))?;
        let dir = crate::output::TempDir::new("sdq-verilator")?;
        let cycles = harness::replay(Tool::Verilator, &top, rec, dir.path())
            .map_err(|e| crate::error::failed(e.to_string()))?;
        line.push_str(&format!("; verilator ≡ sim over {cycles} cycles"));
    }
    if let Some(s) = staged {
        s.commit()?;
        line.push_str(&format!(
            "; waveform {}",
            a.vcd.as_deref().unwrap_or(Path::new("")).display()
        ));
    }
    crate::outln!("{line}");

    // What the numbers mean: against X·Wᵀ in f64 (the unquantized weights) and X·Ŵᵀ (the
    // quantized ones, exactly).
    let wq = d.reconstructed();
    let (mut exact, mut approx, mut fp32) = (Vec::new(), Vec::new(), Vec::new());
    let mut flagged = 0;
    let mut rounded_right = 0;
    for (i, xr) in x.iter().enumerate() {
        for (j, r) in results[i].iter().enumerate() {
            let row = &w[j * k..(j + 1) * k];
            let rowq = &wq[j * k..(j + 1) * k];
            let y: f64 = row.iter().zip(xr).map(|(a, b)| a * *b as f64).sum();
            let yq: f64 = rowq.iter().zip(xr).map(|(a, b)| a * *b as f64).sum();
            exact.push(y);
            approx.push(yq);
            let got = f32::from_bits(r.y);
            fp32.push(got as f64);
            if r.flags() != 0 {
                flagged += 1;
            } else if got == yq as f32 {
                rounded_right += 1;
            }
        }
    }
    let total_cycles = load_cycles + stream_cycles;
    let ideal = macs as f64 / cfg.macs_per_cycle() as f64;
    crate::outln!(
        "GEMM {m}×{k}×{n}: {total_cycles} cycles ({load_cycles} loading weights, {stream_cycles} streaming), {} dense-equivalent MACs per cycle of {} peak ({:.1} % of the streaming peak overall)",
        format_args!("{:.1}", macs as f64 / total_cycles as f64),
        cfg.macs_per_cycle(),
        100.0 * ideal / total_cycles as f64
    );
    crate::outln!(
        "accuracy: SQNR of the engine's FP32 results vs X·Wᵀ {:.2} dB ({:.3} bits per weight); {rounded_right} of {} results are X·Ŵᵀ rounded to FP32 exactly, {flagged} flagged",
        sqnr_db(&exact, &fp32),
        cfg.dot.sdq.bits_per_weight(),
        fp32.len()
    );
    let _ = approx;
    if let (Some(out), Some(d)) = (&a.export, &wrapped) {
        export(a, d, &cfg, (m, k, n), &stream, out)?;
    }
    Ok(())
}

/// Bytes of `b`, `n` of them, least significant first.
fn bytes_of(b: &Bits, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| {
            let lo = 8 * i as u32;
            if lo >= b.width() {
                0
            } else {
                b.slice(lo, (b.width() - lo).min(8)).to_u64() as u8
            }
        })
        .collect()
}

/// The engine behind AXI, its streams checked against the DMA's.
fn wrap(a: &RunArgs, cfg: &EngineConfig) -> Result<crate::board::Wrapped> {
    use crate::registry::instance;
    let inst = if a.dense {
        instance(&super::design::DENSE_ENGINE, *cfg)
    } else {
        instance(&super::design::SDQ_ENGINE, *cfg)
    };
    let d = crate::board::Wrapped::of(&*inst)?;
    crate::board::check_streams(&d).map_err(bad)?;
    Ok(d)
}

/// The GEMM through the AXI-wrapped engine under stalls, then written as a board package.
fn export(
    a: &RunArgs,
    d: &crate::board::Wrapped,
    cfg: &EngineConfig,
    (m, k, n): (usize, usize, usize),
    stream: &[(Bits, Option<Bits>)],
    out: &Path,
) -> Result<()> {
    use plume_sim::bfm::{Host, Stalls};
    let (di, d_o) = d.dma_bytes();
    let (wi, wo) = d.stream_widths();
    let (nb, ob) = (wi.div_ceil(8) as usize, wo.div_ceil(8) as usize);
    let beats: Vec<&Bits> = stream.iter().map(|(b, _)| b).collect();
    let want: Vec<&Bits> = stream.iter().filter_map(|(_, e)| e.as_ref()).collect();
    let input: Vec<u8> = beats.iter().flat_map(|b| bytes_of(b, nb)).collect();
    let mut h = Host::new(
        d.board.top.clone(),
        d.board.map.clone(),
        Stalls {
            lite: 30,
            stream_in: 30,
            stream_out: 30,
            seed: a.seed,
        },
        false,
    )?;
    let got = h.transfer(&input, want.len())?;
    let expect: Vec<u8> = want.iter().flat_map(|w| bytes_of(w, ob)).collect();
    if got != expect || h.read("beats")? != want.len() as u64 {
        return Err(crate::error::failed(
            "the AXI-wrapped engine's results differ from the golden model",
        ));
    }
    let manifest = serde_json::json!({
        "design": d.name,
        "hardware": d.params,
        "gemm": [m, k, n],
        "units": cfg.units,
        "beats_in": beats.len(),
        "beats_out": want.len(),
        "beat_bytes_in": di,
        "beat_bytes_out": d_o,
        "seed": a.seed,
    });
    let in_image: Vec<u8> = beats.iter().flat_map(|b| bytes_of(b, di)).collect();
    let golden: Vec<u8> = want.iter().flat_map(|w| bytes_of(w, d_o)).collect();
    crate::output::write_dir(
        out,
        &[
            ("sdq.json".into(), serde_json::to_vec_pretty(&manifest)?),
            ("in.bin".into(), in_image),
            ("golden.bin".into(), golden),
        ],
    )?;
    crate::outln!(
        "wrote {}: {} beats in, {} out, for {} (checked through AXI on plume's simulator)",
        out.display(),
        beats.len(),
        want.len(),
        d.name
    );
    Ok(())
}
