//! The FEATHER micro-instruction: the contract between the layer compiler and the hardware.
//!
//! The compiler schedules every cycle statically; the core executes one `Uop` per cycle. Each
//! field says what one part of the machine does in that cycle; the compiler knows every
//! latency, so nothing is decided at run time and the cycle count is exactly the number of
//! micro-instructions plus the drain. The host does not load this stream: it loads the
//! loop-compressed program (`program.rs`: tile-loop descriptors, row-vector patterns, BIRRD
//! words), which the hardware sequencer (`sequencer.rs`) expands back into exactly this
//! stream. Tests feed the core both ways and require the same outputs and cycle counts.
//!
//! # Fields and their timing (cycle t = the cycle the uop is presented)
//!
//! | field | bits | effect |
//! |---|---|---|
//! | `s_read` | 1 | read streaming buffer `s_buf` at `s_addr` (all AW banks); the bytes enter NEST row 0 at t+1 as one valid VN element |
//! | `s_buf` | 1 | which streaming buffer (0/1) is read |
//! | `s_addr` | log2 S | streaming-buffer line |
//! | `s_pad` | 1 | the element is padding: NEST takes the streamed operand's zero point in every column instead of the line read |
//! | `widx` | log2 AH | weight index of that element (applied at t+1 with the data) |
//! | `rbank` | 1 | weight bank (ping/pong) the element reads |
//! | `last` | 1 | the element ends its virtual neuron |
//! | `w_read` | 1 | read weight-buffer line `w_addr`; at t+1 NEST writes its AW bytes into row `wrow`'s files |
//! | `w_addr` | log2 W | weight-buffer line |
//! | `wrow`, `waddr`, `wbank` | log2 AH, log2 AH, 1 | destination PE row, file index and bank |
//! | `birrd` | AW/2 · 2S | BIRRD command word for the row vector entering BIRRD at t (NEST's column-mux output) |
//! | `ob_mask` | AW | output-buffer banks that take the row vector leaving BIRRD at t |
//! | `ob_addr` | AW · log2 O | each bank's line, bank b at bits [b·log2 O +: log2 O] of the field (read at t, written at t+1) |
//! | `ob_acc` | 1 | add to the line's contents (else overwrite) |
//! | `quant` | 1 | also requantise the sum and write it at t+1+`QUANT_LATENCY` (t+4) into streaming buffer `q_buf`, same banks and line |
//! | `q_buf` | 1 | destination streaming buffer |
//!
//! Fields are packed LSB first in the order of the table (`UopLayout`).

use super::birrd::BirrdConfig;
use crate::blocks::fields::Fields;
use crate::rtl::Bits;

/// One cycle's micro-instruction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Uop {
    pub s_read: bool,
    pub s_buf: u8,
    pub s_addr: u32,
    pub s_pad: bool,
    pub widx: u32,
    pub rbank: u8,
    pub last: bool,
    pub w_read: bool,
    pub w_addr: u32,
    pub wrow: u32,
    pub waddr: u32,
    pub wbank: u8,
    /// BIRRD command word (`BirrdConfig::command_word`), or all-pass when `None`.
    pub birrd: Option<Bits>,
    pub ob_mask: u128,
    /// Line per output-buffer bank (banks beyond the vector's length: line 0).
    pub ob_addr: Vec<u32>,
    pub ob_acc: bool,
    pub quant: bool,
    pub q_buf: u8,
}

/// Field widths of the micro-instruction for one machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UopLayout {
    /// The fields in packing order, LSB first.
    pub fields: Fields,
}

impl UopLayout {
    pub fn new(
        aw: u32,
        ah: u32,
        s_bits: u32,
        w_bits: u32,
        o_bits: u32,
        birrd: &BirrdConfig,
    ) -> Self {
        let ib = super::pe::index_bits(ah);
        UopLayout {
            fields: Fields(vec![
                ("s_read", 1),
                ("s_buf", 1),
                ("s_addr", s_bits),
                ("s_pad", 1),
                ("widx", ib),
                ("rbank", 1),
                ("last", 1),
                ("w_read", 1),
                ("w_addr", w_bits),
                ("wrow", ib),
                ("waddr", ib),
                ("wbank", 1),
                ("birrd", birrd.cmd_width()),
                ("ob_mask", aw),
                ("ob_addr", aw * o_bits),
                ("ob_acc", 1),
                ("quant", 1),
                ("q_buf", 1),
            ]),
        }
    }

    pub fn width(&self) -> u32 {
        self.fields.width()
    }

    /// Packs a micro-instruction. Values must fit their fields (the compiler guarantees it;
    /// checked here in debug builds).
    pub fn encode(&self, u: &Uop) -> Bits {
        let f = &self.fields;
        let scalars = [
            ("s_read", u.s_read as u64),
            ("s_buf", u.s_buf as u64),
            ("s_addr", u.s_addr as u64),
            ("s_pad", u.s_pad as u64),
            ("widx", u.widx as u64),
            ("rbank", u.rbank as u64),
            ("last", u.last as u64),
            ("w_read", u.w_read as u64),
            ("w_addr", u.w_addr as u64),
            ("wrow", u.wrow as u64),
            ("waddr", u.waddr as u64),
            ("wbank", u.wbank as u64),
            ("ob_acc", u.ob_acc as u64),
            ("quant", u.quant as u64),
            ("q_buf", u.q_buf as u64),
        ];
        let encoded = f.encode(&scalars);
        debug_assert!(encoded.is_ok(), "{encoded:?}");
        let mut out = encoded.unwrap_or_else(|_| Bits::zero(f.width()));
        // The field names below are this layout's own (`new`).
        let (lo, w) = f.get("ob_mask").expect("ob_mask field");
        let mut mask = Bits::zero(w);
        for i in 0..w {
            if u.ob_mask >> i & 1 == 1 {
                mask.set_slice(i, &Bits::from_u64(1, 1));
            }
        }
        out.set_slice(lo, &mask);
        let (lo, w) = f.get("ob_addr").expect("ob_addr field");
        let per = w / f.get("ob_mask").expect("ob_mask field").1;
        for (bank, &a) in u.ob_addr.iter().enumerate() {
            debug_assert!(
                a >> per == 0,
                "ob_addr[{bank}] = {a} does not fit {per} bits"
            );
            out.set_slice(lo + bank as u32 * per, &Bits::from_u64(per, a as u64));
        }
        if let Some(cmd) = &u.birrd {
            let (lo, w) = f.get("birrd").expect("birrd field");
            assert_eq!(cmd.width(), w, "BIRRD command width");
            out.set_slice(lo, cmd);
        }
        out
    }
}
