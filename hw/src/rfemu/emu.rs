//! The emulator: one lane per path, one row memory per emitting node, one adder per
//! receiving node, reflectors fed back into their own memories.
//!
//! ```text
//!  i_tx ─► row assembler ─► tx node's row memory ──┐ (one read a cycle, arbitrated among
//!                                                  │  the node's readers)
//!           ┌────────────── lanes (one per path) ◄─┘
//!           └─► Σ per receiving node, saturated ─► o_rx (receivers)
//!                                                └► row assembler ─► reflector's row memory
//! ```
//!
//! A sample enters when `i_valid` is high: every transmitter's I/Q on `i_tx`. `latency`
//! cycles later `o_valid` rises with every receiver's I/Q on `o_rx` — the fixed-point model's
//! output for that sample, bit for bit. Nothing advances between samples, so the stream may
//! pause at any time. Parameters: `i_pwr` writes `i_pdata` (`RfConfig::param_fields`) into
//! path `i_ppath`'s shadow registers; a path takes its shadow at every sample whose index is
//! a multiple of the epoch, so epoch k + 1's parameters are written during epoch k (epoch 0's
//! before the first sample). `o_fault` (sticky) rises if a lane's reader ever missed a row —
//! a path's delay moved faster than the hardware follows (never, for parameters the planner
//! made); `o_samples` counts samples in.

use super::{lane, RfConfig, Role};
use crate::blocks::arbiter::{any, lowest, one_hot};
use crate::blocks::delay::delay_line;
use crate::blocks::fixed::{saturate, sum_pipelined, sum_stages, sum_width};
use crate::rtl::{Bits, DrcErrors, MemStyle, Module, ModuleBuilder, ReadDuringWrite, RedOp, Sig};
use std::rc::Rc;

/// Cycles of the node sums: a register per adder level over the largest number of paths into
/// one node, then saturation's.
pub fn sum_latency(cfg: &RfConfig) -> u32 {
    let most = (0..cfg.roles.len())
        .map(|j| cfg.paths.iter().filter(|p| p.dst == j).count())
        .max()
        .unwrap_or(1);
    sum_stages(most) + 1
}

/// Row memories at least this large (bits) go into UltraRAM, smaller ones into block RAM
/// (UltraRAM is the XCZU7EV's larger store, and nothing else here uses it).
const ULTRA_BITS: u64 = 1 << 18;

pub fn module_name(cfg: &RfConfig) -> String {
    let name: String = cfg
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("rfemu_{name}")
}

/// Bits of a path index on `i_ppath`.
pub fn path_bits(cfg: &RfConfig) -> u32 {
    (cfg.paths.len().max(2) as u32)
        .next_power_of_two()
        .trailing_zeros()
}

/// The row memory's style for node `i`.
pub fn memory_style(cfg: &RfConfig, i: usize) -> MemStyle {
    let bits = cfg.source_depth(i) as u64 * cfg.iq_bits() as u64;
    if bits >= ULTRA_BITS {
        MemStyle::Ultra
    } else {
        MemStyle::Block
    }
}

/// Generates the emulator for `cfg`.
pub fn generate(cfg: &RfConfig) -> Result<Rc<Module>, DrcErrors> {
    let lane_m = lane::generate(cfg)?;
    let iq = cfg.iq_bits();
    let s_bits = cfg.sample_bits;
    let r = cfg.row_samples();
    let log_r = r.trailing_zeros();
    let pb = cfg.pos_bits();
    let (tx, rx) = (cfg.tx(), cfg.rx());
    let nodes = cfg.roles.len();
    let lat = cfg.latency();

    let mut b = ModuleBuilder::new(module_name(cfg));
    let valid = b.input("i_valid", 1);
    let tx_in = b.input("i_tx", iq * tx.len().max(1) as u32);
    let pwr = b.input("i_pwr", 1);
    let ppath = b.input("i_ppath", path_bits(cfg));
    let pdata = b.input("i_pdata", cfg.param_fields().width());

    // ---- sample counters ---------------------------------------------------------------------
    let n = b.reg("n", Bits::zero(pb));
    let one = b.lit(pb, 1);
    let n1 = b.add(n, one);
    b.next(n, n1, Some(valid));
    let nsat = b.reg("nsat", Bits::zero(pb));
    let full = b.reduce(RedOp::And, nsat);
    let nsat1 = b.add(nsat, one);
    let more = b.not(full);
    let nsat_en = b.and(valid, more);
    b.next(nsat, nsat1, Some(nsat_en));
    let begun = b.reg("begun", Bits::zero(1));
    let yes = b.lit(1, 1);
    b.next(begun, yes, Some(valid));
    let not_begun = b.not(begun);
    let first = b.and(valid, not_begun);
    let eb = (cfg.epoch.max(2)).next_power_of_two().trailing_zeros() + 1;
    let ec = b.reg("epoch_count", Bits::zero(eb));
    let last = b.lit(eb, cfg.epoch as u64 - 1);
    let at_last = b.eq(ec, last);
    let ec1 = {
        let o = b.lit(eb, 1);
        b.add(ec, o)
    };
    let zero_e = b.zero(eb);
    let ec_next = b.mux(at_last, zero_e, ec1);
    b.next(ec, ec_next, Some(valid));
    // Whether the next sample starts an epoch, registered (it fans out to every lane).
    let load = b.reg("epoch_start", Bits::from_u64(1, 1));
    let starts = b.eq_lit(ec_next, 0);
    b.next(load, starts, Some(valid));
    let samples = b.reg("samples", Bits::zero(32));
    let one32 = b.lit(32, 1);
    let s1 = b.add(samples, one32);
    b.next(samples, s1, Some(valid));
    b.output("o_samples", samples);

    // ---- lanes ---------------------------------------------------------------------------------
    // Row-memory read data, per emitting node, driven once the memories exist.
    let rdata: Vec<Option<Sig>> = (0..nodes)
        .map(|i| (!cfg.readers(i).is_empty()).then(|| b.wire(&format!("rdata_{i}"), r * iq)))
        .collect();
    let grants: Vec<Sig> = (0..cfg.paths.len())
        .map(|p| b.wire(&format!("grant_{p}"), 1))
        .collect();
    let mut reqs = Vec::new();
    let mut rows = Vec::new();
    let mut contrib = Vec::new();
    let mut faults = Vec::new();
    for (p, path) in cfg.paths.iter().enumerate() {
        let mine = b.eq_lit(ppath, p as u64);
        let w = b.and(pwr, mine);
        let rd = rdata[path.src].unwrap_or_else(|| b.zero(r * iq));
        let l = b.instance(
            &format!("lane_{p}"),
            &lane_m,
            &[
                ("i_valid", valid),
                ("i_n", n),
                ("i_nsat", nsat),
                ("i_load", load),
                ("i_first", first),
                ("i_pwr", w),
                ("i_pdata", pdata),
                ("i_grant", grants[p]),
                ("i_rdata", rd),
            ],
        );
        reqs.push(l.get("o_req"));
        rows.push(l.get("o_row"));
        let cr = l.get("o_cr");
        let ci = l.get("o_ci");
        contrib.push((b.as_signed(cr), b.as_signed(ci)));
        faults.push(l.get("o_fault"));
    }
    let faults = b.cat(&faults);
    let fault = b.reduce(RedOp::Or, faults);
    b.output("o_fault", fault);

    // ---- node sums -------------------------------------------------------------------------------
    let cw = s_bits + super::CONTRIB_HEADROOM;
    let mut out: Vec<Option<Sig>> = vec![None; nodes];
    for j in 0..nodes {
        if !cfg.roles[j].receives() {
            continue;
        }
        let into: Vec<usize> = (0..cfg.paths.len())
            .filter(|&p| cfg.paths[p].dst == j)
            .collect();
        let sw = sum_width(cw, into.len());
        let re: Vec<Sig> = into.iter().map(|&p| contrib[p].0).collect();
        let im: Vec<Sig> = into.iter().map(|&p| contrib[p].1).collect();
        // Every node's sum takes the same cycles: pad the smaller trees.
        let pad = (sum_latency(cfg) - 1 - sum_stages(into.len())) as u64;
        let sr = sum_pipelined(&mut b, &format!("sum{j}r"), &re, sw);
        let si = sum_pipelined(&mut b, &format!("sum{j}i"), &im, sw);
        let sr = delay_line(&mut b, &format!("sum{j}r_w"), sr, pad);
        let si = delay_line(&mut b, &format!("sum{j}i_w"), si, pad);
        let sr = if into.is_empty() {
            b.zero(s_bits)
        } else {
            saturate(&mut b, sr, s_bits)
        };
        let si = if into.is_empty() {
            b.zero(s_bits)
        } else {
            saturate(&mut b, si, s_bits)
        };
        let v = b.cat(&[si, sr]);
        out[j] = Some(b.delay(&format!("node{j}_q"), v));
    }
    let valid_out = delay_line(&mut b, "valid_q", valid, lat as u64);
    let rx_out: Vec<Sig> = rx.iter().rev().filter_map(|&j| out[j]).collect();
    let o_rx = if rx_out.is_empty() {
        b.zero(iq)
    } else {
        b.cat(&rx_out)
    };
    b.output("o_rx", o_rx);
    b.output("o_valid", valid_out);

    // ---- row memories: written by the node, read in turn by its paths ---------------------------
    // The reflectors' samples come out `lat` cycles after their index entered.
    let nref = b.reg("n_out", Bits::zero(pb));
    let nref1 = b.add(nref, one);
    b.next(nref, nref1, Some(valid_out));
    for i in 0..nodes {
        let readers = cfg.readers(i);
        let Some(rd_wire) = rdata[i] else { continue };
        let (sample, index, strobe) = match cfg.roles[i] {
            Role::Tx => {
                let k = tx.iter().position(|&t| t == i).unwrap_or(0) as u32;
                (b.slice(tx_in, k * iq + iq - 1, k * iq), n, valid)
            }
            _ => match out[i] {
                Some(o) => (o, nref, valid_out),
                None => {
                    let z = b.zero(r * iq);
                    b.assign(rd_wire, z);
                    continue;
                }
            },
        };
        // The row being assembled: each sample shifts in at the top.
        let row = b.reg(&format!("asm{i}"), Bits::zero(r * iq));
        let rest = b.slice(row, r * iq - 1, iq);
        let shifted = b.cat(&[sample, rest]);
        b.next(row, shifted, Some(strobe));
        let lane_idx = b.slice(index, log_r - 1, 0);
        let ends = b.eq_lit(lane_idx, (r - 1) as u64);
        let we = b.and(strobe, ends);
        let rows_i = cfg.source_depth(i) / r;
        let ab = rows_i.trailing_zeros();
        let waddr = b.slice(index, log_r + ab - 1, log_r);
        let mem = b.memory(
            &format!("hist{i}"),
            r * iq,
            rows_i,
            memory_style(cfg, i),
            ReadDuringWrite::ReadFirst,
        );
        b.mem_write(mem, waddr, shifted, we);
        // Fixed priority: the first requesting reader (each asks once per R samples); the
        // address is the granted reader's, an AND-OR over one-hot grants.
        let req: Vec<Sig> = readers.iter().map(|&p| reqs[p]).collect();
        let granted = lowest(&mut b, &req);
        let mut addrs = Vec::new();
        for (&p, &g) in readers.iter().zip(&granted) {
            b.assign(grants[p], g);
            addrs.push(b.slice(rows[p], ab - 1, 0));
        }
        let addr = if readers.is_empty() {
            b.zero(ab)
        } else {
            one_hot(&mut b, &granted, &addrs)
        };
        let asked = any(&mut b, &req);
        let data = b.mem_read(mem, addr, Some(asked));
        b.assign(rd_wire, data);
    }
    b.finish()
}
