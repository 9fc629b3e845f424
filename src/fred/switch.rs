//! The whole FRED switch as the registered design `fred` (`hw/src/fred/switch.rs`): a
//! testbench that loads random routed phases and streams their flits into every port with
//! random gaps while the output ports stall at random, checking every flit out against the
//! flow golden model; the board build (ports on one DMA, phases over AXI4-Lite) with its
//! runner; and `plume fred export`, the package that runner plays.

use super::random_flows;
use crate::board::{check_streams, Wrapped};
use crate::error::{bad, failed, Result};
use crate::output::{dir_target, write_dir};
use crate::registry::{self, Board, Design, Runner};
use clap::Args;
use plume_hw::fred::axi::{self, BEAT_BITS, PHASE_AT, PORT_AT};
use plume_hw::fred::network::{Flow, Network};
use plume_hw::fred::router::route;
use plume_hw::fred::switch::{self as hw, by_phase, entry, PortFlits, SwitchConfig, Traffic};
use plume_hw::fred::FredConfig;
use plume_hw::rtl::Module;
use plume_sim::bfm::{bits_bytes, Host, Stalls};
use plume_sim::compile::Loc;
use plume_sim::harness::{HarnessError, Testbench};
use plume_sim::rng::XorShift;
use plume_sim::Sim;
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::rc::Rc;

const RUN_FRED: &str = include_str!("../../fpga/zcu104/run_fred.py");

#[derive(Args, Clone, Debug)]
pub struct SwitchParams {
    /// Ports P (2-64).
    #[arg(long, default_value_t = 8)]
    pub ports: u32,
    /// Middle sub-networks m (2 or 3).
    #[arg(long, default_value_t = 3)]
    pub m: u32,
    /// Element width W in bits (1-64); sums wrap around.
    #[arg(long, default_value_t = 32)]
    pub width: u32,
    /// Entries of the phase memory (1-256).
    #[arg(long, default_value_t = 16)]
    pub phases: u32,
    /// Flits each input buffer holds (a power of two, 2-64).
    #[arg(long, default_value_t = 8)]
    pub depth: u32,
}

impl SwitchParams {
    pub fn config(&self) -> Result<SwitchConfig> {
        let sc = SwitchConfig {
            net: FredConfig {
                ports: self.ports,
                m: self.m,
                width: self.width,
            },
            phases: self.phases,
            depth: self.depth,
        };
        sc.validate().map_err(bad)?;
        Ok(sc)
    }
}

pub struct FredSwitch;

pub static FRED_SWITCH: FredSwitch = FredSwitch;

/// Fewest cycles the testbench runs: the phases load, flits go through, the switch drains.
pub const MIN_CYCLES: u64 = 200;

impl Design for FredSwitch {
    type Args = SwitchParams;
    type Config = SwitchConfig;

    fn name(&self) -> &'static str {
        "fred"
    }

    fn about(&self) -> &'static str {
        "The FRED switch: input buffers, a phase memory, flit-aligned in-switch reduction and distribution on Fred_m(P), credit-managed output buffers."
    }

    fn config(&self, a: &SwitchParams) -> Result<SwitchConfig> {
        a.config()
    }

    fn board_config(&self) -> SwitchConfig {
        SwitchConfig::default()
    }

    fn instance_name(&self, sc: &SwitchConfig) -> String {
        sc.module_name()
    }

    fn top(&self, sc: &SwitchConfig) -> Result<Rc<Module>> {
        Ok(hw::generate(sc)?)
    }

    fn manifest(&self, sc: &SwitchConfig) -> Result<serde_json::Value> {
        let net = Network::new(&sc.net);
        Ok(serde_json::json!({
            "latency_cycles": sc.latency(&net) + 2,
            "latency": "a release enters the output buffers 1 + C cycles after its flits leave the input buffers (C interconnect columns); a flit pushed into an empty buffer shows at the head two cycles later",
            "throughput": "one release (a flit on every port of a phase) per cycle",
            "interconnect_columns": net.columns,
            "micro_switches": net.switches.len(),
            "phase_bits": sc.phase_bits(),
            "entry_bits": hw::entry_bits(&net),
            "output_buffer_depth": sc.out_depth(&net),
            "ports": {
                "s<k>": "tdata (W), tuser (phase ID), tvalid, tready",
                "m<k>": "tdata (W), tuser (phase ID), tvalid, tready",
                "i_cfg_*": "we, addr (phase), data (entry: µSwitch masks, input set, output set, least significant first)",
                "o_fault": "a flit came for a phase that does not list its port as an input (sticky)",
            },
        }))
    }

    fn summary(&self, sc: &SwitchConfig) -> String {
        let net = Network::new(&sc.net);
        format!(
            "{} ports, {} µSwitches in {} columns, {} phases, release to output buffer {} cycles",
            sc.net.ports,
            net.switches.len(),
            net.columns,
            sc.phases,
            sc.latency(&net)
        )
    }

    fn testbench(&self, sc: &SwitchConfig, cycles: u64, seed: u64) -> Result<Box<dyn Testbench>> {
        if cycles < MIN_CYCLES {
            return Err(bad(format!(
                "the fred testbench needs at least {MIN_CYCLES} cycles (to load its phases and drain the switch), got {cycles}"
            )));
        }
        Ok(Box::new(SwitchBench::new(sc, cycles, seed)))
    }

    fn board(&self, sc: &SwitchConfig) -> Result<Board> {
        let core = hw::generate(sc)?;
        let map = axi::map(sc)?;
        let top = axi::wrap(sc, &core, &map)?;
        Ok(Board {
            top,
            map,
            doc: format!(
                "Each `s_axis` beat is one flit ({BEAT_BITS} bits, padded to the DMA width): the \
                 element in bits [0, 64) (the low {w} used), the phase ID in byte 8, the port in \
                 byte 9; it enters that port's input buffer. Outgoing flits have the same layout, \
                 one per beat, lowest ready port first; flits of one phase at one port keep their \
                 order, flits of different phases may interleave. Load a phase by writing its \
                 entry to `CFG_*` (µSwitch masks, input set, output set — `plume fred export` \
                 writes them), its ID to `PHASE`, then 1 to `CTRL` (start). Before a run, write \
                 the flits it will send out to `EXPECT`: that flit carries `tlast` and CTRL.done \
                 rises when it has left. `FLITS_OUT` counts flits out since reset; `FAULT` is \
                 set by a flit for a port, phase or input the switch does not have.\n",
                w = sc.net.width
            ),
            runner: Some(Runner {
                file: "run_fred.py",
                template: RUN_FRED,
                doc: "loads the phases of a package from `plume fred export`, streams its flits through the switch and checks every flit out against the flow golden model (PYNQ)",
            }),
        })
    }
}

/// Random phases of routed flows, and releases of them in batches.
struct Generator {
    cfg: FredConfig,
    phases: Vec<Vec<Flow>>,
    rng: XorShift,
}

impl Generator {
    fn new(sc: &SwitchConfig, rng: XorShift) -> Generator {
        let mut g = Generator {
            cfg: sc.net,
            phases: Vec::new(),
            rng,
        };
        let net = Network::new(&sc.net);
        while g.phases.len() < sc.phases.min(8) as usize {
            let flows = random_flows(&mut g.rng, sc.net.ports, "mixed");
            if !flows.is_empty() && route(&net, &flows, None).is_ok() {
                g.phases.push(flows);
            }
        }
        g
    }

    /// A run of one to four releases of a random phase.
    fn batch(&mut self) -> Traffic {
        let ph = (self.rng.next() % self.phases.len() as u64) as u32;
        let n = 1 + self.rng.next() % 4;
        let releases = (0..n)
            .map(|_| {
                let x = (0..self.cfg.ports)
                    .map(|_| self.rng.next() & self.cfg.mask())
                    .collect();
                (ph, x)
            })
            .collect();
        Traffic {
            phases: self.phases.clone(),
            releases,
        }
    }
}

/// The switch's testbench: phases loaded through `i_cfg_*`, then flits offered on every port
/// (three cycles in four when it has one) while each output port takes flits two cycles in
/// three, with stalls of 10 to 60 cycles now and then; traffic stops `drain` cycles before the end and every expected flit must have
/// arrived by then. Flits are checked as they leave, per (port, phase) in order.
pub struct SwitchBench {
    sc: SwitchConfig,
    cycles: u64,
    gen: Generator,
    /// Flits each input port still has to send.
    pending: Vec<VecDeque<(u32, u64)>>,
    /// Flits each output port still has to receive, per phase.
    expect: Vec<BTreeMap<u32, VecDeque<u64>>>,
    offering: Vec<bool>,
}

impl SwitchBench {
    pub fn new(sc: &SwitchConfig, cycles: u64, seed: u64) -> SwitchBench {
        let p = sc.net.ports as usize;
        SwitchBench {
            sc: *sc,
            cycles,
            gen: Generator::new(sc, XorShift::new(seed)),
            pending: vec![VecDeque::new(); p],
            expect: vec![BTreeMap::new(); p],
            offering: vec![false; p],
        }
    }

    fn add(&mut self, t: &Traffic) {
        for (k, flits) in t.inputs(self.sc.net.ports).into_iter().enumerate() {
            self.pending[k].extend(flits);
        }
        for (k, flits) in t.outputs(&self.sc.net).into_iter().enumerate() {
            for (ph, x) in flits {
                self.expect[k].entry(ph).or_default().push_back(x);
            }
        }
    }

    fn outstanding(&self) -> usize {
        self.expect
            .iter()
            .flat_map(|m| m.values())
            .map(|q| q.len())
            .sum()
    }
}

struct PortLocs {
    s: Vec<(Loc, Loc, Loc, Loc)>,
    m: Vec<(Loc, Loc, Loc, Loc)>,
}

impl Testbench for SwitchBench {
    fn unit(&self) -> String {
        "flits".into()
    }

    fn run(&mut self, sim: &mut Sim, _top: &Rc<Module>) -> std::result::Result<u64, HarnessError> {
        let p = self.sc.net.ports;
        let net = Network::new(&self.sc.net);
        let mut locs = PortLocs {
            s: Vec::new(),
            m: Vec::new(),
        };
        for k in 0..p {
            locs.s.push((
                sim.input(&format!("s{k}_tdata"))?,
                sim.input(&format!("s{k}_tuser"))?,
                sim.input(&format!("s{k}_tvalid"))?,
                sim.output(&format!("s{k}_tready"))?,
            ));
            locs.m.push((
                sim.output(&format!("m{k}_tdata"))?,
                sim.output(&format!("m{k}_tuser"))?,
                sim.output(&format!("m{k}_tvalid"))?,
                sim.input(&format!("m{k}_tready"))?,
            ));
        }
        let fault = sim.output("o_fault")?;
        // Load the phases, one a cycle.
        for (ph, flows) in self.gen.phases.clone().iter().enumerate() {
            let masks = route(&net, flows, None).map_err(|e| {
                HarnessError::Mismatch(format!("a generated phase does not route: {e}"))
            })?;
            sim.poke_u64("i_cfg_we", 1)?;
            sim.poke_u64("i_cfg_addr", ph as u64)?;
            sim.poke("i_cfg_data", &entry(&net, &masks, flows))?;
            sim.step();
        }
        sim.poke_u64("i_cfg_we", 0)?;
        let drain = 8 * (self.sc.latency(&net) + self.sc.depth as u64 + 16);
        let stop = self.cycles.saturating_sub(drain);
        let mut rng = XorShift::new(self.gen.rng.next() | 1);
        let mut checked = 0;
        let mut stalled = vec![0u64; p as usize];
        loop {
            let now = sim.cycle();
            let feeding = now < stop;
            while feeding && self.pending.iter().any(|q| q.is_empty()) {
                let t = self.gen.batch();
                self.add(&t);
            }
            if !feeding && self.pending.iter().all(|q| q.is_empty()) && self.outstanding() == 0 {
                break;
            }
            if now >= self.cycles + 4 * drain {
                return Err(HarnessError::Mismatch(format!(
                    "cycle {now}: {} flits never left the switch",
                    self.outstanding()
                )));
            }
            for k in 0..p as usize {
                let (d, u, v, _) = locs.s[k];
                let have = !self.pending[k].is_empty();
                if !self.offering[k] {
                    self.offering[k] = have && !rng.next().is_multiple_of(4);
                }
                if let Some(&(ph, x)) = self.pending[k].front().filter(|_| self.offering[k]) {
                    sim.poke_loc(d, &[x]);
                    sim.poke_loc(u, &[ph as u64]);
                }
                sim.poke_loc(v, &[self.offering[k] as u64]);
                if stalled[k] > 0 {
                    stalled[k] -= 1;
                } else if rng.next().is_multiple_of(100) {
                    stalled[k] = 10 + rng.next() % 50;
                }
                let take = stalled[k] == 0 && !rng.next().is_multiple_of(3);
                sim.poke_loc(locs.m[k].3, &[take as u64]);
            }
            for k in 0..p as usize {
                let ready = sim.peek_loc(locs.s[k].3)[0] & 1 == 1;
                if self.offering[k] && ready {
                    self.pending[k].pop_front();
                    self.offering[k] = false;
                }
                let (d, u, v, r) = locs.m[k];
                let valid = sim.peek_loc(v)[0] & 1 == 1;
                if !valid || sim.peek_loc(r)[0] & 1 == 0 {
                    continue;
                }
                let x = sim.peek_loc(d)[0];
                let ph = sim.peek_loc(u)[0] as u32;
                let want = self.expect[k].get_mut(&ph).and_then(|q| q.pop_front());
                match want {
                    Some(w) if w == x => checked += 1,
                    Some(w) => {
                        return Err(HarnessError::Mismatch(format!(
                            "cycle {now}: port {k} phase {ph} gave {x:#x} but the flow golden model gives {w:#x}"
                        )))
                    }
                    None => {
                        return Err(HarnessError::Mismatch(format!(
                            "cycle {now}: port {k} gave an unexpected flit of phase {ph} ({x:#x})"
                        )))
                    }
                }
            }
            if sim.peek_loc(fault)[0] & 1 == 1 {
                return Err(HarnessError::Mismatch(format!(
                    "cycle {now}: o_fault rose though every flit belongs to its phase"
                )));
            }
            sim.step();
        }
        while sim.cycle() < self.cycles {
            sim.step();
        }
        Ok(checked)
    }
}

/// A package for the board: phases (flows), releases, and the streams in and out.
pub struct Package {
    pub sc: SwitchConfig,
    pub traffic: Traffic,
}

impl Package {
    /// Input flits as stream beats of `bytes` bytes, release after release: the one order
    /// that cannot deadlock one shared stream (every release's flits are in before any
    /// later release's, so the earliest unfinished release always has its flits at the heads
    /// of its ports' buffers).
    pub fn input_image(&self, bytes: usize) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut n = 0;
        for (ph, x) in &self.traffic.releases {
            let (ins, _) = hw::port_sets(&self.traffic.phases[*ph as usize]);
            for port in 0..self.sc.net.ports {
                if ins >> port & 1 == 1 {
                    bits_bytes(&axi::beat(port, *ph, x[port as usize]), bytes, &mut out);
                    n += 1;
                }
            }
        }
        (out, n)
    }

    /// Expected output flits, port after port, of `bytes` bytes each.
    pub fn output_image(&self, bytes: usize) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut n = 0;
        for (port, f) in self.traffic.outputs(&self.sc.net).iter().enumerate() {
            for &(ph, x) in f {
                bits_bytes(&axi::beat(port as u32, ph, x), bytes, &mut out);
                n += 1;
            }
        }
        (out, n)
    }
}

/// Flits from beats of `bytes` bytes, grouped per port and phase.
pub fn parse_beats(data: &[u8], bytes: usize, ports: u32) -> Vec<BTreeMap<u32, Vec<u64>>> {
    let mut per: PortFlits = vec![Vec::new(); ports as usize];
    for c in data.chunks(bytes) {
        let x = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
        let ph = c[(PHASE_AT / 8) as usize] as u32;
        let port = c[(PORT_AT / 8) as usize] as usize;
        if port < per.len() {
            per[port].push((ph, x));
        }
    }
    per.iter().map(|f| by_phase(f)).collect()
}

/// Most flits one package sends (its input image stays below 256 MiB at 16-byte beats).
pub const MAX_FLITS: usize = 1 << 24;

/// `plume fred export`: phases routed, random elements, the package checked through AXI on
/// plume's simulator (with stalls on every bus) before anything is written.
pub fn export(sc: &SwitchConfig, runs: &[(Vec<Flow>, u64)], seed: u64, out: &Path) -> Result<()> {
    dir_target(out, |_| false)?;
    let net = Network::new(&sc.net);
    let mut phases: Vec<Vec<Flow>> = Vec::new();
    let mut releases = Vec::new();
    let mut rng = XorShift::new(seed);
    let mut flits = 0usize;
    for (k, (flows, n)) in runs.iter().enumerate() {
        let ph = match phases.iter().position(|f| f == flows) {
            Some(i) => i,
            None => {
                phases.push(flows.clone());
                phases.len() - 1
            }
        };
        if phases.len() > sc.phases as usize {
            return Err(bad(format!(
                "the traffic uses {} different phases; the switch holds {} (--phases)",
                phases.len(),
                sc.phases
            )));
        }
        let (ins, outs) = hw::port_sets(flows);
        let per = (ins.count_ones() + outs.count_ones()) as usize;
        flits = flits.saturating_add(per.saturating_mul(*n as usize));
        if *n == 0 || flits > MAX_FLITS {
            return Err(bad(format!(
                "run {k}: flits must be at least 1 and the package at most {MAX_FLITS} flits in and out"
            )));
        }
        for _ in 0..*n {
            let x = (0..sc.net.ports)
                .map(|_| rng.next() & sc.net.mask())
                .collect();
            releases.push((ph as u32, x));
        }
    }
    let mut entries = Vec::new();
    for (ph, flows) in phases.iter().enumerate() {
        let masks = route(&net, flows, None)
            .map_err(|e| super::route_error(e, &format!("phase {ph}: ")))?;
        entries.push(entry(&net, &masks, flows));
    }
    let pkg = Package {
        sc: *sc,
        traffic: Traffic { phases, releases },
    };
    let d = Wrapped::of(&*registry::instance(&FRED_SWITCH, *sc))?;
    check_streams(&d).map_err(bad)?;
    let (di, d_o) = d.dma_bytes();
    let nb = BEAT_BITS.div_ceil(8) as usize;
    let (design_in, n_in) = pkg.input_image(nb);
    let (_, n_out) = pkg.output_image(nb);
    let words: Vec<String> = d
        .board
        .map
        .params
        .iter()
        .filter(|q| q.name.starts_with("cfg_"))
        .map(|q| q.name.clone())
        .collect();
    let registers: Vec<serde_json::Value> = entries
        .iter()
        .enumerate()
        .map(|(ph, e)| {
            let values: Vec<(String, u64)> = words
                .iter()
                .enumerate()
                .map(|(k, n)| {
                    let w = (e.width() - 32 * k as u32).min(32);
                    (n.clone(), e.slice(32 * k as u32, w).to_u64())
                })
                .collect();
            serde_json::json!({"phase": ph, "flows": pkg.traffic.phases[ph], "registers": values})
        })
        .collect();
    let mut h = Host::new(
        d.board.top.clone(),
        d.board.map.clone(),
        Stalls {
            lite: 30,
            stream_in: 30,
            stream_out: 30,
            seed,
        },
        false,
    )?;
    for r in &registers {
        for (name, v) in r["registers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| {
                let a = x.as_array()?;
                Some((a[0].as_str()?.to_string(), a[1].as_u64()?))
            })
        {
            h.write(&name, v)?;
        }
        h.write("phase", r["phase"].as_u64().unwrap_or(0))?;
        h.mmio_write(0, 1)?;
    }
    h.write("expect", n_out as u64)?;
    let got = h.transfer(&design_in, n_out)?;
    let want: Vec<BTreeMap<u32, Vec<u64>>> = pkg
        .traffic
        .outputs(&sc.net)
        .iter()
        .map(|f| by_phase(f))
        .collect();
    if parse_beats(&got, nb, sc.net.ports) != want {
        return Err(failed(
            "the AXI-wrapped switch's output differs from the flow golden model",
        ));
    }
    if h.read("fault")? != 0 || h.read("flits_out")? != n_out as u64 {
        return Err(failed(
            "the AXI-wrapped switch reports a fault or miscounts the flits",
        ));
    }
    let manifest = serde_json::json!({
        "design": d.name,
        "hardware": d.params,
        "phases": registers,
        "flits_in": n_in,
        "flits_out": n_out,
        "beat_bytes_in": di,
        "beat_bytes_out": d_o,
        "phase_byte": PHASE_AT / 8,
        "port_byte": PORT_AT / 8,
        "seed": seed,
    });
    let image_at = |bytes: usize, input: bool| {
        if input {
            pkg.input_image(bytes).0
        } else {
            pkg.output_image(bytes).0
        }
    };
    write_dir(
        out,
        &[
            ("fred.json".into(), serde_json::to_vec_pretty(&manifest)?),
            ("in.bin".into(), image_at(di, true)),
            ("golden.bin".into(), image_at(d_o, false)),
        ],
    )?;
    crate::outln!(
        "wrote {}: {} phases, {} flits in, {} out, for {} (checked through AXI on plume's simulator)",
        out.display(),
        pkg.traffic.phases.len(),
        n_in,
        n_out,
        d.name
    );
    Ok(())
}
