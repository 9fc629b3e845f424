//! FEATHER (Tong et al., ISCA 2024): the NEST array, the BIRRD reduce-and-reorder network
//! and its EGG switch, their golden models and the BIRRD router.
//! NEST (PE array), buffers, controller and the layer compiler build on them.

pub mod axi;
pub mod birrd;
pub mod buffers;
pub mod controller;
pub mod egg;
pub mod golden;
pub mod mapper;
pub mod nest;
pub mod pe;
pub mod program;
pub mod route;
pub mod sequencer;
pub mod top;
