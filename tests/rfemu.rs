//! The RF emulator's models against physics and against each other: a static path's integer
//! and fractional delay, a moving receiver's Doppler shift, the bistatic radar equation, the
//! direct-path model ≡ the tapped-delay-line baseline at equal reflection count, the
//! fixed-point model against the f64 reference (SNR) on the 9-node scenario and on random
//! geometries, and SigMF recordings read back by the SigMF reference implementation.

mod common;

use common::{assert_bad_input, plume, stderr, stdout};
use num_complex::Complex64;
use plume::rfemu::sigmf::{Datatype, Recording};
use plume::rfemu::{
    parse_scenario, run_fixed, run_reference, settled_from, snr_db, to_complex, tx_samples,
    waveforms, NINE_NODE,
};
use plume_hw::rfemu::golden::fixed::Fixed;
use plume_hw::rfemu::golden::reference::Reference;
use plume_hw::rfemu::golden::signal::Waveform;
use plume_hw::rfemu::golden::tdl::{self, Tdl};
use plume_hw::rfemu::plan::{amplitude, delay_samples, distance, Plan};
use plume_hw::rfemu::scenario::{Role, Scenario, C};
use plume_hw::rfemu::tables;
use proptest::prelude::*;
use std::f64::consts::PI;

fn scenario(file: &str) -> Scenario {
    let path = format!("{}/fpga/scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    plume::rfemu::load_scenario(std::path::Path::new(&path)).unwrap()
}

/// A pure integer delay (one tap, a distance of exactly D samples): the output is the input
/// D samples later times one complex gain, to the last bit's rounding; with four taps an
/// impulse comes out as the filter phase's four coefficients around the fractional delay.
#[test]
fn a_static_path_delays_by_its_integer_and_fractional_delay() {
    let mut sc = scenario("static_pair.toml");
    let d = 1001u64;
    sc.nodes[1].position[0] = d as f64 * C / sc.sample_rate_hz;
    sc.emulator.taps = 1;
    let plan = Plan::new(&sc, 0.0).unwrap();
    let w = [Waveform::Tone {
        freq_hz: 1.3e6,
        amp: 0.7,
    }];
    let tx = tx_samples(&plan, &w, 3000);
    let y = run_fixed(&plan, &tx, 3000, &mut |_| ());
    let x = to_complex(&tx[0], 16);
    let y = to_complex(&y[0], 16);
    let g = y[2000] / x[2000 - d as usize];
    for n in d as usize..3000 {
        let want = x[n - d as usize] * g;
        assert!((y[n] - want).norm() < 3.0 / 32768.0, "sample {n}");
    }
    assert!(
        y[..d as usize].iter().all(|v| v.norm() == 0.0),
        "nothing before the delay"
    );

    // Four taps, an impulse: the response sits at D − 1 … D + 2 and is the phase's filter.
    let mut sc = scenario("static_pair.toml");
    sc.emulator.taps = 4;
    let plan = Plan::new(&sc, 0.0).unwrap();
    let tau = delay_samples(&sc, 0, 1, 0.0);
    let (dint, mu) = (tau.floor(), tau - tau.floor());
    let mut impulse = vec![(0, 0); 1200];
    impulse[0] = (20_000, 0);
    let y = run_fixed(&plan, &[impulse], 1200, &mut |_| ());
    let mag: Vec<f64> = y[0]
        .iter()
        .map(|&(i, q)| ((i as f64).powi(2) + (q as f64).powi(2)).sqrt())
        .collect();
    let nz: Vec<usize> = (0..1200).filter(|&k| mag[k] > 0.0).collect();
    assert_eq!(
        nz,
        (dint as usize - 1..dint as usize + 3).collect::<Vec<_>>()
    );
    let phases = f64::from(1u32 << sc.emulator.fd_phase_bits);
    let h = tables::lagrange(4, ((mu * phases).floor() + 0.5) / phases);
    let peak = mag.iter().cloned().fold(0.0, f64::max);
    for (k, &n) in nz.iter().enumerate() {
        // Output sample D − k0 + k reads the impulse through tap k.
        let want = h[k].abs() / h.iter().cloned().fold(0.0, |a: f64, b| a.max(b.abs()));
        assert!(
            (mag[n] / peak - want).abs() < 2e-3,
            "tap {k}: {} vs {want}",
            mag[n] / peak
        );
    }
}

/// A receiver closing at 300 m/s: the tone comes out f_c·v/c higher, within one FFT bin.
#[test]
fn a_moving_receiver_shifts_the_tone_by_its_doppler_frequency() {
    let sc = scenario("moving_target.toml");
    let n = 1 << 17;
    let plan = Plan::new(&sc, n as f64 / sc.sample_rate_hz).unwrap();
    let w = waveforms(&sc, false);
    let y = run_fixed(&plan, &tx_samples(&plan, &w, n), n, &mut |_| ());
    let y = to_complex(&y[0], 16);
    let from = settled_from(&plan, 1);
    let len = (n - from).next_power_of_two() / 2;
    let mut buf: Vec<rustfft::num_complex::Complex<f64>> = y[n - len..]
        .iter()
        .map(|z| rustfft::num_complex::Complex::new(z.re, z.im))
        .collect();
    rustfft::FftPlanner::new()
        .plan_fft_forward(len)
        .process(&mut buf);
    let peak = (0..len)
        .max_by(|&a, &b| buf[a].norm().total_cmp(&buf[b].norm()))
        .unwrap();
    let bin = sc.sample_rate_hz / len as f64;
    let got = peak as f64 * bin;
    let Waveform::Tone { freq_hz, .. } = w[0] else {
        unreachable!()
    };
    let doppler = sc.carrier_hz * 300.0 / C;
    assert!(doppler > 4.0 * bin, "the shift must be resolvable");
    assert!(
        (got - (freq_hz + doppler)).abs() <= bin,
        "peak {got} Hz, tone {freq_hz} + Doppler {doppler}, bin {bin}"
    );
}

/// The path through a reflector has the bistatic radar equation's power, λ²σ/((4π)³R1²R2²),
/// in the planner and in the reference model's output.
#[test]
fn a_reflected_path_follows_the_bistatic_radar_equation() {
    let sc = scenario("bistatic.toml");
    let (tx, tgt, rx) = (0, 1, 2);
    let (r1, r2) = (distance(&sc, tx, tgt, 0.0), distance(&sc, tgt, rx, 0.0));
    let lambda = sc.lambda();
    let sigma = sc.nodes[tgt].rcs_m2.unwrap();
    let radar = lambda * lambda * sigma / ((4.0 * PI).powi(3) * r1 * r1 * r2 * r2);
    let product = amplitude(&sc, tx, tgt, 0.0) * amplitude(&sc, tgt, rx, 0.0);
    assert!((product * product / radar - 1.0).abs() < 1e-12);
    let w = [Waveform::Tone {
        freq_hz: 1e6,
        amp: 1.0,
    }];
    let t = 60e-6;
    let with = Reference::new(&sc, &w, 1).rx(rx, t);
    let without = Reference::new(&sc, &w, 0).rx(rx, t);
    let bounce = (with - without).norm();
    assert!(
        (bounce * bounce / radar - 1.0).abs() < 1e-9,
        "{}",
        bounce * bounce / radar
    );
}

/// The direct-path model with its feedback followed to B reflections equals the
/// tapped-delay line that enumerates every path with up to B reflections.
#[test]
fn direct_path_model_equals_the_tapped_delay_line_at_equal_reflections() {
    let sc = parse_scenario(NINE_NODE, "9-node").unwrap();
    let w = waveforms(&sc, false);
    let rx = sc.nodes.iter().position(|n| n.role == Role::Rx).unwrap();
    for b in 0..=2u32 {
        let r = Reference::new(&sc, &w, b);
        let t = Tdl::new(&sc, &w, rx, b);
        for k in 0..12 {
            let time = 40e-6 + k as f64 * 37e-6;
            let (a, z) = (r.rx(rx, time), t.rx(time));
            assert!(
                (a - z).norm() <= 1e-12 * a.norm().max(1e-30),
                "{b} reflections, t = {time}: {a} vs {z}"
            );
        }
    }
    // Route counts grow with the reflections; the direct-path model's work does not.
    assert_eq!(tdl::routes(&sc, rx, 0).len(), 2);
    assert_eq!(tdl::routes(&sc, rx, 1).len(), 2 + 2 * 6);
    assert_eq!(tdl::routes(&sc, rx, 2).len(), 2 + 2 * 6 + 2 * 6 * 5);
    let (direct, line) = tdl::ops(200, 4);
    assert_eq!(line / direct, 199);
}

/// The fixed-point model against the f64 reference on the 9-node scenario: at least 60 dB
/// with 16-bit I/Q (the documented bound; plume measures about 71 dB).
#[test]
fn fixed_point_is_within_60_db_of_the_reference_on_the_nine_node_scenario() {
    let sc = parse_scenario(NINE_NODE, "9-node").unwrap();
    let n = 40_000;
    let plan = Plan::new(&sc, n as f64 / sc.sample_rate_hz).unwrap();
    let w = waveforms(&sc, false);
    let fixed = run_fixed(&plan, &tx_samples(&plan, &w, n), n, &mut |_| ());
    let reference = run_reference(&plan, &w, n, 2, &mut |_| ());
    let rx = plan.cfg.rx()[0];
    let from = settled_from(&plan, rx);
    let snr = snr_db(&reference[0], &to_complex(&fixed[0], 16), from);
    eprintln!("9-node SNR {snr:.1} dB over samples {from}..{n}");
    assert!(snr >= 60.0, "{snr}");
}

fn random_scenario(seed: u64, taps: u32) -> Scenario {
    let mut rng = plume_sim::rng::XorShift::new(seed);
    let mut u = |lo: f64, hi: f64| lo + (hi - lo) * (rng.next() % 10_000) as f64 / 10_000.0;
    let mut text = format!(
        "carrier_hz = {}\nsample_rate_hz = 50e6\nduration_s = 2e-4\n[emulator]\nbuffer_depth = 8192\ntaps = {taps}\nepoch = 256\n",
        u(0.5e9, 6e9)
    );
    // Nodes on the corners of a 4 km grid, jittered, so no two come close.
    let roles = ["tx", "rx", "reflector", "reflector"];
    for (k, role) in roles.iter().enumerate() {
        let (gx, gy) = ((k % 2) as f64 * 4000.0, (k / 2) as f64 * 4000.0);
        text.push_str(&format!(
            "[[nodes]]\nname = \"n{k}\"\nrole = \"{role}\"\nposition = [{}, {}, {}]\nvelocity = [{}, {}, 0.0]\n{}",
            gx + u(-800.0, 800.0),
            gy + u(-800.0, 800.0),
            u(0.0, 3000.0),
            u(-300.0, 300.0),
            u(-300.0, 300.0),
            if *role == "reflector" {
                format!("rcs_m2 = {}\n", u(1.0, 500.0))
            } else {
                String::new()
            }
        ));
    }
    parse_scenario(&text, "random").unwrap()
}

proptest! {
    #![proptest_config(common::proptest_config(6))]

    /// Random geometries: the baseline equals the direct-path model, and the fixed-point
    /// model stays within 55 dB of the reference — or, with two taps, within 3 dB of what
    /// linear interpolation itself allows for the tone: its worst error at half a sample is
    /// 1 − cos(π f/fs) of the signal.
    #[test]
    fn random_geometries_plan_and_agree(seed in any::<u64>(), t in 0usize..3) {
        let taps = [2u32, 4, 8][t];
        let sc = random_scenario(seed, taps);
        let n = 8000;
        let plan = Plan::new(&sc, 0.0).unwrap();
        let w = waveforms(&sc, false);
        let rx = plan.cfg.rx()[0];
        let r = Reference::new(&sc, &w, 1);
        let line = Tdl::new(&sc, &w, rx, 1);
        for k in 0..5 {
            let time = 80e-6 + k as f64 * 20e-6;
            let (a, z) = (r.rx(rx, time), line.rx(time));
            prop_assert!((a - z).norm() <= 1e-12 * a.norm().max(1e-30));
        }
        let fixed = run_fixed(&plan, &tx_samples(&plan, &w, n), n, &mut |_| ());
        let reference = run_reference(&plan, &w, n, 2, &mut |_| ());
        let from = settled_from(&plan, rx).min(n - 1000);
        let snr = snr_db(&reference[0], &to_complex(&fixed[0], 16), from);
        let Waveform::Tone { freq_hz, .. } = w[0] else { unreachable!() };
        let linear = -20.0 * (1.0 - (PI * freq_hz / sc.sample_rate_hz).cos()).log10();
        let bound = if taps == 2 { 55f64.min(linear - 3.0) } else { 55.0 };
        prop_assert!(snr >= bound, "{} taps: SNR {snr}, bound {bound}", taps);
    }
}

/// The fixed-point model's work per sample is one step per path, however many reflections
/// the feedback carries.
#[test]
fn the_fixed_point_model_does_one_step_per_path_and_sample() {
    let sc = parse_scenario(NINE_NODE, "9-node").unwrap();
    let plan = Plan::new(&sc, 0.0).unwrap();
    let mut f = Fixed::new(&plan.cfg);
    let mut params = |e: u64| plan.params(e);
    for _ in 0..100 {
        f.step(&[(0, 0), (0, 0)], &mut params);
    }
    assert_eq!(plan.paths.len(), 50);
    assert_eq!(f.steps, 100 * 50);
}

#[test]
fn sigmf_recordings_round_trip_and_bad_ones_are_refused() {
    let t = common::TempDir::new("sigmf").unwrap();
    let rec = Recording {
        samples: (0..100)
            .map(|k| Complex64::from_polar(0.5, k as f64 * 0.1))
            .collect(),
        sample_rate: 1e6,
        frequency: Some(2.4e9),
        description: "test".into(),
        extra: Default::default(),
    };
    for dt in [Datatype::Ci16, Datatype::Cf32] {
        let (meta, data) = rec.encode(dt);
        let base = t.path().join(format!("r_{}", dt.name()));
        std::fs::write(base.with_extension("sigmf-meta"), &meta).unwrap();
        std::fs::write(base.with_extension("sigmf-data"), &data).unwrap();
        let back = Recording::read(&base.with_extension("sigmf-meta")).unwrap();
        assert_eq!(back.sample_rate, 1e6);
        assert_eq!(back.frequency, Some(2.4e9));
        let tol = if dt == Datatype::Ci16 {
            1.0 / 32768.0
        } else {
            1e-7
        };
        for (a, b) in rec.samples.iter().zip(&back.samples) {
            assert!((a - b).norm() < tol);
        }
    }
    // A data file whose length does not fit the datatype, an unknown datatype.
    let base = t.path().join("r_ci16_le");
    std::fs::write(base.with_extension("sigmf-data"), [0u8; 7]).unwrap();
    let e = Recording::read(&base.with_extension("sigmf-meta"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("7 bytes is not a whole number of ci16_le samples"),
        "{e}"
    );
    let meta = t.path().join("odd.sigmf-meta");
    std::fs::write(
        &meta,
        r#"{"global":{"core:datatype":"ri8","core:version":"1.0.0","core:sample_rate":1}}"#,
    )
    .unwrap();
    let e = Recording::read(&meta).unwrap_err().to_string();
    assert!(
        e.contains("core:datatype \"ri8\" is not one plume reads"),
        "{e}"
    );
}

/// plume's recordings, read and validated by the SigMF reference implementation (Python
/// `sigmf`), hold the samples plume's own reader sees; a recording made by `sigmf` drives
/// `plume rfemu run` as a transmitter's input.
#[test]
fn the_sigmf_reference_implementation_reads_what_plume_writes() {
    if !common::have("python3") {
        return;
    }
    let probe = std::process::Command::new("python3")
        .args(["-c", "import sigmf"])
        .output()
        .unwrap();
    if !probe.status.success() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the sigmf Python package is not installed under CI (make deps installs it)"
        );
        eprintln!("SKIPPED: the sigmf Python package is not installed");
        return;
    }
    let t = common::TempDir::new("sigmf-py").unwrap();
    let out = t.path().join("run");
    let scen = format!(
        "{}/fpga/scenarios/static_pair.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let o = plume(&[
        "rfemu",
        "run",
        "--scenario",
        &scen,
        "--samples",
        "4000",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ours = Recording::read(&out.join("rx.sigmf-meta")).unwrap();
    let sum: Complex64 = ours.samples.iter().sum();
    let py = format!(
        "import sys, numpy\nfrom sigmf import sigmffile\nf = sigmffile.fromfile(sys.argv[1])\nf.validate()\nx = f.read_samples()\nprint(f.get_global_field('core:datatype'), len(x), repr(float(x.real.sum())), repr(float(x.imag.sum())))\ny = (0.3 * numpy.exp(1j * 2 * numpy.pi * 0.01 * numpy.arange(4000))).astype(numpy.complex64)\ny.tofile(sys.argv[2] + '.sigmf-data')\ng = sigmffile.SigMFFile(data_file=sys.argv[2] + '.sigmf-data', global_info={{'core:datatype': 'cf32_le', 'core:sample_rate': 100e6, 'core:version': '{}'}})\ng.add_capture(0, metadata={{}})\ng.tofile(sys.argv[2] + '.sigmf-meta')\n",
        plume::rfemu::sigmf::VERSION
    );
    let made = t.path().join("made");
    let o = std::process::Command::new("python3")
        .args([
            "-c",
            &py,
            out.join("rx.sigmf-meta").to_str().unwrap(),
            made.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    assert_eq!((f[0], f[1]), ("ci16_le", "4000"));
    let (re, im): (f64, f64) = (f[2].parse().unwrap(), f[3].parse().unwrap());
    assert!(
        (re - sum.re).abs() < 1e-3 && (im - sum.im).abs() < 1e-3,
        "{re} {im} vs {sum}"
    );
    let input = format!("{}.sigmf-meta", made.display());
    let out2 = t.path().join("run2");
    let o = plume(&[
        "rfemu",
        "run",
        "--scenario",
        &scen,
        "--samples",
        "4000",
        "--input",
        &input,
        "-o",
        out2.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("no SNR: a recorded input has no analytic reference"));
    let rec = Recording::read(&out2.join("rx.sigmf-meta")).unwrap();
    let tail: f64 = rec.samples[2000..].iter().map(|z| z.norm()).sum::<f64>() / 2000.0;
    assert!(tail > 0.2, "the recorded tone comes through: {tail}");
}

/// The command line: plan and plot, and scenarios and recordings it must refuse.
#[test]
fn rfemu_commands_report_and_refuse() {
    let t = common::TempDir::new("rfemu-cli").unwrap();
    let scen = format!(
        "{}/fpga/scenarios/zcu104_9node.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let o = plume(&["rfemu", "plan", "--scenario", &scen]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("9 nodes, 50 paths"), "{out}");
    assert!(out.contains("tx_near → rx"), "{out}");
    assert!(
        out.contains("needs a latency of 810 samples and a 19579-sample buffer"),
        "{out}"
    );
    let png = t.path().join("spectrum.png");
    let o = plume(&[
        "rfemu",
        "plot",
        "--scenario",
        &scen,
        "--samples",
        "30000",
        "-o",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let bad = |body: &str, needle: &str| {
        let f = t.path().join("bad.toml");
        std::fs::write(&f, body).unwrap();
        assert_bad_input(
            &["rfemu", "plan", "--scenario", f.to_str().unwrap()],
            needle,
        );
    };
    let head = "carrier_hz = 1e9\nsample_rate_hz = 100e6\n";
    let tx = "[[nodes]]\nname = \"t\"\nrole = \"tx\"\nposition = [0.0, 0.0, 0.0]\n";
    let rx = "[[nodes]]\nname = \"r\"\nrole = \"rx\"\nposition = [3000.0, 0.0, 0.0]\n";
    bad(
        &format!(
            "{head}{tx}[[nodes]]\nname = \"r\"\nrole = \"radar\"\nposition = [1.0, 0.0, 0.0]\n"
        ),
        "unknown variant `radar`",
    );
    bad(&format!("{head}{rx}"), "the scenario has no tx node");
    bad(
        &format!("{head}{tx}[[nodes]]\nname = \"r\"\nrole = \"rx\"\nposition = [nan, 0.0, 0.0]\n"),
        "node r: position is not a finite number",
    );
    bad(
        &format!("carrier_hz = 1e9\nsample_rate_hz = -5.0\n{tx}{rx}"),
        "sample_rate_hz must be a finite number above zero, got -5",
    );
    bad(
        &format!("{head}[emulator]\nsample_bits = 40\n{tx}{rx}"),
        "emulator.sample_bits = 40",
    );
    bad(
        &format!("{head}{tx}[[nodes]]\nname = \"r\"\nrole = \"rx\"\nposition = [30.0, 0.0, 0.0]\n"),
        "shortest range it can emulate",
    );
    bad(
        &format!("{head}{tx}[[nodes]]\nname = \"r\"\nrole = \"rx\"\nposition = [3e6, 0.0, 0.0]\n"),
        "raise emulator.buffer_depth",
    );
    bad("carrier_hz = [", "line 1");
    assert_bad_input(
        &[
            "rfemu",
            "run",
            "--scenario",
            &scen,
            "--samples",
            "0",
            "-o",
            "/tmp/plume-never",
        ],
        "--samples must be from 1",
    );
    assert_bad_input(
        &[
            "rfemu",
            "run",
            "--scenario",
            &scen,
            "--engine",
            "spice",
            "-o",
            "/tmp/plume-never",
        ],
        "unknown engine",
    );
    assert!(!std::path::Path::new("/tmp/plume-never").exists());
}

// ---- the generated emulator ---------------------------------------------------------------

use plume::registry::Design;
use plume::rfemu::design::{RfBuild, RFEMU_DESIGN, TWO_REFLECTORS};
use plume_sim::cosim::{self, Tool};
use plume_sim::harness;

fn two_reflectors(edit: impl Fn(&mut Scenario)) -> RfBuild {
    let mut sc = parse_scenario(TWO_REFLECTORS, "two reflectors").unwrap();
    edit(&mut sc);
    RfBuild::new(sc).unwrap()
}

/// Runs the design's testbench (random I/Q with pauses, every epoch's parameters written
/// while the one before runs; every receiver sample and `o_fault` checked every cycle).
fn simulate(b: &RfBuild, cycles: u64, seed: u64, record: bool) -> harness::Report {
    let top = RFEMU_DESIGN.top(b).unwrap();
    let mut tb = RFEMU_DESIGN.testbench(b, cycles, seed).unwrap();
    harness::simulate(&top, tb.as_mut(), None, record)
        .unwrap_or_else(|e| panic!("{} seed {seed}: {e}", b.cfg.name))
}

/// The cycle simulation equals the fixed-point model bit for bit, with 1, 2, 4 and 8 filter
/// taps (rows of 4 and 8 samples), narrow widths, three-sample epochs and several seeds —
/// and with a delay that moves every few hundred samples, every reader keeps up.
#[test]
fn the_cycle_simulation_equals_the_fixed_point_model_bit_for_bit() {
    for taps in [1, 2, 4, 8] {
        let b = two_reflectors(|sc| sc.emulator.taps = taps);
        for seed in [1, 2] {
            let r = simulate(&b, 4000, seed, false);
            assert_eq!(r.checked, 4000 - 1 - b.cfg.latency() as u64);
        }
    }
    let narrow = two_reflectors(|sc| {
        let e = &mut sc.emulator;
        (
            e.sample_bits,
            e.coef_bits,
            e.gain_bits,
            e.frac_bits,
            e.fd_phase_bits,
        ) = (12, 12, 12, 20, 5);
    });
    simulate(&narrow, 4000, 3, false);
    // Epochs of three samples: a parameter swap every third sample, paced by the writes.
    simulate(&two_reflectors(|sc| sc.emulator.epoch = 3), 3000, 4, false);
}

/// The 9-node ZCU104 scenario: 50 lanes, eight row memories of 32,768 samples, long enough
/// for the longest path (19,579 samples) to arrive, two epochs of parameters.
#[test]
fn the_nine_node_emulator_equals_the_fixed_point_model() {
    let b = RfBuild::new(parse_scenario(NINE_NODE, "9-node").unwrap()).unwrap();
    assert_eq!(b.cfg.paths.len(), 50);
    assert_eq!(b.cfg.row_samples(), 8);
    simulate(&b, 28_000, 5, false);
}

/// The emitted Verilog in Verilator and Icarus equals plume's simulator on every output of
/// every cycle of a recorded run (Verilator lint-clean first).
#[test]
fn the_emitted_verilog_matches_the_simulator() {
    let b = two_reflectors(|_| ());
    let top = RFEMU_DESIGN.top(&b).unwrap();
    let r = simulate(&b, 2500, 7, true);
    let rec = r.recording.unwrap();
    for tool in [Tool::Verilator, Tool::Icarus] {
        if !cosim::require(tool).unwrap() {
            continue;
        }
        let dir = common::TempDir::new("rfemu-cosim").unwrap();
        let n = harness::replay(tool, &top, &rec, dir.path())
            .unwrap_or_else(|e| panic!("{}: {e}", tool.name()));
        assert_eq!(n, 2499);
    }
}

/// The emulator behind AXI: one input stream of parameters and samples, random stalls on
/// every bus; every receiver sample is the fixed-point model's, the same with and without
/// back-pressure, SAMPLES and BEATS count, FAULT stays low; the stalled session replays in
/// Verilator and Icarus.
#[test]
fn the_axi_wrapped_emulator_plays_a_package_under_back_pressure() {
    use plume::rfemu::board::package;
    use plume_sim::bfm::{Host, Stalls};
    let b = two_reflectors(|sc| sc.emulator.epoch = 64);
    let plan = Plan::new(&b.scenario, 0.0).unwrap();
    let n = 700;
    let tx = tx_samples(&plan, &waveforms(&b.scenario, true), n);
    let pkg = package(&plan, &tx, n);
    let board = RFEMU_DESIGN.board(&b).unwrap();
    let (wi, wo) = board.stream_widths();
    let input = pkg.input_image(wi.div_ceil(8) as usize);
    let want = pkg.output_image(&b.cfg, wo.div_ceil(8) as usize);
    assert!(
        pkg.golden[0].iter().any(|&s| s != (0, 0)),
        "the receiver hears something"
    );
    for (stall, record) in [(0, false), (40, true)] {
        let stalls = Stalls {
            lite: stall,
            stream_in: stall,
            stream_out: stall,
            seed: 3,
        };
        let mut h = Host::new(board.top.clone(), board.map.clone(), stalls, record).unwrap();
        let got = h.transfer(&input, n).unwrap();
        assert!(got == want, "stall {stall}: the receiver's samples differ");
        assert_eq!(h.read("samples").unwrap(), n as u64);
        assert_eq!(h.read("beats").unwrap(), n as u64);
        assert_eq!(h.read("fault").unwrap(), 0);
        if let Some(rec) = h.sim.take_recording() {
            for tool in [Tool::Verilator, Tool::Icarus] {
                if !cosim::require(tool).unwrap() {
                    continue;
                }
                let dir = common::TempDir::new("rfemu-axi").unwrap();
                harness::replay(tool, &board.top, &rec, dir.path())
                    .unwrap_or_else(|e| panic!("{}: {e}", tool.name()));
            }
        }
    }
}

/// A lane that is not given time to fetch its rows says so: parameters that make a delay
/// jump by hundreds of samples at an epoch boundary raise `o_fault`, and the testbench fails.
#[test]
fn a_delay_jump_the_readers_cannot_follow_is_reported_as_a_fault() {
    use plume_sim::harness::StreamModel;
    let b = two_reflectors(|_| ());
    let plan = Plan::new(&b.scenario, 0.0).unwrap();
    let top = RFEMU_DESIGN.top(&b).unwrap();
    let mut sim = plume_sim::Sim::new(&top).unwrap();
    sim.reset();
    let mut stim = plume::rfemu::design::Stimulus::new(plan.clone(), 9);
    let names = stim.inputs();
    let fields = plan.cfg.param_fields();
    let mut fault = false;
    for cycle in 0..2000u64 {
        let mut c = stim.next();
        // Epoch 1 onwards: path 0's delay 300 samples shorter than planned.
        if c.inputs[2].to_u64() == 1 && c.inputs[3].to_u64() == 0 && cycle > 100 {
            let tau = fields.get("tau0").unwrap();
            let word = &mut c.inputs[4];
            let v = word.slice(tau.0, tau.1).to_u64() - (300u64 << plan.cfg.frac_bits);
            word.set_slice(tau.0, &plume_hw::rtl::Bits::from_u64(tau.1, v));
        }
        for (n, v) in names.iter().zip(&c.inputs) {
            sim.poke(n, v).unwrap();
        }
        sim.step();
        fault |= sim.peek_u64("o_fault").unwrap() == 1;
    }
    assert!(fault, "o_fault must rise");
}

/// `plume rfemu run --engine sim` writes what the generated emulator computed, identical to
/// the fixed-point engine's recording; `export` writes a board package.
#[test]
fn the_sim_engine_and_the_board_package_agree_with_the_fixed_point_engine() {
    let t = common::TempDir::new("rfemu-engines").unwrap();
    let scen = format!(
        "{}/fpga/scenarios/two_reflectors.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let dir = |n: &str| t.path().join(n).to_str().unwrap().to_string();
    for (engine, d) in [("fixed", "f"), ("sim", "s")] {
        let o = plume(&[
            "rfemu",
            "run",
            "--scenario",
            &scen,
            "--samples",
            "3000",
            "--engine",
            engine,
            "-o",
            &dir(d),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let a = std::fs::read(t.path().join("f/rx.sigmf-data")).unwrap();
    let b = std::fs::read(t.path().join("s/rx.sigmf-data")).unwrap();
    assert_eq!(a.len(), 3000 * 4);
    assert!(
        a == b,
        "the generated emulator's recording differs from the fixed-point model's"
    );
    let o = plume(&[
        "rfemu",
        "export",
        "--scenario",
        &scen,
        "--samples",
        "2000",
        "-o",
        &dir("pkg"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.path().join("pkg/rfemu.json")).unwrap()).unwrap();
    assert_eq!(m["samples"], 2000);
    let golden = std::fs::read(t.path().join("pkg/golden.bin")).unwrap();
    assert_eq!(
        golden.len(),
        2000 * m["beat_bytes_out"].as_u64().unwrap() as usize
    );
    // The board package's expected output is the fixed-point engine's recording.
    assert!(golden[..4 * 2000] == a[..4 * 2000]);
}
