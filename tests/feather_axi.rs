//! FEATHER behind AXI, end to end: a host model writes the layer constants over AXI4-Lite,
//! streams buffer lines and the loop-compressed program over AXI4-Stream, starts the run, waits
//! for done, reads the hardware cycle counter and streams the output back — with and without
//! random stalls on every bus — and the tensor must equal the golden model's; the same session
//! replays in Verilator and Icarus.

mod common;

use plume::feather::{compare, prepare, Layer};
use plume::feather_axi::{run_axi, Stalls};
use plume_hw::feather::axi::{axi_feather, beats_per_entry, feather_map, Target};
use plume_hw::feather::golden::ConvShape;
use plume_hw::feather::mapper::{compile, Dataflow, Gemm, Layout};
use plume_hw::feather::route::RouteCache;
use plume_hw::feather::sequencer::SeqConfig;
use plume_hw::feather::top::FeatherConfig;
use plume_sim::cosim::{self, Tool};

fn small_seq() -> SeqConfig {
    SeqConfig {
        desc_depth: 64,
        pattern_depth: 256,
        config_depth: 16,
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
) -> plume::feather_axi::AxiRun {
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
