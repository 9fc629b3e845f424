//! The SDQ GEMM engine as registered designs: `sdq` (outlier and inlier lanes, every SDQ
//! parameter a flag) and `sdq_dense`, the dense INT8 baseline built by the same generator
//! (8:8, all weights in the one 8-bit lane, no positions stored) with the same interface.
//! The testbench streams random weight tiles and activation rows — realistic codes and scales,
//! and tiles of extremes (every code, NaN scales, scales that overflow or underflow the
//! accumulator) — and checks every row's results and flags against the golden model. On the
//! board the engine sits behind the generic pipeline wrapper (`valid_out`: only a row's last
//! chunk answers).

use super::SdqArgs;
use crate::error::{bad, Result};
use crate::registry::{Board, Design, Runner};
use clap::Args;
use plume_hw::blocks::axi_pipe::{axi_pipeline, pipeline_map, Pipeline};
use plume_hw::rtl::{Bits, Module};
use plume_hw::sdq::decompose::SdqConfig;
use plume_hw::sdq::dot::{Chunk, DotConfig};
use plume_hw::sdq::engine::{generate_engine, EngineConfig, ENGINE_LATENCY};
use plume_hw::sdq::formats::Format;
use plume_hw::sdq::golden::{dot, DotResult};
use plume_sim::harness::{StreamBench, StreamCycle, StreamModel, Testbench};
use plume_sim::rng::XorShift;
use std::collections::VecDeque;
use std::rc::Rc;

// The engine's own flags (besides the SDQ ones).
#[derive(Args, Clone, Debug)]
pub struct EngineArgs {
    /// Groups of M positions per chunk (one chunk per cycle per unit).
    #[arg(long, default_value_t = 1)]
    pub groups: u32,
    /// Dot-product units (output channels per weight tile).
    #[arg(long, default_value_t = 8)]
    pub units: u32,
    /// Chunks per weight buffer (rows up to depth × groups × M long).
    #[arg(long, default_value_t = 128)]
    pub depth: u32,
    /// Accumulator width in bits.
    #[arg(long, default_value_t = 48)]
    pub acc_bits: u32,
    /// Exponent of the accumulator's least significant bit.
    #[arg(long, default_value_t = -24, allow_hyphen_values = true)]
    pub acc_lsb: i32,
    /// Build every product from LUTs, none on DSPs.
    #[arg(long)]
    pub no_dsp: bool,
}

impl EngineArgs {
    pub fn config(&self, sdq: SdqConfig) -> Result<EngineConfig> {
        let cfg = EngineConfig {
            dot: DotConfig {
                sdq,
                groups: self.groups,
                acc_bits: self.acc_bits,
                acc_lsb: self.acc_lsb,
                dsp: !self.no_dsp,
            },
            units: self.units,
            depth: self.depth,
        };
        cfg.validate().map_err(bad)?;
        Ok(cfg)
    }
}

#[derive(Args, Clone, Debug)]
pub struct SdqEngineParams {
    #[command(flatten)]
    pub sdq: SdqArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Args, Clone, Debug)]
pub struct DenseEngineParams {
    /// Elements per block scale.
    #[arg(long, default_value_t = 32)]
    pub block: u32,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// The dense INT8 baseline's decomposition: every weight in the one 8-bit lane.
pub fn dense_int8(block: u32) -> SdqConfig {
    SdqConfig {
        m: 8,
        n: 8,
        outliers: 8,
        outlier_format: Format::Int8,
        inlier_format: Format::Int8,
        block,
    }
}

pub struct SdqEngine;
pub static SDQ_ENGINE: SdqEngine = SdqEngine;
pub struct DenseEngine;
pub static DENSE_ENGINE: DenseEngine = DenseEngine;

const LANES: [&str; 2] = ["outlier", "inlier"];

fn manifest(cfg: &EngineConfig) -> serde_json::Value {
    let beat = cfg.beat();
    let layout = cfg.dot.layout();
    serde_json::json!({
        "latency_cycles": ENGINE_LATENCY,
        "throughput": "one chunk of activations per cycle; a row's results after its last chunk",
        "dense_equivalent_macs_per_cycle": cfg.macs_per_cycle(),
        "arithmetic": "lane sums exact; term = floor(S * 2^(scale-127) / 2^acc_lsb) wrapped to acc_bits; exact accumulation; one rounding to FP32 (nearest even)",
        "beat": {
            "kind": [0, 1], "last": [1, 1],
            "unit": [2, beat.unit_bits],
            "addr": [beat.addr_at(), beat.addr_bits],
            "payload": [beat.payload_at(), beat.payload_bits],
        },
        "chunk_word": {
            "bits": layout.bits,
            "index_bits": layout.index_bits,
            "slots": layout.slots.iter().map(|s| serde_json::json!({
                "group": s.group, "lane": LANES[s.lane], "slot": s.slot,
                "index_at": s.index_at, "code_at": s.code_at, "code_bits": s.code_bits,
            })).collect::<Vec<_>>(),
            "scale_at": layout.scale_at,
        },
        "o_data": format!("unit u: FP32 at [32u +: 32], flags {{special, overflow, inexact}} at [{} + 3u +: 3]", 32 * cfg.units),
    })
}

fn board(cfg: &EngineConfig) -> Result<Board> {
    let core = generate_engine(cfg)?;
    let map = pipeline_map(&cfg.module_name(), Vec::new())?;
    let top = axi_pipeline(
        &Pipeline {
            name: format!("axi_{}", cfg.module_name()),
            core: &core,
            data_in: "i_data",
            data_out: "o_data",
            valid_in: Some("i_valid"),
            latency: ENGINE_LATENCY,
            valid_out: Some("o_valid"),
            params: Vec::new(),
        },
        &map,
    )?;
    let beat = cfg.beat();
    Ok(Board {
        top,
        map,
        doc: format!(
            "Each `s_axis` beat ({} bits) is a weight chunk for one unit's buffer or a chunk of \
             {} INT8 activations (the beat layout is in `plume.json`'s manifest: kind, last, \
             unit, addr, payload). Load a tile of {} output channels, then stream activation \
             rows, `last` on each row's final chunk and `tlast` on the stream's final beat; each \
             row answers with one `m_axis` beat of {} bits: {} FP32 results and their flags. \
             `sw/run_sdq.py` plays a GEMM package from `plume sdq run --export`.\n",
            beat.bits(),
            cfg.dot.chunk(),
            cfg.units,
            cfg.out_bits(),
            cfg.units
        ),
        runner: Some(Runner {
            file: "run_sdq.py",
            template: RUN_SDQ,
            doc: "`sw/run_sdq.py run/` plays a GEMM package (`plume sdq run --gemm M,K,N --export run/`) and checks every result against the golden model.",
        }),
    })
}

const RUN_SDQ: &str = include_str!("../../fpga/zcu104/run_sdq.py");

impl Design for SdqEngine {
    type Args = SdqEngineParams;
    type Config = EngineConfig;

    fn name(&self) -> &'static str {
        "sdq"
    }

    fn about(&self) -> &'static str {
        "SDQ GEMM engine: R dot-product units with an outlier (FP8/INT8) and an inlier (FP4/INT4) lane, N:M metadata muxes, E8M0 block scales, exact accumulation, FP32 out."
    }

    fn config(&self, a: &SdqEngineParams) -> Result<EngineConfig> {
        a.engine.config(a.sdq.config()?)
    }

    fn board_config(&self) -> EngineConfig {
        EngineConfig::default()
    }

    fn instance_name(&self, cfg: &EngineConfig) -> String {
        cfg.module_name()
    }

    fn top(&self, cfg: &EngineConfig) -> Result<Rc<Module>> {
        Ok(generate_engine(cfg)?)
    }

    fn manifest(&self, cfg: &EngineConfig) -> Result<serde_json::Value> {
        Ok(manifest(cfg))
    }

    fn summary(&self, cfg: &EngineConfig) -> String {
        format!(
            "latency {ENGINE_LATENCY} cycles, {} dense-equivalent MACs per cycle",
            cfg.macs_per_cycle()
        )
    }

    fn testbench(&self, cfg: &EngineConfig, cycles: u64, seed: u64) -> Result<Box<dyn Testbench>> {
        Ok(Box::new(StreamBench {
            model: GemmStream::new(cfg, seed),
            cycles,
        }))
    }

    fn board(&self, cfg: &EngineConfig) -> Result<Board> {
        board(cfg)
    }
}

impl Design for DenseEngine {
    type Args = DenseEngineParams;
    type Config = EngineConfig;

    fn name(&self) -> &'static str {
        "sdq_dense"
    }

    fn about(&self) -> &'static str {
        "Dense INT8 baseline for the SDQ engine: the same generator and interface, every weight an 8-bit integer."
    }

    fn config(&self, a: &DenseEngineParams) -> Result<EngineConfig> {
        a.engine.config(dense_int8(a.block))
    }

    fn board_config(&self) -> EngineConfig {
        EngineConfig {
            dot: DotConfig {
                sdq: dense_int8(32),
                ..DotConfig::default()
            },
            ..EngineConfig::default()
        }
    }

    // Everything past the configuration is the SDQ engine's own.
    fn instance_name(&self, cfg: &EngineConfig) -> String {
        SDQ_ENGINE.instance_name(cfg)
    }

    fn top(&self, cfg: &EngineConfig) -> Result<Rc<Module>> {
        SDQ_ENGINE.top(cfg)
    }

    fn manifest(&self, cfg: &EngineConfig) -> Result<serde_json::Value> {
        SDQ_ENGINE.manifest(cfg)
    }

    fn summary(&self, cfg: &EngineConfig) -> String {
        SDQ_ENGINE.summary(cfg)
    }

    fn testbench(&self, cfg: &EngineConfig, cycles: u64, seed: u64) -> Result<Box<dyn Testbench>> {
        SDQ_ENGINE.testbench(cfg, cycles, seed)
    }

    fn board(&self, cfg: &EngineConfig) -> Result<Board> {
        SDQ_ENGINE.board(cfg)
    }
}

/// A random chunk: `extreme` draws every code (NaN and infinity included) and scales from the
/// ends of the E8M0 range; otherwise finite codes and scales near 2^0.
pub fn random_chunk(cfg: &DotConfig, rng: &mut XorShift, extreme: bool) -> Chunk {
    let m = cfg.sdq.m as usize;
    let lanes = cfg.lanes();
    let implicit = cfg.implicit_positions();
    let groups = (0..cfg.groups)
        .map(|_| {
            let mut perm: Vec<u32> = (0..m as u32).collect();
            for i in (1..m).rev() {
                perm.swap(i, rng.next() as usize % (i + 1));
            }
            let mut at = 0;
            let mut parts: [Vec<(u32, u32)>; 2] = [Vec::new(), Vec::new()];
            for (lane, &(f, n)) in lanes.iter().enumerate() {
                for j in 0..n as usize {
                    let pos = if implicit { j as u32 } else { perm[at] };
                    at += 1;
                    let code = loop {
                        let c = (rng.next() & ((1 << f.bits()) - 1)) as u32;
                        if extreme || f.decode(c).is_finite() {
                            break c;
                        }
                    };
                    parts[lane].push((pos, code));
                }
            }
            parts
        })
        .collect();
    let scale = |rng: &mut XorShift| -> u32 {
        if extreme {
            const ENDS: [u32; 9] = [0, 1, 40, 96, 127, 160, 200, 254, 255];
            if rng.next().is_multiple_of(2) {
                ENDS[rng.next() as usize % ENDS.len()]
            } else {
                (rng.next() % 256) as u32
            }
        } else {
            118 + (rng.next() % 12) as u32
        }
    };
    Chunk {
        groups,
        scales: [scale(rng), scale(rng)],
    }
}

/// Random activations for one chunk: uniform, or (extreme) from the ends of the INT8 range.
pub fn random_acts(n: usize, rng: &mut XorShift, extreme: bool) -> Vec<i8> {
    (0..n)
        .map(|_| {
            if extreme && !rng.next().is_multiple_of(3) {
                [-128i8, 127, 0, -1, 1][rng.next() as usize % 5]
            } else {
                rng.next() as u8 as i8
            }
        })
        .collect()
}

/// `o_data` holding `results` (one per unit).
pub fn out_word(cfg: &EngineConfig, results: &[DotResult]) -> Bits {
    let mut w = Bits::zero(cfg.out_bits());
    for (u, r) in results.iter().enumerate() {
        w.set_slice(32 * u as u32, &Bits::from_u64(32, r.y as u64));
        w.set_slice(32 * cfg.units + 3 * u as u32, &Bits::from_u64(3, r.flags()));
    }
    w
}

/// Random weight tiles, each followed by a few activation rows, with idle cycles between
/// beats; every row's results are the golden model's.
pub struct GemmStream {
    cfg: EngineConfig,
    rng: XorShift,
    /// Beats still to send, each with the `o_data` its cycle must answer (a row's last chunk).
    queue: VecDeque<(Bits, Option<Bits>)>,
    /// Random tiles and idle cycles without end; otherwise the queue as given, then idle.
    random: bool,
}

impl GemmStream {
    pub fn new(cfg: &EngineConfig, seed: u64) -> GemmStream {
        GemmStream {
            cfg: *cfg,
            rng: XorShift::new(seed),
            queue: VecDeque::new(),
            random: true,
        }
    }

    /// Exactly `beats`, one per cycle, then idle cycles (`plume sdq run`'s GEMM).
    pub fn fixed(cfg: &EngineConfig, beats: VecDeque<(Bits, Option<Bits>)>) -> GemmStream {
        GemmStream {
            cfg: *cfg,
            rng: XorShift::new(1),
            queue: beats,
            random: false,
        }
    }

    fn refill(&mut self) {
        let cfg = self.cfg;
        let rng = &mut self.rng;
        let extreme = rng.next().is_multiple_of(3);
        let len = 1 + (rng.next() % cfg.depth.min(6) as u64) as usize;
        let rows: Vec<Vec<Chunk>> = (0..cfg.units)
            .map(|_| {
                (0..len)
                    .map(|_| random_chunk(&cfg.dot, rng, extreme))
                    .collect()
            })
            .collect();
        for beat in cfg.weight_beats(&rows) {
            self.queue.push_back((beat, None));
        }
        let beat = cfg.beat();
        let c = cfg.dot.chunk() as usize;
        for _ in 0..1 + rng.next() % 3 {
            let acts: Vec<Vec<i8>> = (0..len).map(|_| random_acts(c, rng, extreme)).collect();
            let results: Vec<DotResult> = rows.iter().map(|r| dot(&cfg.dot, r, &acts)).collect();
            for (k, a) in acts.iter().enumerate() {
                let last = k + 1 == len;
                let expect = last.then(|| out_word(&cfg, &results));
                self.queue.push_back((beat.activations(a, last), expect));
            }
        }
    }
}

impl StreamModel for GemmStream {
    fn inputs(&self) -> Vec<String> {
        vec!["i_valid".into(), "i_data".into()]
    }

    fn outputs(&self) -> Vec<String> {
        vec!["o_valid".into(), "o_data".into()]
    }

    fn latency(&self) -> u64 {
        ENGINE_LATENCY
    }

    fn unit(&self) -> String {
        "engine cycles".into()
    }

    fn next(&mut self) -> StreamCycle {
        let idle = self.random && self.rng.next().is_multiple_of(5);
        if self.random && self.queue.is_empty() {
            self.refill();
        }
        match (!idle).then(|| self.queue.pop_front()).flatten() {
            Some((beat, expect)) => StreamCycle {
                inputs: vec![Bits::from_u64(1, 1), beat],
                expect: vec![Some(Bits::from_u64(1, expect.is_some() as u64)), expect],
            },
            None => StreamCycle {
                inputs: vec![Bits::zero(1), Bits::zero(self.cfg.beat().bits())],
                expect: vec![Some(Bits::zero(1)), None],
            },
        }
    }
}
