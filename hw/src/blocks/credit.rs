//! Credit-based admission in front of a pipeline that cannot stall.
//!
//! ```text
//!  valid, tag ──► admit? ──► pipeline (latency L, never stalls) ──► FIFO (depth D) ──► sink
//!                  ▲  in_flight + FIFO occupancy < D                     │ count
//!                  └─────────────────────────────────────────────────────┘
//! ```
//! A beat is admitted only when the FIFO has room for it and for every beat already inside
//! the pipeline, so back-pressure from the sink never loses a beat. A tag travels beside each
//! beat through a delay line of L registers (`<name>tag0…`) and says when it arrives at the
//! FIFO. `ready` comes from registers and the FIFO's count only (no path from `valid`).

use super::delay::delay_line;
use crate::rtl::{Bits, ModuleBuilder, Sig};

pub struct Admission {
    /// The pipeline would take a beat this cycle (`s_axis_tready`).
    pub ready: Sig,
    /// A beat enters this cycle (`valid` and `ready`).
    pub take: Sig,
    /// A beat leaves the pipeline this cycle.
    pub arrive: Sig,
    /// The tag it entered with.
    pub arrive_tag: Sig,
}

/// Admission for a pipeline of `latency` cycles feeding a FIFO of `depth` beats whose
/// occupancy is `fifo_count` (as wide as `depth`'s bits plus one). `tag` travels with each beat.
pub fn admission(
    b: &mut ModuleBuilder,
    name: &str,
    valid: Sig,
    tag: Sig,
    latency: u64,
    depth: u32,
    fifo_count: Sig,
) -> Admission {
    let cb = fifo_count.width;
    let in_flight = b.reg(&format!("{name}in_flight"), Bits::zero(cb));
    let total = b.add(fifo_count, in_flight);
    let limit = b.lit(cb, depth as u64);
    let ready = b.lt(total, limit);
    let take = b.and(valid, ready);
    let line = b.cat(&[tag, take]);
    let out = delay_line(b, &format!("{name}tag"), line, latency);
    let arrive = b.bit(out, 0);
    let arrive_tag = b.slice(out, tag.width, 1);
    let one = b.lit(cb, 1);
    let up = b.add(in_flight, one);
    let down = b.sub(in_flight, one);
    let moved = b.xor(take, arrive);
    let next = b.mux(take, up, down);
    b.next(in_flight, next, Some(moved));
    Admission {
        ready,
        take,
        arrive,
        arrive_tag,
    }
}
