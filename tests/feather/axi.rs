//! FEATHER behind AXI, end to end: a host model writes the layer constants over AXI4-Lite,
//! streams buffer lines and the loop-compressed program over AXI4-Stream, starts the run, waits
//! for done, reads the hardware cycle counter and streams the output back — with and without
//! random stalls on every bus — and the tensor must equal the golden model's; the same session
//! replays in Verilator and Icarus.

use crate::common;

use plume::feather::host::{run_axi, Stalls};
use plume::feather::layer::{compare, prepare, Layer};
use plume_hw::feather::axi::{axi_feather, beats_per_entry, feather_map, Target};
use plume_hw::feather::compiler::mapper::{compile, Dataflow, Gemm, Layout};
use plume_hw::feather::compiler::route::RouteCache;
use plume_hw::feather::golden::ConvShape;
use plume_hw::feather::sequencer::SeqConfig;
use plume_hw::feather::top::FeatherConfig;
use plume_hw::rtl::Bits;
use plume_sim::bfm::{LiteMaster, OKAY};
use plume_sim::cosim::{self, Tool};
use plume_sim::rng::XorShift;
use plume_sim::Sim;

fn small_seq() -> SeqConfig {
    SeqConfig {
        desc_depth: 64,
        pattern_depth: 256,
        config_depth: 16,
        window_depth: 64,
    }
}

fn case(
    ah: u32,
    aw: u32,
    layer: Layer,
    df: Dataflow,
    layout: &str,
    stalls: Stalls,
    record: bool,
) -> plume::feather::host::AxiRun {
    let prep = prepare(&layer, 3).unwrap();
    let mut cfg = FeatherConfig::new(ah, aw);
    cfg.s_depth = 256;
    cfg.w_depth = 256;
    cfg.o_depth = 256;
    let layout = Layout::parse(layout, aw as usize).unwrap();
    let sched = compile(&cfg, prep.gemm, df, layout, &mut RouteCache::new()).unwrap();
    let q = &prep.data.q;
    let run = run_axi(
        &sched,
        &small_seq(),
        &prep.data.a,
        &prep.data.b,
        q,
        stalls,
        record,
    )
    .unwrap();
    compare(&sched, &run.out, &prep.golden).unwrap();
    assert_eq!(run.cycles, sched.cycles, "CYCLES vs the timing model");
    run
}

fn gemm() -> Layer {
    Layer::Gemm(Gemm { m: 9, k: 20, n: 7 })
}

#[test]
fn wrapped_feather_runs_layers_with_and_without_back_pressure() {
    let calm = Stalls::default();
    let busy = Stalls {
        lite: 40,
        stream_in: 50,
        stream_out: 60,
        seed: 11,
    };
    let a = case(4, 4, gemm(), Dataflow::Ws, "HWC_C4", calm, false);
    let b = case(4, 4, gemm(), Dataflow::Ws, "HWC_C4", busy, false);
    assert_eq!(a.out, b.out);
    assert_eq!(a.entries, b.entries);
    assert!(
        b.phases[0] > a.phases[0] && b.phases[2] > a.phases[2],
        "stalls cost bus cycles: {:?} vs {:?}",
        b.phases,
        a.phases
    );
    case(4, 4, gemm(), Dataflow::Is, "HWC_C2W2", busy, false);
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
    case(8, 8, conv, Dataflow::Ws, "HWC_W8", busy, false);
}

#[test]
fn wrapped_feather_verilog_matches_the_simulator() {
    let busy = Stalls {
        lite: 30,
        stream_in: 40,
        stream_out: 50,
        seed: 5,
    };
    let run = case(4, 4, gemm(), Dataflow::Ws, "HWC_C4", busy, true);
    let rec = run.recording.unwrap();
    plume::tools::lint(&run.top).unwrap();
    for (k, (name, _)) in run.top.outputs.iter().enumerate() {
        assert!(
            run.top.comb_inputs[k].is_empty(),
            "{name} is combinational in an input"
        );
    }
    for tool in [Tool::Verilator, Tool::Icarus] {
        if !cosim::require(tool).unwrap() {
            continue;
        }
        let dir = common::TempDir::new("axi-feather").unwrap();
        let n = cosim::check(tool, &run.top, &rec, dir.path())
            .unwrap_or_else(|e| panic!("{}: {e}", tool.name()));
        eprintln!("{}: {n} cycles identical", tool.name());
    }
}

#[test]
fn wrapped_feather_map_and_entry_sizes() {
    let cfg = FeatherConfig::new(16, 16);
    let seq = SeqConfig::default();
    let map = feather_map(&cfg, &seq).unwrap();
    let mut offsets: Vec<u32> = map.words.iter().map(|w| w.offset).collect();
    assert!(offsets.iter().all(|o| o % 4 == 0));
    offsets.dedup();
    assert_eq!(offsets.len(), map.words.len());
    for name in [
        "op",
        "length",
        "scale",
        "wr_target",
        "rd_count",
        "cycles",
        "entries",
    ] {
        assert!(map.offset(name).is_some(), "{name} is mapped");
    }
    // A buffer line is one beat; every table entry fits in whole beats.
    assert_eq!(beats_per_entry(&cfg, &seq, Target::Weights), 1);
    assert!(beats_per_entry(&cfg, &seq, Target::Patterns) >= 2);
    let top = axi_feather(&FeatherConfig::new(4, 4), &small_seq()).unwrap();
    assert_eq!(top.name, "axi_feather_4x4_bitrev");
}

/// The wrapped BIRRD end to end: the host writes a routed configuration through AXI4-Lite,
/// streams random vectors in and takes the results out, both with random stalls; every result
/// equals the golden model's, nothing is lost under back-pressure, CTRL reports done after the
/// last beat and BEATS counts them; the same session replays in Verilator and Icarus.
fn wrapped_birrd_session(
    stall_in: u64,
    stall_out: u64,
    record: bool,
) -> (Vec<(Bits, bool)>, Option<plume_sim::Recording>) {
    use plume_hw::feather::axi::{axi_birrd, birrd_map};
    use plume_hw::feather::birrd::{BirrdConfig, Topology};
    use plume_hw::feather::golden;
    let cfg = BirrdConfig {
        ports: 8,
        width: 16,
        topology: Topology::Bitrev,
    };
    let top = axi_birrd(&cfg).unwrap();
    let map = birrd_map(&cfg).unwrap();
    let mut sim = Sim::new(&top).unwrap();
    if record {
        sim.record();
    }
    sim.poke_u64("rst", 1).unwrap();
    LiteMaster::idle(&mut sim).unwrap();
    for n in ["s_axis_tlast", "s_axis_tvalid", "m_axis_tready"] {
        sim.poke_u64(n, 0).unwrap();
    }
    sim.poke("s_axis_tdata", &Bits::zero(128)).unwrap();
    sim.step();
    sim.poke_u64("rst", 0).unwrap();
    // A routed reduce-and-reorder pattern as the configuration.
    let router = plume_hw::feather::compiler::route::Router::new(8, Topology::Bitrev).unwrap();
    let target: plume_hw::feather::compiler::route::Target =
        [(6, vec![0, 4]), (1, vec![1, 5, 2]), (3, vec![7])]
            .into_iter()
            .collect();
    let config = router
        .route(&target, std::time::Duration::from_secs(5))
        .unwrap();
    let word = cfg.command_word(&config);
    let mut bfm = LiteMaster::new(1, 30);
    for (k, p) in map.params.iter().enumerate() {
        let v = word.slice(32 * k as u32, p.width).to_u64() as u32;
        assert_eq!(
            bfm.write(&mut sim, 0x10 + 4 * k as u64, v, 0xf).unwrap(),
            OKAY
        );
    }
    let mut rng = XorShift::new(77);
    let inputs: Vec<Vec<u64>> = (0..120)
        .map(|_| (0..8).map(|_| rng.next() & 0xffff).collect())
        .collect();
    let beats: Vec<(Bits, bool)> = inputs
        .iter()
        .enumerate()
        .map(|(i, v)| (cfg.pack(v), i + 1 == inputs.len()))
        .collect();
    let (got, _) =
        plume_sim::bfm::stream_through(&mut sim, &beats, stall_in, stall_out, 5).unwrap();
    for (i, (out, _)) in got.iter().enumerate() {
        let want = golden::birrd(&cfg, &config, &inputs[i]).unwrap();
        assert_eq!(cfg.unpack(out), want, "beat {i}");
    }
    assert!(
        got.last().unwrap().1 && got.iter().filter(|g| g.1).count() == 1,
        "one tlast, last"
    );
    sim.step();
    assert_eq!(
        bfm.read(&mut sim, 0).unwrap().0 & 0b010,
        0b010,
        "done after the last beat"
    );
    let beats_off = map
        .words
        .iter()
        .find(|w| w.name == "BEATS_0")
        .unwrap()
        .offset as u64;
    assert_eq!(bfm.read(&mut sim, beats_off).unwrap(), (120, OKAY));
    (got, sim.take_recording())
}

#[test]
fn wrapped_birrd_end_to_end_with_and_without_back_pressure() {
    let (a, _) = wrapped_birrd_session(0, 0, false);
    let (b, _) = wrapped_birrd_session(50, 70, false);
    assert_eq!(a, b);
}

#[test]
fn wrapped_birrd_verilog_matches_the_simulator() {
    let (_, rec) = wrapped_birrd_session(40, 60, true);
    let rec = rec.unwrap();
    let cfg = plume_hw::feather::birrd::BirrdConfig {
        ports: 8,
        width: 16,
        topology: plume_hw::feather::birrd::Topology::Bitrev,
    };
    let top = plume_hw::feather::axi::axi_birrd(&cfg).unwrap();
    plume::tools::lint(&top).unwrap();
    for (k, (name, _)) in top.outputs.iter().enumerate() {
        assert!(
            top.comb_inputs[k].is_empty(),
            "{name} is combinational in an input"
        );
    }
    for tool in [Tool::Verilator, Tool::Icarus] {
        if !cosim::require(tool).unwrap() {
            continue;
        }
        let dir = common::TempDir::new("axi-birrd").unwrap();
        cosim::check(tool, &top, &rec, dir.path())
            .unwrap_or_else(|e| panic!("{}: {e}", tool.name()));
    }
}

/// A layer larger than the buffers, cut into tiles along M and N and run tile by tile on one
/// simulated board session, one tile after another and double-buffered (the next tile's
/// operands sent while one runs): the assembled output equals the golden model's (so the
/// untiled layer's), every tile's hardware CYCLES equals the compiler's count, every transfer
/// — those overlapping a run included — takes the DRAM model's cycles, and random stalls on
/// every bus change neither the output nor any tile's CYCLES — only the bus time.
#[test]
fn a_tiled_layer_is_the_untiled_layer_bit_for_bit_under_stalls() {
    use plume_hw::feather::compiler::mapper::StreamChoice;
    use plume_hw::feather::compiler::tiling::{tile, tile_layer, tile_window};
    let mut cfg = FeatherConfig::new(4, 8);
    (cfg.s_depth, cfg.w_depth, cfg.o_depth) = (64, 64, 64);
    let seq = small_seq();
    let cases = [
        (
            Layer::Conv(ConvShape {
                n: 1,
                c: 5,
                h: 9,
                w: 7,
                k: 11,
                r: 3,
                s: 3,
                stride: 2,
                pad: 1,
                dilation: 1,
            }),
            Dataflow::Ws,
            Layout { cb: 8, wb: 1 },
            StreamChoice::Lowered,
        ),
        (
            Layer::Gemm(Gemm {
                m: 37,
                k: 19,
                n: 21,
            }),
            Dataflow::Is,
            Layout { cb: 1, wb: 8 },
            StreamChoice::Lowered,
        ),
        // Bands of a convolution streamed from its compact input: two images, dilation 2,
        // channels not a multiple of AW; each band loads only its slab of input rows.
        (
            Layer::Conv(ConvShape {
                n: 2,
                c: 11,
                h: 9,
                w: 3,
                k: 10,
                r: 3,
                s: 3,
                stride: 1,
                pad: 2,
                dilation: 2,
            }),
            Dataflow::Ws,
            Layout { cb: 8, wb: 1 },
            StreamChoice::Window,
        ),
    ];
    for (layer, df, layout, choice) in cases {
        let prep = prepare(&layer, 5).unwrap();
        let g = prep.gemm;
        // The layer does not fit whole.
        assert!(compile(&cfg, g, df, layout, &mut RouteCache::new()).is_err());
        let shape = layer.conv_shape();
        let chosen = tile_layer(&cfg, g, shape, df, layout, choice, 1.0).unwrap();
        assert_eq!(chosen.window.is_some(), choice == StreamChoice::Window);
        for double in [false, true] {
            let t = match (choice, shape) {
                (StreamChoice::Window, Some(sh)) => tile_window(&cfg, sh, layout, 1.0, double),
                _ => tile(&cfg, g, df, layout, 1.0, double),
            }
            .unwrap();
            assert_eq!(t.double, double);
            assert_eq!(t.window, chosen.window);
            if t.window.is_some() {
                // Neighbouring bands share halo rows, which stay in the ring.
                assert!((1..t.tiles.len()).any(|i| t.held_rows(i) > 0), "{t:?}");
            }
            assert!(t.tiles.len() > 1, "{layer:?}: {t:?}");
            tiled_runs(&cfg, &seq, &layer, &prep, df, layout, &t);
        }
    }
}

/// A reduction too deep for the buffers, split into K chunks whose partial sums stay in the
/// output buffer between programs (only the last chunk quantizes and is read back): bit for
/// bit the untiled layer in both dataflows, one tile after another and double-buffered, under
/// fast and slow DRAM and random stalls, every quantizing tile's CYCLES the compiler's.
#[test]
fn a_reduction_split_across_tiles_keeps_its_partial_sums_in_the_output_buffer() {
    use plume_hw::feather::compiler::tiling::tile;
    let mut cfg = FeatherConfig::new(4, 8);
    (cfg.s_depth, cfg.w_depth, cfg.o_depth) = (64, 64, 64);
    let seq = small_seq();
    for (g, df, layout) in [
        (
            Gemm {
                m: 13,
                k: 701,
                n: 10,
            },
            Dataflow::Ws,
            Layout { cb: 8, wb: 1 },
        ),
        (
            Gemm {
                m: 9,
                k: 530,
                n: 12,
            },
            Dataflow::Is,
            Layout { cb: 1, wb: 8 },
        ),
    ] {
        let layer = Layer::Gemm(g);
        let prep = prepare(&layer, 11).unwrap();
        for double in [false, true] {
            let t = tile(&cfg, g, df, layout, 1.0, double).unwrap();
            assert!(t.kt < g.k, "{g:?} must be split: {t:?}");
            assert!((0..t.tiles.len()).any(|i| !t.k_chunk(i).0), "{t:?}");
            tiled_runs(&cfg, &seq, &layer, &prep, df, layout, &t);
        }
    }
}

/// A depthwise layer too large for the buffers, its channels side by side in patch GEMMs
/// (`compiler::depthwise`), tiled through the AXI-wrapped top with and without double
/// buffering: every M tile holds whole groups of channels, each tile's B is every channel's
/// slice, and the output is bit-exact against the direct depthwise convolution.
#[test]
fn a_depthwise_layer_tiled_with_its_channels_side_by_side_is_bit_exact() {
    use plume_hw::feather::compiler::depthwise::DwBlock;
    use plume_hw::feather::compiler::tiling::tile_grouped;
    let mut cfg = FeatherConfig::new(4, 8);
    (cfg.s_depth, cfg.w_depth, cfg.o_depth) = (64, 64, 64);
    let seq = small_seq();
    let layout = Layout { cb: 1, wb: 8 };
    for (c, r, stride, block, df) in [
        (4, 3, 1, DwBlock { bh: 2, bw: 2 }, Dataflow::Ws),
        (2, 5, 2, DwBlock { bh: 1, bw: 2 }, Dataflow::Is),
    ] {
        let shape = ConvShape {
            n: 1,
            c,
            h: 13,
            w: 11,
            k: c,
            r,
            s: r,
            stride,
            pad: r / 2,
            dilation: 1,
        };
        let layer = Layer::Depthwise { shape, block };
        let prep = prepare(&layer, 12).unwrap();
        let g = prep.gemm;
        for double in [false, true] {
            let t = tile_grouped(&cfg, g, c, df, layout, 1.0, double).unwrap();
            assert!(t.tiles.len() > 1, "{layer:?} must be tiled: {t:?}");
            assert!(t.tiles.iter().all(|x| x.m0 % c == 0 && x.mt % c == 0));
            tiled_runs(&cfg, &seq, &layer, &prep, df, layout, &t);
        }
    }
}

/// Runs tiling `t` without stalls against a fast and a slow DRAM and with random stalls on
/// every bus: the same golden output each time, every tile's CYCLES the compiler's.
fn tiled_runs(
    cfg: &FeatherConfig,
    seq: &SeqConfig,
    layer: &Layer,
    prep: &plume::feather::layer::Prepared,
    df: Dataflow,
    layout: Layout,
    t: &plume_hw::feather::compiler::tiling::Tiling,
) {
    use plume::feather::host::{run_tiled, Dram};
    {
        let mut bus = Vec::new();
        let mut outs = Vec::new();
        let busy = Stalls {
            lite: 30,
            stream_in: 45,
            stream_out: 55,
            seed: 9,
        };
        // No DRAM in the way, a slow one (3 bytes a cycle: a 4-byte line every 2 cycles,
        // 37 cycles to the first beat), and random stalls on every bus.
        let fast = Dram {
            latency: 0,
            bytes_per_cycle: 16,
        };
        let slow = Dram {
            latency: 37,
            bytes_per_cycle: 3,
        };
        for (stalls, dram) in [
            (Stalls::default(), fast),
            (Stalls::default(), slow),
            (busy, Dram::default()),
        ] {
            let r = run_tiled(
                cfg,
                seq,
                t,
                df,
                layout,
                prep.data.streamed(t.window.is_some()),
                &prep.data.b,
                &prep.data.q,
                stalls,
                dram,
                false,
            )
            .unwrap();
            assert_eq!(r.out, prep.golden, "{layer:?}");
            // Double buffering sends every tile's new operands but the first during a run.
            assert_eq!(r.overlapped() > 0, t.double, "{layer:?}");
            // The host, tracking what the buffers hold, sends exactly the lines the tiler
            // predicted (operands a tile shares with the one before, a band's halo rows, stay).
            for (i, (x, (s, w))) in r.tiles.iter().zip(t.loads()).enumerate() {
                assert_eq!(x.loaded_lines, s + w, "{layer:?} tile {i}");
            }
            for (i, x) in r.tiles.iter().enumerate() {
                assert_eq!(x.cycles, x.model_cycles, "{layer:?} tile {i}");
            }
            if stalls.stream_in == 0 {
                // Without random stalls the loads take exactly the DRAM model's cycles.
                r.verify().unwrap();
            }
            assert_eq!(
                r.tiles.iter().map(|x| x.compute).collect::<Vec<_>>(),
                t.cycles,
                "the tiling's predicted cycles are the compiled tiles'"
            );
            // The phases are disjoint stretches of the session.
            assert!(r.phases().iter().sum::<u64>() <= r.bus_cycles, "{layer:?}");
            // A K chunk that does not end its reduction quantizes nothing: CYCLES reads 0.
            for (i, x) in r.tiles.iter().enumerate() {
                assert_eq!(x.model_cycles == 0, !t.k_chunk(i).1, "tile {i}");
            }
            bus.push((r.bus_cycles, r.load_transfers()));
            outs.push(r.out);
        }
        assert!(outs.iter().all(|o| *o == outs[0]));
        // The slow DRAM's loads: every packet pays 37 cycles and 2 per beat instead of 1.
        assert!(bus[1].1 > bus[0].1 + 37, "{bus:?}");
        assert!(bus[2].0 > bus[0].0, "stalls cost bus time: {bus:?}");
    }
}

/// One tiled layer — a convolution in bands of its compact input, double-buffered, against a
/// slow DRAM — replayed on the emitted Verilog of the wrapped top: Verilator and Icarus agree
/// with plume's simulator on every output of every cycle of the whole session (loads, runs
/// with the next band's loads beside them, read-backs of every band).
#[test]
fn a_tiled_layer_replays_in_verilator_and_icarus() {
    use plume::feather::host::{run_tiled, Dram};
    use plume_hw::feather::compiler::tiling::tile_window;
    let mut cfg = FeatherConfig::new(4, 4);
    (cfg.s_depth, cfg.w_depth, cfg.o_depth) = (64, 64, 64);
    let sh = ConvShape {
        n: 1,
        c: 6,
        h: 7,
        w: 5,
        k: 5,
        r: 3,
        s: 3,
        stride: 1,
        pad: 1,
        dilation: 1,
    };
    let prep = prepare(&Layer::Conv(sh), 13).unwrap();
    let layout = Layout { cb: 4, wb: 1 };
    let t = tile_window(&cfg, &sh, layout, 1.0, true).unwrap();
    assert!(t.tiles.len() > 1, "{t:?}");
    let slow = Dram {
        latency: 11,
        bytes_per_cycle: 2,
    };
    let r = run_tiled(
        &cfg,
        &small_seq(),
        &t,
        Dataflow::Ws,
        layout,
        prep.data.streamed(t.window.is_some()),
        &prep.data.b,
        &prep.data.q,
        Stalls::default(),
        slow,
        true,
    )
    .unwrap();
    assert_eq!(r.out, prep.golden);
    r.verify().unwrap();
    assert!(r.overlapped() > 0);
    assert!((1..t.tiles.len()).any(|i| t.held_rows(i) > 0), "{t:?}");
    replay(r, "bands");
}

/// A recorded session replayed in Verilator and Icarus: every output of every cycle must be
/// plume's.
fn replay(r: plume::feather::host::TiledRun, what: &str) {
    let tiles = r.tiles.len();
    let rec = r.recording.expect("a recorded session");
    for tool in [Tool::Verilator, Tool::Icarus] {
        if !cosim::require(tool).unwrap() {
            continue;
        }
        let dir = common::TempDir::new("axi-tiled").unwrap();
        let n = cosim::check(tool, &r.top, &rec, dir.path())
            .unwrap_or_else(|e| panic!("{}: {e}", tool.name()));
        eprintln!("{}: {n} cycles of {tiles} {what} identical", tool.name());
    }
}

/// A reduction split into K chunks, double-buffered, replayed on the emitted Verilog: the
/// output buffer of the Verilog keeps the partial sums between programs exactly as plume's
/// simulator does, on every output of every cycle.
#[test]
fn a_reduction_split_across_tiles_replays_in_verilator_and_icarus() {
    use plume::feather::host::{run_tiled, Dram};
    use plume_hw::feather::compiler::tiling::tile;
    let mut cfg = FeatherConfig::new(4, 4);
    (cfg.s_depth, cfg.w_depth, cfg.o_depth) = (64, 64, 64);
    let g = Gemm { m: 6, k: 301, n: 5 };
    let prep = prepare(&Layer::Gemm(g), 17).unwrap();
    let layout = Layout { cb: 4, wb: 1 };
    let t = tile(&cfg, g, Dataflow::Ws, layout, 1.0, true).unwrap();
    assert!(t.kt < g.k, "{t:?}");
    let r = run_tiled(
        &cfg,
        &small_seq(),
        &t,
        Dataflow::Ws,
        layout,
        prep.data.streamed(false),
        &prep.data.b,
        &prep.data.q,
        Stalls::default(),
        Dram {
            latency: 11,
            bytes_per_cycle: 2,
        },
        true,
    )
    .unwrap();
    assert_eq!(r.out, prep.golden);
    r.verify().unwrap();
    replay(r, "K chunks");
}

/// A tiled layer's session — the host's every step — written to a directory and read back is
/// the same session, and played on plume's simulator it gives the golden output with every
/// tile's CYCLES the compiler's, as `run_tiled` does.
#[test]
fn a_tiled_session_written_to_disk_reads_back_and_plays_the_same() {
    use plume::feather::host::{play_session, run_tiled, Dram, Host, Session, Step};
    use plume_hw::feather::compiler::tiling::tile_window;
    let mut cfg = FeatherConfig::new(4, 4);
    (cfg.s_depth, cfg.w_depth, cfg.o_depth) = (64, 64, 64);
    let seq = small_seq();
    let sh = ConvShape {
        n: 2,
        c: 5,
        h: 6,
        w: 5,
        k: 6,
        r: 3,
        s: 3,
        stride: 1,
        pad: 1,
        dilation: 1,
    };
    let prep = prepare(&Layer::Conv(sh), 21).unwrap();
    let layout = Layout { cb: 4, wb: 1 };
    let t = tile_window(&cfg, &sh, layout, 1.0, true).unwrap();
    let a = prep.data.streamed(true);
    let s = Session::tiled(
        &cfg,
        &seq,
        &t,
        Dataflow::Ws,
        layout,
        a,
        &prep.data.b,
        &prep.data.q,
        &prep.golden,
        "a band tiling",
    )
    .unwrap();
    assert!(s.double_buffered && s.tiles.len() > 1);
    // Some band's rows go in between its predecessor's start and wait.
    let mut running = false;
    let mut beside = 0;
    for st in &s.steps {
        match st {
            Step::Start { .. } => running = true,
            Step::Wait { .. } => running = false,
            Step::Send { .. } if running => beside += 1,
            _ => {}
        }
    }
    assert!(beside > 0);
    let dir = common::TempDir::new("session").unwrap();
    let path = dir.path().join("s");
    s.write(&path).unwrap();
    let back = Session::read(&path).unwrap();
    assert_eq!(back, s);
    let dram = Dram::default();
    let mut h = Host::new(
        axi_feather(&cfg, &seq).unwrap(),
        feather_map(&cfg, &seq).unwrap(),
        Stalls::default(),
        false,
    )
    .unwrap();
    h.dram = dram.pace(4);
    let played = play_session(&mut h, &back).unwrap();
    assert_eq!(played.out, prep.golden);
    played.verify().unwrap();
    let direct = run_tiled(
        &cfg,
        &seq,
        &t,
        Dataflow::Ws,
        layout,
        a,
        &prep.data.b,
        &prep.data.q,
        Stalls::default(),
        dram,
        false,
    )
    .unwrap();
    assert_eq!(played.bus_cycles, direct.bus_cycles);
}
