//! A resource estimate from the IR, without synthesis: flip-flops, DSP48E2 tiles for each
//! multiply, block RAM, UltraRAM and LUT-RAM from each memory's shape, and LUTs from a cost
//! per operator. DSP, BRAM and FF counts track Yosys `synth_xilinx -family xcup` closely;
//! LUTs are a rough figure (the README gives the measured ratio). The board flow uses it to
//! refuse, in an instant, designs that cannot fit.

use crate::rtl::ir::{BinOp, CmpOp, MemStyle, Memory, Module, Op};
use serde::Serialize;
use std::collections::HashMap;
use std::rc::Rc;

/// Cells of a design for an UltraScale+ device, as `synth_xilinx -family xcup` counts them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Resources {
    pub design: String,
    pub lut: u64,
    pub ff: u64,
    pub carry: u64,
    pub dsp: u64,
    /// RAMB36E2 plus half of each RAMB18E2.
    pub bram36: f64,
    pub uram: u64,
    /// Distributed-memory primitives (RAM32M/RAM64M/SRL…), not counted under `lut`.
    pub lutram: u64,
}

impl Resources {
    /// Parses the cell table of Yosys `stat` for the top module. Yosys 0.23 builds carry
    /// chains from CARRY4 cells even for UltraScale+, whose slices hold CARRY8s: two CARRY4
    /// count as one CARRY8 (what Vivado packs the same chains into).
    pub fn from_yosys_stat(design: &str, stat: &str) -> Resources {
        let mut r = Resources {
            design: design.to_string(),
            ..Default::default()
        };
        let mut carry4 = 0u64;
        for line in stat.lines() {
            let mut it = line.split_whitespace();
            let (Some(cell), Some(n), None) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match cell {
                c if c.starts_with("LUT") && c.len() == 4 => r.lut += n,
                "FDRE" | "FDSE" | "FDCE" | "FDPE" => r.ff += n,
                "CARRY8" => r.carry += n,
                "CARRY4" => carry4 += n,
                "DSP48E2" => r.dsp += n,
                "RAMB36E2" => r.bram36 += n as f64,
                "RAMB18E2" => r.bram36 += n as f64 / 2.0,
                "URAM288" => r.uram += n,
                c if c.starts_with("RAM32")
                    || c.starts_with("RAM64")
                    || c.starts_with("RAM128")
                    || c.starts_with("RAM256")
                    || c.starts_with("SRL") =>
                {
                    r.lutram += n
                }
                _ => {}
            }
        }
        r.carry += carry4.div_ceil(2);
        r
    }
}

/// The estimate for a whole design.
pub fn estimate(top: &Rc<Module>) -> Resources {
    let mut memo: HashMap<String, [f64; 7]> = HashMap::new();
    let c = cost(top, &mut memo);
    Resources {
        design: top.name.clone(),
        lut: c[0].ceil() as u64,
        ff: c[1] as u64,
        carry: c[2].ceil() as u64,
        dsp: c[3] as u64,
        bram36: c[4],
        uram: c[5] as u64,
        lutram: c[6] as u64,
    }
}

/// RAMB18 halves for a width × depth memory (simple dual port; 36 bits wide at most per half
/// at 512 deep, 18 at 1K, and so on).
fn bram18(width: u32, depth: u32) -> u64 {
    [
        (36u32, 512u32),
        (18, 1024),
        (9, 2048),
        (4, 4096),
        (2, 8192),
        (1, 16384),
    ]
    .iter()
    .map(|&(w, d)| width.div_ceil(w) as u64 * depth.div_ceil(d) as u64)
    .min()
    .unwrap_or(0)
}

/// Where a memory lands: as declared, or for `Auto` block RAM from 4 Kbit up.
fn effective_style(mem: &Memory) -> MemStyle {
    match mem.style {
        MemStyle::Auto if mem.width as u64 * mem.depth as u64 >= 4096 => MemStyle::Block,
        MemStyle::Auto => MemStyle::Distributed,
        s => s,
    }
}

fn cost(m: &Rc<Module>, memo: &mut HashMap<String, [f64; 7]>) -> [f64; 7] {
    if let Some(c) = memo.get(&m.name) {
        return *c;
    }
    // [lut, ff, carry8, dsp, bram36, uram, lutram cells]
    let mut c = [0.0f64; 7];
    let w = |id: u32| m.node(id).width as f64;
    // Logic that synthesis folds away: a bitwise operation whose only reader is an adder
    // shares the adder's LUTs (the carry chain's propagate function), and a choice between
    // constants is a function of the select alone.
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); m.nodes.len()];
    for (k, n) in m.nodes.iter().enumerate() {
        for a in crate::rtl::ir::operands(&n.op) {
            readers[a as usize].push(k);
        }
    }
    let is_const = |id: u32| matches!(m.node(id).op, Op::Const(_));
    // The only reader, through wiring (concatenation, slices, extension, casts), is an adder.
    let feeds_adder = |k: usize| {
        let mut k = k;
        loop {
            let [r] = readers[k][..] else { return false };
            match m.nodes[r].op {
                Op::Bin(BinOp::Add | BinOp::Sub, ..) => return true,
                Op::Cat(_) | Op::Slice { .. } | Op::Extend(_) | Op::Cast(_) => k = r,
                _ => return false,
            }
        }
    };
    for (k, n) in m.nodes.iter().enumerate() {
        let nw = n.width as f64;
        match &n.op {
            Op::Bin(BinOp::Add | BinOp::Sub, ..) => {
                c[0] += nw;
                c[2] += (nw / 8.0).ceil();
            }
            Op::Bin(..) if feeds_adder(k) => {}
            Op::Bin(..) => c[0] += nw / 2.0,
            Op::Not(_) => {}
            Op::Mul(a, b) => {
                let (x, y) = (w(*a), w(*b));
                let (big, small) = if x >= y { (x, y) } else { (y, x) };
                if small <= 2.0 {
                    c[0] += big * small;
                } else {
                    c[3] += (big / 27.0).ceil() * (small / 18.0).ceil();
                }
            }
            Op::Cmp(CmpOp::Eq | CmpOp::Ne, a, _) => c[0] += (w(*a) / 3.0).ceil(),
            Op::Cmp(_, a, _) => {
                c[0] += (w(*a) / 2.0).ceil();
                c[2] += (w(*a) / 8.0).ceil();
            }
            Op::Shift(_, a, _) => c[0] += w(*a) * w(*a).log2().ceil().max(1.0) / 2.0,
            Op::Reduce(_, a) => c[0] += (w(*a) / 5.0).ceil(),
            Op::Mux {
                on_true, on_false, ..
            } if is_const(*on_true) && is_const(*on_false) => {}
            Op::Mux { .. } => c[0] += nw / 2.0,
            // Between two constants each bit is a constant or the select; between more, a
            // function of the select bits (one LUT per bit up to 64 choices).
            Op::Select { choices, .. } if choices.iter().all(|&x| is_const(x)) => {
                if choices.len() > 2 {
                    c[0] += nw * (choices.len() as f64 / 64.0).ceil()
                }
            }
            Op::Select { choices, .. } => c[0] += nw * (choices.len() as f64 / 4.0).ceil(),
            Op::Reg { .. } => c[1] += nw,
            Op::MemRead { mem, .. }
                if effective_style(&m.memories[*mem]) == MemStyle::Distributed =>
            {
                c[1] += nw
            }
            _ => {}
        }
    }
    for mem in &m.memories {
        match effective_style(mem) {
            MemStyle::Block => c[4] += bram18(mem.width, mem.depth) as f64 / 2.0,
            MemStyle::Ultra => {
                c[5] += (mem.width.div_ceil(72) * mem.depth.div_ceil(4096)) as f64;
            }
            _ => {
                // LUT-RAM primitives, counted as Yosys counts them: RAM32M16 (32 × 14 bits)
                // up to 32 deep, else RAM64M8 (64 × 7 bits) per 64 lines.
                let cells = if mem.depth <= 32 {
                    mem.width.div_ceil(14)
                } else {
                    mem.depth.div_ceil(64) * mem.width.div_ceil(7)
                };
                c[6] += cells as f64;
            }
        }
    }
    for inst in &m.instances {
        let s = cost(&inst.module, memo);
        for k in 0..7 {
            c[k] += s[k];
        }
    }
    memo.insert(m.name.clone(), c);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_yosys_stat() {
        let stat = "   Number of cells:                 10\n     CARRY8                          4\n     FDRE                          100\n     LUT2                            3\n     LUT6                            5\n     RAMB18E2                        1\n     DSP48E2                         2\n";
        let r = Resources::from_yosys_stat("x", stat);
        assert_eq!((r.lut, r.ff, r.carry, r.dsp, r.bram36), (8, 100, 4, 2, 0.5));
        // Yosys's CARRY4 chains: two make one UltraScale+ CARRY8.
        let r = Resources::from_yosys_stat("x", "     CARRY4                          9\n");
        assert_eq!(r.carry, 5);
    }
}
