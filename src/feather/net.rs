//! `plume feather net`: every convolution layer of a network (ResNet-50, MobileNet-V3; shapes in
//! `hw/data/conv_layers.csv`) through the compiler's timing model, with the best dataflow and
//! layout per layer; `--verify K` also simulates the K smallest layers.

use super::cli::sized_for;
use super::layer::{compare, prepare, run, Layer};
use crate::error::{bad, failed, Result};
use crate::tools::TempDir;
use plume_hw::feather::compiler::mapper::{compile, conv_gemm, plan, Dataflow, Gemm, Layout, Plan};
use plume_hw::feather::compiler::route::RouteCache;
use plume_hw::feather::golden::ConvShape;
use plume_hw::feather::top::FeatherConfig;

const CONV_LAYERS: &str = include_str!("../../hw/data/conv_layers.csv");

/// One row of conv_layers.csv.
#[derive(Clone, Debug)]
struct NetLayer {
    layer: usize,
    shape: ConvShape,
    depthwise: bool,
}

fn net_layers(net: &str) -> Result<Vec<NetLayer>> {
    let mut out = Vec::new();
    for (i, line) in CONV_LAYERS.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 12 || f[0] != net {
            continue;
        }
        let n = |j: usize| -> usize {
            f[j].parse()
                .unwrap_or_else(|_| panic!("conv_layers.csv line {}", i + 1))
        };
        let (r, s, stride) = (n(7), n(8), n(9));
        out.push(NetLayer {
            layer: n(1),
            shape: ConvShape {
                n: n(2),
                c: n(3),
                h: n(5) * stride,
                w: n(6) * stride,
                k: n(4),
                r,
                s,
                stride,
                pad: (r - 1) / 2,
            },
            depthwise: f[11] == "depthwise",
        });
    }
    if out.is_empty() {
        return Err(bad(format!(
            "unknown network {net:?} (expected resnet50 or mobilenetv3)"
        )));
    }
    Ok(out)
}

/// The GEMM one group of a layer runs, and how many groups (depthwise: one per channel).
fn layer_gemm(l: &NetLayer) -> (Gemm, usize) {
    if l.depthwise {
        let one = ConvShape {
            c: 1,
            k: 1,
            ..l.shape
        };
        (conv_gemm(&one).expect("listed layers are valid"), l.shape.c)
    } else {
        (conv_gemm(&l.shape).expect("listed layers are valid"), 1)
    }
}

/// The best (dataflow, layout) for a GEMM by the timing model.
fn best_plan(cfg: &FeatherConfig, g: Gemm) -> (Dataflow, Layout, Plan) {
    let aw = cfg.aw as usize;
    let layouts = [
        Layout { cb: aw, wb: 1 },
        Layout { cb: 1, wb: aw },
        Layout {
            cb: 4.min(aw),
            wb: aw / 4.min(aw),
        },
    ];
    let mut best: Option<(Dataflow, Layout, Plan)> = None;
    for df in [Dataflow::Ws, Dataflow::Is] {
        for l in layouts {
            let p = plan(cfg, g, df, l);
            if best.as_ref().is_none_or(|b| p.cycles < b.2.cycles) {
                best = Some((df, l, p));
            }
        }
    }
    best.expect("at least one plan")
}

pub fn net_cmd(net: &str, cfg: &FeatherConfig, verify: usize) -> Result<()> {
    let layers = net_layers(net)?;
    let pes = (cfg.ah * cfg.aw) as u64;
    crate::outln!(
        "{net} on FEATHER {}x{} ({} BIRRD), timing model per layer (best dataflow and layout; operands assumed resident on chip)",
        cfg.ah, cfg.aw, cfg.topology
    );
    crate::outln!(
        "{:>5}  {:<34} {:>3} {:>10} {:>12} {:>14} {:>6}",
        "layer",
        "shape (N,C,H,W,K,R,S,stride)",
        "df",
        "layout",
        "cycles",
        "MACs",
        "util"
    );
    let (mut total_cycles, mut total_macs) = (0u64, 0u64);
    let mut rows = Vec::new();
    for l in &layers {
        let (g, groups) = layer_gemm(l);
        let (df, layout, p) = best_plan(cfg, g);
        let cycles = p.cycles * groups as u64;
        let macs = g.macs() * groups as u64;
        total_cycles += cycles;
        total_macs += macs;
        let sh = l.shape;
        crate::outln!(
            "{:>5}  {:<34} {:>3} {:>10} {:>12} {:>14} {:>5.1}%",
            l.layer,
            format!(
                "{},{},{},{},{},{},{},{}{}",
                sh.n,
                sh.c,
                sh.h,
                sh.w,
                sh.k,
                sh.r,
                sh.s,
                sh.stride,
                if l.depthwise { " dw" } else { "" }
            ),
            df.to_string(),
            layout.name(),
            cycles,
            macs,
            100.0 * macs as f64 / (pes * cycles) as f64
        );
        rows.push((macs, l.clone(), g, df, layout, p));
    }
    crate::outln!(
        "total  {:<34} {:>3} {:>10} {:>12} {:>14} {:>5.1}%",
        format!("{} layers", layers.len()),
        "",
        "",
        total_cycles,
        total_macs,
        100.0 * total_macs as f64 / (pes * total_cycles) as f64
    );
    if verify == 0 {
        return Ok(());
    }
    rows.sort_by_key(|r| r.0);
    for (_, l, g, df, layout, p) in rows.into_iter().take(verify) {
        let sized = sized_for(cfg, &p)?;
        let mut cache = RouteCache::new();
        let sched = compile(&sized, g, df, layout, &mut cache)?;
        // Dense layers run as convolutions against the direct golden model; a depthwise
        // layer's one-channel group runs as its GEMM.
        let layer = if l.depthwise {
            Layer::Gemm(g)
        } else {
            Layer::Conv(l.shape)
        };
        let prep = prepare(&layer, l.layer as u64)?;
        let dir = TempDir::new("feather-net")?;
        let r = run(&sched, &prep.data, None, None, dir.path(), false)?;
        compare(&sched, &r.out, &prep.golden)?;
        if r.cycles != p.cycles {
            return Err(failed(format!(
                "layer {}: the timing model predicts {} cycles but the simulation took {}",
                l.layer, p.cycles, r.cycles
            )));
        }
        crate::outln!(
            "verified layer {:>3}: {} simulated cycles = timing model, output bit-exact ({:.1} s)",
            l.layer,
            r.cycles,
            r.sim_seconds
        );
    }
    Ok(())
}
