//! FEATHER's compiler: everything that turns a layer into what the hardware runs, apart from
//! the hardware itself — the exact BIRRD router (`route`), the layer mapper with its timing
//! model (`mapper`), the loop-compressed program the sequencer expands (`program`), and the
//! tiling of layers larger than the buffers (`tiling`), and convolutions streamed from their
//! compact input with the windows walked in hardware (`window`); depthwise layers as patch
//! GEMMs, several output pixels of a channel per stream (`depthwise`).

pub mod depthwise;
pub mod mapper;
pub mod program;
pub mod route;
pub mod tiling;
pub mod window;
