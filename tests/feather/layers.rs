//! Whole FEATHER layers, bit-exact against the golden model on the cycle simulator; the
//! timing model's cycle count equals the simulated one; the emitted Verilog replays a GEMM in
//! Verilator and Icarus with identical outputs in every cycle.

use crate::common;

use plume::feather::layer::{compare, prepare, run, Layer};
use plume_hw::feather::birrd::Topology;
use plume_hw::feather::compiler::depthwise::DwBlock;
use plume_hw::feather::compiler::mapper::{
    compile, compile_with, Dataflow, Gemm, Layout, Options, Stream,
};
use plume_hw::feather::compiler::route::RouteCache;
use plume_hw::feather::golden::ConvShape;
use plume_hw::feather::top::FeatherConfig;
use plume_sim::cosim::Tool;

/// A schedule's loop-compressed program and its software expansion (the sequencer's behaviour).
fn expansion(
    sched: &plume_hw::feather::compiler::mapper::Schedule,
) -> (
    plume_hw::feather::compiler::program::Program,
    Vec<plume_hw::feather::controller::Uop>,
) {
    use plume_hw::feather::compiler::program::{build, expand};
    let prog = build(sched);
    let s_lat = sched.cfg.birrd_latency() as usize;
    let uops = expand(&prog, sched.uops.len(), sched.cfg.aw as usize, s_lat);
    (prog, uops)
}

#[allow(clippy::too_many_arguments)]
fn case(
    ah: u32,
    aw: u32,
    gemm: Gemm,
    df: Dataflow,
    layout: &str,
    topo: Topology,
    seed: u64,
    tool: Option<Tool>,
) {
    layer_case(ah, aw, Layer::Gemm(gemm), df, layout, topo, seed, tool)
}

#[allow(clippy::too_many_arguments)]
fn layer_case(
    ah: u32,
    aw: u32,
    layer: Layer,
    df: Dataflow,
    layout: &str,
    topo: Topology,
    seed: u64,
    tool: Option<Tool>,
) {
    let prep = prepare(&layer, seed).unwrap();
    let gemm = prep.gemm;
    let mut cfg = FeatherConfig::new(ah, aw);
    cfg.topology = topo;
    cfg.w_depth = 4096;
    cfg.s_depth = 4096;
    let layout = Layout::parse(layout, aw as usize).unwrap();
    let mut cache = RouteCache::new();
    let opt = Options::layer(df, layout, Stream::Placed).grouped(layer.groups());
    let sched = compile_with(&cfg, gemm, &opt, &mut cache)
        .unwrap_or_else(|e| panic!("{ah}x{aw} {gemm:?} {df} {}: {e}", layout.name()));
    // The loop-compressed program expands to exactly the compiler's micro-instructions.
    let (prog, expanded) = expansion(&sched);
    assert!(
        expanded == sched.uops,
        "program expansion differs from the micro-instructions, {ah}x{aw} {gemm:?} {df}"
    );
    eprintln!(
        "program: {} entries for {} micro-instructions",
        prog.size(),
        sched.uops.len()
    );
    let data = &prep.data;
    let dir = common::TempDir::new("feather").unwrap();
    let r = run(&sched, data, None, tool, dir.path(), false).unwrap();
    let want = &prep.golden;
    eprintln!(
        "{ah}x{aw} {gemm:?} {df} {}: {:?} cycles {} configs {} out[..8] {:?}",
        layout.name(),
        sched.map,
        r.cycles,
        sched.configs,
        &r.out[..8.min(r.out.len())]
    );
    compare(&sched, &r.out, want)
        .unwrap_or_else(|e| panic!("{ah}x{aw} {gemm:?} {df} {}: {e}", layout.name()));
    assert_eq!(
        r.cycles, sched.cycles,
        "timing model vs simulation, {ah}x{aw} {gemm:?} {df} {:?}",
        sched.map
    );
}

#[test]
fn small_gemm_ws_channel_last() {
    case(
        4,
        4,
        Gemm { m: 5, k: 7, n: 6 },
        Dataflow::Ws,
        "HWC_C4",
        Topology::Bitrev,
        1,
        None,
    );
}

#[test]
fn gemm_sweep_arrays_dataflows_layouts() {
    let mut seed = 10;
    for (ah, aw) in [(4u32, 4u32), (8, 8), (16, 16), (4, 8), (8, 4)] {
        for df in [Dataflow::Ws, Dataflow::Is] {
            let c = format!("HWC_C{aw}");
            let w = format!("HWC_W{aw}");
            let mixed = format!("HWC_C2W{}", aw / 2);
            for layout in [c.as_str(), w.as_str(), mixed.as_str()] {
                // K beyond AH·AW forces accumulation across tiles in the output buffer.
                for gemm in [
                    Gemm { m: 9, k: 20, n: 7 },
                    Gemm {
                        m: 3,
                        k: (ah * aw) as usize + 5,
                        n: 2 * ah as usize + 1,
                    },
                ] {
                    seed += 1;
                    case(ah, aw, gemm, df, layout, Topology::Bitrev, seed, None);
                }
            }
        }
    }
}

#[test]
fn benes_topology_runs_the_same_layers() {
    case(
        8,
        8,
        Gemm { m: 6, k: 30, n: 10 },
        Dataflow::Ws,
        "HWC_C8",
        Topology::Benes,
        3,
        None,
    );
    case(
        8,
        8,
        Gemm { m: 6, k: 30, n: 10 },
        Dataflow::Is,
        "HWC_W8",
        Topology::Benes,
        4,
        None,
    );
}

#[test]
fn emitted_verilog_runs_a_gemm_in_verilator_and_icarus() {
    for (ah, aw, tool) in [
        (4u32, 4u32, Tool::Verilator),
        (4, 4, Tool::Icarus),
        (8, 8, Tool::Verilator),
        (8, 8, Tool::Icarus),
    ] {
        if !plume_sim::cosim::require(tool).unwrap() {
            continue;
        }
        case(
            ah,
            aw,
            Gemm { m: 6, k: 11, n: 9 },
            Dataflow::Ws,
            &format!("HWC_C{aw}"),
            Topology::Bitrev,
            5,
            Some(tool),
        );
    }
}

#[test]
fn convolutions_match_the_direct_golden_model() {
    let conv = |n, c, h, w, k, r, s, stride, pad| {
        Layer::Conv(ConvShape {
            n,
            c,
            h,
            w,
            k,
            r,
            s,
            stride,
            pad,
            dilation: 1,
        })
    };
    // 3×3 with padding, strided 1×1, a 7×7 stride-2 stem in miniature, batch 2.
    let layers = [
        conv(1, 5, 6, 6, 6, 3, 3, 1, 1),
        conv(1, 8, 7, 7, 9, 1, 1, 2, 0),
        conv(1, 3, 11, 11, 4, 7, 7, 2, 3),
        conv(2, 4, 5, 5, 3, 3, 3, 1, 0),
    ];
    let mut seed = 100;
    for (ah, aw) in [(4u32, 4u32), (8, 8)] {
        for layer in layers {
            for (df, layout) in [
                (Dataflow::Ws, format!("HWC_C{aw}")),
                (Dataflow::Is, format!("HWC_W{aw}")),
            ] {
                seed += 1;
                layer_case(ah, aw, layer, df, &layout, Topology::Bitrev, seed, None);
            }
        }
    }
}

/// Depthwise layers as patch GEMMs with their channels side by side (`compiler::depthwise`):
/// bit-exact against the direct depthwise convolution (every pixel of every block, those past
/// the edge included, through `depthwise_golden`) on every array shape, both dataflows, and
/// the timing model's cycles equal the simulated ones.
#[test]
fn depthwise_layers_in_blocks_match_the_direct_golden_model() {
    let dw = |c, h, w, r, stride, pad, dilation, bh, bw| Layer::Depthwise {
        shape: ConvShape {
            n: 1,
            c,
            h,
            w,
            k: c,
            r,
            s: r,
            stride,
            pad,
            dilation,
        },
        block: DwBlock { bh, bw },
    };
    let mut seed = 300;
    for (ah, aw) in [(4u32, 4u32), (8, 8), (16, 16), (4, 8), (8, 4)] {
        let layers = [
            dw(aw as usize, 7, 6, 3, 1, 1, 1, 2, 2),
            dw(2, 9, 11, 5, 2, 2, 1, 1, 2),
            dw(4, 8, 7, 3, 2, 1, 2, 2, 1),
            dw(1, 6, 5, 3, 1, 0, 1, 4, 1),
            dw(4, 5, 9, 3, 1, 1, 1, 1, 1),
        ];
        for layer in layers {
            // The channels side by side need as many column groups: HWC_W gives them.
            let layout = format!("HWC_W{aw}");
            for df in [Dataflow::Ws, Dataflow::Is] {
                seed += 1;
                layer_case(ah, aw, layer, df, &layout, Topology::Bitrev, seed, None);
            }
        }
    }
}

/// A depthwise layer with four channels side by side replays on the emitted Verilog: Verilator
/// and Icarus agree with plume's simulator on every output of every cycle.
#[test]
fn a_depthwise_layer_with_channels_side_by_side_replays_in_verilator_and_icarus() {
    let layer = Layer::Depthwise {
        shape: ConvShape {
            n: 1,
            c: 4,
            h: 6,
            w: 7,
            k: 4,
            r: 3,
            s: 3,
            stride: 1,
            pad: 1,
            dilation: 1,
        },
        block: DwBlock { bh: 2, bw: 2 },
    };
    for tool in [Tool::Verilator, Tool::Icarus] {
        if !plume_sim::cosim::require(tool).unwrap() {
            continue;
        }
        layer_case(
            4,
            4,
            layer,
            Dataflow::Ws,
            "HWC_W4",
            Topology::Bitrev,
            77,
            Some(tool),
        );
    }
}

/// Layer 1 writes layer 2's input placement directly (reorder in reduction) or channel-last
/// followed by a reorder; both chains run on one simulated core and must match the golden
/// chain bit for bit (checked inside `layout_switch`).
#[test]
fn chained_layers_with_and_without_reorder_in_reduction() {
    for (ah, aw, g1, n2) in [
        (4u32, 4u32, Gemm { m: 10, k: 9, n: 12 }, 7),
        (
            8,
            8,
            Gemm {
                m: 24,
                k: 20,
                n: 40,
            },
            16,
        ),
    ] {
        let mut cfg = FeatherConfig::new(ah, aw);
        cfg.s_depth = 4096;
        cfg.w_depth = 4096;
        cfg.o_depth = 4096;
        let mut cache = RouteCache::new();
        let r = plume::feather::layer::layout_switch(&cfg, g1, n2, 3, &mut cache).unwrap();
        assert_eq!(
            r.rir.1, r.rar.2,
            "layer 2 is the same schedule in both chains"
        );
        assert!(r.rar.1 > 0, "the baseline pays for a reorder");
        eprintln!("{ah}x{aw}: RIR {:?} RAR {:?}", r.rir, r.rar);
    }
}

/// The 4×4 programmable top (sequencer + core) synthesises for UltraScale+ with the structure
/// the design intends: one DSP48E2 per PE plus four per quantizer lane (32 × 32-bit product),
/// weight files in LUT RAM, and buffers and sequencer tables in block RAM, not flip-flops.
#[test]
fn core_synthesises_with_dsp_lutram_and_bram() {
    if !common::have("yosys") {
        return;
    }
    let cfg = FeatherConfig::new(4, 4);
    let top = plume_hw::feather::sequencer::programmable_top(&cfg, &Default::default()).unwrap();
    plume::tools::lint(&top).unwrap();
    let r = plume::tools::synth(&top).unwrap();
    eprintln!("{}", plume::board::resource_table(&r));
    assert_eq!(r.dsp, 16 + 4 * 4, "DSP48E2: 16 PEs + 4 quantizer lanes × 4");
    assert!(
        r.lutram >= 16,
        "weight files in LUT RAM: {} cells",
        r.lutram
    );
    // S0, S1 (4 banks × 1024 × 8), W (1024 × 32), OB (4 × 1024 × 32): about 9 BRAM36, plus
    // the sequencer's queues and tables.
    assert!(r.bram36 >= 10.0, "buffers in block RAM: {}", r.bram36);
}

/// The sequencer expands the loop-compressed program in hardware: the programmable top
/// (sequencer + core) must give the golden output and the timing model's cycle count.
fn programmed_case(ah: u32, aw: u32, layer: Layer, df: Dataflow, layout: &str, tool: Option<Tool>) {
    use plume::feather::layer::Session;
    use plume_hw::feather::compiler::mapper::place;
    use plume_hw::feather::sequencer::SeqConfig;
    let prep = prepare(&layer, 9).unwrap();
    let mut cfg = FeatherConfig::new(ah, aw);
    cfg.w_depth = 4096;
    cfg.s_depth = 4096;
    let layout = Layout::parse(layout, aw as usize).unwrap();
    let mut cache = RouteCache::new();
    let sched = compile(&cfg, prep.gemm, df, layout, &mut cache).unwrap();
    let prog = plume_hw::feather::compiler::program::build(&sched);
    let seq = SeqConfig {
        desc_depth: 64,
        pattern_depth: 256,
        config_depth: 16,
        window_depth: 64,
    };
    let mut ses = Session::programmable(&cfg, &seq, None, tool.is_some()).unwrap();
    let q = &prep.data.q;
    ses.set_layer(&sched, q).unwrap();
    let (s_lines, w_lines) = place(
        &sched,
        prep.data.streamed(sched.window.is_some()),
        &prep.data.b,
        q.zp_i,
        q.zp_w,
    );
    ses.load(sched.in_buf as u64, &s_lines).unwrap();
    ses.load(2, &w_lines).unwrap();
    let (cycles, _) = ses.play_program(&prog, sched.uops.len()).unwrap();
    let out = ses
        .read(sched.out_buf, sched.out.lines(prep.gemm.m, prep.gemm.n))
        .unwrap();
    let got = plume_hw::feather::compiler::mapper::gather(&sched, &out);
    compare(&sched, &got, &prep.golden).unwrap();
    assert_eq!(
        cycles, sched.cycles,
        "sequencer-driven cycles vs timing model"
    );
    let dir = common::TempDir::new("feather-seq").unwrap();
    let (n, _) = ses.finish(tool, dir.path()).unwrap();
    if let Some(t) = tool {
        eprintln!("{}: {} cycles identical", t.name(), n.unwrap());
    }
}

#[test]
fn sequencer_runs_compressed_programs() {
    let conv = Layer::Conv(ConvShape {
        n: 1,
        c: 5,
        h: 6,
        w: 6,
        k: 6,
        r: 3,
        s: 3,
        stride: 1,
        pad: 1,
        dilation: 1,
    });
    programmed_case(
        4,
        4,
        Layer::Gemm(Gemm { m: 9, k: 20, n: 7 }),
        Dataflow::Ws,
        "HWC_C4",
        None,
    );
    programmed_case(
        4,
        4,
        Layer::Gemm(Gemm { m: 9, k: 20, n: 7 }),
        Dataflow::Is,
        "HWC_C2W2",
        None,
    );
    programmed_case(8, 8, conv, Dataflow::Ws, "HWC_W8", None);
    programmed_case(
        8,
        8,
        Layer::Gemm(Gemm {
            m: 20,
            k: 70,
            n: 17,
        }),
        Dataflow::Ws,
        "HWC_C8",
        None,
    );
    for tool in [Tool::Verilator, Tool::Icarus] {
        if plume_sim::cosim::require(tool).unwrap() {
            programmed_case(
                4,
                4,
                Layer::Gemm(Gemm { m: 6, k: 11, n: 9 }),
                Dataflow::Ws,
                "HWC_C4",
                Some(tool),
            );
        }
    }
}

/// A convolution streamed from its compact input: the compiler's micro-instructions on the
/// core, and (with `programmed`) the sequencer's walk of the same program, give the golden
/// output and the timing model's cycle count.
fn window_case(ah: u32, aw: u32, sh: ConvShape, layout: &str, seed: u64) -> u64 {
    use plume::feather::layer::{run_programmed, Prepared};
    use plume_hw::feather::compiler::mapper::{compile_with, Options, Out, Stream};
    let prep: Prepared = prepare(&Layer::Conv(sh), seed).unwrap();
    let mut cfg = FeatherConfig::new(ah, aw);
    cfg.w_depth = 4096;
    cfg.s_depth = 4096;
    let layout = Layout::parse(layout, aw as usize).unwrap();
    let opt = Options {
        dataflow: Dataflow::Ws,
        out: Out::Layout(layout),
        in_buf: 0,
        out_buf: 1,
        single_pn: false,
        stream: Stream::Window(sh),
        groups: 1,
    };
    let sched = compile_with(&cfg, prep.gemm, &opt, &mut RouteCache::new())
        .unwrap_or_else(|e| panic!("{ah}x{aw} {sh:?}: {e}"));
    let win = sched.window.expect("a window schedule");
    let pads = sched.uops.iter().filter(|u| u.s_pad).count();
    let dir = common::TempDir::new("feather-window").unwrap();
    let r = run(&sched, &prep.data, None, None, dir.path(), false).unwrap();
    compare(&sched, &r.out, &prep.golden).unwrap_or_else(|e| panic!("{ah}x{aw} {sh:?}: {e}"));
    assert_eq!(r.cycles, sched.cycles, "timing model, {ah}x{aw} {sh:?}");
    // The compact input is all the streaming buffer holds: no lowered copy.
    let (s_lines, _) = plume_hw::feather::compiler::mapper::place(
        &sched,
        prep.data.streamed(sched.window.is_some()),
        &prep.data.b,
        prep.data.q.zp_i,
        prep.data.q.zp_w,
    );
    assert_eq!(
        s_lines.len(),
        sh.n * sh.h * sh.w * sh.c.div_ceil(aw as usize)
    );
    eprintln!(
        "{ah}x{aw} {sh:?}: T {} V {} ks {}, {} cycles, {pads} padded elements, {} input lines",
        win.t,
        win.v,
        win.ks,
        r.cycles,
        s_lines.len()
    );
    // The sequencer's walk, in software and in hardware, gives the same micro-instructions.
    let (_, expanded) = expansion(&sched);
    if let Some(t) = (0..sched.uops.len()).find(|&t| expanded[t] != sched.uops[t]) {
        panic!(
            "{ah}x{aw} {sh:?}: the walk differs at micro-instruction {t}: {:?} vs {:?}",
            expanded[t], sched.uops[t]
        );
    }
    let rp = run_programmed(&sched, &prep.data, None, None, dir.path()).unwrap();
    compare(&sched, &rp.out, &prep.golden)
        .unwrap_or_else(|e| panic!("sequencer, {ah}x{aw} {sh:?}: {e}"));
    assert_eq!(rp.cycles, sched.cycles, "sequencer, {ah}x{aw} {sh:?}");
    r.cycles
}

#[allow(clippy::too_many_arguments)]
fn conv(
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    r: usize,
    stride: usize,
    pad: usize,
    dil: usize,
) -> ConvShape {
    ConvShape {
        n: 1,
        c,
        h,
        w,
        k,
        r,
        s: r,
        stride,
        pad,
        dilation: dil,
    }
}

#[test]
fn window_addressing_matches_the_direct_convolution() {
    let mut seed = 100;
    // Strides 1–2, dilation 1–2, padding 0–3, odd shapes, channels not multiples of AW.
    for (ah, aw) in [(4u32, 4u32), (8, 8), (4, 8), (8, 4)] {
        for (c, h, w, k, r, st, pad, dil) in [
            (5, 6, 7, 6, 3, 1, 1, 1),
            (aw as usize, 7, 5, 9, 3, 2, 0, 1),
            (11, 5, 6, 3, 3, 1, 3, 2),
            (3, 9, 8, 5, 2, 2, 2, 2),
            (2 * aw as usize + 1, 4, 4, 2 * ah as usize + 3, 1, 2, 0, 1),
        ] {
            seed += 1;
            window_case(
                ah,
                aw,
                conv(c, h, w, k, r, st, pad, dil),
                &format!("HWC_C{aw}"),
                seed,
            );
        }
    }
    // Batches: the walk steps from one image's last output row to the next image.
    for (sh, seed) in [
        (conv(6, 5, 5, 7, 3, 1, 1, 1), 7),
        (conv(5, 7, 6, 4, 3, 2, 0, 1), 8),
    ] {
        let mut batch = sh;
        batch.n = 2;
        window_case(4, 4, batch, "HWC_W4", seed);
    }
}

#[test]
fn a_window_streamed_convolution_replays_in_verilator_and_icarus() {
    use plume::feather::layer::run_programmed;
    use plume_hw::feather::compiler::mapper::{compile_with, Options, Out, Stream};
    let sh = conv(5, 5, 6, 6, 3, 2, 1, 1);
    let prep = prepare(&Layer::Conv(sh), 21).unwrap();
    let cfg = FeatherConfig::new(4, 4);
    let opt = Options {
        dataflow: Dataflow::Ws,
        out: Out::Layout(Layout { cb: 4, wb: 1 }),
        in_buf: 0,
        out_buf: 1,
        single_pn: false,
        stream: Stream::Window(sh),
        groups: 1,
    };
    let sched = compile_with(&cfg, prep.gemm, &opt, &mut RouteCache::new()).unwrap();
    let dir = common::TempDir::new("feather-window-cosim").unwrap();
    for tool in [Tool::Verilator, Tool::Icarus] {
        if plume_sim::cosim::require(tool).unwrap() {
            let r = run_programmed(&sched, &prep.data, None, Some(tool), dir.path()).unwrap();
            compare(&sched, &r.out, &prep.golden).unwrap();
            assert_eq!(r.cycles, sched.cycles);
            if tool == Tool::Verilator {
                plume::tools::lint(&r.top).unwrap();
            }
            eprintln!(
                "{}: {} cycles identical",
                tool.name(),
                r.cosim_cycles.unwrap()
            );
        }
    }
}

/// Two convolutions chained on chip through the sequencer: layer 1 writes its output
/// channel-last (`HWC_C<AW>`) into S1, which is exactly the compact input layer 2 streams its
/// windows from — no host round trip and no im2col, the second layer strided and dilated.
#[test]
fn a_convolution_streams_windows_from_the_previous_layers_output_where_it_lies() {
    use plume::feather::layer::Session;
    use plume_hw::feather::compiler::mapper::{compile_with, gather, place, Options, Out, Stream};
    use plume_hw::feather::compiler::program::build;
    use plume_hw::feather::golden;
    use plume_hw::feather::sequencer::SeqConfig;
    let mut cfg = FeatherConfig::new(8, 8);
    cfg.s_depth = 4096;
    cfg.w_depth = 4096;
    let sh1 = conv(5, 9, 8, 12, 3, 1, 1, 1);
    let sh2 = conv(12, 9, 8, 10, 3, 2, 2, 2);
    let p1 = prepare(&Layer::Conv(sh1), 31).unwrap();
    let y1 = p1.golden.clone();
    let p2 = prepare(&Layer::Conv(sh2), 32).unwrap();
    // Layer 2 reads layer 1's quantized output: its iAct zero point and format are layer 1's.
    let mut q2 = p2.data.q;
    q2.zp_i = p1.data.q.zp_o;
    q2.iact_signed = p1.data.q.out_signed;
    let want = golden::conv(&y1, &p2.operands[1], &sh2, &q2);
    let channel_last = Out::Layout(Layout { cb: 8, wb: 1 });
    let opt = |stream, in_buf, out_buf| Options {
        dataflow: Dataflow::Ws,
        out: channel_last,
        in_buf,
        out_buf,
        single_pn: false,
        stream,
        groups: 1,
    };
    let mut cache = RouteCache::new();
    let l1 = compile_with(&cfg, p1.gemm, &opt(Stream::Window(sh1), 0, 1), &mut cache).unwrap();
    let l2 = compile_with(&cfg, p2.gemm, &opt(Stream::Window(sh2), 1, 0), &mut cache).unwrap();
    let mut ses = Session::programmable(&cfg, &SeqConfig::default(), None, false).unwrap();
    ses.set_layer(&l1, &p1.data.q).unwrap();
    let (s1, w1) = place(
        &l1,
        &p1.operands[0],
        &p1.data.b,
        p1.data.q.zp_i,
        p1.data.q.zp_w,
    );
    ses.load(0, &s1).unwrap();
    ses.load(2, &w1).unwrap();
    let (c1, _) = ses.play_program(&build(&l1), l1.uops.len()).unwrap();
    assert_eq!(c1, l1.cycles);
    // Only layer 2's weights are loaded: its input is already in S1.
    ses.set_layer(&l2, &q2).unwrap();
    let (_, w2) = place(&l2, &y1, &p2.data.b, q2.zp_i, q2.zp_w);
    ses.load(2, &w2).unwrap();
    let (c2, _) = ses.play_program(&build(&l2), l2.uops.len()).unwrap();
    assert_eq!(c2, l2.cycles);
    let out = ses.read(0, l2.out.lines(p2.gemm.m, p2.gemm.n)).unwrap();
    let got = gather(&l2, &out);
    compare(&l2, &got, &want).unwrap();
    eprintln!(
        "chained: {c1} + {c2} cycles, {} distinct outputs",
        got.iter().collect::<std::collections::HashSet<_>>().len()
    );
}

/// A lowered layer whose K-superchunks outnumber the window table still encodes: only window
/// descriptors carry a table index (ResNet-50 layer 45 tiled for the board found this).
#[test]
fn a_deep_lowered_layer_encodes_whatever_the_window_tables_depth() {
    use plume_hw::feather::compiler::program::build;
    use plume_hw::feather::sequencer::{SeqConfig, SeqLayout};
    let mut cfg = FeatherConfig::new(4, 4);
    cfg.s_depth = 8192;
    cfg.w_depth = 8192;
    let g = Gemm {
        m: 2,
        k: 2100,
        n: 3,
    };
    let sched = compile(
        &cfg,
        g,
        Dataflow::Ws,
        Layout { cb: 4, wb: 1 },
        &mut RouteCache::new(),
    )
    .unwrap();
    let seq = SeqConfig::default();
    assert!(sched.map.ks * sched.map.v > seq.window_depth as usize);
    SeqLayout::new(&cfg, &seq).encode(&build(&sched)).unwrap();
}
