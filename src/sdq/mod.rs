//! The SDQ family's commands (`hw/src/sdq` holds the formats and the decomposition):
//! `plume sdq quantize` decomposes and packs every linear layer of a safetensors file and
//! reports what each method keeps of it. (The datapath design comes with issue 14's next
//! steps; the family has no registered design yet.)

pub mod demo;
pub mod design;
pub mod minilm;
pub mod plot;
pub mod report;
pub mod run;

use crate::error::{bad, Result};
use crate::output::{dir_target, write_dir};
use crate::registry::{Entry, Family};
use clap::{ArgMatches, Args, Command, Subcommand};
use plume_hw::sdq::decompose::{decompose, sqnr_db, SdqConfig};
use plume_hw::sdq::formats::Format;
use plume_hw::sdq::pack::pack;
use plume_sim::rng::XorShift;
use std::path::{Path, PathBuf};

#[derive(Args, Clone, Debug)]
pub struct SdqArgs {
    /// Group size M.
    #[arg(long, default_value_t = 8)]
    pub m: u32,
    /// Weights kept per group (outliers and inliers).
    #[arg(long, default_value_t = 7)]
    pub n: u32,
    /// Outliers per group.
    #[arg(long, default_value_t = 1)]
    pub outliers: u32,
    /// Outlier format: e4m3, e5m2, int8, e2m1, int4.
    #[arg(long, default_value = "e4m3")]
    pub outlier_format: String,
    /// Inlier format.
    #[arg(long, default_value = "e2m1")]
    pub inlier_format: String,
    /// Elements per MX scale.
    #[arg(long, default_value_t = 32)]
    pub block: u32,
}

impl SdqArgs {
    pub fn config(&self) -> Result<SdqConfig> {
        let f = |s: &str| s.parse::<Format>().map_err(bad);
        let cfg = SdqConfig {
            m: self.m,
            n: self.n,
            outliers: self.outliers,
            outlier_format: f(&self.outlier_format)?,
            inlier_format: f(&self.inlier_format)?,
            block: self.block,
        };
        cfg.validate().map_err(bad)?;
        Ok(cfg)
    }
}

#[derive(Subcommand)]
enum SdqCmd {
    /// Decompose and pack the linear layers (2-D tensors named *.weight, embeddings aside) of a safetensors
    /// file; report bits per weight and SQNR against FP32 for SDQ and for MXFP4, INT4 groups
    /// and 2:4 + INT8 at their own bit costs. Writes OUT/report.json and one packed file per
    /// layer.
    Quantize {
        #[arg(long)]
        safetensors: PathBuf,
        #[command(flatten)]
        p: SdqArgs,
        /// Only these tensors (repeatable).
        #[arg(long)]
        tensor: Vec<String>,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// A random GEMM (heavy-tailed weights, INT8 activations) through the generated SDQ
    /// engine (or, with --dense, the INT8 baseline): bit-exact against the golden model,
    /// cycles, throughput and accuracy.
    Run(run::RunArgs),
    /// The quality report on a real encoder: SDQ and baselines on every linear layer of a
    /// sentence-transformers BERT (all-MiniLM-L6-v2 from `make minilm`), judged by weight and
    /// layer-output SQNR and end to end by the sentence embeddings; report.json and
    /// quality.svg.
    Report(report::ReportArgs),
    /// Sentence embeddings from a sentence-transformers BERT directory (FP32): token ids and
    /// the normalised embedding of each text, as JSON (the report's sentences by default).
    Embed {
        #[arg(long)]
        model: PathBuf,
        /// A text to embed (repeatable).
        #[arg(long)]
        text: Vec<String>,
    },
}

pub fn command() -> Command {
    SdqCmd::augment_subcommands(
        Command::new("sdq")
            .about("SDQ: sparse-decomposed quantization of a model's linear layers (formats, N:M outlier/inlier decomposition, packed storage, quality report).")
            .subcommand_required(true),
    )
}

/// `n` heavy-tailed values (Student's t with 3 degrees of freedom, times `scale`), the shape
/// of real transformer weights: the workload of `plume sdq run` and of unit tests.
pub fn heavy_tailed(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut rng = XorShift::new(seed);
    let mut u = move || ((rng.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let mut normal = move || {
        let (a, b) = (u(), u());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    };
    (0..n)
        .map(|_| {
            let z = normal();
            let chi2: f64 = (0..3).map(|_| normal().powi(2)).sum();
            scale * z / (chi2 / 3.0).sqrt()
        })
        .collect()
}

/// Largest safetensors file read (a few hundred million weights).
pub const MAX_FILE: u64 = 4 << 30;

/// The baselines every layer is also quantized with: (name, configuration).
pub fn baselines(block: u32) -> Vec<(&'static str, SdqConfig)> {
    let dense = |f: Format, m: u32, n: u32| SdqConfig {
        m,
        n,
        outliers: 0,
        outlier_format: Format::E4M3,
        inlier_format: f,
        block,
    };
    vec![
        ("MXFP4", dense(Format::E2M1, 8, 8)),
        (
            "INT4 (power-of-two scale per block)",
            dense(Format::Int4, 8, 8),
        ),
        ("2:4 + INT8", dense(Format::Int8, 4, 2)),
    ]
}

/// A layer's weights as f64, from F32, F16 or BF16 data.
fn weights(view: &safetensors::tensor::TensorView, name: &str) -> Result<Vec<f64>> {
    use safetensors::Dtype;
    let d = view.data();
    Ok(match view.dtype() {
        Dtype::F32 => d
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        Dtype::BF16 => d
            .chunks_exact(2)
            .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16) as f64)
            .collect(),
        Dtype::F16 => d
            .chunks_exact(2)
            .map(|c| half_to_f64(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        t => {
            return Err(bad(format!(
                "tensor {name} is {t:?}; plume reads F32, F16 and BF16"
            )))
        }
    })
}

fn half_to_f64(h: u16) -> f64 {
    let s = if h >> 15 == 1 { -1.0 } else { 1.0 };
    let e = ((h >> 10) & 0x1f) as i32;
    let m = (h & 0x3ff) as f64;
    s * match e {
        0 => m * (2f64).powi(-24),
        31 if m == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + m / 1024.0) * (2f64).powi(e - 15),
    }
}

/// Output SQNR of a layer on random Gaussian inputs (a stand-in for real activations):
/// Y = X·Wᵀ for 16 input rows.
fn output_sqnr(w: &[f64], wq: &[f64], rows: usize, cols: usize) -> f64 {
    let mut rng = XorShift::new(0x5d9);
    let mut g = move || {
        let u = ((rng.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let v = ((rng.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    };
    let xs: Vec<Vec<f64>> = (0..16).map(|_| (0..cols).map(|_| g()).collect()).collect();
    let (mut y, mut yq) = (Vec::new(), Vec::new());
    for x in &xs {
        for r in 0..rows {
            let row = &w[r * cols..(r + 1) * cols];
            let rowq = &wq[r * cols..(r + 1) * cols];
            y.push(row.iter().zip(x).map(|(a, b)| a * b).sum::<f64>());
            yq.push(rowq.iter().zip(x).map(|(a, b)| a * b).sum::<f64>());
        }
    }
    sqnr_db(&y, &yq)
}

fn quantize(file: &Path, cfg: &SdqConfig, only: &[String], out: &Path) -> Result<()> {
    dir_target(out, |_| false)?;
    let meta = std::fs::metadata(file)
        .map_err(|e| bad(format!("cannot read safetensors {}: {e}", file.display())))?;
    if meta.len() > MAX_FILE {
        return Err(bad(format!(
            "{}: {} bytes; plume reads safetensors files up to 4 GiB",
            file.display(),
            meta.len()
        )));
    }
    let bytes = std::fs::read(file)
        .map_err(|e| bad(format!("cannot read safetensors {}: {e}", file.display())))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| {
        bad(format!(
            "{}: not a valid safetensors file ({e})",
            file.display()
        ))
    })?;
    let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    for t in only {
        if !names.contains(t) {
            return Err(bad(format!("tensor {t:?} is not in {}", file.display())));
        }
    }
    let chosen: Vec<String> = names
        .into_iter()
        .filter(|n| {
            if only.is_empty() {
                // Linear layers: embedding tables are lookups, not matrix products.
                n.ends_with(".weight") && !n.contains("embeddings")
            } else {
                only.contains(n)
            }
        })
        .collect();
    // Which tensors can be quantized, decided before anything is printed.
    let mut eligible = Vec::new();
    let mut skipped = Vec::new();
    for name in &chosen {
        let view = st.tensor(name).map_err(|e| bad(format!("{name}: {e}")))?;
        let shape = view.shape().to_vec();
        if shape.len() != 2 || shape[1] % cfg.m as usize != 0 || shape[1] % 4 != 0 {
            skipped.push(format!("{name} {shape:?}"));
        } else {
            eligible.push((name.clone(), view, shape));
        }
    }
    if eligible.is_empty() {
        return Err(bad(format!(
            "{}: no 2-D tensor named *.weight whose rows split into groups of {} (and of 4)",
            file.display(),
            cfg.m
        )));
    }
    let mut layers = Vec::new();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    crate::outln!(
        "{:<52} {:>11} {:>9} {:>9} {:>9} {:>9}",
        "layer",
        "shape",
        "SDQ dB",
        "MXFP4",
        "INT4",
        "2:4+INT8"
    );
    let total = eligible.len();
    for (k, (name, view, shape)) in eligible.iter().enumerate() {
        let name = name.as_str();
        let (rows, cols) = (shape[0], shape[1]);
        let w = weights(view, name)?;
        if w.iter().any(|x| !x.is_finite()) {
            return Err(bad(format!("tensor {name} holds NaN or infinite values")));
        }
        eprintln!("plume: layer {} of {total}: {name} {rows}×{cols}", k + 1);
        let d = decompose(cfg, &w, rows, cols, None).map_err(bad)?;
        let q = d.reconstructed();
        let sdq = (sqnr_db(&w, &q), output_sqnr(&w, &q, rows, cols));
        let p = pack(cfg, &d);
        let mut base = Vec::new();
        for (label, b) in baselines(cfg.block) {
            let bd = decompose(&b, &w, rows, cols, None).map_err(bad)?;
            let bq = bd.reconstructed();
            base.push(serde_json::json!({
                "method": label,
                "bits_per_weight": b.bits_per_weight(),
                "weight_sqnr_db": sqnr_db(&w, &bq),
                "output_sqnr_db": output_sqnr(&w, &bq, rows, cols),
            }));
        }
        crate::outln!(
            "{:<52} {:>11} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            name,
            format!("{rows}×{cols}"),
            sdq.0,
            base[0]["weight_sqnr_db"].as_f64().unwrap_or(0.0),
            base[1]["weight_sqnr_db"].as_f64().unwrap_or(0.0),
            base[2]["weight_sqnr_db"].as_f64().unwrap_or(0.0)
        );
        let file_name = format!("{}.sdq", name.replace(['/', '\\'], "_"));
        let mut blob = Vec::with_capacity(p.weights.bytes.len() + p.scales.bytes.len() + 16);
        blob.extend_from_slice(&p.weights.bits.to_le_bytes());
        blob.extend_from_slice(&p.scales.bits.to_le_bytes());
        blob.extend_from_slice(&p.weights.bytes);
        blob.extend_from_slice(&p.scales.bytes);
        layers.push(serde_json::json!({
            "tensor": name,
            "shape": [rows, cols],
            "file": file_name,
            "bits_per_weight": p.bits_per_weight(),
            "weight_sqnr_db": sdq.0,
            "output_sqnr_db": sdq.1,
            "baselines": base,
        }));
        files.push((file_name, blob));
    }
    let report = serde_json::json!({
        "source": file.display().to_string(),
        "config": cfg,
        "bits_per_weight": cfg.bits_per_weight(),
        "output_sqnr": "on 16 rows of standard Gaussian inputs, a stand-in for real activations",
        "packed_file": "u64 weight-stream bits, u64 scale-stream bits (little-endian), then both streams (hw/src/sdq/pack.rs)",
        "layers": layers,
        "skipped": skipped,
    });
    files.push(("report.json".into(), serde_json::to_vec_pretty(&report)?));
    write_dir(out, &files)?;
    crate::outln!(
        "wrote {}: {} layers packed at {:.3} bits per weight ({} tensors skipped), report.json",
        out.display(),
        files.len() - 1,
        cfg.bits_per_weight(),
        skipped.len()
    );
    Ok(())
}

fn run(m: &ArgMatches) -> Result<()> {
    match crate::cli::parsed::<SdqCmd>(m)? {
        SdqCmd::Quantize {
            safetensors,
            p,
            tensor,
            out,
        } => {
            let cfg = p.config()?;
            quantize(&safetensors, &cfg, &tensor, &out)
        }
        SdqCmd::Run(a) => run::run(&a),
        SdqCmd::Report(a) => report::run(&a),
        SdqCmd::Embed { model, text } => {
            let (bert, tok) = minilm::load(&model)?;
            let texts: Vec<String> = if text.is_empty() {
                report::SENTENCES.iter().map(|s| s.to_string()).collect()
            } else {
                text
            };
            let mut out = Vec::new();
            for t in &texts {
                let ids = tok.encode(t);
                let e = bert.embed(&ids, &mut |_, _| {})?;
                out.push(serde_json::json!({"text": t, "ids": ids, "embedding": e}));
            }
            crate::outln!("{}", serde_json::to_string(&out)?);
            Ok(())
        }
    }
}

pub struct SdqFamily;

pub static SDQ: SdqFamily = SdqFamily;

impl Family for SdqFamily {
    fn name(&self) -> &'static str {
        "sdq"
    }

    fn designs(&self) -> Vec<&'static dyn Entry> {
        vec![&design::SDQ_ENGINE, &design::DENSE_ENGINE]
    }

    fn commands(&self) -> Vec<Command> {
        vec![command()]
    }

    fn run(&self, _name: &str, m: &ArgMatches) -> Result<()> {
        run(m)
    }

    fn demo(&self, out: &Path) -> Result<()> {
        demo::demo(out)
    }
}
