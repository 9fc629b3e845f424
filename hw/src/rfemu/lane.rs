//! One path's compute lane: parameters (double-buffered, swapped at epoch boundaries), the
//! delay and phase accumulators, the reader that streams the source's history out of its
//! node's row memory, the fractional-delay filter, the CORDIC's complex gain and the complex
//! product — one sample per clock.
//!
//! ```text
//!  S0  τ, φ (or the shadow's τ₀, φ₀ at an epoch's first sample) → D, filter phase q,
//!      window position pos = n − D + k0, which taps hold samples ≥ 0; (m, φ) → CORDIC
//!  S1  the two cached rows holding the window, the filter phase's coefficients (ROM)
//!  S2  the window x[pos], x[pos − 1], … picked out of the rows (empty taps zero)
//!  S3  taps × 2 products h·x   S4 …  their sums, a register per adder level   then v (rounded)
//!  …   v waits for g (CORDIC)           SM  v·g (4 products)      +1  sums
//!  +2  ≫ (17 + e) rounded, saturated → the contribution (o_cr, o_ci)
//! ```
//!
//! The reader: the source node writes its samples into a memory of rows of R samples; each
//! lane keeps four rows (f − 3 … f) in registers and asks for row f + 1 (`o_req`, `o_row`)
//! as soon as its window has left row f − 3. The node's arbiter grants one reader a cycle
//! (`i_grant`); the row arrives the next cycle (`i_rdata`). The window spans at most two
//! rows, so with R ≥ readers + 1 the lane is never starved while a path's delay changes by at
//! most one sample per sample (any speed below light); `o_fault` (sticky) says if it ever was.

use super::{cordic, tables, RfConfig, CONTRIB_HEADROOM, G_BITS, VG_FRAC, V_BITS};
use crate::blocks::delay::delay_line;
use crate::blocks::fixed::{
    round_shift, round_shift_var, saturate, sum_pipelined, sum_stages, sum_width,
};
use crate::rtl::{Bits, DrcErrors, MemStyle, Module, ModuleBuilder, Sig};
use std::rc::Rc;

/// Cycles from a sample entering a lane to its interpolated sample v: position (1), rows (2),
/// window (3), products (4), one per level of the taps' adder tree (at least one), rounding.
pub fn v_latency(cfg: &RfConfig) -> u32 {
    5 + sum_stages(cfg.taps as usize).max(1)
}
/// Cycles from v and g meeting to the contribution: products, sums, shift.
pub const PRODUCT_LATENCY: u32 = 3;
/// Rows of the source's history a lane keeps.
pub const CACHE_ROWS: u32 = 4;

/// When v and g meet (cycles after the sample entered).
pub fn meet(cfg: &RfConfig) -> u32 {
    v_latency(cfg).max(cordic::latency(cfg))
}

/// Cycles from a sample entering the lane to its contribution on `o_cr`/`o_ci`.
pub fn latency(cfg: &RfConfig) -> u32 {
    meet(cfg) + PRODUCT_LATENCY
}

pub fn module_name(cfg: &RfConfig) -> String {
    format!(
        "rf_lane_t{}_r{}_s{}_d{}",
        cfg.taps,
        cfg.row_samples(),
        cfg.sample_bits,
        cfg.delay_bits()
    )
}

/// Two's-complement difference `a − b` (same width) is not negative.
fn at_least(b: &mut ModuleBuilder, a: Sig, bb: Sig) -> Sig {
    let d = b.sub(a, bb);
    let s = b.bit(d, d.width - 1);
    b.not(s)
}

/// The lane. Ports: `i_valid` (a sample enters), `i_n` and `i_nsat` (its index mod 2^B and
/// saturated), `i_load` (its index is a multiple of the epoch), `i_first` (the first sample),
/// `i_pwr`/`i_pdata` (write the shadow parameters), `i_grant`/`i_rdata` (the source's row
/// memory); `o_req`/`o_row`, `o_cr`/`o_ci` (`latency` cycles after `i_valid`), `o_fault`.
pub fn generate(cfg: &RfConfig) -> Result<Rc<Module>, DrcErrors> {
    let cordic_m = cordic::generate(cfg)?;
    let s_bits = cfg.sample_bits;
    let iq = cfg.iq_bits();
    let taps = cfg.taps;
    let r = cfg.row_samples();
    let log_r = r.trailing_zeros();
    let pb = cfg.pos_bits();
    let rw = pb - log_r; // row index bits
    let fb = cfg.frac_bits;
    let db = cfg.delay_bits();
    let tb = db + fb;
    let fields = cfg.param_fields();
    let k0 = tables::k0(taps);

    let mut b = ModuleBuilder::new(module_name(cfg));
    let valid = b.input("i_valid", 1);
    let n = b.input("i_n", pb);
    let nsat = b.input("i_nsat", pb);
    let load = b.input("i_load", 1);
    let first = b.input("i_first", 1);
    let pwr = b.input("i_pwr", 1);
    let pdata = b.input("i_pdata", fields.width());
    let grant = b.input("i_grant", 1);
    let rdata = b.input("i_rdata", r * iq);

    // ---- parameters: shadow (host-written) and active; accumulators --------------------
    let shadow = b.reg("shadow", Bits::zero(fields.width()));
    b.next(shadow, pdata, Some(pwr));
    let (tau0, dtau0, phi0, dphi0, gain0, exp0) = (
        fields.slice(&mut b, shadow, "tau0"),
        fields.slice(&mut b, shadow, "dtau"),
        fields.slice(&mut b, shadow, "phi0"),
        fields.slice(&mut b, shadow, "dphi"),
        fields.slice(&mut b, shadow, "gain"),
        fields.slice(&mut b, shadow, "exp"),
    );
    let tau = b.reg("tau", Bits::zero(tb));
    let phi = b.reg("phi", Bits::zero(32));
    let dtau = b.reg("dtau", Bits::zero(32));
    let dphi = b.reg("dphi", Bits::zero(32));
    let gain = b.reg("gain", Bits::zero(cfg.gain_bits));
    let exp = b.reg("exp", Bits::zero(super::EXP_BITS));
    let e_tau = b.mux(load, tau0, tau);
    let e_phi = b.mux(load, phi0, phi);
    let e_dtau = b.mux(load, dtau0, dtau);
    let e_dphi = b.mux(load, dphi0, dphi);
    let e_gain = b.mux(load, gain0, gain);
    let e_exp = b.mux(load, exp0, exp);
    let step = if tb > 32 {
        let s = b.as_signed(e_dtau);
        let s = b.extend(s, tb);
        b.as_unsigned(s)
    } else {
        b.slice(e_dtau, tb - 1, 0)
    };
    let tau_next = b.add(e_tau, step);
    b.next(tau, tau_next, Some(valid));
    let phi_next = b.add(e_phi, e_dphi);
    b.next(phi, phi_next, Some(valid));
    b.next(dtau, e_dtau, Some(valid));
    b.next(dphi, e_dphi, Some(valid));
    b.next(gain, e_gain, Some(valid));
    b.next(exp, e_exp, Some(valid));

    // ---- S0: integer delay, filter phase, window position, live taps ---------------------
    let d = if taps == 1 {
        // One tap: the delay is rounded to the nearest sample.
        let wide = b.extend(e_tau, tb + 1);
        let half = b.lit(tb + 1, 1 << (fb - 1));
        let t = b.add(wide, half);
        b.slice(t, tb, fb)
    } else {
        b.slice(e_tau, tb - 1, fb)
    };
    let d = b.resize(d, pb);
    let q = if taps == 1 {
        b.zero(cfg.fd_phase_bits)
    } else {
        b.slice(e_tau, fb - 1, fb - cfg.fd_phase_bits)
    };
    let k0l = b.lit(pb, k0 as u64);
    let nk = b.add(n, k0l);
    let pos = b.sub(nk, d);
    // Tap k reads x[n − (D − k0 + k)]: a sample, not zero, when D − k0 + k ≤ n.
    let mut live = Vec::new();
    let dw = b.extend(d, pb + 1);
    let nw = b.extend(nsat, pb + 1);
    for k in (0..taps).rev() {
        let off = b.lit(pb + 1, k as u64);
        let age = b.add(dw, off);
        let k0w = b.lit(pb + 1, k0 as u64);
        let age = b.sub(age, k0w);
        let past = b.lt(nw, age);
        live.push(b.not(past));
    }
    let live = b.cat(&live); // bit k = tap k
    let valid1 = b.delay("valid_q1", valid);
    let first1 = b.delay("first_q1", first);
    let pos1 = b.delay("pos_q1", pos);
    let q1 = b.delay("q_q1", q);
    let live1 = b.delay("live_q1", live);
    let cg = b.instance("cordic", &cordic_m, &[("i_m", e_gain), ("i_phi", e_phi)]);
    let exp_m = delay_line(&mut b, "exp_q", e_exp, meet(cfg) as u64);

    // ---- the reader ----------------------------------------------------------------------
    let tm1 = b.lit(pb, (taps - 1) as u64);
    let old1 = b.sub(pos1, tm1);
    let a1 = b.slice(old1, pb - 1, log_r);
    let o1 = b.slice(old1, log_r - 1, 0); // R ≥ 4
    let f = b.reg("f", Bits::zero(rw));
    let started = b.reg("started", Bits::zero(1));
    let a_reg = b.reg("a", Bits::zero(rw));
    let two = b.lit(rw, 2);
    let three = b.lit(rw, 3);
    let one = b.lit(rw, 1);
    let fm2 = b.sub(f, two);
    let ahead = at_least(&mut b, a_reg, fm2);
    let req = b.and(started, ahead);
    let want = b.add(f, one);
    b.output("o_req", req);
    b.output("o_row", want);
    // At the first sample every row up to a + 3 holds samples before time zero (the path is
    // longer than `min_delay`), which the taps read as zeros: start as if they were cached.
    let a1p3 = b.add(a1, three);
    let granted = b.and(grant, req);
    let f_next = b.mux(first1, a1p3, want);
    let f_en = b.or(first1, granted);
    b.next(f, f_next, Some(f_en));
    let one1 = b.lit(1, 1);
    b.next(started, one1, Some(first1));
    b.next(a_reg, a1, Some(valid1));
    // The granted row lands in cache slot (f + 1) mod 4 the cycle after the grant.
    let slot = b.slice(want, 1, 0);
    let slot_d = b.delay("slot_q", slot);
    let fill = b.delay("fill_q", granted);
    let cache: Vec<Sig> = (0..CACHE_ROWS)
        .map(|k| {
            let c = b.reg(&format!("row{k}"), Bits::zero(r * iq));
            let here = b.eq_lit(slot_d, k as u64);
            let en = b.and(fill, here);
            b.next(c, rdata, Some(en));
            c
        })
        .collect();
    // Fault: the window's rows a, a + 1 must lie in f − 3 … f, the newest as of a cycle ago
    // (a granted row lands the cycle after the grant).
    let f_d1 = b.delay("f_q", f);
    let started_d1 = b.delay("started_q", started);
    let fm3 = b.sub(f, three);
    let low_ok = at_least(&mut b, a1, fm3);
    let a1p1 = b.add(a1, one);
    let high_ok = at_least(&mut b, f_d1, a1p1);
    let ok = b.and(low_ok, high_ok);
    let bad = b.not(ok);
    let check = b.and(valid1, started_d1);
    let fault_now = b.and(check, bad);
    let fault = b.reg("fault", Bits::zero(1));
    let fault_next = b.or(fault, fault_now);
    b.next(fault, fault_next, None);
    b.output("o_fault", fault);

    // ---- S1: the two rows, the coefficients ----------------------------------------------
    let sa = b.slice(a1, 1, 0);
    let sb = b.slice(a1p1, 1, 0);
    let row_a = b.select(sa, &cache);
    let row_b = b.select(sb, &cache);
    let rows2 = b.cat(&[row_b, row_a]);
    let rows2 = b.delay("rows_q2", rows2);
    let o2 = b.delay("o_q2", o1);
    let live2 = b.delay("live_q2", live1);
    let valid2 = b.delay("valid_q2", valid1);
    let table = tables::fd_table(taps, cfg.fd_phase_bits, cfg.coef_bits);
    let cb = cfg.coef_bits;
    let words: Vec<Bits> = table
        .iter()
        .map(|row| {
            let mut w = Bits::zero(taps * cb);
            for (k, &h) in row.iter().enumerate() {
                w.set_slice(k as u32 * cb, &Bits::from_i64(cb, h));
            }
            w
        })
        .collect();
    let rom = b.rom("fd_rom", taps * cb, words, MemStyle::Auto);
    let coefs2 = b.mem_read(rom, q1, None);

    // ---- S2: the window -------------------------------------------------------------------
    let sample = |b: &mut ModuleBuilder, v: Sig, k: u32| b.slice(v, k * iq + iq - 1, k * iq);
    let mut window = Vec::new();
    for k in 0..taps {
        // Tap k reads x[pos − k], sample (taps − 1 − k) of the window starting at offset o.
        let j = taps - 1 - k;
        let choices: Vec<Sig> = (0..r).map(|o| sample(&mut b, rows2, o + j)).collect();
        let x = if r == 1 {
            choices[0]
        } else {
            b.select(o2, &choices)
        };
        let zero = b.zero(iq);
        let on = b.bit(live2, k);
        let x = b.mux(on, x, zero);
        window.push(b.delay(&format!("x{k}_q3"), x));
    }
    // The ROM's read register has no reset: pass its word on only for samples, so nothing
    // undefined reaches the products after power-up.
    let no_coefs = b.zero(taps * cb);
    let coefs2 = b.mux(valid2, coefs2, no_coefs);
    let coefs3 = b.delay("coefs_q3", coefs2);

    // ---- S3 … S5: the filter ----------------------------------------------------------------
    let mut pr = Vec::new();
    let mut pi = Vec::new();
    for (k, &x) in window.iter().enumerate() {
        let k = k as u32;
        let h = b.slice(coefs3, k * cb + cb - 1, k * cb);
        let h = b.as_signed(h);
        let xr = b.slice(x, s_bits - 1, 0);
        let xr = b.as_signed(xr);
        let xi = b.slice(x, iq - 1, s_bits);
        let xi = b.as_signed(xi);
        let mr = b.mul(h, xr);
        let mi = b.mul(h, xi);
        pr.push(b.delay(&format!("pr{k}_q4"), mr));
        pi.push(b.delay(&format!("pi{k}_q4"), mi));
    }
    let aw = sum_width(cb + s_bits, taps as usize);
    let (ar, ai) = if taps == 1 {
        let (r, i) = (b.extend(pr[0], aw), b.extend(pi[0], aw));
        (b.delay("ar_q5", r), b.delay("ai_q5", i))
    } else {
        (
            sum_pipelined(&mut b, "ar", &pr, aw),
            sum_pipelined(&mut b, "ai", &pi, aw),
        )
    };
    let vs = (s_bits + cb - 3) as i32 - VG_FRAC as i32;
    let vr = round_shift(&mut b, ar, vs);
    let vr = saturate(&mut b, vr, V_BITS);
    let vi = round_shift(&mut b, ai, vs);
    let vi = saturate(&mut b, vi, V_BITS);
    let vr = b.delay("vr_q", vr);
    let vi = b.delay("vi_q", vi);

    // ---- v meets g ---------------------------------------------------------------------------
    let m = meet(cfg);
    let vr = delay_line(&mut b, "vr_w", vr, (m - v_latency(cfg)) as u64);
    let vi = delay_line(&mut b, "vi_w", vi, (m - v_latency(cfg)) as u64);
    let gr = cg.get("o_gr");
    let gr = b.as_signed(gr);
    let gi = cg.get("o_gi");
    let gi = b.as_signed(gi);
    let gr = delay_line(&mut b, "gr_w", gr, (m - cordic::latency(cfg)) as u64);
    let gi = delay_line(&mut b, "gi_w", gi, (m - cordic::latency(cfg)) as u64);
    let p_rr = b.mul(vr, gr);
    let p_ii = b.mul(vi, gi);
    let p_ri = b.mul(vr, gi);
    let p_ir = b.mul(vi, gr);
    let pw = V_BITS + G_BITS;
    let p_rr = b.delay("p_rr", p_rr);
    let p_ii = b.delay("p_ii", p_ii);
    let p_ri = b.delay("p_ri", p_ri);
    let p_ir = b.delay("p_ir", p_ir);
    let e1 = b.delay("exp_p1", exp_m);
    let (rr_a, rr_b) = (b.extend(p_rr, pw + 1), b.extend(p_ii, pw + 1));
    let rr = b.sub(rr_a, rr_b);
    let (ri_a, ri_b) = (b.extend(p_ri, pw + 1), b.extend(p_ir, pw + 1));
    let ri = b.add(ri_a, ri_b);
    let rr = b.delay("rr_q", rr);
    let ri = b.delay("ri_q", ri);
    let e2 = b.delay("exp_p2", e1);
    // ≫ (2·VG_FRAC − (S − 1) + e), rounded half up; saturate to the contribution's width.
    let cs = 2 * VG_FRAC + 1 - s_bits;
    let cw = s_bits + CONTRIB_HEADROOM;
    let cr = round_shift_var(&mut b, rr, cs, e2);
    let cr = saturate(&mut b, cr, cw);
    let ci = round_shift_var(&mut b, ri, cs, e2);
    let ci = saturate(&mut b, ci, cw);
    let cr = b.delay("cr_q", cr);
    let ci = b.delay("ci_q", ci);
    b.output("o_cr", cr);
    b.output("o_ci", ci);
    b.finish()
}
