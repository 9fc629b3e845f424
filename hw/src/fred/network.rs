//! The structure of Fred_m(P), its evaluation under a µSwitch configuration, and the
//! flow-level golden model.
//!
//! ```text
//!  Fred_m(P), P = 2r (+1):                       µSwitch kinds (output o = Σ inputs in mask_o)
//!   in 2k, 2k+1 ─► input µSwitch k (2×m) ─┐      input  (2×m): R — adds, routes to a middle
//!   in 2r ──────► demux (1×m) ────────────┤      output (m×2): D — picks a middle, broadcasts
//!                 middle c = Fred_m(r (+1)) for c < m     base   (2×2): RD, Fred_2(2) itself
//!   out 2k, 2k+1 ◄─ output µSwitch k (m×2) ◄┤      demux  (1×m), mux (m×1): the odd port
//!   out 2r ◄────── mux (m×1) ◄──────────────┘
//! ```
//!
//! Fred_m(1) is a wire and Fred_2(2) a single 2×2 µSwitch (the Beneš base); Fred_3(2) is an
//! input and an output µSwitch around three wires. µSwitches are numbered in creation order —
//! input stage, then each middle recursively, then output stage — which is also an order in
//! which every µSwitch comes after the ones feeding it.

use super::FredConfig;
use serde::{Deserialize, Serialize};

/// What a µSwitch is for (its shape follows: inputs × outputs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// 2 × m: reduces its two inputs and routes to one middle sub-network.
    Input,
    /// m × 2: takes one middle sub-network and distributes to its two outputs.
    Output,
    /// 2 × 2: reduces and distributes (Fred_2(2)).
    Base,
    /// 1 × m: the odd input port to the middles.
    Demux,
    /// m × 1: the odd output port from the middles.
    Mux,
}

/// Where a wire comes from: a network input port or a µSwitch output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Src {
    Port(u32),
    Switch { sw: usize, out: u32 },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Switch {
    pub kind: Kind,
    /// Where each input comes from.
    pub inputs: Vec<Src>,
    pub outputs: u32,
    /// Column in a drawing: µSwitches in one column are one pipeline stage of the RTL.
    pub column: u32,
}

/// The recursive structure, for the router.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// P = 1.
    Wire,
    /// Fred_2(2): one RD µSwitch.
    Base(usize),
    Clos {
        ports: u32,
        /// Input µSwitch k serves ports 2k, 2k+1.
        inputs: Vec<usize>,
        demux: Option<usize>,
        middles: Vec<Block>,
        outputs: Vec<usize>,
        mux: Option<usize>,
    },
}

/// A whole Fred_m(P).
#[derive(Clone, Debug)]
pub struct Network {
    pub cfg: FredConfig,
    pub switches: Vec<Switch>,
    /// Where each output port's wire comes from.
    pub outputs: Vec<Src>,
    pub block: Block,
    /// Columns of µSwitches (the pipeline depth).
    pub columns: u32,
}

/// For every µSwitch, for every output, the inputs it sums (bit i = input i).
pub type Masks = Vec<Vec<u8>>;

impl Network {
    pub fn new(cfg: &FredConfig) -> Network {
        let mut switches = Vec::new();
        let ins: Vec<Src> = (0..cfg.ports).map(Src::Port).collect();
        let (block, outputs, columns) = build(cfg.ports, cfg.m, ins, 0, &mut switches);
        Network {
            cfg: *cfg,
            switches,
            outputs,
            block,
            columns,
        }
    }

    /// An all-zero configuration (every output 0).
    pub fn empty_masks(&self) -> Masks {
        self.switches
            .iter()
            .map(|s| vec![0; s.outputs as usize])
            .collect()
    }

    /// Every µSwitch output and every output port under `masks` for `inputs`, in `T`'s
    /// arithmetic (`zero`, `add`).
    fn eval_with<T: Clone>(
        &self,
        masks: &Masks,
        inputs: &[T],
        zero: &T,
        add: &dyn Fn(&T, &T) -> T,
    ) -> (Vec<Vec<T>>, Vec<T>) {
        let mut outs: Vec<Vec<T>> = Vec::with_capacity(self.switches.len());
        let get = |src: &Src, outs: &Vec<Vec<T>>| match *src {
            Src::Port(p) => inputs[p as usize].clone(),
            Src::Switch { sw, out } => outs[sw][out as usize].clone(),
        };
        for (k, s) in self.switches.iter().enumerate() {
            let vals: Vec<T> = s.inputs.iter().map(|src| get(src, &outs)).collect();
            let o = (0..s.outputs as usize)
                .map(|j| {
                    let mask = masks[k][j];
                    vals.iter()
                        .enumerate()
                        .filter(|(i, _)| mask >> i & 1 == 1)
                        .fold(zero.clone(), |acc, (_, v)| add(&acc, v))
                })
                .collect();
            outs.push(o);
        }
        let ports = self.outputs.iter().map(|src| get(src, &outs)).collect();
        (outs, ports)
    }

    /// How many times each input reaches every µSwitch output (`[switch][output][input]`)
    /// and every output port (`[port][input]`) under `masks`.
    pub fn reach_all(&self, masks: &Masks) -> (Vec<Vec<Vec<u32>>>, Vec<Vec<u32>>) {
        let p = self.cfg.ports as usize;
        let unit: Vec<Vec<u32>> = (0..p)
            .map(|i| (0..p).map(|j| (i == j) as u32).collect())
            .collect();
        self.eval_with(masks, &unit, &vec![0; p], &|a, b| {
            a.iter().zip(b).map(|(x, y)| x + y).collect()
        })
    }

    /// The network's outputs under `masks`, sums wrapping at the data width.
    pub fn eval(&self, masks: &Masks, inputs: &[u64]) -> Vec<u64> {
        let mask = self.cfg.mask();
        self.eval_with(masks, inputs, &0, &|a, b| a.wrapping_add(*b) & mask)
            .1
    }

    /// How many times each input reaches each output under `masks`: the configuration's
    /// meaning, independent of data.
    pub fn reach(&self, masks: &Masks) -> Vec<Vec<u32>> {
        self.reach_all(masks).1
    }

    /// Whether `masks` realises `flows` exactly: every output of a flow receives each of its
    /// inputs once and nothing else, and every other output nothing.
    pub fn realises(&self, masks: &Masks, flows: &[Flow]) -> bool {
        let reach = self.reach(masks);
        let p = self.cfg.ports as usize;
        let mut want = vec![vec![0u32; p]; p];
        for f in flows {
            for &o in &f.outs {
                for &i in &f.ins {
                    want[o as usize][i as usize] = 1;
                }
            }
        }
        reach == want
    }
}

/// Builds Fred_m(p) fed by `ins`, its µSwitches starting at `column`; returns the block, the
/// sources of its outputs and the columns it spans.
fn build(
    p: u32,
    m: u32,
    ins: Vec<Src>,
    column: u32,
    switches: &mut Vec<Switch>,
) -> (Block, Vec<Src>, u32) {
    let mut add = |kind, inputs: Vec<Src>, outputs, column| {
        switches.push(Switch {
            kind,
            inputs,
            outputs,
            column,
        });
        switches.len() - 1
    };
    if p == 1 {
        return (Block::Wire, ins, 0);
    }
    if p == 2 && m == 2 {
        let sw = add(Kind::Base, ins, 2, column);
        return (
            Block::Base(sw),
            vec![Src::Switch { sw, out: 0 }, Src::Switch { sw, out: 1 }],
            1,
        );
    }
    let r = p / 2;
    let odd = p % 2 == 1;
    let inputs: Vec<usize> = (0..r as usize)
        .map(|k| add(Kind::Input, vec![ins[2 * k], ins[2 * k + 1]], m, column))
        .collect();
    let demux = odd.then(|| add(Kind::Demux, vec![ins[2 * r as usize]], m, column));
    let sub = r + odd as u32;
    let mut middles = Vec::new();
    let mut ys = Vec::new();
    let mut depth = 0;
    for c in 0..m {
        let mut sub_ins: Vec<Src> = inputs
            .iter()
            .map(|&sw| Src::Switch { sw, out: c })
            .collect();
        if let Some(sw) = demux {
            sub_ins.push(Src::Switch { sw, out: c });
        }
        let (blk, y, d) = build(sub, m, sub_ins, column + 1, switches);
        middles.push(blk);
        ys.push(y);
        depth = d;
    }
    let last = column + 1 + depth;
    let mut add = |kind, inputs: Vec<Src>, outputs| {
        switches.push(Switch {
            kind,
            inputs,
            outputs,
            column: last,
        });
        switches.len() - 1
    };
    let outputs: Vec<usize> = (0..r as usize)
        .map(|k| add(Kind::Output, ys.iter().map(|y| y[k]).collect(), 2))
        .collect();
    let mux = odd.then(|| add(Kind::Mux, ys.iter().map(|y| y[r as usize]).collect(), 1));
    let mut outs: Vec<Src> = Vec::new();
    for &sw in &outputs {
        outs.push(Src::Switch { sw, out: 0 });
        outs.push(Src::Switch { sw, out: 1 });
    }
    if let Some(sw) = mux {
        outs.push(Src::Switch { sw, out: 0 });
    }
    (
        Block::Clos {
            ports: p,
            inputs,
            demux,
            middles,
            outputs,
            mux,
        },
        outs,
        depth + 2,
    )
}

/// A flow: every output in `outs` receives the sum of the inputs in `ins`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub ins: Vec<u32>,
    pub outs: Vec<u32>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error("flow {flow} has no {what}")]
    Empty { flow: usize, what: &'static str },
    #[error("flow {flow}: {what} port {port} is out of range (the switch has ports 0 to {last})")]
    Range {
        flow: usize,
        what: &'static str,
        port: u32,
        last: u32,
    },
    #[error("{what} port {port} is in flow {a} and flow {b}; flows must not overlap")]
    Overlap {
        what: &'static str,
        port: u32,
        a: usize,
        b: usize,
    },
    #[error("flow {flow} lists {what} port {port} twice")]
    Repeated {
        flow: usize,
        what: &'static str,
        port: u32,
    },
}

/// Checks that `flows` are well formed on `ports` ports: non-empty, in range, disjoint.
pub fn check_flows(ports: u32, flows: &[Flow]) -> Result<(), FlowError> {
    for (what, side) in [("input", 0), ("output", 1)] {
        let mut owner: Vec<Option<usize>> = vec![None; ports as usize];
        for (f, flow) in flows.iter().enumerate() {
            let list = if side == 0 { &flow.ins } else { &flow.outs };
            if list.is_empty() {
                return Err(FlowError::Empty {
                    flow: f,
                    what: if side == 0 { "inputs" } else { "outputs" },
                });
            }
            for &p in list {
                if p >= ports {
                    return Err(FlowError::Range {
                        flow: f,
                        what,
                        port: p,
                        last: ports - 1,
                    });
                }
                match owner[p as usize] {
                    Some(a) if a == f => {
                        return Err(FlowError::Repeated {
                            flow: f,
                            what,
                            port: p,
                        })
                    }
                    Some(a) => {
                        return Err(FlowError::Overlap {
                            what,
                            port: p,
                            a,
                            b: f,
                        })
                    }
                    None => owner[p as usize] = Some(f),
                }
            }
        }
    }
    Ok(())
}

/// The golden model: every output of a flow gets the sum of its inputs (wrapping at
/// `width`), every other output 0.
pub fn apply(cfg: &FredConfig, flows: &[Flow], inputs: &[u64]) -> Vec<u64> {
    let mut out = vec![0u64; cfg.ports as usize];
    for f in flows {
        let s = f
            .ins
            .iter()
            .fold(0u64, |a, &i| a.wrapping_add(inputs[i as usize]))
            & cfg.mask();
        for &o in &f.outs {
            out[o as usize] = s;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(p: u32, m: u32) -> usize {
        Network::new(&FredConfig {
            ports: p,
            m,
            width: 8,
        })
        .switches
        .iter()
        .filter(|s| matches!(s.kind, Kind::Input | Kind::Output | Kind::Base))
        .count()
    }

    #[test]
    fn micro_switch_counts_follow_the_recursion() {
        // S(P) = 2·(P/2) + m·S(P/2): Beneš for m = 2 (S(2) = 1, S(8) = 20); m = 3 has
        // S(2) = 2, S(4) = 10, S(8) = 38 (spec fred.md §3).
        assert_eq!(count(2, 2), 1);
        assert_eq!(count(8, 2), 20);
        assert_eq!(count(2, 3), 2);
        assert_eq!(count(4, 3), 10);
        assert_eq!(count(8, 3), 38);
    }

    #[test]
    fn every_switch_comes_after_its_sources_and_columns_grow() {
        for (p, m) in [(2, 3), (3, 2), (5, 3), (8, 2), (13, 3)] {
            let n = Network::new(&FredConfig {
                ports: p,
                m,
                width: 8,
            });
            for (k, s) in n.switches.iter().enumerate() {
                for src in &s.inputs {
                    if let Src::Switch { sw, .. } = src {
                        assert!(*sw < k);
                        assert!(n.switches[*sw].column < s.column);
                    }
                }
            }
            assert!(n.outputs.len() == p as usize);
        }
    }

    #[test]
    fn flow_errors_name_the_flow_and_port() {
        let f = |ins: &[u32], outs: &[u32]| Flow {
            ins: ins.to_vec(),
            outs: outs.to_vec(),
        };
        assert_eq!(
            check_flows(4, &[f(&[0, 1], &[2]), f(&[1], &[3])])
                .unwrap_err()
                .to_string(),
            "input port 1 is in flow 0 and flow 1; flows must not overlap"
        );
        assert_eq!(
            check_flows(4, &[f(&[0], &[4])]).unwrap_err().to_string(),
            "flow 0: output port 4 is out of range (the switch has ports 0 to 3)"
        );
        assert_eq!(
            check_flows(4, &[f(&[], &[1])]).unwrap_err().to_string(),
            "flow 0 has no inputs"
        );
        assert_eq!(
            check_flows(4, &[f(&[2, 2], &[1])]).unwrap_err().to_string(),
            "flow 0 lists input port 2 twice"
        );
    }
}
