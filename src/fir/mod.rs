//! The FIR example family: one registered design, nothing else. This file is everything a
//! family writes to get `gen`, `sim`, `check`, `synth`, `bench`, `serve`, `fpga zcu104` and
//! `report zcu104`: its flags, its configuration, the top, a stream model for the harness and
//! the filter behind AXI (the generic pipeline wrapper); the family has no commands of its own.

use crate::error::{bad, Result};
use crate::registry::{Board, Design, Entry, Family};
use clap::Args;
use plume_hw::blocks::axi_pipe::{axi_pipeline, pipeline_map, word_params, Pipeline};
use plume_hw::fir::{generate, golden, FirConfig, FIR_LATENCY};
use plume_hw::rtl::{Bits, Module};
use plume_sim::harness::{StreamBench, StreamCycle, StreamModel, Testbench};
use plume_sim::rng::XorShift;
use std::collections::VecDeque;
use std::rc::Rc;

#[derive(Args, Clone, Debug)]
pub struct FirParams {
    /// Taps T (1-64).
    #[arg(long, default_value_t = 8)]
    pub taps: u32,
    /// Sample width in bits (2-27, signed).
    #[arg(long, default_value_t = 16)]
    pub width: u32,
    /// Coefficient width in bits (2-18, signed).
    #[arg(long, default_value_t = 16)]
    pub coef_width: u32,
}

pub struct Fir;

pub static FIR_DESIGN: Fir = Fir;

impl Design for Fir {
    type Args = FirParams;
    type Config = FirConfig;

    fn name(&self) -> &'static str {
        "fir"
    }

    fn about(&self) -> &'static str {
        "Example family: a direct-form FIR filter (T taps, signed samples and coefficients)."
    }

    fn config(&self, a: &FirParams) -> Result<FirConfig> {
        let cfg = FirConfig {
            taps: a.taps,
            width: a.width,
            coef_width: a.coef_width,
        };
        cfg.validate().map_err(bad)?;
        Ok(cfg)
    }

    fn board_config(&self) -> FirConfig {
        FirConfig::default()
    }

    fn instance_name(&self, cfg: &FirConfig) -> String {
        cfg.module_name()
    }

    fn top(&self, cfg: &FirConfig) -> Result<Rc<Module>> {
        Ok(generate(cfg)?)
    }

    fn manifest(&self, cfg: &FirConfig) -> Result<serde_json::Value> {
        Ok(serde_json::json!({
            "latency_cycles": FIR_LATENCY,
            "throughput": "one sample per cycle",
            "port_layout": {
                "i_x": "signed sample",
                "i_coef": format!("tap t at bits [t*{c} +: {c}], signed", c = cfg.coef_width),
                "o_y": format!("signed, {} bits: the exact sum", cfg.out_width()),
            },
        }))
    }

    fn summary(&self, _cfg: &FirConfig) -> String {
        format!("latency {FIR_LATENCY} cycles")
    }

    fn testbench(&self, cfg: &FirConfig, cycles: u64, seed: u64) -> Result<Box<dyn Testbench>> {
        Ok(Box::new(StreamBench {
            model: Samples::new(cfg, seed),
            cycles,
        }))
    }

    fn board(&self, cfg: &FirConfig) -> Result<Board> {
        let core = generate(cfg)?;
        let map = pipeline_map(
            &cfg.module_name(),
            word_params(
                "coef",
                cfg.coef_bits(),
                &format!(
                    "coefficients, tap t at bits [t*{c} +: {c}]",
                    c = cfg.coef_width
                ),
            ),
        )?;
        let words = map.params.iter().map(|p| p.name.clone()).collect();
        let top = axi_pipeline(
            &Pipeline {
                name: format!("axi_{}", cfg.module_name()),
                core: &core,
                data_in: "i_x",
                data_out: "o_y",
                valid_in: Some("i_valid"),
                latency: FIR_LATENCY,
                valid_out: None,
                params: vec![("i_coef", words)],
            },
            &map,
        )?;
        Ok(Board {
            top,
            map,
            doc: format!(
                "Each `s_axis` beat is one {w}-bit signed sample; each leaves on `m_axis` {FIR_LATENCY} \
                 cycles later as the {y}-bit filter output, `tlast` with it. The coefficients are \
                 `COEF_*` (write them before streaming). CTRL.done rises when a beat with `tlast` has \
                 left; `BEATS` counts beats out.\n",
                w = cfg.width,
                y = cfg.out_width()
            ),
            runner: None,
        })
    }
}

/// Random samples with idle cycles between them, under random coefficients held for the run;
/// every valid output is the golden filter's.
pub struct Samples {
    cfg: FirConfig,
    rng: XorShift,
    coefs: Vec<u64>,
    coef_word: Bits,
    /// The last T valid samples, newest last.
    window: VecDeque<u64>,
}

impl Samples {
    pub fn new(cfg: &FirConfig, seed: u64) -> Samples {
        let mut rng = XorShift::new(seed);
        let c = cfg.coef_width;
        let coefs: Vec<u64> = (0..cfg.taps).map(|_| rng.next() & ((1 << c) - 1)).collect();
        let mut coef_word = Bits::zero(cfg.coef_bits());
        for (t, &v) in coefs.iter().enumerate() {
            coef_word.set_slice(t as u32 * c, &Bits::from_u64(c, v));
        }
        Samples {
            cfg: *cfg,
            rng,
            coefs,
            coef_word,
            window: VecDeque::new(),
        }
    }
}

impl StreamModel for Samples {
    fn inputs(&self) -> Vec<String> {
        vec!["i_x".into(), "i_valid".into(), "i_coef".into()]
    }

    fn outputs(&self) -> Vec<String> {
        vec!["o_valid".into(), "o_y".into()]
    }

    fn latency(&self) -> u64 {
        FIR_LATENCY
    }

    fn unit(&self) -> String {
        "output cycles".into()
    }

    fn next(&mut self) -> StreamCycle {
        let valid = !self.rng.next().is_multiple_of(4);
        let x = self.rng.next() & ((1 << self.cfg.width) - 1);
        let y = if valid {
            self.window.push_back(x);
            if self.window.len() > self.cfg.taps as usize {
                self.window.pop_front();
            }
            let samples: Vec<u64> = self.window.iter().copied().collect();
            let ys = golden::filter_words(&self.cfg, &self.coefs, &samples);
            ys.last().map(|&y| Bits::from_u64(self.cfg.out_width(), y))
        } else {
            None
        };
        StreamCycle {
            inputs: vec![
                Bits::from_u64(self.cfg.width, x),
                Bits::from_u64(1, valid as u64),
                self.coef_word.clone(),
            ],
            expect: vec![Some(Bits::from_u64(1, valid as u64)), y],
        }
    }

    fn show(&self, port: &str, v: &Bits) -> String {
        match port {
            "o_y" => golden::signed(v.to_u64(), self.cfg.out_width()).to_string(),
            _ => v.to_u64().to_string(),
        }
    }
}

pub struct FirFamily;

pub static FIR: FirFamily = FirFamily;

impl Family for FirFamily {
    fn name(&self) -> &'static str {
        "fir"
    }

    fn designs(&self) -> Vec<&'static dyn Entry> {
        vec![&FIR_DESIGN]
    }
}
