//! The quality plot of `plume sdq report` (plotters, SVG): for every method, the layers' mean
//! output SQNR and the sentence embeddings' mean cosine distance to FP32, against bits per
//! weight.

use crate::error::{failed, Result};
use plotters::prelude::*;

/// Two panels side by side; each point labelled with its method.
pub fn quality_svg(rows: &[serde_json::Value]) -> Result<String> {
    crate::plot::font()?;
    let pts: Vec<(String, f64, f64, f64)> = rows
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap_or("").to_string(),
                r["bits_per_weight"].as_f64().unwrap_or(0.0),
                r["output_sqnr_db"].as_f64().unwrap_or(0.0),
                (1.0 - r["embedding_cosine_mean"].as_f64().unwrap_or(0.0)).max(1e-7),
            )
        })
        .collect();
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (1300, 560)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| failed(format!("plotting: {e}")))?;
        let (left, right) = root.split_horizontally(650);
        // Room on the right for the labels.
        let xmax = pts.iter().map(|p| p.1).fold(0.0, f64::max) + 2.5;
        let draw = || -> std::result::Result<(), Box<dyn std::error::Error + '_>> {
            let ymin = pts.iter().map(|p| p.2).fold(f64::INFINITY, f64::min) - 3.0;
            let ymax = pts.iter().map(|p| p.2).fold(f64::NEG_INFINITY, f64::max) + 3.0;
            let mut c = ChartBuilder::on(&left)
                .caption("layer output SQNR (real activations)", ("sans-serif", 18))
                .margin(14)
                .x_label_area_size(40)
                .y_label_area_size(56)
                .build_cartesian_2d(0.0..xmax, ymin..ymax)?;
            c.configure_mesh()
                .x_desc("bits per weight")
                .y_desc("mean output SQNR (dB)")
                .draw()?;
            for (k, p) in pts.iter().enumerate() {
                let col = Palette99::pick(k).to_rgba();
                c.draw_series(std::iter::once(Circle::new((p.1, p.2), 5, col.filled())))?;
                c.draw_series(std::iter::once(Text::new(
                    p.0.clone(),
                    (p.1 + 0.1, p.2 + 0.4),
                    ("sans-serif", 11),
                )))?;
            }
            let lo = pts.iter().map(|p| p.3).fold(f64::INFINITY, f64::min) / 2.0;
            let hi = pts.iter().map(|p| p.3).fold(0.0, f64::max) * 2.0;
            let mut c = ChartBuilder::on(&right)
                .caption("sentence embeddings vs FP32", ("sans-serif", 18))
                .margin(14)
                .x_label_area_size(40)
                .y_label_area_size(64)
                .build_cartesian_2d(0.0..xmax, (lo..hi).log_scale())?;
            c.configure_mesh()
                .x_desc("bits per weight")
                .y_desc("1 − mean cosine similarity")
                .y_label_formatter(&|v| format!("{v:.0e}"))
                .draw()?;
            for (k, p) in pts.iter().enumerate() {
                let col = Palette99::pick(k).to_rgba();
                c.draw_series(std::iter::once(Circle::new((p.1, p.3), 5, col.filled())))?;
                c.draw_series(std::iter::once(Text::new(
                    p.0.clone(),
                    (p.1 + 0.1, p.3 * 1.08),
                    ("sans-serif", 11),
                )))?;
            }
            root.present()?;
            Ok(())
        };
        draw().map_err(|e| failed(format!("plotting: {e}")))?;
    }
    Ok(s)
}
