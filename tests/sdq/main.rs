//! SDQ: the number formats against their definitions and against ml_dtypes.

mod bert;
#[path = "../common/mod.rs"]
mod common;
mod engine;

use plume_hw::sdq::formats::{Format, Overflow};
use plume_sim::rng::XorShift;
use proptest::prelude::*;
use std::process::Command;

/// Inputs that exercise a format: every code point's value, the midpoint of every pair of
/// neighbours (a tie) and the f32 values just either side of it, zeros, subnormals, the
/// overflow boundary, infinities, NaN, f32 subnormals, and a sweep of f32 bit patterns.
fn inputs(f: Format) -> Vec<f32> {
    let table = f.finite_codes();
    let mut v: Vec<f32> = Vec::new();
    let near = |x: f32, v: &mut Vec<f32>| {
        v.push(x);
        v.push(f32::from_bits(x.to_bits().wrapping_add(1)));
        v.push(f32::from_bits(x.to_bits().wrapping_sub(1)));
    };
    for w in table.windows(2) {
        near(w[0].0 as f32, &mut v);
        near(((w[0].0 + w[1].0) / 2.0) as f32, &mut v);
    }
    let max = f.max_finite() as f32;
    for x in [
        0.0f32,
        -0.0,
        max,
        -max,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MIN_POSITIVE,
        1e-40,
        -1e-40,
        f32::MAX,
        -f32::MAX,
    ] {
        near(x, &mut v);
    }
    // Around the overflow threshold: max + ulp/2 for ulp steps of 1/8 … 2 of max's power.
    for k in 1..64 {
        near(max * (1.0 + k as f32 / 64.0), &mut v);
        near(-max * (1.0 + k as f32 / 64.0), &mut v);
    }
    // Every 4096th f32 bit pattern (finite and not).
    v.extend((0..1u64 << 20).map(|i| f32::from_bits((i << 12) as u32 | 0x5a5)));
    let mut rng = XorShift::new(0xf0);
    v.extend((0..100_000).map(|_| (rng.next() as f32 / u64::MAX as f32 - 0.5) * 4.0 * max));
    v.retain(|x| !x.is_nan() || x.to_bits() == f32::NAN.to_bits());
    v
}

/// Every element format, every code point and about 1.2 million inputs, against ml_dtypes'
/// casts (float8_e4m3fn, float8_e5m2, float4_e2m1fn, float8_e8m0fnu): the same code for every
/// input, the same value for every code point.
#[test]
fn the_formats_agree_with_ml_dtypes_everywhere() {
    if !common::python_has("ml_dtypes") {
        return;
    }
    let t = common::TempDir::new("sdq-ml-dtypes").unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdq/ml_dtypes_check.py");
    for f in [Format::E4M3, Format::E5M2, Format::E2M1, Format::E8M0] {
        let x = inputs(f);
        let table = f.finite_codes();
        let codes: Vec<u8> = x
            .iter()
            .map(|&v| f.encode_with(&table, v as f64, Overflow::Ieee) as u8)
            .collect();
        let decoded: Vec<u8> = (0..1u32 << f.bits())
            .flat_map(|c| (f.decode(c) as f32).to_le_bytes())
            .collect();
        let dir = t.path();
        let (pi, pc, pd) = (
            dir.join("in.f32"),
            dir.join("codes.u8"),
            dir.join("dec.f32"),
        );
        std::fs::write(
            &pi,
            x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>(),
        )
        .unwrap();
        std::fs::write(&pc, &codes).unwrap();
        std::fs::write(&pd, &decoded).unwrap();
        let o = Command::new("python3")
            .arg(script)
            .arg(f.name())
            .args([&pi, &pc, &pd])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            text.contains("0 disagree") && text.contains("0 decode differently"),
            "{text}"
        );
        eprintln!("{}", text.trim());
    }
}

proptest! {
    #![proptest_config(common::proptest_config(512))]

    /// decode(encode(x)) is a nearest representable value, for every format, when x is in
    /// range; every code point round-trips; quantizing is monotone.
    #[test]
    fn quantizing_picks_a_nearest_value_and_is_monotone(
        a in -1.0e4f64..1.0e4, b in -1.0e4f64..1.0e4, scale in -12i32..12
    ) {
        for f in Format::ALL {
            let s = (2f64).powi(scale);
            let (x, y) = (a * s / 1e4 * f.max_finite(), b * s / 1e4 * f.max_finite());
            let x = if f == Format::E8M0 { x.abs().max(1e-30) } else { x };
            let y = if f == Format::E8M0 { y.abs().max(1e-30) } else { y };
            let qx = f.quantize(x, Overflow::Saturate);
            let best = f.finite_codes().iter().map(|t| (t.0 - x).abs()).fold(f64::MAX, f64::min);
            prop_assert!((qx - x).abs() <= best, "{f:?}: {x} → {qx}, but a value {best} away exists");
            if x <= y {
                prop_assert!(qx <= f.quantize(y, Overflow::Saturate), "{f:?}: not monotone at {x}, {y}");
            }
        }
    }
}

#[test]
fn every_code_point_round_trips() {
    for f in Format::ALL {
        for (v, c) in f.finite_codes() {
            let back = f.encode(v, Overflow::Ieee);
            // ±0 share a value: the sign of zero comes back with the value's sign.
            assert_eq!(f.decode(back), v, "{f:?} code {c:#x}");
            if v != 0.0 {
                assert_eq!(back, c, "{f:?} code {c:#x}");
            }
        }
    }
}

// ---- the decomposition ------------------------------------------------------------------------

use plume_hw::sdq::decompose::{decompose, sqnr_db, SdqConfig};

/// Heavy-tailed weights (Student's t with 3 degrees of freedom), as LLM weight matrices have.
fn heavy_tailed(n: usize, seed: u64) -> Vec<f64> {
    plume::sdq::heavy_tailed(n, seed, 0.02)
}

/// Every group keeps exactly N weights, the K most important as outliers; outlier and inlier
/// parts are disjoint and add up to the pruned matrix exactly; pruned weights are the least
/// important of their group.
#[test]
fn the_decomposition_respects_the_pattern_in_every_group() {
    let (rows, cols) = (16, 256);
    let w = heavy_tailed(rows * cols, 3);
    for (n, k) in [(7, 1), (6, 2), (4, 0), (8, 1), (2, 2)] {
        let cfg = SdqConfig {
            n,
            outliers: k,
            ..SdqConfig::default()
        };
        let d = decompose(&cfg, &w, rows, cols, None).unwrap();
        let pruned = d.pruned();
        for (i, (&x, &role)) in w.iter().zip(&d.role).enumerate() {
            let kept = role > 0;
            assert_eq!(pruned[i], if kept { x } else { 0.0 });
            assert!(d.outliers[i] == 0.0 || d.inliers[i] == 0.0);
        }
        for g in d.role.chunks(8).zip(w.chunks(8)) {
            let (roles, ws) = g;
            assert_eq!(roles.iter().filter(|&&r| r > 0).count(), n as usize);
            assert_eq!(roles.iter().filter(|&&r| r == 2).count(), k as usize);
            let min_kept = ws
                .iter()
                .zip(roles)
                .filter(|(_, &r)| r > 0)
                .map(|(x, _)| x.abs())
                .fold(f64::MAX, f64::min);
            let max_pruned = ws
                .iter()
                .zip(roles)
                .filter(|(_, &r)| r == 0)
                .map(|(x, _)| x.abs())
                .fold(0.0, f64::max);
            assert!(max_pruned <= min_kept);
            let min_out = ws
                .iter()
                .zip(roles)
                .filter(|(_, &r)| r == 2)
                .map(|(x, _)| x.abs())
                .fold(f64::MAX, f64::min);
            let max_in = ws
                .iter()
                .zip(roles)
                .filter(|(_, &r)| r == 1)
                .map(|(x, _)| x.abs())
                .fold(0.0, f64::max);
            assert!(k == 0 || max_in <= min_out);
        }
    }
}

/// Wanda's score |w|·‖x_j‖ keeps a small weight whose input is loud over a larger one whose
/// input is quiet.
#[test]
fn activation_norms_change_what_is_kept() {
    let w = [0.1, 0.5, 0.2, 0.3];
    let cfg = SdqConfig {
        m: 4,
        n: 2,
        outliers: 1,
        ..SdqConfig::default()
    };
    let by_magnitude = decompose(&cfg, &w, 1, 4, None).unwrap();
    assert_eq!(by_magnitude.role, [0, 2, 0, 1]);
    let wanda = decompose(&cfg, &w, 1, 4, Some(&[10.0, 1.0, 1.0, 1.0])).unwrap();
    assert_eq!(wanda.role, [2, 1, 0, 0]);
    let e = decompose(&cfg, &w, 1, 4, Some(&[1.0]))
        .unwrap_err()
        .to_string();
    assert_eq!(e, "the activation norms has 1 values, expected 4");
    let e = decompose(&cfg, &w[..3], 1, 3, None)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "row length 3 is not a multiple of M = 4");
}

/// Taking the largest weight of each group out of the FP4 part (into FP8) shrinks the inliers'
/// range: on heavy-tailed weights the same 7:8 pattern quantizes with a markedly better SQNR
/// than 7:8 all in MXFP4 (measured, with a margin).
#[test]
fn outliers_in_fp8_make_the_fp4_inliers_more_accurate() {
    let (rows, cols) = (32, 512);
    let w = heavy_tailed(rows * cols, 7);
    let sdq = decompose(&SdqConfig::default(), &w, rows, cols, None).unwrap();
    let fp4_only = decompose(
        &SdqConfig {
            outliers: 0,
            ..SdqConfig::default()
        },
        &w,
        rows,
        cols,
        None,
    )
    .unwrap();
    assert_eq!(sdq.pruned(), fp4_only.pruned(), "the same weights are kept");
    let a = sqnr_db(&sdq.pruned(), &sdq.reconstructed());
    let b = sqnr_db(&fp4_only.pruned(), &fp4_only.reconstructed());
    eprintln!("7:8 pruned, SQNR: SDQ 1×FP8 + 6×FP4 {a:.2} dB, all MXFP4 {b:.2} dB");
    assert!(a > b + 3.0, "SDQ {a:.2} dB against MXFP4 {b:.2} dB");
}

// ---- the packed format ------------------------------------------------------------------------

use plume_hw::sdq::pack::{pack, unpack};

/// Packing and reading back gives every weight's role and quantized value exactly, in as many
/// bits as the configuration's exact cost says, for sparse and dense patterns, integer and
/// float formats; a stream cut short or a NaN scale is refused.
#[test]
fn the_packed_streams_read_back_exactly_at_the_stated_size() {
    let (rows, cols) = (8, 128);
    let w = heavy_tailed(rows * cols, 11);
    for cfg in [
        SdqConfig::default(),
        SdqConfig {
            n: 8,
            outliers: 1,
            ..SdqConfig::default()
        },
        SdqConfig {
            m: 4,
            n: 2,
            outliers: 1,
            outlier_format: Format::Int8,
            inlier_format: Format::Int4,
            block: 16,
        },
        SdqConfig {
            n: 4,
            outliers: 0,
            ..SdqConfig::default()
        },
    ] {
        let d = decompose(&cfg, &w, rows, cols, None).unwrap();
        let p = pack(&cfg, &d);
        assert_eq!(p.bits_per_weight(), cfg.bits_per_weight(), "{cfg:?}");
        let u = unpack(&cfg, &p).unwrap();
        assert_eq!(u.role, d.role, "{cfg:?}");
        assert_eq!(u.outliers, d.q_outliers, "{cfg:?}");
        assert_eq!(u.inliers, d.q_inliers, "{cfg:?}");
        let mut cut = p.clone();
        cut.weights.bytes.truncate(cut.weights.bytes.len() - 1);
        assert_eq!(
            unpack(&cfg, &cut).unwrap_err(),
            "the packed weights end early"
        );
        let mut nan = p.clone();
        nan.scales.bytes[0] = 0xff;
        assert_eq!(
            unpack(&cfg, &nan).unwrap_err(),
            "scale 0 is the E8M0 NaN code"
        );
    }
}

// ---- plume sdq quantize ------------------------------------------------------------------------

use plume_hw::sdq::pack::{BitWriter, Packed};
use safetensors::tensor::TensorView;
use safetensors::Dtype;

fn f32_bytes(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|&x| (x as f32).to_le_bytes()).collect()
}

/// A small model file: two linear layers of heavy-tailed weights, a 1-D bias and an
/// embedding table (neither is quantized by default).
fn model_file(path: &std::path::Path) -> (Vec<f64>, Vec<f64>) {
    let a = heavy_tailed(32 * 64, 21);
    let b = heavy_tailed(16 * 128, 22);
    let (ab, bb, bias, emb) = (
        f32_bytes(&a),
        f32_bytes(&b),
        f32_bytes(&[0.5; 32]),
        f32_bytes(&heavy_tailed(10 * 64, 23)),
    );
    let tensors = vec![
        (
            "enc.0.dense.weight",
            TensorView::new(Dtype::F32, vec![32, 64], &ab).unwrap(),
        ),
        (
            "enc.1.dense.weight",
            TensorView::new(Dtype::F32, vec![16, 128], &bb).unwrap(),
        ),
        (
            "enc.0.dense.bias",
            TensorView::new(Dtype::F32, vec![32], &bias).unwrap(),
        ),
        (
            "embeddings.word_embeddings.weight",
            TensorView::new(Dtype::F32, vec![10, 64], &emb).unwrap(),
        ),
    ];
    std::fs::write(path, safetensors::serialize(tensors, None).unwrap()).unwrap();
    (
        a.iter().map(|&x| x as f32 as f64).collect(),
        b.iter().map(|&x| x as f32 as f64).collect(),
    )
}

/// `plume sdq quantize` packs every linear layer of a safetensors file: the report lists the
/// two layers (not the bias nor the embedding table) with the configuration's bits per weight,
/// and each packed file reads back to the decomposition of that layer's weights.
#[test]
fn quantize_packs_every_linear_layer_of_a_safetensors_file() {
    let t = common::TempDir::new("sdq-quantize").unwrap();
    let model = t.path().join("m.safetensors");
    let (a, b) = model_file(&model);
    let out = t.path().join("q");
    let o = common::plume(&[
        "sdq",
        "quantize",
        "--safetensors",
        model.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let layers = report["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    let cfg = SdqConfig::default();
    for (layer, (w, rows, cols)) in layers.iter().zip([(&a, 32, 64), (&b, 16, 128)]) {
        assert_eq!(
            layer["bits_per_weight"].as_f64().unwrap(),
            cfg.bits_per_weight()
        );
        let blob = std::fs::read(out.join(layer["file"].as_str().unwrap())).unwrap();
        let wb = u64::from_le_bytes(blob[..8].try_into().unwrap());
        let sb = u64::from_le_bytes(blob[8..16].try_into().unwrap());
        let split = 16 + wb.div_ceil(8) as usize;
        let p = Packed {
            rows,
            cols,
            weights: BitWriter {
                bytes: blob[16..split].to_vec(),
                bits: wb,
            },
            scales: BitWriter {
                bytes: blob[split..].to_vec(),
                bits: sb,
            },
        };
        let u = unpack(&cfg, &p).unwrap();
        let d = decompose(&cfg, w, rows, cols, None).unwrap();
        assert_eq!(u.outliers, d.q_outliers);
        assert_eq!(u.inliers, d.q_inliers);
        let sqnr = layer["weight_sqnr_db"].as_f64().unwrap();
        assert!((sqnr - sqnr_db(w, &d.reconstructed())).abs() < 1e-9);
    }
    assert!(report["skipped"].as_array().unwrap().is_empty());
}
