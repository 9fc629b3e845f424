//! FRED's interconnect: the router against brute force, configurations against the golden
//! model, and the paper's non-blocking claims measured.

mod common;

use plume_hw::fred::network::{apply, Block, Flow, Masks, Network};
use plume_hw::fred::router::{route, RouteError};
use plume_hw::fred::FredConfig;
use plume_sim::rng::XorShift;
use proptest::prelude::*;

fn net(ports: u32, m: u32) -> Network {
    Network::new(&FredConfig {
        ports,
        m,
        width: 16,
    })
}

/// Disjoint flows drawn at random: each port joins a flow's inputs (or none) and a flow's
/// outputs (or none); flows left without inputs or outputs are dropped. `max_in`/`max_out`
/// bound the sizes (1/1 gives unicast).
fn random_flows(
    rng: &mut XorShift,
    ports: u32,
    flows: u32,
    max_in: usize,
    max_out: usize,
) -> Vec<Flow> {
    let mut fl: Vec<Flow> = (0..flows)
        .map(|_| Flow {
            ins: vec![],
            outs: vec![],
        })
        .collect();
    let mut perm_in: Vec<u32> = (0..ports).collect();
    let mut perm_out: Vec<u32> = (0..ports).collect();
    for v in [&mut perm_in, &mut perm_out] {
        for i in (1..v.len()).rev() {
            v.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
    }
    for &p in &perm_in {
        let k = (rng.next() % (flows as u64 + 1)) as usize;
        if k < fl.len() && fl[k].ins.len() < max_in {
            fl[k].ins.push(p);
        }
    }
    for &p in &perm_out {
        let k = (rng.next() % (flows as u64 + 1)) as usize;
        if k < fl.len() && fl[k].outs.len() < max_out {
            fl[k].outs.push(p);
        }
    }
    fl.retain(|f| !f.ins.is_empty() && !f.outs.is_empty());
    fl
}

/// Brute force, written without the conflict graph: every assignment of flows to middles at
/// every level (m^flows of them per level), the outer µSwitches set from it, and the whole
/// configuration judged only by what it computes (`Network::realises`).
fn brute_force(n: &Network, flows: &[Flow]) -> bool {
    fn go(
        n: &Network,
        b: &Block,
        local: Vec<(Vec<u32>, Vec<u32>)>,
        masks: &mut Masks,
        k: &mut dyn FnMut(&mut Masks) -> bool,
    ) -> bool {
        match b {
            Block::Wire => k(masks),
            Block::Base(sw) => {
                for (ins, outs) in &local {
                    let mask = ins.iter().fold(0u8, |m, &i| m | 1 << i);
                    for &o in outs {
                        masks[*sw][o as usize] |= mask;
                    }
                }
                k(masks)
            }
            Block::Clos {
                inputs,
                demux,
                middles,
                outputs,
                mux,
                ..
            } => {
                let m = middles.len();
                let r = inputs.len() as u32;
                let total = m.pow(local.len() as u32);
                for code in 0..total {
                    let saved = masks.clone();
                    let mut colour = Vec::new();
                    let mut c = code;
                    for _ in 0..local.len() {
                        colour.push(c % m);
                        c /= m;
                    }
                    let mut subs: Vec<Vec<(Vec<u32>, Vec<u32>)>> = vec![Vec::new(); m];
                    for ((ins, outs), &c) in local.iter().zip(&colour) {
                        let mut si: Vec<u32> = Vec::new();
                        let mut so: Vec<u32> = Vec::new();
                        for &p in ins {
                            if p / 2 < r {
                                masks[inputs[(p / 2) as usize]][c] |= 1 << (p % 2);
                            } else {
                                masks[demux.unwrap()][c] |= 1;
                            }
                            si.push((p / 2).min(r));
                        }
                        for &p in outs {
                            if p / 2 < r {
                                masks[outputs[(p / 2) as usize]][(p % 2) as usize] |= 1 << c;
                            } else {
                                masks[mux.unwrap()][0] |= 1 << c;
                            }
                            so.push((p / 2).min(r));
                        }
                        si.sort_unstable();
                        si.dedup();
                        so.sort_unstable();
                        so.dedup();
                        subs[c].push((si, so));
                    }
                    // Route the middles one after another, each continuing into the next.
                    fn chain(
                        n: &Network,
                        middles: &[Block],
                        subs: &[Vec<(Vec<u32>, Vec<u32>)>],
                        i: usize,
                        masks: &mut Masks,
                        k: &mut dyn FnMut(&mut Masks) -> bool,
                    ) -> bool {
                        if i == middles.len() {
                            return k(masks);
                        }
                        go(n, &middles[i], subs[i].clone(), masks, &mut |mm| {
                            chain(n, middles, subs, i + 1, mm, k)
                        })
                    }
                    if chain(n, middles, &subs, 0, masks, k) {
                        return true;
                    }
                    *masks = saved;
                }
                false
            }
        }
    }
    let local = flows
        .iter()
        .map(|f| (f.ins.clone(), f.outs.clone()))
        .collect();
    let mut masks = n.empty_masks();
    go(n, &n.block, local, &mut masks, &mut |mm| {
        n.realises(mm, flows)
    })
}

/// The router finds a route exactly when brute force does, on Fred_2(4), Fred_3(4), Fred_2(8),
/// the odd Fred_3(5) and Fred_3(8) with up to six flows, over random flow sets of every kind (unicast, multicast, reduce,
/// all-reduce); every route it returns computes the golden sums.
#[test]
fn the_router_is_exact_against_brute_force() {
    let mut rng = XorShift::new(0x5eed);
    for (p, m, cases, flows) in [
        (4, 2, 400, 3),
        (4, 3, 300, 4),
        (8, 2, 150, 4),
        (5, 3, 150, 3),
        (8, 3, 30, 5),
    ] {
        let n = net(p, m);
        let (mut routed, mut conflicts) = (0, 0);
        for _ in 0..cases {
            let fl = random_flows(&mut rng, p, flows, p as usize, p as usize);
            let brute = brute_force(&n, &fl);
            match route(&n, &fl, None) {
                Ok(masks) => {
                    assert!(
                        brute,
                        "P={p} m={m}: the router routed what brute force cannot: {fl:?}"
                    );
                    let x: Vec<u64> = (0..p).map(|_| rng.next() & 0xffff).collect();
                    assert_eq!(n.eval(&masks, &x), apply(&n.cfg, &fl, &x));
                    routed += 1;
                }
                Err(RouteError::Conflict { .. }) => {
                    assert!(
                        !brute,
                        "P={p} m={m}: brute force routes what the router calls a conflict: {fl:?}"
                    );
                    conflicts += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        eprintln!(
            "Fred_{m}({p}): {routed} routed, {conflicts} conflicts, all agreeing with brute force"
        );
        assert!(routed > 0);
        if m == 2 {
            assert!(conflicts > 0, "the cases must include conflicts");
        }
    }
    // Four flows that pairwise share a µSwitch (a K4 in the conflict graph) exceed three
    // middles: both say so.
    let k4 = [
        Flow {
            ins: vec![0, 2],
            outs: vec![0],
        },
        Flow {
            ins: vec![1, 4],
            outs: vec![3],
        },
        Flow {
            ins: vec![3, 5],
            outs: vec![4],
        },
        Flow {
            ins: vec![6],
            outs: vec![1, 2, 5],
        },
    ];
    let n = net(8, 3);
    assert!(!brute_force(&n, &k4));
    let e = route(&n, &k4, None).unwrap_err().to_string();
    assert!(
        e.starts_with("routing conflict: flows 0, 1, 2, 3 cannot be given 3 middle"),
        "{e}"
    );
}

/// The µSwitch semantics the colouring assumes lose nothing on Fred_2(4): brute force over
/// every raw configuration of its six µSwitches — each input of an input µSwitch to one middle
/// or none, each output of an output µSwitch from one middle or none, each output of the
/// middles' RD µSwitches any subset of their inputs: 9² · 16² · 9² configurations — realises
/// exactly the flow sets the router routes.
#[test]
fn raw_configurations_of_fred_2_4_route_nothing_the_router_cannot() {
    use plume_hw::fred::network::Kind;
    let n = net(4, 2);
    // The configurations each µSwitch can take.
    let choices: Vec<Vec<Vec<u8>>> = n
        .switches
        .iter()
        .map(|s| match s.kind {
            Kind::Input => (0..9)
                .map(|c| {
                    let mut m = vec![0u8; 2];
                    for (i, t) in [c % 3, c / 3].into_iter().enumerate() {
                        if t > 0 {
                            m[t - 1] |= 1 << i;
                        }
                    }
                    m
                })
                .collect(),
            Kind::Output => (0..9)
                .map(|c| {
                    [c % 3, c / 3]
                        .iter()
                        .map(|&t| if t > 0 { 1 << (t - 1) } else { 0 })
                        .collect()
                })
                .collect(),
            _ => (0..16)
                .map(|c| vec![(c % 4) as u8, (c / 4) as u8])
                .collect(),
        })
        .collect();
    let mut meanings = std::collections::HashSet::new();
    let mut code = vec![0usize; choices.len()];
    'all: loop {
        let masks: Masks = code
            .iter()
            .zip(&choices)
            .map(|(&c, ch)| ch[c].clone())
            .collect();
        meanings.insert(n.reach(&masks));
        for (i, c) in code.iter_mut().enumerate() {
            *c += 1;
            if *c < choices[i].len() {
                continue 'all;
            }
            *c = 0;
        }
        break;
    }
    let mut rng = XorShift::new(7);
    let mut agree = 0;
    for _ in 0..300 {
        let fl = random_flows(&mut rng, 4, 3, 4, 4);
        let mut want = vec![vec![0u32; 4]; 4];
        for f in &fl {
            for &o in &f.outs {
                for &i in &f.ins {
                    want[o as usize][i as usize] = 1;
                }
            }
        }
        assert_eq!(
            meanings.contains(&want),
            route(&n, &fl, None).is_ok(),
            "{fl:?}"
        );
        agree += 1;
    }
    assert_eq!(agree, 300);
}

proptest! {
    #![proptest_config(common::proptest_config(24))]

    /// Fred_3(P) is strict-sense non-blocking for unicast (spec fred.md §3): any set of
    /// disjoint unicast flows routes, at any size.
    #[test]
    fn fred_3_routes_every_set_of_unicast_flows(seed in any::<u64>(), p in 2u32..=40) {
        let mut rng = XorShift::new(seed);
        let n = net(p, 3);
        let fl = random_flows(&mut rng, p, p, 1, 1);
        let masks = route(&n, &fl, None).map_err(|e| TestCaseError::fail(format!("{e}: {fl:?}")))?;
        let x: Vec<u64> = (0..p).map(|_| rng.next() & 0xffff).collect();
        prop_assert_eq!(n.eval(&masks, &x), apply(&n.cfg, &fl, &x));
    }
}

/// `plume fred route` prints a configuration that the golden network confirms, names the
/// conflicting flows with exit 3, and refuses malformed flows with exit 2; `draw` writes an
/// SVG with every output's inputs.
#[test]
fn the_route_and_draw_commands() {
    use common::{assert_bad_input, plume, stderr, stdout};
    let flows =
        r#"[{"ins":[0,2,5],"outs":[0,2,5]},{"ins":[1],"outs":[3,4,7]},{"ins":[3,6],"outs":[1]}]"#;
    let o = plume(&[
        "fred", "route", "--ports", "8", "--m", "3", "--flows", flows,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let masks: Masks = serde_json::from_str(stdout(&o).trim()).unwrap();
    let n = net(8, 3);
    let parsed: Vec<Flow> = serde_json::from_str(flows).unwrap();
    assert!(n.realises(&masks, &parsed));
    let cycle = r#"[{"ins":[0,2],"outs":[0]},{"ins":[1,4],"outs":[2]},{"ins":[3,5],"outs":[1]}]"#;
    let o = plume(&[
        "fred", "route", "--ports", "8", "--m", "2", "--flows", cycle,
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("routing conflict: flows 0, 1, 2"),
        "{}",
        stderr(&o)
    );
    for (flows, needle) in [
        (
            r#"[{"ins":[0],"outs":[9]}]"#,
            "output port 9 is out of range",
        ),
        (
            r#"[{"ins":[0,1],"outs":[2]},{"ins":[1],"outs":[3]}]"#,
            "input port 1 is in flow 0 and flow 1",
        ),
        (
            r#"[{"ins":[0],"outs":[1],"via":2}]"#,
            "unknown field \"via\"",
        ),
        (r#"{"ins":[0]}"#, "flows must be a JSON array"),
        (r#"[{"ins":[-1],"outs":[1]}]"#, "-1 is not a port number"),
        (r#"[{"ins":[],"outs":[1]}]"#, "flow 0 has no inputs"),
    ] {
        assert_bad_input(&["fred", "route", "--ports", "8", "--flows", flows], needle);
    }
    assert_bad_input(
        &["fred", "route", "--ports", "8", "--m", "4", "--flows", "[]"],
        "must be 2 or 3",
    );
    let t = common::TempDir::new("fred-draw").unwrap();
    let svg = t.path().join("f.svg");
    let o = plume(&[
        "fred",
        "draw",
        "--ports",
        "8",
        "--flows",
        flows,
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"));
    assert!(
        text.contains("out 1 {3,6}") && text.contains("out 7 {1}"),
        "labels"
    );
}

// ---- the interconnect in hardware -------------------------------------------------------------

use plume::fred::design::FRED_NET;
use plume::registry::Design;
use plume_sim::cosim::{self, Tool};
use plume_sim::harness;

/// The generated interconnect equals the golden models cycle by cycle — a new configuration
/// with every vector, routed flows against the flow model and raw masks against the network
/// model — for even and odd P and m = 2, 3; the recorded runs replay identically on the
/// emitted Verilog in Verilator and Icarus.
#[test]
fn the_interconnect_matches_the_golden_models_and_its_verilog() {
    for (ports, m, width, cycles) in [
        (4, 2, 16, 2000),
        (5, 3, 8, 2000),
        (8, 3, 32, 1500),
        (7, 2, 12, 1500),
    ] {
        let cfg = FredConfig { ports, m, width };
        let top = FRED_NET.top(&cfg).unwrap();
        let mut tb = FRED_NET.testbench(&cfg, cycles, 3).unwrap();
        let r = harness::simulate(&top, tb.as_mut(), None, true)
            .unwrap_or_else(|e| panic!("{cfg:?}: {e}"));
        let rec = r.recording.unwrap();
        for tool in [Tool::Verilator, Tool::Icarus] {
            if ports != 5 && ports != 8 || !cosim::require(tool).unwrap() {
                continue;
            }
            let dir = common::TempDir::new("fred-cosim").unwrap();
            harness::replay(tool, &top, &rec, dir.path())
                .unwrap_or_else(|e| panic!("{cfg:?} {}: {e}", tool.name()));
        }
    }
}

/// The interconnect behind AXI: a routed all-reduce and multicast configuration written over
/// AXI4-Lite, vectors streamed with random stalls on every bus; every output is the flow
/// golden model's, with and without back-pressure.
#[test]
fn the_wrapped_interconnect_streams_under_back_pressure() {
    use plume_sim::bfm::{Host, Stalls};
    let cfg = FredConfig {
        ports: 8,
        m: 3,
        width: 16,
    };
    let n = Network::new(&cfg);
    let flows = [
        Flow {
            ins: vec![0, 3, 5],
            outs: vec![0, 3, 5],
        },
        Flow {
            ins: vec![1],
            outs: vec![2, 6, 7],
        },
        Flow {
            ins: vec![2, 4, 7],
            outs: vec![1],
        },
    ];
    let masks = route(&n, &flows, None).unwrap();
    let word = plume_hw::fred::rtl::encode(&n, &masks);
    let board = FRED_NET.board(&cfg).unwrap();
    let mut rng = XorShift::new(5);
    let vectors: Vec<Vec<u64>> = (0..60)
        .map(|_| (0..8).map(|_| rng.next() & 0xffff).collect())
        .collect();
    let bytes: Vec<u8> = vectors
        .iter()
        .flat_map(|v| v.iter().flat_map(|&e| (e as u16).to_le_bytes()))
        .collect();
    for stall in [0, 45] {
        let stalls = Stalls {
            lite: stall,
            stream_in: stall,
            stream_out: stall,
            seed: 9,
        };
        let mut h = Host::new(board.top.clone(), board.map.clone(), stalls, false).unwrap();
        for (k, p) in board.map.params.iter().enumerate() {
            h.write(&p.name, word.slice(32 * k as u32, p.width).to_u64())
                .unwrap();
        }
        let out = h.transfer(&bytes, vectors.len()).unwrap();
        for (k, v) in vectors.iter().enumerate() {
            let got: Vec<u64> = out[16 * k..16 * k + 16]
                .chunks(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]) as u64)
                .collect();
            assert_eq!(got, apply(&cfg, &flows, v), "stall {stall}, vector {k}");
        }
    }
}

// ---- the whole switch -------------------------------------------------------------------------

use plume::fred::switch::FRED_SWITCH;
use plume_hw::fred::switch::{entry, generate, SwitchConfig};
use plume_sim::Sim;

fn switch_config(ports: u32, m: u32, width: u32, phases: u32, depth: u32) -> SwitchConfig {
    SwitchConfig {
        net: FredConfig { ports, m, width },
        phases,
        depth,
    }
}

/// The switch against the flow golden model — random routed phases, flits offered on every
/// port with gaps, output ports stalling at random and for long stretches — for P = 4 and 8,
/// an odd P, m = 2 and 3 and the smallest buffers; the recorded runs replay identically on
/// the emitted Verilog in Verilator and Icarus.
#[test]
fn the_switch_delivers_every_flow_sum_and_matches_its_verilog() {
    for (sc, cycles, cosim_too) in [
        (switch_config(4, 2, 16, 16, 8), 2500, true),
        (switch_config(8, 3, 32, 16, 8), 2500, true),
        (switch_config(5, 3, 12, 3, 2), 2000, false),
        (switch_config(8, 2, 8, 4, 4), 2000, false),
    ] {
        let top = FRED_SWITCH.top(&sc).unwrap();
        let mut tb = FRED_SWITCH.testbench(&sc, cycles, 11).unwrap();
        let r = harness::simulate(&top, tb.as_mut(), None, cosim_too)
            .unwrap_or_else(|e| panic!("{sc:?}: {e}"));
        assert!(
            r.checked > cycles / 2,
            "{sc:?}: only {} flits checked",
            r.checked
        );
        let Some(rec) = r.recording else { continue };
        for tool in [Tool::Verilator, Tool::Icarus] {
            if !cosim::require(tool).unwrap() {
                continue;
            }
            let dir = common::TempDir::new("fred-switch-cosim").unwrap();
            harness::replay(tool, &top, &rec, dir.path())
                .unwrap_or_else(|e| panic!("{sc:?} {}: {e}", tool.name()));
        }
    }
}

/// Loads `phases` (flows each) into a fresh switch and returns the simulator after reset.
fn loaded(sc: &SwitchConfig, phases: &[Vec<Flow>]) -> Sim {
    let top = generate(sc).unwrap();
    let net = Network::new(&sc.net);
    let mut sim = Sim::new(&top).unwrap();
    sim.poke_u64("rst", 1).unwrap();
    sim.step();
    sim.poke_u64("rst", 0).unwrap();
    for (ph, flows) in phases.iter().enumerate() {
        let masks = route(&net, flows, None).unwrap();
        sim.poke_u64("i_cfg_we", 1).unwrap();
        sim.poke_u64("i_cfg_addr", ph as u64).unwrap();
        sim.poke("i_cfg_data", &entry(&net, &masks, flows)).unwrap();
        sim.step();
    }
    sim.poke_u64("i_cfg_we", 0).unwrap();
    sim
}

/// With every port always offering flits of an all-reduce over all ports and every output
/// always ready, the switch fires a release every cycle: over 400 cycles, at most the
/// pipeline's fill is lost, and each output sees the sum of the inputs.
#[test]
fn an_all_reduce_streams_one_release_per_cycle() {
    let sc = switch_config(8, 3, 32, 4, 8);
    let all: Vec<u32> = (0..8).collect();
    let flows = vec![Flow {
        ins: all.clone(),
        outs: all,
    }];
    let mut sim = loaded(&sc, &[flows]);
    let mut sent = [0u64; 8];
    let mut got = 0u64;
    let value = |port: u64, k: u64| (k * 8 + port) * 3 + 1;
    for k in 0..8 {
        sim.poke_u64(&format!("m{k}_tready"), 1).unwrap();
        sim.poke_u64(&format!("s{k}_tuser"), 0).unwrap();
        sim.poke_u64(&format!("s{k}_tvalid"), 1).unwrap();
    }
    let cycles = 400;
    for _ in 0..cycles {
        for k in 0..8u64 {
            sim.poke_u64(&format!("s{k}_tdata"), value(k, sent[k as usize]))
                .unwrap();
        }
        for k in 0..8u64 {
            if sim.peek_u64(&format!("s{k}_tready")).unwrap() == 1 {
                sent[k as usize] += 1;
            }
        }
        if sim.peek_u64("m0_tvalid").unwrap() == 1 {
            let want: u64 = (0..8).map(|p| value(p, got)).sum::<u64>() & 0xffff_ffff;
            for k in 0..8 {
                assert_eq!(sim.peek_u64(&format!("m{k}_tvalid")).unwrap(), 1);
                assert_eq!(
                    sim.peek_u64(&format!("m{k}_tdata")).unwrap(),
                    want,
                    "release {got}"
                );
            }
            got += 1;
        }
        sim.step();
    }
    let net = Network::new(&sc.net);
    let fill = sc.latency(&net) + 2 + 2;
    assert!(
        got + fill >= cycles,
        "{got} releases in {cycles} cycles (pipeline fill {fill})"
    );
}

/// A flit whose port is not an input of its phase is dropped and raises the sticky fault;
/// the phase's own flits still go through.
#[test]
fn a_flit_outside_its_phase_raises_the_fault_and_is_dropped() {
    let sc = switch_config(4, 3, 16, 2, 4);
    let flows = vec![Flow {
        ins: vec![0, 1],
        outs: vec![3],
    }];
    let mut sim = loaded(&sc, &[flows]);
    sim.poke_u64("m3_tready", 1).unwrap();
    // Port 2 sends a flit of phase 0, which does not list it.
    for (port, x) in [(2u64, 99u64), (0, 5), (1, 7)] {
        sim.poke_u64(&format!("s{port}_tdata"), x).unwrap();
        sim.poke_u64(&format!("s{port}_tuser"), 0).unwrap();
        sim.poke_u64(&format!("s{port}_tvalid"), 1).unwrap();
    }
    sim.step();
    for port in 0..3 {
        sim.poke_u64(&format!("s{port}_tvalid"), 0).unwrap();
    }
    let mut out = Vec::new();
    for _ in 0..20 {
        if sim.peek_u64("m3_tvalid").unwrap() == 1 {
            out.push(sim.peek_u64("m3_tdata").unwrap());
        }
        sim.step();
    }
    assert_eq!(out, [12]);
    assert_eq!(sim.peek_u64("o_fault").unwrap(), 1);
    assert_eq!(sim.peek_u64("m2_tvalid").unwrap(), 0);
}

// ---- the fabric model -------------------------------------------------------------------------

use plume::fred::collective::{groups, Collective};
use plume::fred::fabric::{FabricConfig, Kind};
use plume::fred::simulate;

fn run_fabric(
    kind: Kind,
    coll: Collective,
    group: &str,
    bytes: u64,
    verify: bool,
) -> plume::fred::SimRun {
    let fc = FabricConfig::wafer(kind, 20);
    let gs = groups(20, 2, 2, group).unwrap();
    simulate(&fc, coll, gs, bytes, verify, &mut |_, _| {})
        .unwrap_or_else(|e| panic!("{kind:?} {coll:?} {group}: {e}"))
}

/// Every collective, on every fabric, for the whole wafer and for the DP and MP groups of an
/// MP(2)·PP(2)·DP(5) placement, leaves every rank with exactly the golden result (32-bit
/// wrapping sums computed directly from the initial buffers; in-switch flows computed by each
/// switch's golden network under the router's configuration).
#[test]
fn every_collective_leaves_the_golden_result_at_every_rank() {
    for kind in [Kind::FredD, Kind::FredC, Kind::Mesh] {
        for coll in Collective::ALL {
            for group in ["all", "dp", "mp"] {
                let r = run_fabric(kind, coll, group, 40 * 1024, true);
                assert_eq!(r.verified, Some(20), "{kind:?} {coll:?} {group}");
            }
        }
    }
}

/// Bytes each NPU sends: the endpoint ring 2(N−1)/N·D for All-Reduce, the in-switch flow D —
/// for N = 20 and 5 that halves (or cuts by 37.5 %) the traffic, for N = 2 they are equal.
#[test]
fn in_switch_all_reduce_sends_d_where_the_ring_sends_2_n_minus_1_over_n_d() {
    let d: u64 = 20 * 5 * 2 * 4096;
    for (group, n) in [("all", 20u64), ("dp", 5), ("mp", 2)] {
        let ring = run_fabric(Kind::Mesh, Collective::AllReduce, group, d, false);
        let ring_c = run_fabric(Kind::FredC, Collective::AllReduce, group, d, false);
        let fred = run_fabric(Kind::FredD, Collective::AllReduce, group, d, false);
        for r in 0..20 {
            assert_eq!(ring.outcome.sent[r], 2 * (n - 1) * d / n, "mesh {group}");
            assert_eq!(ring.outcome.received[r], 2 * (n - 1) * d / n);
            assert_eq!(
                ring_c.outcome.sent[r],
                2 * (n - 1) * d / n,
                "fred-c {group}"
            );
            assert_eq!(fred.outcome.sent[r], d, "fred-d {group}");
            assert_eq!(fred.outcome.received[r], d);
        }
    }
}

/// Large collectives run at the rate the links allow: Fred-D moves D at an NPU's 3 TB/s, the
/// mesh's bidirectional ring moves 2(N−1)/N·D over two 750 GB/s links per NPU, Fred-C the
/// same volume at 3 TB/s — each within 0.5 % of that bound plus the ring's 2(N−1) steps of
/// at most four 20 ns hops (latency only adds to the bound).
#[test]
fn large_collectives_run_at_their_link_bounds() {
    let d = 256u64 << 20;
    let bound = |bytes: f64, gbps: f64| bytes / gbps;
    let t = |k| {
        run_fabric(k, Collective::AllReduce, "all", d, false)
            .outcome
            .time_ns
    };
    let cases = [
        (Kind::FredD, bound(d as f64, 3000.0)),
        (Kind::FredC, bound(1.9 * d as f64, 3000.0)),
        (Kind::Mesh, bound(1.9 * d as f64, 1500.0)),
    ];
    for (k, b) in cases {
        let got = t(k);
        let slack = 1.005 * b + 38.0 * 4.0 * 20.0;
        assert!(
            got >= b && got <= slack,
            "{k:?}: {got} ns against the bound {b} ns"
        );
    }
    // In-switch Reduce-Scatter (every NPU streams its D through 20 serial reduce flows) and
    // All-Gather (every NPU receives D from 20 serial multicasts) run at the NPU link's rate
    // too: the phases follow one another without leaving the link idle.
    for coll in [Collective::ReduceScatter, Collective::AllGather] {
        let got = run_fabric(Kind::FredD, coll, "all", d, false)
            .outcome
            .time_ns;
        let b = bound(d as f64, 3000.0);
        let slack = 1.005 * b + 20.0 * 6.0 * 20.0;
        assert!(
            got >= b && got <= slack,
            "{coll:?}: {got} ns against the bound {b} ns"
        );
    }
}

// ---- Chakra traces and MSCCL algorithms -------------------------------------------------------

use plume::chakra;
use plume::chakra::msccl;

/// A ring all-gather for `n` GPUs in MSCCL-IR, one chunk per GPU, in place: with `rcs` the
/// forwarding steps are receive-copy-send in one threadblock, otherwise a send threadblock
/// waits on a receive threadblock step by step.
fn ring_allgather_xml(n: u32, rcs: bool) -> String {
    let mut x = format!(
        "<algo name=\"ring_ag{n}\" proto=\"Simple\" nchannels=\"1\" nchunksperloop=\"{n}\" ngpus=\"{n}\" coll=\"allgather\" inplace=\"1\" outofplace=\"0\" minBytes=\"0\" maxBytes=\"0\">\n"
    );
    for r in 0..n {
        let next = (r + 1) % n;
        let prev = (r + n - 1) % n;
        let c = |s: u32| (r + n - s % n) % n;
        x += &format!("<gpu id=\"{r}\" i_chunks=\"0\" o_chunks=\"{n}\" s_chunks=\"0\">\n");
        let step = |s: u32, ty: &str, off: u32, dep: (i32, i32)| {
            format!(
                "<step s=\"{s}\" type=\"{ty}\" srcbuf=\"o\" srcoff=\"{off}\" dstbuf=\"o\" dstoff=\"{off}\" cnt=\"1\" depid=\"{}\" deps=\"{}\" hasdep=\"0\"/>\n",
                dep.0, dep.1
            )
        };
        if rcs {
            x += &format!("<tb id=\"0\" send=\"{next}\" recv=\"{prev}\" chan=\"0\">\n");
            x += &step(0, "s", c(0), (-1, -1));
            for s in 1..n - 1 {
                x += &step(s, "rcs", c(s), (-1, -1));
            }
            x += &step(n - 1, "r", c(n - 1), (-1, -1));
            x += "</tb>\n";
        } else {
            x += &format!("<tb id=\"0\" send=\"{next}\" recv=\"-1\" chan=\"0\">\n");
            for s in 0..n - 1 {
                // Forwarding chunk c(s) waits for its receive, step s of the receive
                // threadblock (whose step 0 is a nop).
                let dep = if s == 0 { (-1, -1) } else { (1, s as i32) };
                x += &step(s, "s", c(s), dep);
            }
            x += "</tb>\n";
            x += &format!("<tb id=\"1\" send=\"-1\" recv=\"{prev}\" chan=\"0\">\n");
            x += &step(0, "nop", 0, (-1, -1));
            for s in 0..n - 1 {
                x += &step(s + 1, "r", c(s + 1), (-1, -1));
            }
            x += "</tb>\n";
        }
        x += "</gpu>\n";
    }
    x + "</algo>\n"
}

fn plume_ok(args: &[&str]) -> String {
    let o = common::plume(args);
    assert!(o.status.success(), "{args:?}: {}", common::stderr(&o));
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// An MSCCL ring all-gather (two spellings: send/receive threadblocks with a nop, and
/// receive-copy-send) converts to a Chakra trace and replays on every fabric with every rank
/// ending with every other rank's chunk.
#[test]
fn an_msccl_ring_all_gather_replays_to_the_right_data_at_every_rank() {
    let t = common::TempDir::new("chakra-msccl").unwrap();
    for rcs in [false, true] {
        let xml = t.path().join(format!("ring{rcs}.xml"));
        std::fs::write(&xml, ring_allgather_xml(8, rcs)).unwrap();
        let dir = t.path().join(format!("et{rcs}"));
        let out = plume_ok(&[
            "chakra",
            "convert",
            xml.to_str().unwrap(),
            "--bytes",
            "64KiB",
            "-o",
            dir.to_str().unwrap(),
        ]);
        assert!(
            out.contains("a Chakra trace of 8 ranks (ring_ag8.<rank>.et"),
            "{out}"
        );
        for fabric in ["mesh", "fred-c", "fred-d"] {
            let out = plume_ok(&[
                "chakra",
                "run",
                dir.to_str().unwrap(),
                "--fabric",
                fabric,
                "--verify",
            ]);
            assert!(
                out.contains(
                    "every one of 8 ranks holds the golden allgather result in its 8 output chunks"
                ),
                "{fabric}: {out}"
            );
            // Each rank sends its chunk and forwards six: 7/8 of the buffer.
            assert!(out.contains("sent 56.00 KiB (0.875 D)"), "{fabric}: {out}");
        }
    }
}

/// A trace plume writes reads back into the same program and encodes to the same bytes —
/// for endpoint rings and for in-switch flows.
#[test]
fn a_chakra_trace_round_trips_byte_for_byte() {
    for (kind, coll, group) in [
        (Kind::Mesh, Collective::AllReduce, "all"),
        (Kind::FredD, Collective::ReduceScatter, "dp"),
        (Kind::FredD, Collective::AllReduce, "mp"),
        (Kind::FredC, Collective::AllToAll, "dp"),
    ] {
        let r = run_fabric(kind, coll, group, 40 * 1024, false);
        let meta = chakra::Meta {
            collective: Some(coll.name().into()),
            source: "test".into(),
            groups: Some((r.schedule.groups.clone(), r.schedule.dirs)),
            msccl: None,
        };
        let files = chakra::encode(&r.schedule.program, &meta);
        let decoded: Vec<_> = files
            .iter()
            .enumerate()
            .map(|(k, b)| chakra::decode_file(b, &format!("rank {k}")).unwrap())
            .collect();
        let (prog, meta2) = chakra::program(&decoded).unwrap();
        assert!(
            prog == r.schedule.program,
            "{kind:?} {coll:?}: the program changed"
        );
        assert_eq!(meta2, meta);
        assert!(
            chakra::encode(&prog, &meta2) == files,
            "{kind:?} {coll:?}: the bytes changed"
        );
    }
}

/// The wire format against bytes written by hand from `et_def.proto` (not by the code under
/// test): a send node with id 3, name "s", type COMM_SEND_NODE (5), a data dependency on node
/// 1, and a `comm_dst` attribute of int32 2 — length-prefixed as one stream message.
#[test]
fn chakra_nodes_decode_from_hand_written_protobuf() {
    let attr: Vec<u8> = [
        &[0x0a, 8][..],
        b"comm_dst",
        &[0x38, 2], // field 7 (int32_val), varint 2
    ]
    .concat();
    let mut node: Vec<u8> = vec![0x08, 3, 0x12, 1, b's', 0x18, 5, 0x2a, 1, 1];
    node.extend_from_slice(&[0x52, attr.len() as u8]);
    node.extend_from_slice(&attr);
    let mut stream = vec![0u8]; // an empty GlobalMetadata: length 0
    stream.push(node.len() as u8);
    stream.extend_from_slice(&node);
    let (_, nodes) = chakra::decode_file(&stream, "hand").unwrap();
    assert_eq!(nodes.len(), 1);
    let n = &nodes[0];
    assert_eq!((n.id, n.name.as_str(), n.r#type), (3, "s", 5));
    assert_eq!(n.data_deps, [1]);
    assert_eq!(n.attr[0].name, "comm_dst");
    assert_eq!(n.attr[0].value, Some(chakra::Value::Int32Val(2)));
    // And plume's encoding of that node is those bytes.
    let mut again = Vec::new();
    prost::Message::encode_length_delimited(n, &mut again).unwrap();
    assert_eq!(again, stream[1..]);
}

/// Broken traces and algorithms are refused with the reason.
#[test]
fn malformed_traces_and_algorithms_are_refused_with_the_reason() {
    let r = run_fabric(Kind::Mesh, Collective::AllGather, "mp", 4096, false);
    let meta = chakra::Meta {
        collective: None,
        source: String::new(),
        groups: None,
        msccl: None,
    };
    let files = chakra::encode(&r.schedule.program, &meta);
    let cut = &files[0][..files[0].len() - 3];
    let e = chakra::decode_file(cut, "x.0.et").unwrap_err().to_string();
    assert!(e.contains("x.0.et: node") && e.contains("truncated"), "{e}");
    let e = chakra::decode_file(&[0xff, 0xff, 0xff], "y.et")
        .unwrap_err()
        .to_string();
    assert!(e.contains("GlobalMetadata does not decode"), "{e}");
    for (xml, needle) in [
        ("<algo", "not XML"),
        ("<foo/>", "not MSCCL-IR's <algo>"),
        ("<algo ngpus=\"x\"/>", "ngpus=\"x\" is not a number"),
        (
            "<algo ngpus=\"2\"/>",
            "ngpus is 2 but there are 0 <gpu> elements",
        ),
    ] {
        let e = msccl::import(xml, 1024).unwrap_err();
        assert!(e.contains(needle), "{xml}: {e}");
    }
    let bad = ring_allgather_xml(4, false).replacen("type=\"s\"", "type=\"cpy\"", 1);
    let e = msccl::import(&bad, 1024).unwrap_err();
    assert!(e.contains("step type \"cpy\" is not supported"), "{e}");
    let cyc = ring_allgather_xml(4, false).replacen(
        "depid=\"-1\" deps=\"-1\"",
        "depid=\"0\" deps=\"1\"",
        1,
    );
    let e = msccl::import(&cyc, 1024).unwrap_err();
    assert!(e.contains("form a cycle"), "{e}");
}

/// The mesh's hierarchical 2D All-Reduce (rows, then columns, then rows) leaves the golden sum
/// at every rank and sends what the 1D ring sends, 2(N−1)/N·D per NPU.
#[test]
fn the_mesh_2d_all_reduce_is_exact_and_moves_the_ring_s_traffic() {
    let fc = FabricConfig::wafer(Kind::Mesh, 20);
    let d = 40 * 4096;
    let sched = plume::fred::collective::mesh_2d_allreduce(4, 5, d).unwrap();
    let r = plume::fred::simulate_schedule(&fc, sched, Collective::AllReduce, true, &mut |_, _| {})
        .unwrap();
    assert_eq!(r.verified, Some(20));
    for n in 0..20 {
        assert_eq!(r.outcome.sent[n], 2 * 19 * d / 20);
    }
}
