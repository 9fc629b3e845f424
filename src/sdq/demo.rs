//! SDQ's part of `plume demo`: a GEMM through the generated SDQ engine and through the dense
//! INT8 baseline, both bit-exact against the golden model, the SDQ run's waveform written; and
//! what the decomposition keeps of a heavy-tailed matrix beside MXFP4.

use super::design::EngineArgs;
use super::run::{run, RunArgs};
use super::{heavy_tailed, SdqArgs};
use crate::error::{bad, Result};
use plume_hw::sdq::decompose::{decompose, sqnr_db, SdqConfig};
use std::path::Path;

pub fn demo(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out)
        .map_err(|e| bad(format!("cannot create {}: {e}", out.display())))?;
    let args = |dense: bool, vcd: Option<&str>| RunArgs {
        sdq: SdqArgs {
            m: 8,
            n: 7,
            outliers: 1,
            outlier_format: "e4m3".into(),
            inlier_format: "e2m1".into(),
            block: 32,
        },
        engine_args: EngineArgs {
            groups: 2,
            units: 4,
            depth: 16,
            acc_bits: 48,
            acc_lsb: -24,
            no_dsp: false,
        },
        gemm: "8,128,8".into(),
        engine: "sim".into(),
        dense,
        seed: 1,
        export: None,
        vcd: vcd.map(|v| out.join(v)),
    };
    crate::outln!("plume demo: SDQ engine (1:8 E4M3 + 6:8 E2M1), GEMM 8×128×8:");
    run(&args(false, Some("sdq_engine.vcd")))?;
    crate::outln!("plume demo: the dense INT8 baseline engine on the same GEMM:");
    run(&args(true, None))?;
    let (rows, cols) = (64, 512);
    let w = heavy_tailed(rows * cols, 3, 0.02);
    let sqnr = |cfg: &SdqConfig| -> Result<f64> {
        let d = decompose(cfg, &w, rows, cols, None).map_err(bad)?;
        Ok(sqnr_db(&w, &d.reconstructed()))
    };
    let sdq = SdqConfig::default();
    let mxfp4 = super::baselines(32)[0].1;
    crate::outln!(
        "plume demo: heavy-tailed 64×512 weights: SDQ {:.2} dB at {:.3} bits/weight, MXFP4 {:.2} dB at {:.3}",
        sqnr(&sdq)?,
        sdq.bits_per_weight(),
        sqnr(&mxfp4)?,
        mxfp4.bits_per_weight()
    );
    Ok(())
}
