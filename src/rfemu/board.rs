//! The emulator on the board: a run as one input stream (every epoch's parameters and every
//! sample, in the order they take effect — `hw/src/rfemu/axi.rs`) and the receivers' output
//! the fixed-point model predicts; `plume rfemu export` writes it as DMA images after playing
//! it through the AXI-wrapped design on plume's simulator.

use crate::board::Wrapped;
use crate::error::{bad, failed, Result};
use crate::output::{dir_target, write_dir};
use crate::registry;
use plume_hw::rfemu::golden::fixed::Fixed;
use plume_hw::rfemu::plan::Plan;
use plume_hw::rfemu::{axi, Iq, PathParams, RfConfig};
use plume_hw::rtl::Bits;
use plume_sim::bfm::{bits_bytes, Host, Stalls};
use std::path::Path;

/// A run as the board sees it.
pub struct Package {
    /// `s_axis` beats: parameters and samples in stream order.
    pub beats: Vec<Bits>,
    pub samples: usize,
    /// Every receiver's output, sample by sample (the fixed-point model's).
    pub golden: Vec<Vec<Iq>>,
}

/// The beats that load one path's parameters: a header with the path, then the fields.
fn param_beats(cfg: &RfConfig, path: usize, p: &PathParams, out: &mut Vec<Bits>) {
    let wb = axi::beat_bits(cfg);
    let wp = wb - 1;
    let word = cfg
        .encode_params(p)
        .expect("planned parameters fit their fields");
    let mut header = Bits::zero(wb);
    header.set_bit(wb - 1, true);
    header.set_slice(0, &Bits::from_u64(32, path as u64));
    out.push(header);
    for c in 0..axi::chunks(cfg) {
        let lo = c * wp;
        let mut beat = Bits::zero(wb);
        beat.set_bit(wb - 1, true);
        if lo < word.width() {
            beat.set_slice(0, &word.slice(lo, (word.width() - lo).min(wp)));
        }
        out.push(beat);
    }
}

/// The run of `n` samples of `tx` (one sequence per transmitter) through the planned scenario.
pub fn package(plan: &Plan, tx: &[Vec<Iq>], n: usize) -> Package {
    let cfg = &plan.cfg;
    let wb = axi::beat_bits(cfg);
    let s = cfg.sample_bits;
    let epoch = cfg.epoch as usize;
    let mut beats = Vec::new();
    let mut model = Fixed::new(cfg);
    let mut golden = vec![Vec::with_capacity(n); cfg.rx().len()];
    let mut params: Vec<Vec<PathParams>> = vec![plan.params(0)];
    for (p, pp) in params[0].iter().enumerate() {
        param_beats(cfg, p, pp, &mut beats);
    }
    for k in 0..n {
        let x: Vec<Iq> = tx.iter().map(|t| t[k]).collect();
        let mut beat = Bits::zero(wb);
        for (t, &(i, q)) in x.iter().enumerate() {
            let t = t as u32;
            beat.set_slice(2 * s * t, &Bits::from_i64(s, i as i64));
            beat.set_slice(2 * s * t + s, &Bits::from_i64(s, q as i64));
        }
        beats.push(beat);
        let out = model.step(&x, &mut |e| params[e as usize].clone());
        for (g, o) in golden.iter_mut().zip(out) {
            g.push(o);
        }
        if k % epoch == 0 && k + 1 < n {
            // Epoch e has begun: e + 1's parameters go in behind its first sample.
            let next = plan.params((k / epoch + 1) as u64);
            for (p, pp) in next.iter().enumerate() {
                param_beats(cfg, p, pp, &mut beats);
            }
            params.push(next);
        }
    }
    Package {
        beats,
        samples: n,
        golden,
    }
}

impl Package {
    /// The input stream as bytes, `bytes` per beat (LSB first, zero-padded).
    pub fn input_image(&self, bytes: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.beats.len() * bytes);
        for b in &self.beats {
            bits_bytes(b, bytes, &mut out);
        }
        out
    }

    /// The expected output stream as bytes: per sample, receiver k's I and Q (little-endian
    /// two's complement, `sample_bits` each, packed as on `m_axis`), `bytes` per beat.
    pub fn output_image(&self, cfg: &RfConfig, bytes: usize) -> Vec<u8> {
        let s = cfg.sample_bits;
        let mut out = Vec::with_capacity(self.samples * bytes);
        for k in 0..self.samples {
            let mut beat = Bits::zero(2 * s * self.golden.len().max(1) as u32);
            for (r, g) in self.golden.iter().enumerate() {
                let r = r as u32;
                beat.set_slice(2 * s * r, &Bits::from_i64(s, g[k].0 as i64));
                beat.set_slice(2 * s * r + s, &Bits::from_i64(s, g[k].1 as i64));
            }
            bits_bytes(&beat, bytes, &mut out);
        }
        out
    }
}

/// Samples one package may hold (its input image stays below 256 MiB at 128-bit beats).
pub const MAX_SAMPLES: usize = 1 << 23;

/// `plume rfemu export`: the package for the board build of the same scenario, checked
/// through AXI on plume's simulator before anything is written.
pub fn export(plan: &Plan, tx: &[Vec<Iq>], n: usize, out: &Path) -> Result<()> {
    dir_target(out, |_| false)?;
    if n == 0 || n > MAX_SAMPLES {
        return Err(bad(format!(
            "--samples must be from 1 to {MAX_SAMPLES} for a board package, got {n}"
        )));
    }
    let build = super::design::RfBuild {
        scenario: plan.sc.clone(),
        cfg: plan.cfg.clone(),
    };
    let d = Wrapped::of(&*registry::instance(&super::design::RFEMU_DESIGN, build))?;
    crate::board::check_streams(&d).map_err(bad)?;
    let (wi, wo) = d.stream_widths();
    let (di, d_o) = d.dma_bytes();
    let pkg = package(plan, tx, n);
    let design_in = pkg.input_image(wi.div_ceil(8) as usize);
    let design_out = pkg.output_image(&plan.cfg, wo.div_ceil(8) as usize);
    let mut h = Host::new(
        d.board.top.clone(),
        d.board.map.clone(),
        Stalls::default(),
        false,
    )?;
    let got = h.transfer(&design_in, n)?;
    if got != design_out {
        return Err(failed(
            "the AXI-wrapped emulator's output differs from the fixed-point model",
        ));
    }
    if h.read("fault")? != 0 || h.read("samples")? != n as u64 {
        return Err(failed(
            "the AXI-wrapped emulator reports a fault or miscounts the samples",
        ));
    }
    let manifest = serde_json::json!({
        "design": d.name,
        "hardware": d.params,
        "scenario": plan.sc.name,
        "samples": n,
        "beats_in": pkg.beats.len(),
        "beat_bytes_in": di,
        "beat_bytes_out": d_o,
        "receivers": plan.cfg.rx().iter().map(|&j| &plan.cfg.node_names[j]).collect::<Vec<_>>(),
        "levels": plan.cfg.rx().iter().map(|&j| plan.levels[j]).collect::<Vec<_>>(),
        "sample_rate_hz": plan.sc.sample_rate_hz,
    });
    write_dir(
        out,
        &[
            ("rfemu.json".into(), serde_json::to_vec_pretty(&manifest)?),
            ("in.bin".into(), pkg.input_image(di)),
            ("golden.bin".into(), pkg.output_image(&plan.cfg, d_o)),
        ],
    )?;
    crate::outln!(
        "wrote {}: {} samples and {} parameter beats for {} (checked through AXI on plume's simulator)",
        out.display(),
        n,
        pkg.beats.len() - n,
        d.name
    );
    Ok(())
}
