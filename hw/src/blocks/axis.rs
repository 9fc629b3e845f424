//! AXI4-Stream building blocks: a skid buffer, a LUT-RAM FIFO, and the FIFO in front of an
//! `m_axis` port.
//!
//! `skid(width)`: a two-entry register slice between a stream source and sink. Both directions
//! are registered — `s_axis_tready` and every `m_axis_*` output come from flip-flops — so it
//! breaks the combinational ready and valid paths between two blocks, and it still moves one
//! beat per cycle when neither side stalls. When the sink stalls, the beat accepted in that
//! cycle waits in the skid register and the source sees `tready` low from the next cycle.

use crate::rtl::{
    Bits, DrcError, DrcErrors, MemStyle, Module, ModuleBuilder, ReadDuringWrite, Sig,
};
use std::rc::Rc;

/// A register slice for `width` data bits plus `tlast`.
pub fn skid(width: u32) -> Result<Rc<Module>, DrcErrors> {
    let mut b = ModuleBuilder::new(format!("axis_skid_w{width}"));
    let s_data = b.input("s_axis_tdata", width);
    let s_last = b.input("s_axis_tlast", 1);
    let s_valid = b.input("s_axis_tvalid", 1);
    let m_ready = b.input("m_axis_tready", 1);
    let out_valid = b.reg("out_valid", Bits::zero(1));
    let out_data = b.reg("out_data", Bits::zero(width + 1));
    let skid_valid = b.reg("skid_valid", Bits::zero(1));
    let skid_data = b.reg("skid_data", Bits::zero(width + 1));
    let s_ready = b.not(skid_valid);
    let take = b.and(s_valid, s_ready);
    let incoming = b.cat(&[s_last, s_data]);
    let n_out = b.not(out_valid);
    let advance = b.or(m_ready, n_out);
    // Output register: from the skid register when it holds a beat, else from the input.
    let next_data = b.mux(skid_valid, skid_data, incoming);
    let next_valid = b.or(skid_valid, take);
    b.next(out_data, next_data, Some(advance));
    b.next(out_valid, next_valid, Some(advance));
    // Skid register: catches the beat accepted while the output is stalled.
    let stalled = b.not(advance);
    let catch = b.and(take, stalled);
    let drain = b.and(advance, skid_valid);
    let zero = b.zero(1);
    let one = b.lit(1, 1);
    let sv = b.mux(catch, one, skid_valid);
    let sv = b.mux(drain, zero, sv);
    b.next(skid_valid, sv, None);
    b.next(skid_data, incoming, Some(catch));
    b.output("s_axis_tready", s_ready);
    let d = b.slice(out_data, width - 1, 0);
    let l = b.bit(out_data, width);
    b.output("m_axis_tdata", d);
    b.output("m_axis_tlast", l);
    b.output("m_axis_tvalid", out_valid);
    b.finish()
}

/// A first-word-fall-through FIFO of `depth` (a power of two, 2…64) beats of `width` data bits
/// plus `tlast`, with `o_count` (beats held). The beats live in a LUT-RAM (distributed memory,
/// synchronous read) and the head beat in the memory's read register, which drives
/// `m_axis_tdata`/`tlast` directly: `s_axis_tready`, `m_axis_tvalid` and the output beat come
/// from registers only. A beat pushed into an empty FIFO is visible two cycles later; pops
/// every cycle stream at full rate (the next head is read while the current one leaves).
pub fn fifo(width: u32, depth: u32) -> Result<Rc<Module>, DrcErrors> {
    let name = format!("axis_fifo_w{width}_d{depth}");
    if !depth.is_power_of_two() || !(2..=64).contains(&depth) {
        return Err(DrcErrors(vec![DrcError {
            module: name,
            message: format!("FIFO depth {depth} must be a power of two from 2 to 64"),
        }]));
    }
    let pb = depth.trailing_zeros();
    let cb = pb + 1;
    let mut b = ModuleBuilder::new(name);
    let s_data = b.input("s_axis_tdata", width);
    let s_last = b.input("s_axis_tlast", 1);
    let s_valid = b.input("s_axis_tvalid", 1);
    let m_ready = b.input("m_axis_tready", 1);
    let wptr = b.reg("wptr", Bits::zero(pb));
    let rptr = b.reg("rptr", Bits::zero(pb));
    // Beats in the memory not yet read out, and whether the read register holds the head.
    let stored = b.reg("stored", Bits::zero(cb));
    let head = b.reg("head_valid", Bits::zero(1));
    let head_w = b.extend(head, cb);
    let count = b.add(stored, head_w);
    let room = b.lit(cb, depth as u64);
    let s_ready = b.lt(count, room);
    let push = b.and(s_valid, s_ready);
    let pop = b.and(head, m_ready);
    let zero_c = b.zero(cb);
    let any = b.ne(stored, zero_c);
    let nhead = b.not(head);
    let free = b.or(nhead, pop);
    let fetch = b.and(any, free);
    let mem = b.memory(
        "beats",
        width + 1,
        depth,
        MemStyle::Distributed,
        ReadDuringWrite::ReadFirst,
    );
    let beat = b.cat(&[s_last, s_data]);
    b.mem_write(mem, wptr, beat, push);
    let out = b.mem_read(mem, rptr, Some(fetch));
    let one_p = b.lit(pb, 1);
    let w1 = b.add(wptr, one_p);
    b.next(wptr, w1, Some(push));
    let r1 = b.add(rptr, one_p);
    b.next(rptr, r1, Some(fetch));
    let one_c = b.lit(cb, 1);
    let up = b.add(stored, one_c);
    let down = b.sub(stored, one_c);
    let moved = b.xor(push, fetch);
    let next = b.mux(push, up, down);
    b.next(stored, next, Some(moved));
    // The head is valid after a fetch, and stays until popped.
    let npop = b.not(pop);
    let keep = b.and(head, npop);
    let head_d = b.or(fetch, keep);
    b.next(head, head_d, None);
    b.output("s_axis_tready", s_ready);
    let d = b.slice(out, width - 1, 0);
    let l = b.bit(out, width);
    b.output("m_axis_tdata", d);
    b.output("m_axis_tlast", l);
    b.output("m_axis_tvalid", head);
    b.output("o_count", count);
    b.finish()
}

/// Puts output FIFO `fifo` (from `fifo`) in front of the module's `m_axis_*` ports: feeds it
/// (data, last, valid), creates the `m_axis_*` outputs, assigns its occupancy to the wire
/// `count` (for credit-based admission, `credit.rs`) and returns `m_axis_tvalid` and
/// `m_axis_tlast`.
pub fn fifo_to_m_axis(
    b: &mut ModuleBuilder,
    fifo: &Rc<Module>,
    (data, last, valid): (Sig, Sig, Sig),
    m_ready: Sig,
    count: Sig,
) -> (Sig, Sig) {
    let f = b.instance(
        "out_fifo",
        fifo,
        &[
            ("s_axis_tdata", data),
            ("s_axis_tlast", last),
            ("s_axis_tvalid", valid),
            ("m_axis_tready", m_ready),
        ],
    );
    b.assign(count, f.get("o_count"));
    let m_valid = f.get("m_axis_tvalid");
    let m_last = f.get("m_axis_tlast");
    b.output("m_axis_tdata", f.get("m_axis_tdata"));
    b.output("m_axis_tlast", m_last);
    b.output("m_axis_tvalid", m_valid);
    (m_valid, m_last)
}
