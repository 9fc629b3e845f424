//! Dead-logic removal: keeps what an output depends on, directly or through registers and
//! memories, and drops the rest — nodes, memory read ports nobody reads, memories nobody
//! reads, instances none of whose outputs are used. `ModuleBuilder::finish` runs it on every
//! module, so the simulator, the waveform and the Verilog all see the same design.
//!
//! Ports stay (an unused input is still a port); every output of a kept instance is kept,
//! since Verilog connects them all. Node order is preserved, so names derived from node
//! numbers stay stable when nothing is dead.

use crate::rtl::ir::*;

/// Which nodes, memories, read ports and instances contribute to an output.
pub struct Liveness {
    pub node: Vec<bool>,
    pub mem: Vec<bool>,
    pub inst: Vec<bool>,
}

pub fn liveness(m: &Module) -> Liveness {
    let mut live = Liveness {
        node: vec![false; m.nodes.len()],
        mem: vec![false; m.memories.len()],
        inst: vec![false; m.instances.len()],
    };
    let mut inst_outs: Vec<Vec<NodeId>> = vec![Vec::new(); m.instances.len()];
    for (k, n) in m.nodes.iter().enumerate() {
        if let Op::InstOut { inst, .. } = n.op {
            inst_outs[inst].push(k as NodeId);
        }
    }
    let mut work: Vec<NodeId> = m.outputs.iter().map(|(_, id)| *id).collect();
    work.extend(m.inputs.iter().map(|(_, id)| *id));
    while let Some(id) = work.pop() {
        if std::mem::replace(&mut live.node[id as usize], true) {
            continue;
        }
        let op = &m.node(id).op;
        work.extend(operands(op));
        match op {
            Op::MemRead { mem, port } => {
                let mm = &m.memories[*mem];
                let r = &mm.read_ports[*port];
                work.push(r.addr);
                work.extend(r.en);
                if !std::mem::replace(&mut live.mem[*mem], true) {
                    for w in &mm.write_ports {
                        work.extend([w.addr, w.data, w.en]);
                    }
                }
            }
            Op::InstOut { inst, .. } if !live.inst[*inst] => {
                live.inst[*inst] = true;
                work.extend(&m.instances[*inst].inputs);
                work.extend(&inst_outs[*inst]);
            }
            _ => {}
        }
    }
    live
}

/// The module without its dead logic (`clocked` and `comb_inputs` are left for the caller).
pub fn prune(m: &Module) -> Module {
    let live = liveness(m);
    // Every read port has its node, so all nodes live means every port is read.
    if live.node.iter().all(|&l| l) && live.mem.iter().all(|&l| l) && live.inst.iter().all(|&l| l) {
        return m.clone();
    }
    // New numbers for what stays.
    let mut node_map = vec![u32::MAX; m.nodes.len()];
    let mut next = 0u32;
    for (k, &l) in live.node.iter().enumerate() {
        if l {
            node_map[k] = next;
            next += 1;
        }
    }
    let mut mem_map = vec![usize::MAX; m.memories.len()];
    let mut port_map: Vec<Vec<usize>> = m
        .memories
        .iter()
        .map(|mem| vec![usize::MAX; mem.read_ports.len()])
        .collect();
    let mut memories = Vec::new();
    for (k, mem) in m.memories.iter().enumerate() {
        if !live.mem[k] {
            continue;
        }
        mem_map[k] = memories.len();
        let mut kept = mem.clone();
        kept.read_ports.clear();
        for (p, r) in mem.read_ports.iter().enumerate() {
            let read = m.nodes.iter().enumerate().any(|(id, n)| {
                live.node[id] && matches!(n.op, Op::MemRead { mem, port } if mem == k && port == p)
            });
            if read {
                port_map[k][p] = kept.read_ports.len();
                kept.read_ports.push(ReadPort {
                    addr: node_map[r.addr as usize],
                    en: r.en.map(|e| node_map[e as usize]),
                });
            }
        }
        for w in &mut kept.write_ports {
            *w = WritePort {
                addr: node_map[w.addr as usize],
                data: node_map[w.data as usize],
                en: node_map[w.en as usize],
            };
        }
        memories.push(kept);
    }
    let mut inst_map = vec![usize::MAX; m.instances.len()];
    let mut instances = Vec::new();
    for (k, i) in m.instances.iter().enumerate() {
        if live.inst[k] {
            inst_map[k] = instances.len();
            instances.push(Instance {
                name: i.name.clone(),
                module: i.module.clone(),
                inputs: i.inputs.iter().map(|a| node_map[*a as usize]).collect(),
            });
        }
    }
    let map = |id: &NodeId| node_map[*id as usize];
    let nodes = m
        .nodes
        .iter()
        .enumerate()
        .filter(|(k, _)| live.node[*k])
        .map(|(_, n)| {
            let op = match &n.op {
                Op::Input => Op::Input,
                Op::Const(v) => Op::Const(v.clone()),
                Op::Not(a) => Op::Not(map(a)),
                Op::Bin(o, a, b) => Op::Bin(*o, map(a), map(b)),
                Op::Mul(a, b) => Op::Mul(map(a), map(b)),
                Op::Cmp(o, a, b) => Op::Cmp(*o, map(a), map(b)),
                Op::Shift(o, a, b) => Op::Shift(*o, map(a), map(b)),
                Op::Reduce(o, a) => Op::Reduce(*o, map(a)),
                Op::Mux {
                    sel,
                    on_true,
                    on_false,
                } => Op::Mux {
                    sel: map(sel),
                    on_true: map(on_true),
                    on_false: map(on_false),
                },
                Op::Select { sel, choices } => Op::Select {
                    sel: map(sel),
                    choices: choices.iter().map(map).collect(),
                },
                Op::Cat(parts) => Op::Cat(parts.iter().map(map).collect()),
                Op::Slice { arg, lo } => Op::Slice {
                    arg: map(arg),
                    lo: *lo,
                },
                Op::Extend(a) => Op::Extend(map(a)),
                Op::Cast(a) => Op::Cast(map(a)),
                Op::Wire(d) => Op::Wire(d.iter().map(map).collect()),
                Op::Reg { d, en, init } => Op::Reg {
                    d: d.iter().map(map).collect(),
                    en: en.as_ref().map(map),
                    init: init.clone(),
                },
                Op::MemRead { mem, port } => Op::MemRead {
                    mem: mem_map[*mem],
                    port: port_map[*mem][*port],
                },
                Op::InstOut { inst, port } => Op::InstOut {
                    inst: inst_map[*inst],
                    port: *port,
                },
            };
            Node {
                op,
                width: n.width,
                signed: n.signed,
                name: n.name.clone(),
            }
        })
        .collect();
    Module {
        name: m.name.clone(),
        nodes,
        inputs: m
            .inputs
            .iter()
            .map(|(n, id)| (n.clone(), map(id)))
            .collect(),
        outputs: m
            .outputs
            .iter()
            .map(|(n, id)| (n.clone(), map(id)))
            .collect(),
        instances,
        memories,
        clocked: m.clocked,
        comb_inputs: m.comb_inputs.clone(),
    }
}

#[cfg(test)]
mod tests {
    use crate::rtl::{Bits, MemStyle, ModuleBuilder, ReadDuringWrite};

    #[test]
    fn logic_no_output_depends_on_is_removed_and_the_rest_keeps_its_order() {
        let mut b = ModuleBuilder::new("t");
        let x = b.input("x", 8);
        let unused = b.input("unused", 4);
        // Dead: a named register loop and a memory nobody reads.
        let r = b.reg("spin", Bits::zero(8));
        let r1 = b.add(r, x);
        b.next(r, r1, None);
        let mem = b.memory("m", 8, 4, MemStyle::Distributed, ReadDuringWrite::ReadFirst);
        let a = b.slice(unused, 1, 0);
        let one = b.lit(1, 1);
        b.mem_write(mem, a, x, one);
        let _ = b.mem_read(mem, a, None);
        // Live.
        let y = b.not(x);
        let q = b.delay("q", y);
        b.output("o", q);
        let m = b.finish().unwrap();
        let names: Vec<_> = m.nodes.iter().filter_map(|n| n.name.clone()).collect();
        assert_eq!(names, ["x", "unused", "q"]);
        assert!(m.memories.is_empty());
        assert!(m.clocked);
        assert_eq!(m.inputs.len(), 2, "ports stay");
    }

    #[test]
    fn a_memory_keeps_only_the_read_ports_that_are_used() {
        let mut b = ModuleBuilder::new("t");
        let a = b.input("a", 2);
        let d = b.input("d", 8);
        let we = b.input("we", 1);
        let mem = b.memory("m", 8, 4, MemStyle::Distributed, ReadDuringWrite::ReadFirst);
        b.mem_write(mem, a, d, we);
        let _dead = b.mem_read(mem, a, None);
        let live = b.mem_read(mem, a, Some(we));
        b.output("o", live);
        let m = b.finish().unwrap();
        assert_eq!(m.memories[0].read_ports.len(), 1);
        assert!(m.memories[0].read_ports[0].en.is_some());
        assert_eq!(m.memories[0].write_ports.len(), 1);
    }
}
