//! FEATHER as a registered design: the programmable top (sequencer + core) or, with `--core`,
//! the micro-instruction-driven core alone; random layers checked against the golden model;
//! the programmable top behind AXI for the board.

use super::cli::ArrayArgs;
use super::layer::{compare, layer_constants, LayerData, Session};
use crate::error::{bad, Result};
use crate::registry::{Board, Design, Runner};
use clap::Args;
use plume_hw::feather::axi::{
    axi_feather, beats_per_entry, feather_map, feather_stream_width, Target, RUN_DRAIN,
};
use plume_hw::feather::compiler::mapper::{
    compile, gather, place, Dataflow, Gemm, Layout, Schedule,
};
use plume_hw::feather::compiler::program;
use plume_hw::feather::compiler::route::RouteCache;
use plume_hw::feather::golden;
use plume_hw::feather::sequencer::{programmable_top, SeqConfig, SeqLayout, SEQ_LATENCY};
use plume_hw::feather::top::{generate, FeatherConfig};
use plume_hw::rtl::Module;
use plume_sim::harness::{HarnessError, Testbench};
use plume_sim::rng::XorShift;
use plume_sim::Sim;
use serde::Serialize;
use std::rc::Rc;

#[derive(Args, Clone, Debug)]
pub struct FeatherArgs {
    #[command(flatten)]
    pub a: ArrayArgs,
    /// Only the micro-instruction-driven core, without the sequencer.
    #[arg(long)]
    pub core: bool,
}

/// One FEATHER build: the core's sizes, the sequencer's tables, and whether the sequencer is
/// left out.
#[derive(Clone, Debug, Serialize)]
pub struct FeatherBuild {
    pub cfg: FeatherConfig,
    pub seq: SeqConfig,
    pub core_only: bool,
}

/// The registry's FEATHER.
pub struct Feather;

pub static FEATHER_DESIGN: Feather = Feather;

const RUN_FEATHER: &str = include_str!("../../fpga/zcu104/run_feather.py");

impl Design for Feather {
    type Args = FeatherArgs;
    type Config = FeatherBuild;

    fn name(&self) -> &'static str {
        "feather"
    }

    fn about(&self) -> &'static str {
        "The FEATHER core (buffers, NEST, BIRRD, output buffer, quantizer) behind its sequencer; --core: the core alone."
    }

    fn config(&self, args: &FeatherArgs) -> Result<FeatherBuild> {
        Ok(FeatherBuild {
            cfg: args.a.config()?,
            seq: SeqConfig::default(),
            core_only: args.core,
        })
    }

    fn board_config(&self) -> FeatherBuild {
        FeatherBuild {
            cfg: FeatherConfig::default(),
            seq: SeqConfig::default(),
            core_only: false,
        }
    }

    fn instance_name(&self, b: &FeatherBuild) -> String {
        let c = &b.cfg;
        let core = if b.core_only { "_core" } else { "" };
        format!("feather_{}x{}_{}{core}", c.ah, c.aw, c.topology)
    }

    /// The sizes a layer package is compiled for (`layer.json`'s `hardware`).
    fn params(&self, b: &FeatherBuild) -> serde_json::Value {
        super::host::hardware(&b.cfg, &b.seq)
    }

    fn top(&self, b: &FeatherBuild) -> Result<Rc<Module>> {
        Ok(if b.core_only {
            generate(&b.cfg)?
        } else {
            programmable_top(&b.cfg, &b.seq)?
        })
    }

    fn manifest(&self, b: &FeatherBuild) -> Result<serde_json::Value> {
        let cfg = &b.cfg;
        let seq = SeqLayout::new(cfg, &b.seq);
        let tables: Vec<serde_json::Value> = [
            ("load", 0, &seq.load, seq.seq.desc_depth),
            ("stream", 1, &seq.stream, seq.seq.desc_depth),
            ("out", 2, &seq.out, seq.seq.desc_depth),
            ("pattern", 3, &seq.pattern, seq.seq.pattern_depth),
            ("config", 4, &seq.config, seq.seq.config_depth),
            ("window", 5, &seq.window, seq.seq.window_depth),
        ]
        .iter()
        .map(|(name, sel, f, depth)| {
            serde_json::json!({"table": name, "i_tsel": sel, "entries": depth, "fields": f.to_json()})
        })
        .collect();
        let lay = cfg.uop_layout();
        Ok(serde_json::json!({
            "array": format!("{}x{}", cfg.ah, cfg.aw),
            "birrd_topology": cfg.topology.to_string(),
            "buffers": {"streaming_lines": cfg.s_depth, "weight_lines": cfg.w_depth, "output_lines": cfg.o_depth},
            "uop_width": lay.width(),
            "uop_fields": lay.fields.to_json(),
            "sequencer": if b.core_only { serde_json::Value::Null } else {
                serde_json::json!({"latency_cycles": SEQ_LATENCY, "tables": tables})
            },
        }))
    }

    fn summary(&self, b: &FeatherBuild) -> String {
        format!("{}-bit micro-instruction", b.cfg.uop_layout().width())
    }

    fn testbench(&self, b: &FeatherBuild, cycles: u64, seed: u64) -> Result<Box<dyn Testbench>> {
        Ok(Box::new(RandomLayers {
            build: b.clone(),
            cycles,
            rng: XorShift::new(seed),
        }))
    }

    fn board(&self, b: &FeatherBuild) -> Result<Board> {
        if b.core_only {
            return Err(bad(
                "the board build wraps the programmable top (the sequencer is how the host loads a layer); drop --core",
            ));
        }
        Ok(Board {
            top: axi_feather(&b.cfg, &b.seq)?,
            map: feather_map(&b.cfg, &b.seq)?,
            doc: board_doc(&b.cfg, &b.seq),
            runner: Some(Runner {
                file: "run_feather.py",
                template: RUN_FEATHER,
                doc: "runs a layer package from `plume feather export` on the board (PYNQ) and checks it against the golden output",
            }),
        })
    }
}

/// The build README's section on the streams and on running a layer on the board.
fn board_doc(c: &FeatherConfig, s: &SeqConfig) -> String {
    let mut t = format!(
        "`s_axis` ({dw} bits) writes whichever memory `WR_TARGET` names, from entry \
         `WR_BASE` up; every packet (ended by `tlast`) starts again at `WR_BASE`. An \
         entry is packed LSB first in whole beats:\n\n| WR_TARGET | memory | beats per entry |\n|---|---|---|\n",
        dw = feather_stream_width(c)
    );
    for target in Target::ALL {
        t.push_str(&format!(
            "| {} | {:?} | {} |\n",
            target as u32,
            target,
            beats_per_entry(c, s, target)
        ));
    }
    t.push_str(&format!(
        "\nWith `OP` = 0, CTRL.start runs the loaded program: done comes `LENGTH` + {} \
         cycles after start and `CYCLES` then holds the cycles from micro-instruction \
         0 to the last quantized write. With `OP` = 1, CTRL.start streams `RD_COUNT` \
         lines of streaming buffer `RD_SEL` from `RD_BASE` out on `m_axis` (`tlast` on \
         the last; back-pressure never loses a line); done when the last has left. \
         `s_axis` is not ready while either runs. The buffer lines, tables and \
         `LENGTH` come from plume's compiler; `src/feather/host.rs` is the reference \
         host sequence (it is what the tests run, cycle by cycle).\n",
        SEQ_LATENCY + RUN_DRAIN
    ));
    t.push_str(&format!(
        "\n### Running a layer on the board\n\n```\n# on the development machine: compile a layer for exactly this hardware\nplume feather export --array {}x{} --topology {} --depths {},{},{} --gemm M,K,N -o layer/\n# on the ZCU104 (PYNQ), in this directory after `make`\nsudo python3 sw/run_feather.py layer/\n```\n\n`run_feather.py` loads `out/plume.bit`, writes the registers, sends each packet with \
         one MM2S transfer, runs the layer, reads `CYCLES`, receives the output with one S2MM \
         transfer and compares it with the package's golden output (exit 0 when equal, 1 \
         when not, 2 for a package built for other hardware).\n",
        c.ah, c.aw, c.topology, c.s_depth, c.w_depth, c.o_depth
    ));
    t
}

/// Random GEMM layers — shapes, dataflow, output layout, operand formats — compiled, run on
/// the design as the host runs them (buffer loads, the program through the sequencer or the
/// micro-instructions into the core, read-back) and checked against the golden GEMM; the
/// simulated cycles must equal the compiler's timing model. Layers start until `cycles`
/// cycles have passed (at least one layer runs).
struct RandomLayers {
    build: FeatherBuild,
    cycles: u64,
    rng: XorShift,
}

/// Attempts at drawing a layer that compiles for the configuration before giving up.
const DRAWS: usize = 50;

impl RandomLayers {
    fn below(&mut self, n: u64) -> u64 {
        self.rng.next() % n.max(1)
    }

    /// A random layer that compiles for this hardware (and whose program fits the sequencer).
    fn draw(&mut self, cache: &mut RouteCache) -> Result<(Schedule, LayerData), HarnessError> {
        let cfg = self.build.cfg;
        let (ah, aw) = (cfg.ah as u64, cfg.aw as u64);
        let mut last = String::new();
        for _ in 0..DRAWS {
            let g = Gemm {
                m: 1 + self.below(2 * aw) as usize,
                k: 1 + self.below(ah * (aw + 1)) as usize,
                n: 1 + self.below(2 * aw) as usize,
            };
            let df = if self.below(2) == 0 {
                Dataflow::Ws
            } else {
                Dataflow::Is
            };
            let cb = 1usize << self.below(aw.trailing_zeros() as u64 + 1);
            let layout = Layout {
                cb,
                wb: aw as usize / cb,
            };
            match compile(&cfg, g, df, layout, cache) {
                Ok(sched) => {
                    if !self.build.core_only {
                        let lay = SeqLayout::new(&cfg, &self.build.seq);
                        if let Err(e) = lay.encode(&program::build(&sched)) {
                            last = e;
                            continue;
                        }
                    }
                    let mut data = LayerData::random(g.m, g.k, g.n, self.rng.next());
                    data.q.iact_signed = self.below(2) == 1;
                    data.q.weight_signed = self.below(2) == 1;
                    data.q.out_signed = self.below(2) == 1;
                    return Ok((sched, data));
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(HarnessError::Mismatch(format!(
            "no random layer compiles for this configuration in {DRAWS} draws (last: {last})"
        )))
    }
}

impl Testbench for RandomLayers {
    fn unit(&self) -> String {
        "layers".into()
    }

    fn run(&mut self, sim: &mut Sim, top: &Rc<Module>) -> Result<u64, HarnessError> {
        let fail = |e: anyhow::Error| HarnessError::Mismatch(format!("{e:#}"));
        let seq = (!self.build.core_only).then_some(self.build.seq);
        let mut cache = RouteCache::new();
        let mut layers = 0;
        let mut ses =
            Session::attach(&mut *sim, top.clone(), &self.build.cfg, seq).map_err(fail)?;
        loop {
            let (sched, data) = self.draw(&mut cache)?;
            let g = sched.gemm;
            let want = golden::gemm(&data.a, &data.b, g.m, g.k, g.n, &data.q);
            ses.set_layer(&sched, &data.q).map_err(fail)?;
            let (s_lines, w_lines) = place(
                &sched,
                data.streamed(sched.window.is_some()),
                &data.b,
                data.q.zp_i,
                data.q.zp_w,
            );
            ses.load(sched.in_buf as u64, &s_lines).map_err(fail)?;
            ses.load(2, &w_lines).map_err(fail)?;
            let (cycles, _) = if self.build.core_only {
                ses.play(&sched.uops)
            } else {
                ses.play_program(&program::build(&sched), sched.uops.len())
            }
            .map_err(fail)?;
            let lines = ses
                .read(sched.out_buf, sched.out.lines(g.m, g.n))
                .map_err(fail)?;
            let what = format!(
                "layer {layers} (GEMM {}x{}x{}, {}, {}, constants {:?})",
                g.m,
                g.k,
                g.n,
                sched.dataflow,
                sched.out.name(),
                layer_constants(&sched, &data.q)
            );
            compare(&sched, &gather(&sched, &lines), &want)
                .map_err(|e| HarnessError::Mismatch(format!("{what}: {e:#}")))?;
            if cycles != sched.cycles {
                return Err(HarnessError::Mismatch(format!(
                    "{what}: {cycles} cycles simulated, the timing model predicts {}",
                    sched.cycles
                )));
            }
            layers += 1;
            if ses.cycle() >= self.cycles {
                return Ok(layers);
            }
        }
    }
}
