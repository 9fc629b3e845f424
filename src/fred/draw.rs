//! SVG pictures of a routed Fred_m(P): µSwitches in their columns (the middles stacked), every
//! wire coloured by the flow whose inputs it carries and labelled with them — a route is
//! checked by looking at it.

use plume_hw::fred::network::{Block, Flow, Kind, Masks, Network, Src};
use std::fmt::Write;

const ROW: f64 = 26.0;
const COL: f64 = 120.0;
const LEFT: f64 = 70.0;
const TOP: f64 = 60.0;
const BOX_W: f64 = 34.0;
const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
];

/// Rows a block spans: a port each at the bottom of the recursion, the middles stacked.
fn rows(b: &Block) -> f64 {
    match b {
        Block::Wire => 1.0,
        Block::Base(_) => 2.0,
        Block::Clos { middles, ports, .. } => {
            let sub: f64 = middles.iter().map(rows).sum();
            sub.max(*ports as f64)
        }
    }
}

/// The vertical centre of every µSwitch.
fn place(b: &Block, y0: f64, y: &mut [f64]) {
    let h = rows(b) * ROW;
    match b {
        Block::Wire => {}
        Block::Base(sw) => y[*sw] = y0 + h / 2.0,
        Block::Clos {
            inputs,
            demux,
            middles,
            outputs,
            mux,
            ..
        } => {
            let n = inputs.len() + demux.is_some() as usize;
            let at = |k: usize| y0 + (k as f64 + 0.5) * h / n as f64;
            for (k, &sw) in inputs.iter().enumerate() {
                y[sw] = at(k);
            }
            for (k, &sw) in outputs.iter().enumerate() {
                y[sw] = at(k);
            }
            if let Some(d) = demux {
                y[*d] = at(n - 1);
            }
            if let Some(x) = mux {
                y[*x] = at(n - 1);
            }
            let mut top = y0;
            for mid in middles {
                place(mid, top, y);
                top += rows(mid) * ROW;
            }
        }
    }
}

fn label(counts: &[u32]) -> String {
    let v: Vec<String> = counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(i, c)| {
            if *c == 1 {
                i.to_string()
            } else {
                format!("{i}×{c}")
            }
        })
        .collect();
    format!("{{{}}}", v.join(","))
}

/// The flow a wire belongs to (the first whose inputs contain everything it carries).
fn flow_of(counts: &[u32], flows: &[Flow]) -> Option<usize> {
    let set: Vec<u32> = (0..counts.len() as u32)
        .filter(|&i| counts[i as usize] > 0)
        .collect();
    if set.is_empty() {
        return None;
    }
    flows
        .iter()
        .position(|f| set.iter().all(|i| f.ins.contains(i)))
}

pub fn svg(net: &Network, masks: &Masks, flows: &[Flow]) -> String {
    let p = net.cfg.ports as usize;
    let height = rows(&net.block) * ROW;
    let mut y = vec![0.0; net.switches.len()];
    place(&net.block, TOP, &mut y);
    let x = |col: u32| LEFT + 60.0 + col as f64 * COL;
    let width = x(net.columns) + 60.0;
    let canvas = width + 70.0;
    let (reach, port_reach) = net.reach_all(masks);
    let port_y = |k: usize| TOP + (k as f64 + 0.5) * height / p as f64;
    let pin = |sw: usize, i: usize, n: usize| y[sw] + (i as f64 - (n as f64 - 1.0) / 2.0) * 8.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{canvas:.0}" height="{:.0}" font-family="sans-serif" font-size="9">"#,
        height + TOP + 30.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="22" font-size="13">Fred_{}({}): {} flows; µSwitch outputs sum the inputs in braces</text>"#,
        net.cfg.m,
        p,
        flows.len()
    );
    let colour = |counts: &[u32]| match flow_of(counts, flows) {
        Some(f) => PALETTE[f % PALETTE.len()],
        None => "#cccccc",
    };
    let unit = |i: usize| -> Vec<u32> { (0..p).map(|k| (k == i) as u32).collect() };
    // Where a wire starts: (x, y, what it carries).
    let from = |src: &Src| -> (f64, f64, Vec<u32>) {
        match *src {
            Src::Port(k) => (LEFT, port_y(k as usize), unit(k as usize)),
            Src::Switch { sw, out } => {
                let n = net.switches[sw].outputs as usize;
                (
                    x(net.switches[sw].column) + BOX_W / 2.0,
                    pin(sw, out as usize, n),
                    reach[sw][out as usize].clone(),
                )
            }
        }
    };
    let wire = |s: &mut String, (x0, y0, c): (f64, f64, Vec<u32>), x1: f64, y1: f64| {
        let used = c.iter().any(|&v| v > 0);
        let mid = (x0 + x1) / 2.0;
        let _ = writeln!(
            s,
            r#"<path d="M{x0:.1},{y0:.1} C{mid:.1},{y0:.1} {mid:.1},{y1:.1} {x1:.1},{y1:.1}" fill="none" stroke="{}" stroke-width="{}"/>"#,
            colour(&c),
            if used { 1.6 } else { 0.6 }
        );
        if used {
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" fill="{}">{}</text>"#,
                x0 + 3.0,
                y0 - 2.0,
                colour(&c),
                label(&c)
            );
        }
    };
    for (k, sw) in net.switches.iter().enumerate() {
        let n = sw.inputs.len();
        for (i, src) in sw.inputs.iter().enumerate() {
            wire(&mut s, from(src), x(sw.column) - BOX_W / 2.0, pin(k, i, n));
        }
    }
    for (k, src) in net.outputs.iter().enumerate() {
        wire(&mut s, from(src), width - 60.0, port_y(k));
    }
    for (k, sw) in net.switches.iter().enumerate() {
        let h = (sw.inputs.len().max(sw.outputs as usize) as f64) * 8.0 + 6.0;
        let fill = match sw.kind {
            Kind::Input => "#e8f0fa",
            Kind::Output => "#eef7ea",
            Kind::Base => "#f3ecfa",
            Kind::Demux | Kind::Mux => "#f7f3e3",
        };
        let active = masks[k].iter().any(|&m| m != 0);
        let _ = writeln!(
            s,
            r##"<rect x="{:.1}" y="{:.1}" width="{BOX_W}" height="{h:.1}" rx="3" fill="{fill}" stroke="{}"/>"##,
            x(sw.column) - BOX_W / 2.0,
            y[k] - h / 2.0,
            if active { "#333" } else { "#bbb" }
        );
    }
    for k in 0..p {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">in {k}</text><text x="{:.1}" y="{:.1}">out {k} {}</text>"#,
            LEFT - 4.0,
            port_y(k) + 3.0,
            width - 56.0,
            port_y(k) + 3.0,
            label(&port_reach[k])
        );
    }
    s.push_str("</svg>\n");
    s
}
