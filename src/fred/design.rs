//! The Fred_m(P) interconnect alone as a registered design (`fred_net`; the whole switch is
//! `fred`, in `switch.rs`): `--ports P --m M --width W`, a testbench
//! that sends random vectors under a new configuration every cycle — flows routed by the
//! router and checked against the flow golden model, or raw µSwitch masks checked against the
//! network model — and the interconnect behind AXI (the generic pipeline wrapper: the
//! configuration in AXI4-Lite registers, one vector of P elements per stream beat).

use super::random_flows;
use crate::error::{bad, Result};
use crate::registry::{Board, Design};
use clap::Args;
use plume_hw::blocks::axi_pipe::{axi_pipeline, pipeline_map, word_params, Pipeline};
use plume_hw::fred::network::{apply, Network};
use plume_hw::fred::router::route;
use plume_hw::fred::{rtl, FredConfig};
use plume_hw::rtl::{Bits, Module};
use plume_sim::harness::{StreamBench, StreamCycle, StreamModel, Testbench};
use plume_sim::rng::XorShift;
use std::rc::Rc;

#[derive(Args, Clone, Debug)]
pub struct FredDesignParams {
    /// Ports P (2-256).
    #[arg(long, default_value_t = 8)]
    pub ports: u32,
    /// Middle sub-networks m (2 or 3).
    #[arg(long, default_value_t = 3)]
    pub m: u32,
    /// Element width W in bits (1-64); sums wrap around.
    #[arg(long, default_value_t = 32)]
    pub width: u32,
}

pub struct FredNet;

pub static FRED_NET: FredNet = FredNet;

impl Design for FredNet {
    type Args = FredDesignParams;
    type Config = FredConfig;

    fn name(&self) -> &'static str {
        "fred_net"
    }

    fn about(&self) -> &'static str {
        "FRED's Fred_m(P) interconnect alone: µSwitches that reduce and distribute while routing."
    }

    fn config(&self, a: &FredDesignParams) -> Result<FredConfig> {
        let cfg = FredConfig {
            ports: a.ports,
            m: a.m,
            width: a.width,
        };
        cfg.validate().map_err(bad)?;
        Ok(cfg)
    }

    fn board_config(&self) -> FredConfig {
        FredConfig::default()
    }

    fn instance_name(&self, cfg: &FredConfig) -> String {
        cfg.module_name()
    }

    fn top(&self, cfg: &FredConfig) -> Result<Rc<Module>> {
        Ok(rtl::generate(cfg)?)
    }

    fn manifest(&self, cfg: &FredConfig) -> Result<serde_json::Value> {
        let net = Network::new(cfg);
        Ok(serde_json::json!({
            "latency_cycles": net.columns,
            "throughput": "one vector of P elements per cycle",
            "micro_switches": net.switches.len(),
            "cfg_bits": rtl::cfg_bits(&net),
            "port_layout": {
                "i_data": format!("port p at bits [p*{w} +: {w}]", w = cfg.width),
                "i_cfg": "every µSwitch's masks in µSwitch order (plume fred route prints them): output o's mask at [offset + o*inputs +: inputs]",
                "o_data": format!("port p at bits [p*{w} +: {w}]", w = cfg.width),
            },
        }))
    }

    fn summary(&self, cfg: &FredConfig) -> String {
        let net = Network::new(cfg);
        format!(
            "{} µSwitches in {} columns, latency {} cycles",
            net.switches.len(),
            net.columns,
            net.columns
        )
    }

    fn testbench(&self, cfg: &FredConfig, cycles: u64, seed: u64) -> Result<Box<dyn Testbench>> {
        Ok(Box::new(StreamBench {
            model: Vectors::new(cfg, seed),
            cycles,
        }))
    }

    fn board(&self, cfg: &FredConfig) -> Result<Board> {
        let core = rtl::generate(cfg)?;
        let net = Network::new(cfg);
        let map = pipeline_map(
            &cfg.module_name(),
            word_params(
                "cfg",
                rtl::cfg_bits(&net),
                "µSwitch masks (plume fred route)",
            ),
        )?;
        let words = map.params.iter().map(|p| p.name.clone()).collect();
        let top = axi_pipeline(
            &Pipeline {
                name: format!("axi_{}", cfg.module_name()),
                core: &core,
                data_in: "i_data",
                data_out: "o_data",
                valid_in: Some("i_valid"),
                latency: net.columns as u64,
                valid_out: None,
                params: vec![("i_cfg", words)],
            },
            &map,
        )?;
        Ok(Board {
            top,
            map,
            doc: format!(
                "Each `s_axis` beat is one vector: port p's {w}-bit element at bits [p*{w} +: {w}]; \
                 it leaves on `m_axis` {lat} cycles later with every output of a flow holding the \
                 sum of the flow's inputs, under the configuration in `CFG_*` (the masks `plume fred \
                 route` prints, laid out as in the manifest). CTRL.done rises when a beat with \
                 `tlast` has left; `BEATS` counts beats out.\n",
                w = cfg.width,
                lat = net.columns
            ),
            runner: None,
        })
    }
}

/// Random vectors, each under its own configuration: three cycles in four a random set of
/// disjoint flows (unicast, multicast, reduce, all-reduce) that the router configures, checked
/// against the flow golden model; otherwise random raw masks, checked against the network
/// model; idle cycles between.
pub struct Vectors {
    cfg: FredConfig,
    net: Network,
    rng: XorShift,
}

impl Vectors {
    pub fn new(cfg: &FredConfig, seed: u64) -> Vectors {
        Vectors {
            cfg: *cfg,
            net: Network::new(cfg),
            rng: XorShift::new(seed),
        }
    }
}

impl StreamModel for Vectors {
    fn inputs(&self) -> Vec<String> {
        vec!["i_data".into(), "i_valid".into(), "i_cfg".into()]
    }

    fn outputs(&self) -> Vec<String> {
        vec!["o_valid".into(), "o_data".into()]
    }

    fn latency(&self) -> u64 {
        self.net.columns as u64
    }

    fn unit(&self) -> String {
        "vectors".into()
    }

    fn next(&mut self) -> StreamCycle {
        let (p, w) = (self.cfg.ports, self.cfg.width);
        let x: Vec<u64> = (0..p).map(|_| self.rng.next() & self.cfg.mask()).collect();
        let valid = !self.rng.next().is_multiple_of(4);
        let (masks, want) = if self.rng.next().is_multiple_of(4) {
            let masks: Vec<Vec<u8>> = self
                .net
                .switches
                .iter()
                .map(|s| {
                    (0..s.outputs)
                        .map(|_| (self.rng.next() & ((1 << s.inputs.len()) - 1)) as u8)
                        .collect()
                })
                .collect();
            let want = self.net.eval(&masks, &x);
            (masks, want)
        } else {
            loop {
                let flows = random_flows(&mut self.rng, self.cfg.ports, "mixed");
                if let Ok(masks) = route(&self.net, &flows, None) {
                    break (masks, apply(&self.cfg, &flows, &x));
                }
            }
        };
        let pack = |v: &[u64]| {
            let mut b = Bits::zero(p * w);
            for (k, &e) in v.iter().enumerate() {
                b.set_slice(k as u32 * w, &Bits::from_u64(w, e));
            }
            b
        };
        StreamCycle {
            inputs: vec![
                pack(&x),
                Bits::from_u64(1, valid as u64),
                rtl::encode(&self.net, &masks),
            ],
            expect: vec![
                Some(Bits::from_u64(1, valid as u64)),
                valid.then(|| pack(&want)),
            ],
        }
    }
}
