//! SVG pictures of a configured BIRRD network: one column of switches per stage, switches
//! coloured by mode, every wire labelled with the inputs its value sums — a route is checked by
//! looking at it.

use plume_hw::feather::birrd::{dest, BirrdConfig, Config, Mode};
use std::fmt::Write;

const ROW: f64 = 34.0;
const COL: f64 = 190.0;
const LEFT: f64 = 70.0;
const TOP: f64 = 50.0;
const BOX_W: f64 = 64.0;

pub fn mode_colour(m: Mode) -> &'static str {
    match m {
        Mode::Pass => "#dde6f0",
        Mode::Swap => "#f5cf9f",
        Mode::AddEven => "#a8dcb9",
        Mode::AddOdd => "#c7bdf0",
    }
}

/// Input multiplicities of every wire: `sets[b][p]` is what position p carries before stage b
/// (b = stages: the outputs). Counts above one mean an input is summed twice.
pub fn wire_sets(cfg: &BirrdConfig, config: &Config) -> Vec<Vec<Vec<u32>>> {
    let n = cfg.ports as usize;
    let mut cur: Vec<Vec<u32>> = (0..n)
        .map(|i| (0..n).map(|k| (k == i) as u32).collect())
        .collect();
    let mut all = vec![cur.clone()];
    for (s, row) in config.iter().enumerate() {
        let mut next = vec![vec![0u32; n]; n];
        for (j, m) in row.iter().enumerate() {
            let (a, b) = (&cur[2 * j], &cur[2 * j + 1]);
            let sum: Vec<u32> = a.iter().zip(b).map(|(x, y)| x + y).collect();
            let (e, o) = match m {
                Mode::Pass => (a.clone(), b.clone()),
                Mode::Swap => (b.clone(), a.clone()),
                Mode::AddEven => (sum, b.clone()),
                Mode::AddOdd => (a.clone(), sum),
            };
            next[dest(cfg.topology, cfg.ports, s as u32, 2 * j)] = e;
            next[dest(cfg.topology, cfg.ports, s as u32, 2 * j + 1)] = o;
        }
        cur = next;
        all.push(cur.clone());
    }
    all
}

/// `{0,4}`, or `{0,4×2}` when an input is counted twice.
pub fn set_label(counts: &[u32]) -> String {
    let parts: Vec<String> = counts
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
    format!("{{{}}}", parts.join(","))
}

fn y_of(p: usize) -> f64 {
    TOP + ROW * p as f64 + ROW / 2.0
}

pub fn birrd_svg(cfg: &BirrdConfig, config: &Config) -> String {
    let n = cfg.ports as usize;
    let stages = config.len();
    let sets = wire_sets(cfg, config);
    let longest = (0..n)
        .map(|p| set_label(&sets[stages][p]).len())
        .max()
        .unwrap_or(4);
    let width =
        LEFT + 60.0 + COL * (stages - 1) as f64 + BOX_W + 64.0 + 6.5 * (longest + 10) as f64;
    let height = TOP + ROW * n as f64 + 60.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="monospace" font-size="10">"#
    );
    let _ = writeln!(
        s,
        r#"<title>{} configured network</title>"#,
        cfg.module_name()
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="20" font-size="13">{}: {} ports, {} stages ({}); wire labels: inputs summed</text>"#,
        cfg.module_name(),
        n,
        stages,
        cfg.topology
    );
    for (k, m) in [Mode::Pass, Mode::Swap, Mode::AddEven, Mode::AddOdd]
        .iter()
        .enumerate()
    {
        let x = LEFT + 110.0 * k as f64;
        let _ = writeln!(
            s,
            r##"<rect x="{x}" y="28" width="12" height="10" fill="{}" stroke="#555"/><text x="{}" y="37">{}</text>"##,
            mode_colour(*m),
            x + 16.0,
            m.name()
        );
    }
    let box_x = |st: usize| LEFT + 60.0 + COL * st as f64;
    for p in 0..n {
        let _ = writeln!(s, r#"<text x="8" y="{}">in {p}</text>"#, y_of(p) + 3.0);
        let _ = writeln!(
            s,
            r##"<line x1="40" y1="{y}" x2="{}" y2="{y}" stroke="#333"/>"##,
            box_x(0),
            y = y_of(p)
        );
    }
    for (st, row) in config.iter().enumerate() {
        for (j, m) in row.iter().enumerate() {
            let (y0, x) = (TOP + ROW * (2 * j) as f64 + 3.0, box_x(st));
            let _ = writeln!(
                s,
                r##"<g class="switch" data-stage="{st}" data-switch="{j}" data-mode="{}"><rect x="{x}" y="{y0}" width="{BOX_W}" height="{}" rx="5" fill="{}" stroke="#333"/><text x="{}" y="{}" text-anchor="middle">{}</text></g>"##,
                m.name(),
                2.0 * ROW - 6.0,
                mode_colour(*m),
                x + BOX_W / 2.0,
                y0 + ROW + 1.0,
                m.name()
            );
            for q in [2 * j, 2 * j + 1] {
                let target = if st + 1 < stages {
                    dest(cfg.topology, cfg.ports, st as u32, q)
                } else {
                    q
                };
                let (x1, y1) = (x + BOX_W, y_of(q));
                let x2 = if st + 1 < stages {
                    box_x(st + 1)
                } else {
                    x1 + 60.0
                };
                let y2 = y_of(if st + 1 < stages { target } else { q });
                let _ = writeln!(
                    s,
                    r##"<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#333"/>"##
                );
                let label = set_label(&sets[st + 1][if st + 1 < stages { target } else { q }]);
                let _ = writeln!(
                    s,
                    r##"<text x="{}" y="{}" fill="#14527a">{}</text>"##,
                    x1 + 4.0,
                    y1 - 3.0,
                    label
                );
            }
        }
    }
    for p in 0..n {
        let _ = writeln!(
            s,
            r#"<text class="output" data-port="{p}" x="{}" y="{}">out {p} = {}</text>"#,
            box_x(stages - 1) + BOX_W + 64.0,
            y_of(p) + 3.0,
            set_label(&sets[stages][p])
        );
    }
    s.push_str("</svg>\n");
    s
}
