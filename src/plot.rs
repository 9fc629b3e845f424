//! What every family's plots share (plotters): a TrueType font for the labels, and one drawing
//! rendered as SVG or PNG by the output's name.

use crate::error::{failed, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
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

/// The bytes of a plot `size` pixels large: SVG for a `name` ending in `.svg` (drawn by
/// `svg`), else PNG (drawn by `png`) — the two closures draw the same picture on the two
/// backends.
pub fn render<E: std::fmt::Display, F: std::fmt::Display>(
    name: &Path,
    size: (u32, u32),
    svg: impl FnOnce(DrawingArea<SVGBackend, Shift>) -> std::result::Result<(), E>,
    png: impl FnOnce(DrawingArea<BitMapBackend, Shift>) -> std::result::Result<(), F>,
) -> Result<Vec<u8>> {
    font()?;
    if name.extension().is_some_and(|e| e == "svg") {
        let mut s = String::new();
        svg(SVGBackend::with_string(&mut s, size).into_drawing_area())
            .map_err(|e| failed(format!("plotting: {e}")))?;
        return Ok(s.into_bytes());
    }
    let dir = crate::output::TempDir::new("plot")?;
    let file = dir.path().join("plot.png");
    png(BitMapBackend::new(&file, size).into_drawing_area())
        .map_err(|e| failed(format!("plotting: {e}")))?;
    Ok(std::fs::read(&file)?)
}
