//! FEATHER's compiler: everything that turns a layer into what the hardware runs, apart from
//! the hardware itself — the exact BIRRD router (`route`), the layer mapper with its timing
//! model (`mapper`), and the loop-compressed program the sequencer expands (`program`).

pub mod mapper;
pub mod program;
pub mod route;
