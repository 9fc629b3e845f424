//! What every family's plots share (plotters): a TrueType font for the labels.

use crate::error::{failed, Result};
use plotters::prelude::*;
use std::sync::OnceLock;

/// Fonts a fresh Debian machine has once `make deps` ran (fonts-dejavu-core).
const FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/lato/Lato-Regular.ttf",
];

/// Registers a TrueType font for plotters' labels (once).
pub fn font() -> Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        FONTS.iter().any(|p| match std::fs::read(p) {
            Ok(bytes) => {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
            }
            Err(_) => false,
        })
    });
    if ok {
        Ok(())
    } else {
        Err(failed(format!(
            "no TrueType font for the plot's labels (looked for {}); `make deps` installs fonts-dejavu-core",
            FONTS[0]
        )))
    }
}
