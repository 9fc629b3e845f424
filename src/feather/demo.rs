//! FEATHER's part of `plume demo`: a 16-port BIRRD reduce-and-reorder pattern routed,
//! simulated against the golden model and replayed on the emitted Verilog; then a convolution
//! on an 8×8 FEATHER through the sequencer, checked against the golden convolution.

use super::birrd::random_config;
use super::layer::{compare, prepare, run_programmed, Layer};
use crate::error::{bad, failed, Result};
use crate::output::{dir_target, file_target, write_file, StagedFile, TempDir};
use plume_hw::feather::birrd::{generate, BirrdConfig, Topology};
use plume_hw::feather::compiler::mapper::{compile, Dataflow, Layout};
use plume_hw::feather::compiler::route::{RouteCache, Router, Target};
use plume_hw::feather::golden::{self, ConvShape};
use plume_hw::feather::top::FeatherConfig;
use plume_hw::rtl::verilog::emit_bundle;
use plume_sim::cosim::{self, Tool};
use plume_sim::rng::XorShift;
use std::path::Path;

/// The BIRRD half, then the FEATHER half.
pub fn demo(out_dir: &Path) -> Result<()> {
    // The demo's files are replaced one by one in a directory that may hold earlier ones.
    dir_target(out_dir, |_| true)?;
    std::fs::create_dir_all(out_dir)
        .map_err(|e| bad(format!("cannot create {}: {e}", out_dir.display())))?;
    for f in ["birrd16.v", "birrd16.vcd", "birrd16.svg", "feather8x8.vcd"] {
        file_target(&out_dir.join(f), "demo output")?;
    }
    let cfg = BirrdConfig {
        ports: 16,
        width: 32,
        topology: Topology::Bitrev,
    };
    let top = generate(&cfg)?;
    crate::outln!(
        "plume demo: {} — {} ports, {} stages of {} EGG switches, {}-bit data, latency {} cycles",
        top.name,
        cfg.ports,
        cfg.stages(),
        cfg.switches(),
        cfg.width,
        cfg.stages()
    );

    // Reorder-in-reduction: four groups of four inputs are summed and each sum lands on the
    // output bank a next layer's layout might want, in one pass (the router finds the modes).
    let s = cfg.stages() as usize;
    let wanted: Target = [
        (3, vec![0, 1, 2, 3]),
        (12, vec![4, 5, 6, 7]),
        (0, vec![8, 9, 10, 11]),
        (9, vec![12, 13, 14, 15]),
    ]
    .into_iter()
    .collect();
    let router = Router::new(cfg.ports, cfg.topology)?;
    let pattern = router.route(&wanted, std::time::Duration::from_secs(10))?;
    let sets = super::draw::wire_sets(&cfg, &pattern)
        .pop()
        .expect("outputs");
    crate::outln!(
        "pattern (routed by `plume birrd route`): four sums of four, written to reordered banks"
    );
    for o in wanted.keys() {
        crate::outln!(
            "  output port {o:>2} = sum of inputs {}",
            super::draw::set_label(&sets[*o])
        );
    }

    // Stream: the pattern on even cycles, a random configuration on odd ones (commands travel
    // with the data, so every cycle may differ), random data throughout.
    let cycles = 64u64;
    let vcd_path = out_dir.join("birrd16.vcd");
    let vcd = StagedFile::create(&file_target(&vcd_path, "waveform")?)?;
    let mut sim = plume_sim::Sim::new(&top)?;
    sim.trace_vcd(vcd.path())?;
    sim.record();
    let mut rng = XorShift::new(2024);
    let mut expected = std::collections::VecDeque::new();
    let mut checked = 0;
    sim.poke_u64("rst", 1)?;
    sim.step();
    sim.poke_u64("rst", 0)?;
    for c in 1..cycles {
        let config = if c % 2 == 0 {
            pattern.clone()
        } else {
            random_config(&cfg, &mut rng)
        };
        let inputs: Vec<u64> = (0..cfg.ports).map(|_| rng.next() % 1000).collect();
        sim.poke("i_data", &cfg.pack(&inputs))?;
        sim.poke("i_cmd", &cfg.command_word(&config))?;
        expected.push_back(golden::birrd(&cfg, &config, &inputs)?);
        if expected.len() > s {
            let want = expected.pop_front().unwrap();
            let got = cfg.unpack(&sim.peek("o_data")?);
            if got != want {
                return Err(failed(format!(
                    "cycle {c}: simulator {got:?} but golden model {want:?}"
                )));
            }
            checked += 1;
        }
        sim.step();
    }
    sim.finish_vcd()?;
    vcd.commit()?;
    crate::outln!("simulated {cycles} cycles: {checked} output vectors equal to the golden model");

    let rec = sim.take_recording().expect("recording");
    for tool in [Tool::Verilator, Tool::Icarus] {
        if cosim::available(tool) {
            let dir = TempDir::new("demo")?;
            let n = cosim::check(tool, &top, &rec, dir.path())?;
            crate::outln!("{} runs the emitted Verilog on the same stimulus: {n} cycles, every output identical", tool.name());
        } else {
            crate::outln!(
                "{} not installed: Verilog cross-check skipped (make deps installs it)",
                tool.name()
            );
        }
    }
    let v_path = out_dir.join("birrd16.v");
    write_file(
        &file_target(&v_path, "Verilog")?,
        emit_bundle(&top).as_bytes(),
    )?;
    let svg_path = out_dir.join("birrd16.svg");
    write_file(
        &file_target(&svg_path, "SVG")?,
        super::draw::birrd_svg(&cfg, &pattern).as_bytes(),
    )?;
    crate::outln!(
        "wrote {} (the routed pattern as a picture)",
        svg_path.display()
    );
    let (vars, changes) = plume_sim::vcd::summarize(&vcd_path)?;
    crate::outln!(
        "wrote {} and {} ({} signals, {} value changes; open with gtkwave)",
        v_path.display(),
        vcd_path.display(),
        vars.len(),
        changes
    );
    demo_feather(out_dir)
}

/// The FEATHER part of `plume demo`: a convolution on an 8×8 core driven by the sequencer,
/// checked against the golden model, with its waveform.
fn demo_feather(out_dir: &Path) -> Result<()> {
    let cfg = FeatherConfig::new(8, 8);
    let layer = Layer::Conv(ConvShape {
        n: 1,
        c: 8,
        h: 6,
        w: 6,
        k: 8,
        r: 3,
        s: 3,
        stride: 1,
        pad: 1,
        dilation: 1,
    });
    let prep = prepare(&layer, 7)?;
    let layout = Layout { cb: 8, wb: 1 };
    let mut cache = RouteCache::new();
    let sched = compile(&cfg, prep.gemm, Dataflow::Ws, layout, &mut cache)?;
    let vcd = out_dir.join("feather8x8.vcd");
    let staged = StagedFile::create(&file_target(&vcd, "waveform")?)?;
    let dir = TempDir::new("demo-feather")?;
    let r = run_programmed(&sched, &prep.data, Some(staged.path()), None, dir.path())?;
    compare(&sched, &r.out, &prep.golden)?;
    staged.commit()?;
    crate::outln!(
        "FEATHER 8x8: {} (ws, channel-last) through the sequencer: {} cycles (timing model {}), {} outputs bit-exact against the golden convolution",
        layer.describe(),
        r.cycles,
        sched.cycles,
        prep.golden.len()
    );
    if r.cycles != sched.cycles {
        return Err(failed("the timing model and the simulation disagree"));
    }
    crate::outln!(
        "wrote {} (sequencer, NEST, BIRRD, buffers; open with gtkwave)",
        vcd.display()
    );
    Ok(())
}
