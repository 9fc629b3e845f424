//! EGG: the 2-in/2-out switch of BIRRD (FEATHER ISCA'24; public RTL `birrd_2x2_simple_cmd_flow_seq.v`).
//!
//! ```text
//!            ┌──────────────────────────┐
//!  i_lo[W] ──┤  mode = i_cmd[C-1:C-2]   ├── o_lo[W]   (registered)
//!  i_hi[W] ──┤  pass swap add_even/odd  ├── o_hi[W]   (registered)
//!  i_cmd[C]──┤  i_cmd[C-3:0] ──► reg ───├── o_cmd[C-2] (absent when C = 2: last stage)
//!            └──────────────────────────┘
//! ```
//! Latency 1 cycle, one operation per cycle. The switch takes its own 2-bit mode from the top of
//! its command and passes the rest, registered, to the switch of the same row in the next stage,
//! so commands travel with the data and every cycle can carry a different configuration.
//! Modes are defined by effect (spec §3.3); the 2-bit code is the public RTL's.

use super::birrd::Mode;
use crate::rtl::{Bits, DrcErrors, Module, ModuleBuilder};
use std::rc::Rc;

/// The switch for data width `width` with a `cmd_width`-bit command (2 × remaining stages).
pub fn egg(width: u32, cmd_width: u32) -> Result<Rc<Module>, DrcErrors> {
    let mut b = ModuleBuilder::new(format!("egg_w{width}_c{cmd_width}"));
    let lo = b.input("i_lo", width);
    let hi = b.input("i_hi", width);
    let cmd = b.input("i_cmd", cmd_width);
    let mode = b.slice(cmd, cmd_width - 1, cmd_width - 2);
    let mode = b.named(mode, "mode");
    let sum = b.add(lo, hi);
    let sum = b.named(sum, "sum");
    let code = |m: Mode| m.rtl_code() as u64;
    let lo_next = b.case(
        mode,
        &[
            (code(Mode::Pass), lo),
            (code(Mode::AddEven), sum),
            (code(Mode::AddOdd), lo),
            (code(Mode::Swap), hi),
        ],
        lo,
    );
    let hi_next = b.case(
        mode,
        &[
            (code(Mode::Pass), hi),
            (code(Mode::AddEven), hi),
            (code(Mode::AddOdd), sum),
            (code(Mode::Swap), lo),
        ],
        hi,
    );
    let o_lo = b.delay("lo_q", lo_next);
    let o_hi = b.delay("hi_q", hi_next);
    b.output("o_lo", o_lo);
    b.output("o_hi", o_hi);
    if cmd_width > 2 {
        let rest = b.slice(cmd, cmd_width - 3, 0);
        let c = b.reg("cmd_q", Bits::zero(cmd_width - 2));
        b.next(c, rest, None);
        b.output("o_cmd", c);
    }
    b.finish()
}
