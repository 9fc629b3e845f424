//! NEST: the AH × AW array of PEs with a per-column output mux (spec feather.md §2.1, §2.5).
//!
//! ```text
//!  i_iact[c], i_wdata[c] ──► PE(0,c) ──► PE(1,c) ──► … ──► PE(AH−1,c)     (data forwarded per column)
//!  control (valid, widx, rbank, last, wen, wrow, waddr, wbank) ──► row 0 ──reg──► row 1 ──reg──► …
//!  PE(r,c).o_psum/o_valid, r < AH ──► column mux (registered, one-hot OR) ──► o_data[c], o_valid[c]
//! ```
//!
//! Everything enters row 0 and moves down one row per cycle, so row r sees the row-0 stream
//! r cycles late. Control is the same for every column, so it is registered once per row
//! rather than once per PE. Zero points and the number of active rows are layer constants
//! (broadcast, not forwarded), and so are the operands' number formats (`i_iact_signed`,
//! `i_weight_signed`: int8 or uint8).
//!
//! **Timing.** Let element k of virtual neuron (VN) g enter row 0 at cycle t0 + g·V + k, with
//! `last` on k = V − 1. PE(r, c) emits VN g's partial sum during cycle t0 + g·V + (V − 1) + r + 3
//! and the column mux presents it one cycle later:
//!
//! `T_out(g, r) = t0 + g·V + V + r + 3`   (NEST latency = V + r + 3 from a VN's first element).
//!
//! Rows r ≥ `i_rows` ignore the stream (neither accumulate nor emit). With `i_rows` ≤ V no two
//! rows of a column emit in the same cycle; with `i_rows` = V the column delivers one partial sum
//! every cycle. The compiler guarantees `i_rows` ≤ V; NEST does not check it.
//!
//! **Weights.** `i_wen` with `i_wrow = r` writes each column's `i_wdata[c]` into PE(r, c)'s file at
//! (`i_wbank`, `i_waddr`) when the write reaches row r, r cycles later. Loading a full file
//! takes AH·V cycles, all columns in parallel, into the bank the stream is not reading.

use super::pe::{index_bits, pe, PeConfig};
use crate::rtl::{DrcErrors, Module, ModuleBuilder, Sig};
use std::rc::Rc;

/// Shape and number formats of the array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NestConfig {
    /// Rows (= VN capacity = weight file depth per bank).
    pub ah: u32,
    /// Columns (= BIRRD ports).
    pub aw: u32,
}

impl NestConfig {
    pub fn pe(&self) -> PeConfig {
        PeConfig { ah: self.ah }
    }

    pub fn module_name(&self) -> String {
        format!("feather_nest_{}x{}", self.ah, self.aw)
    }

    /// Width of `i_rows` (counts 0 … AH).
    pub fn rows_bits(&self) -> u32 {
        32 - self.ah.leading_zeros()
    }
}

/// PE pipeline latency (stages inside the PE).
pub const PE_LATENCY: u64 = 3;

/// Generates the array.
pub fn nest(cfg: &NestConfig) -> Result<Rc<Module>, DrcErrors> {
    let (ah, aw) = (cfg.ah, cfg.aw);
    let ib = index_bits(ah);
    let pe_mod = pe(&cfg.pe())?;
    let mut b = ModuleBuilder::new(cfg.module_name());
    let iact = b.input("i_iact", 8 * aw);
    let wdata = b.input("i_wdata", 8 * aw);
    let mut valid = b.input("i_valid", 1);
    let mut widx = b.input("i_widx", ib);
    let mut rbank = b.input("i_rbank", 1);
    let mut last = b.input("i_last", 1);
    let mut wen = b.input("i_wen", 1);
    let mut wrow = b.input("i_wrow", ib);
    let mut waddr = b.input("i_waddr", ib);
    let mut wbank = b.input("i_wbank", 1);
    let rows = b.input("i_rows", cfg.rows_bits());
    let zp_i = b.input("i_zp_i", 8);
    let zp_w = b.input("i_zp_w", 8);
    let i_signed = b.input("i_iact_signed", 1);
    let w_signed = b.input("i_weight_signed", 1);

    let mut col_iact: Vec<Sig> = (0..aw).map(|c| b.slice(iact, 8 * c + 7, 8 * c)).collect();
    let mut col_wdata: Vec<Sig> = (0..aw).map(|c| b.slice(wdata, 8 * c + 7, 8 * c)).collect();
    // Per column: (psum, valid) of every row.
    let mut outs: Vec<Vec<(Sig, Sig)>> = vec![Vec::new(); aw as usize];
    for r in 0..ah {
        if r > 0 {
            valid = b.delay(&format!("r{r}_valid_q"), valid);
            widx = b.delay(&format!("r{r}_widx_q"), widx);
            rbank = b.delay(&format!("r{r}_rbank_q"), rbank);
            last = b.delay(&format!("r{r}_last_q"), last);
            wen = b.delay(&format!("r{r}_wen_q"), wen);
            wrow = b.delay(&format!("r{r}_wrow_q"), wrow);
            waddr = b.delay(&format!("r{r}_waddr_q"), waddr);
            wbank = b.delay(&format!("r{r}_wbank_q"), wbank);
        }
        let rl = b.lit(cfg.rows_bits(), r as u64);
        let active = b.lt(rl, rows);
        let row_valid = b.and(valid, active);
        let row_last = b.and(last, active);
        let me = b.lit(ib, r as u64);
        let mine = b.eq(wrow, me);
        let row_wen = b.and(wen, mine);
        for c in 0..aw as usize {
            let o = b.instance(
                &format!("pe_r{r}_c{c}"),
                &pe_mod,
                &[
                    ("i_iact", col_iact[c]),
                    ("i_valid", row_valid),
                    ("i_widx", widx),
                    ("i_rbank", rbank),
                    ("i_last", row_last),
                    ("i_wdata", col_wdata[c]),
                    ("i_wen", row_wen),
                    ("i_waddr", waddr),
                    ("i_wbank", wbank),
                    ("i_zp_i", zp_i),
                    ("i_zp_w", zp_w),
                    ("i_iact_signed", i_signed),
                    ("i_weight_signed", w_signed),
                ],
            );
            col_iact[c] = o.get("o_iact");
            col_wdata[c] = o.get("o_wdata");
            outs[c].push((o.get("o_psum"), o.get("o_valid")));
        }
    }
    // Column mux: at most one row is valid per cycle, so gate and OR (registered).
    let mut data = Vec::new();
    let mut valids = Vec::new();
    for (c, col) in outs.iter().enumerate() {
        let mut acc: Option<Sig> = None;
        let mut vacc: Option<Sig> = None;
        for &(psum, v) in col {
            let zero = b.zero(32);
            let g = b.mux(v, psum, zero);
            acc = Some(match acc {
                None => g,
                Some(a) => b.or(a, g),
            });
            vacc = Some(match vacc {
                None => v,
                Some(a) => b.or(a, v),
            });
        }
        let d = b.delay(&format!("mux{c}_data_q"), acc.unwrap());
        let v = b.delay(&format!("mux{c}_valid_q"), vacc.unwrap());
        data.push(d);
        valids.push(v);
    }
    data.reverse();
    valids.reverse();
    let o_data = b.cat(&data);
    let o_valid = b.cat(&valids);
    b.output("o_data", o_data);
    b.output("o_valid", o_valid);
    b.finish()
}
