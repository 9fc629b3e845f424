//! An SVG of a fabric with every link coloured by its load: the share of the run's time the
//! link was busy (bytes / (bandwidth × completion time)). The mesh is drawn as its grid; the
//! fat tree as NPUs, L1 switches and spine planes in three rows. The two directions of a link
//! are drawn side by side; links that carried nothing are thin and grey.

use super::fabric::{Fabric, Kind, Outcome, Place};
use std::fmt::Write;

fn colour(load: f64) -> String {
    // White → yellow → red.
    let x = load.clamp(0.0, 1.0);
    let (r, g, b) = if x < 0.5 {
        (255.0, 255.0, 255.0 - 2.0 * x * 255.0)
    } else {
        (255.0, 255.0 - (x - 0.5) * 2.0 * 200.0, 0.0)
    };
    format!("rgb({},{},{})", r as u8, g as u8, b as u8)
}

/// The picture; `title` goes on top.
pub fn svg(fab: &Fabric, out: &Outcome, title: &str) -> String {
    let cfg = &fab.cfg;
    let pos = |p: Place| -> (f64, f64) {
        match (cfg.kind, p) {
            (Kind::Mesh, Place::Npu(n)) => (
                60.0 + 90.0 * (n % cfg.cols) as f64,
                80.0 + 90.0 * (n / cfg.cols) as f64,
            ),
            (_, Place::Npu(n)) => (40.0 + 36.0 * n as f64, 360.0),
            (_, Place::L1(l)) => (
                40.0 + 36.0 * (l * cfg.per_l1) as f64 + 18.0 * (cfg.per_l1 - 1) as f64,
                230.0,
            ),
            (_, Place::Spine(u)) => {
                let span = 36.0 * (cfg.npus - 1) as f64;
                let gap = span / cfg.per_l1 as f64;
                (40.0 + gap * (u as f64 + 0.5), 90.0)
            }
        }
    };
    let (w, h) = match cfg.kind {
        Kind::Mesh => (
            120.0 + 90.0 * (cfg.cols - 1) as f64,
            160.0 + 90.0 * (cfg.npus / cfg.cols - 1) as f64 + 40.0,
        ),
        _ => (80.0 + 36.0 * (cfg.npus - 1) as f64, 440.0),
    };
    let w = w.max(520.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="20" font-size="13">{}</text>"#,
        title.replace('&', "&amp;").replace('<', "&lt;")
    );
    let t = out.time_ns.max(1e-9);
    let mut busiest = 0.0f64;
    for (k, l) in fab.links.iter().enumerate() {
        let (x1, y1) = pos(l.from);
        let (x2, y2) = pos(l.to);
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len = (dx * dx + dy * dy).sqrt().max(1e-9);
        // Offset each direction to its right.
        let (ox, oy) = (-dy / len * 3.0, dx / len * 3.0);
        let load = out.link_bytes[k] as f64 / (l.bw * t);
        busiest = busiest.max(load);
        let _ = writeln!(
            s,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="{}"><title>{:?} → {:?}: {} bytes, busy {:.0} %</title></line>"#,
            x1 + ox,
            y1 + oy,
            x2 + ox,
            y2 + oy,
            if out.link_bytes[k] == 0 {
                "#cccccc".to_string()
            } else {
                colour(load)
            },
            if out.link_bytes[k] == 0 { 1.5 } else { 4.0 },
            l.from,
            l.to,
            out.link_bytes[k],
            100.0 * load
        );
    }
    let mut places: Vec<Place> = (0..cfg.npus).map(Place::Npu).collect();
    if cfg.kind != Kind::Mesh {
        places.extend((0..cfg.npus / cfg.per_l1).map(Place::L1));
        places.extend((0..cfg.per_l1).map(Place::Spine));
    }
    for p in places {
        let (x, y) = pos(p);
        let (label, fill) = match p {
            Place::Npu(n) => (format!("{n}"), "#dde8f5"),
            Place::L1(l) => (format!("L1.{l}"), "#e8e8e8"),
            Place::Spine(u) => (format!("L2.{u}"), "#e8e8e8"),
        };
        let _ = writeln!(
            s,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="13" fill="{fill}" stroke="#333"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            y + 4.0
        );
    }
    // Legend.
    let ly = h - 22.0;
    for i in 0..=10 {
        let _ = writeln!(
            s,
            r#"<rect x="{}" y="{ly:.0}" width="20" height="10" fill="{}"/>"#,
            10 + 20 * i,
            colour(i as f64 / 10.0)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="240" y="{:.0}">link busy 0 … 100 % of {:.1} µs (busiest {:.0} %)</text>"#,
        ly + 9.0,
        t / 1e3,
        100.0 * busiest
    );
    s.push_str("</svg>\n");
    s
}
