//! The router: flows → µSwitch configuration (spec fred.md §5).
//!
//! At each level of the recursion a flow uses exactly one middle sub-network: two flows that
//! share an input µSwitch or an output µSwitch must use different ones, so the flows' conflict
//! graph is coloured with m colours; each middle then routes the flows of its colour, seen
//! through the input and output µSwitches (input µSwitch k is the middle's port k, the odd
//! port's demultiplexer its last). The search is exact: every colouring of a level (up to a
//! renaming of the identical middles) is tried before the level is declared unroutable, and a
//! colouring whose middles fail is abandoned for the next — so the router answers "conflict"
//! only when no assignment of flows to middles at every level exists. Every result is checked
//! on the network (`Network::realises`) before it is returned.

use super::network::{check_flows, Block, Flow, FlowError, Masks, Network};
use std::time::Instant;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    Flow(#[from] FlowError),
    #[error(
        "routing conflict: flows {} cannot be given {m} middle sub-networks of a Fred_{m}({ports}) \
         — each pair that shares an input or output µSwitch needs different ones{}",
        list(flows),
        if *deeper { ", and no colouring routes inside the middles" } else { "" }
    )]
    Conflict {
        flows: Vec<usize>,
        m: u32,
        ports: u32,
        /// Colourings existed, but none routed in the sub-networks.
        deeper: bool,
    },
    #[error("no route found within the time budget")]
    Timeout,
    #[error("internal: the configuration found does not realise the flows")]
    Internal,
}

fn list(v: &[usize]) -> String {
    v.iter()
        .map(|f| f.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A flow as one level of the recursion sees it: its identity and its local ports.
#[derive(Clone, Debug)]
struct Local {
    id: usize,
    ins: Vec<u32>,
    outs: Vec<u32>,
}

struct Search {
    masks: Masks,
    deadline: Option<Instant>,
    /// Colourings tried (for the tests' and benches' statistics).
    tried: u64,
}

/// Routes `flows` on `net`; the configuration realises them exactly.
pub fn route(
    net: &Network,
    flows: &[Flow],
    deadline: Option<Instant>,
) -> Result<Masks, RouteError> {
    check_flows(net.cfg.ports, flows)?;
    let local: Vec<Local> = flows
        .iter()
        .enumerate()
        .map(|(id, f)| Local {
            id,
            ins: f.ins.clone(),
            outs: f.outs.clone(),
        })
        .collect();
    let mut s = Search {
        masks: net.empty_masks(),
        deadline,
        tried: 0,
    };
    s.block(&net.block, &local)?;
    if !net.realises(&s.masks, flows) {
        return Err(RouteError::Internal);
    }
    Ok(s.masks)
}

impl Search {
    fn block(&mut self, b: &Block, flows: &[Local]) -> Result<(), RouteError> {
        match b {
            Block::Wire => {
                // One port: at most one flow, from port 0 to port 0 (disjointness holds).
                Ok(())
            }
            Block::Base(sw) => {
                for f in flows {
                    let mask = f.ins.iter().fold(0u8, |m, &i| m | 1 << i);
                    for &o in &f.outs {
                        self.masks[*sw][o as usize] = mask;
                    }
                }
                Ok(())
            }
            Block::Clos {
                ports,
                inputs,
                demux,
                middles,
                outputs,
                mux,
            } => {
                let m = middles.len();
                let r = inputs.len() as u32;
                // The µSwitches (local nodes) each flow touches: input or output µSwitch k
                // for ports 2k, 2k+1; node r for the odd port.
                let node = |p: u32| (p / 2).min(r);
                let touch = |f: &Local, outs: bool| -> Vec<u32> {
                    let mut v: Vec<u32> = if outs { &f.outs } else { &f.ins }
                        .iter()
                        .map(|&p| node(p))
                        .collect();
                    v.sort_unstable();
                    v.dedup();
                    v
                };
                let fin: Vec<Vec<u32>> = flows.iter().map(|f| touch(f, false)).collect();
                let fout: Vec<Vec<u32>> = flows.iter().map(|f| touch(f, true)).collect();
                let n = flows.len();
                let mut adj = vec![vec![false; n]; n];
                for a in 0..n {
                    for b in a + 1..n {
                        let share =
                            |x: &[u32], y: &[u32]| x.iter().any(|k| *k < r && y.contains(k));
                        if share(&fin[a], &fin[b]) || share(&fout[a], &fout[b]) {
                            adj[a][b] = true;
                            adj[b][a] = true;
                        }
                    }
                }
                // Most constrained flows first.
                let mut order: Vec<usize> = (0..n).collect();
                order.sort_by_key(|&f| std::cmp::Reverse(adj[f].iter().filter(|&&e| e).count()));
                let mut colour = vec![usize::MAX; n];
                let mut coloured_any = false;
                let ok = self.colour(
                    &order,
                    0,
                    0,
                    &adj,
                    &mut colour,
                    m,
                    &mut coloured_any,
                    &mut |s, colour| {
                        s.try_colouring(
                            flows, colour, &fin, &fout, r, *ports, inputs, *demux, middles,
                            outputs, *mux,
                        )
                    },
                )?;
                if ok {
                    return Ok(());
                }
                let ids: Vec<usize> = if coloured_any {
                    flows.iter().map(|f| f.id).collect()
                } else {
                    uncolourable_core(&adj, m)
                        .into_iter()
                        .map(|k| flows[k].id)
                        .collect()
                };
                let mut ids = ids;
                ids.sort_unstable();
                Err(RouteError::Conflict {
                    flows: ids,
                    m: m as u32,
                    ports: *ports,
                    deeper: coloured_any,
                })
            }
        }
    }

    /// Backtracking over colourings of `order[i..]`, colours beyond `used` introduced in order
    /// (so renamings of the identical middles are not tried twice); `leaf` routes a complete
    /// colouring and says whether it worked.
    #[allow(clippy::too_many_arguments)]
    fn colour(
        &mut self,
        order: &[usize],
        i: usize,
        used: usize,
        adj: &[Vec<bool>],
        colour: &mut Vec<usize>,
        m: usize,
        coloured_any: &mut bool,
        leaf: &mut dyn FnMut(&mut Self, &[usize]) -> Result<bool, RouteError>,
    ) -> Result<bool, RouteError> {
        if let Some(d) = self.deadline {
            if Instant::now() > d {
                return Err(RouteError::Timeout);
            }
        }
        if i == order.len() {
            *coloured_any = true;
            self.tried += 1;
            return leaf(self, colour);
        }
        let f = order[i];
        for c in 0..m.min(used + 1) {
            if (0..adj.len()).any(|g| adj[f][g] && colour[g] == c) {
                continue;
            }
            colour[f] = c;
            if self.colour(
                order,
                i + 1,
                used.max(c + 1),
                adj,
                colour,
                m,
                coloured_any,
                leaf,
            )? {
                return Ok(true);
            }
        }
        colour[f] = usize::MAX;
        Ok(false)
    }

    /// Sets the outer µSwitches for one colouring and routes every middle.
    #[allow(clippy::too_many_arguments)]
    fn try_colouring(
        &mut self,
        flows: &[Local],
        colour: &[usize],
        fin: &[Vec<u32>],
        fout: &[Vec<u32>],
        r: u32,
        _ports: u32,
        inputs: &[usize],
        demux: Option<usize>,
        middles: &[Block],
        outputs: &[usize],
        mux: Option<usize>,
    ) -> Result<bool, RouteError> {
        // Outer µSwitches: clear, then each flow's ports go to (come from) its middle.
        for &sw in inputs
            .iter()
            .chain(outputs)
            .chain(demux.iter())
            .chain(mux.iter())
        {
            for mask in self.masks[sw].iter_mut() {
                *mask = 0;
            }
        }
        for (k, f) in flows.iter().enumerate() {
            let c = colour[k];
            for &p in &f.ins {
                if p / 2 < r {
                    self.masks[inputs[(p / 2) as usize]][c] |= 1 << (p % 2);
                } else if let Some(d) = demux {
                    self.masks[d][c] = 1;
                }
            }
            for &p in &f.outs {
                if p / 2 < r {
                    self.masks[outputs[(p / 2) as usize]][(p % 2) as usize] = 1 << c;
                } else if let Some(x) = mux {
                    self.masks[x][0] = 1 << c;
                }
            }
        }
        for (c, mid) in middles.iter().enumerate() {
            let sub: Vec<Local> = flows
                .iter()
                .enumerate()
                .filter(|(k, _)| colour[*k] == c)
                .map(|(k, f)| Local {
                    id: f.id,
                    ins: fin[k].clone(),
                    outs: fout[k].clone(),
                })
                .collect();
            match self.block(mid, &sub) {
                Ok(()) => {}
                Err(RouteError::Conflict { .. }) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

/// A smallest-found set of flows (indices into `adj`) that cannot be coloured with `m`
/// colours: flows are dropped one at a time while the rest stays uncolourable.
fn uncolourable_core(adj: &[Vec<bool>], m: usize) -> Vec<usize> {
    let mut keep: Vec<usize> = (0..adj.len()).collect();
    let mut k = 0;
    while k < keep.len() {
        let trial: Vec<usize> = keep.iter().copied().filter(|&x| x != keep[k]).collect();
        if !colourable(adj, &trial, m) {
            keep = trial;
        } else {
            k += 1;
        }
    }
    keep
}

fn colourable(adj: &[Vec<bool>], nodes: &[usize], m: usize) -> bool {
    fn go(adj: &[Vec<bool>], nodes: &[usize], i: usize, col: &mut Vec<usize>, m: usize) -> bool {
        if i == nodes.len() {
            return true;
        }
        let used = col
            .iter()
            .filter(|&&c| c != usize::MAX)
            .max()
            .map_or(0, |c| c + 1);
        for c in 0..m.min(used + 1) {
            if nodes[..i].iter().any(|&g| adj[nodes[i]][g] && col[g] == c) {
                continue;
            }
            col[nodes[i]] = c;
            if go(adj, nodes, i + 1, col, m) {
                return true;
            }
            col[nodes[i]] = usize::MAX;
        }
        false
    }
    let mut col = vec![usize::MAX; adj.len()];
    go(adj, nodes, 0, &mut col, m)
}

#[cfg(test)]
mod tests {
    use super::super::network::apply;
    use super::super::FredConfig;
    use super::*;

    fn f(ins: &[u32], outs: &[u32]) -> Flow {
        Flow {
            ins: ins.to_vec(),
            outs: outs.to_vec(),
        }
    }

    fn net(p: u32, m: u32) -> Network {
        Network::new(&FredConfig {
            ports: p,
            m,
            width: 16,
        })
    }

    #[test]
    fn an_all_reduce_and_a_multicast_route_and_compute_their_sums() {
        for (p, m) in [(4, 2), (5, 3), (8, 3), (7, 2)] {
            let n = net(p, m);
            let flows = [f(&[0, 2], &[0, 2]), f(&[1], &[1, p - 1])];
            let masks = route(&n, &flows, None).unwrap();
            let x: Vec<u64> = (0..p as u64).map(|i| 1000 + 7 * i).collect();
            assert_eq!(n.eval(&masks, &x), apply(&n.cfg, &flows, &x), "P={p} m={m}");
        }
    }

    /// The paper's Fig. 7j case: three flows pairwise sharing µSwitches form an odd cycle —
    /// two middles cannot separate them, three can.
    #[test]
    fn an_odd_cycle_of_flows_needs_three_middles() {
        let flows = [f(&[0, 2], &[0]), f(&[1, 4], &[2]), f(&[3, 5], &[1])];
        let e = route(&net(8, 2), &flows, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "routing conflict: flows 0, 1, 2 cannot be given 2 middle sub-networks of a Fred_2(8) \
             — each pair that shares an input or output µSwitch needs different ones"
        );
        assert!(route(&net(8, 3), &flows, None).is_ok());
    }
}
