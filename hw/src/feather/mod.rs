//! FEATHER (Tong et al., ISCA 2024): the BIRRD reduce-and-reorder network and its EGG switch.
//! NEST, buffers and the controller follow in later issues.

pub mod birrd;
pub mod egg;
pub mod golden;
pub mod route;
