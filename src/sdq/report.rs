//! `plume sdq report`: SDQ and plain baselines applied to every linear layer of a BERT
//! sentence encoder (all-MiniLM-L6-v2 from `make minilm`), judged three ways against FP32:
//! weight SQNR, layer-output SQNR on the layer's real inputs (captured from the FP32 model on
//! a fixed set of sentences), and end to end — the sentence embeddings' cosine similarity to
//! FP32's, the rank correlation of every sentence pair's similarity, and whether each
//! sentence's nearest neighbour stays the same. Weights are quantized, activations stay FP32
//! (weight-only quantization, as the decomposition studies it). Writes `report.json` and
//! `quality.svg` (error against bits per weight for every method).

use super::minilm::{self, Bert};
use super::SdqArgs;
use crate::error::Result;
use crate::output::{dir_target, write_dir};
use plume_hw::sdq::decompose::{decompose, sqnr_db, SdqConfig};
use plume_hw::sdq::formats::Format;
use std::path::PathBuf;

/// Sentences the encoder is calibrated and judged on: eight topics, three sentences each, so
/// that every sentence has near and far neighbours.
pub const SENTENCES: [&str; 24] = [
    "The train to the coast leaves the station every morning at seven.",
    "Rail services along the shoreline depart daily at 7 a.m.",
    "Commuters crowd the platform before the early departure.",
    "She added a pinch of salt and let the soup simmer for an hour.",
    "The stew cooked slowly on a low flame until the vegetables softened.",
    "Fresh bread was cooling on the kitchen counter.",
    "The goalkeeper saved a penalty in the final minute of the match.",
    "A late save by the keeper kept the score level.",
    "The striker scored twice in the second half.",
    "Interest rates rose again as the central bank fought inflation.",
    "The bank raised borrowing costs to slow rising prices.",
    "Stock markets fell after the quarterly earnings report.",
    "The telescope captured a faint galaxy billions of light years away.",
    "Astronomers observed a distant cluster of stars through the new instrument.",
    "The rover sent back photographs of dusty red rocks on Mars.",
    "My laptop keeps freezing whenever I open too many browser tabs.",
    "The computer becomes unresponsive with a lot of web pages open.",
    "A software update fixed the crash in the spreadsheet program.",
    "Heavy rain flooded the streets and closed several roads.",
    "A storm brought strong winds and downpours across the region.",
    "The drought left the river at its lowest level in decades.",
    "The cat curled up on the windowsill in the afternoon sun.",
    "A sleepy kitten napped in a warm patch of sunlight.",
    "The dog barked at the mail carrier from behind the fence.",
];

#[derive(clap::Args, Clone, Debug)]
pub struct ReportArgs {
    /// A sentence-transformers BERT directory: model.safetensors, tokenizer.json and
    /// config.json (`make minilm` fetches all-MiniLM-L6-v2 into data/cache/minilm).
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub sdq: SdqArgs,
    #[arg(short, long)]
    pub out: PathBuf,
}

/// A method of the report: its name, decomposition, and whether its importance is Wanda's.
struct Method {
    name: String,
    cfg: SdqConfig,
    wanda: bool,
}

fn methods(sdq: SdqConfig) -> Vec<Method> {
    let b = sdq.block;
    let m = |name: &str, cfg: SdqConfig, wanda: bool| Method {
        name: name.to_string(),
        cfg,
        wanda,
    };
    let dense = |f: Format, mm: u32, n: u32| SdqConfig {
        m: mm,
        n,
        outliers: 0,
        outlier_format: Format::E4M3,
        inlier_format: f,
        block: b,
    };
    let label = format!(
        "SDQ {}:{} {} + {}:{} {}",
        sdq.outliers,
        sdq.m,
        sdq.outlier_format.name().to_uppercase(),
        sdq.n - sdq.outliers,
        sdq.m,
        sdq.inlier_format.name().to_uppercase()
    );
    vec![
        m(&label, sdq, false),
        m(&format!("{label}, Wanda"), sdq, true),
        m(
            "SDQ 1:8 E4M3 + 7:8 E2M1 (nothing pruned)",
            SdqConfig {
                m: 8,
                n: 8,
                outliers: 1,
                outlier_format: Format::E4M3,
                inlier_format: Format::E2M1,
                block: b,
            },
            false,
        ),
        m("MXFP4", dense(Format::E2M1, 8, 8), false),
        m(
            "INT4 (power-of-two scale per block)",
            dense(Format::Int4, 8, 8),
            false,
        ),
        m("2:4 + INT8", dense(Format::Int8, 4, 2), false),
        m("2:4 + INT8, Wanda", dense(Format::Int8, 4, 2), true),
        m("MXFP8 (E4M3)", dense(Format::E4M3, 8, 8), false),
        m("MX INT8", dense(Format::Int8, 8, 8), false),
    ]
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb).max(1e-30)
}

/// Ranks (1-based, ties averaged).
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        for &k in &idx[i..=j] {
            r[k] = (i + j) as f64 / 2.0 + 1.0;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt().max(1e-30)
}

/// Similarities of every sentence pair, and each sentence's nearest other sentence.
fn neighbourhood(e: &[Vec<f32>]) -> (Vec<f64>, Vec<usize>) {
    let n = e.len();
    let mut sims = Vec::new();
    let mut best = vec![(f64::NEG_INFINITY, 0); n];
    for i in 0..n {
        for j in 0..n {
            if i == j {
                continue;
            }
            let s = cosine(&e[i], &e[j]);
            if i < j {
                sims.push(s);
            }
            if s > best[i].0 {
                best[i] = (s, j);
            }
        }
    }
    (sims, best.into_iter().map(|b| b.1).collect())
}

fn embed_all(
    bert: &Bert,
    ids: &[Vec<u32>],
    mut capture: impl FnMut(usize, &[f32]),
) -> Result<Vec<Vec<f32>>> {
    ids.iter().map(|s| bert.embed(s, &mut capture)).collect()
}

/// SQNR (dB) of X·Ŵᵀ against X·Wᵀ over the captured rows `x` (tokens × in).
fn output_sqnr(x: &[f32], inp: usize, w: &[f32], wq: &[f32], out: usize) -> f64 {
    let (mut sig, mut err) = (0f64, 0f64);
    for row in x.chunks_exact(inp) {
        for o in 0..out {
            let wr = &w[o * inp..(o + 1) * inp];
            let qr = &wq[o * inp..(o + 1) * inp];
            let (y, yq) = (minilm::dot(row, wr), minilm::dot(row, qr));
            sig += (y as f64).powi(2);
            err += (y as f64 - yq as f64).powi(2);
        }
    }
    10.0 * (sig / err.max(1e-300)).log10()
}

/// What every method is judged against: the FP32 model, its captured inputs and results.
struct Ctx<'a> {
    bert: &'a Bert,
    ids: &'a [Vec<u32>],
    inputs: &'a [Vec<f32>],
    norms: &'a [Vec<f64>],
    reference: &'a [Vec<f32>],
    ref_sims: &'a [f64],
    ref_nn: &'a [usize],
}

/// One method applied to every linear layer and run end to end.
fn judge(c: &Ctx, me: &Method) -> Result<serde_json::Value> {
    let bert = c.bert;
    let mut model = bert.clone();
    let (mut wsq, mut osq) = (Vec::new(), Vec::new());
    for (i, l) in bert.linears.iter().enumerate() {
        let w: Vec<f64> = l.w.iter().map(|v| *v as f64).collect();
        let act = me.wanda.then(|| c.norms[i].as_slice());
        let d = decompose(&me.cfg, &w, l.out, l.inp, act).map_err(crate::error::bad)?;
        let q = d.reconstructed();
        wsq.push(sqnr_db(&w, &q));
        let qf: Vec<f32> = q.iter().map(|v| *v as f32).collect();
        osq.push(output_sqnr(&c.inputs[i], l.inp, &l.w, &qf, l.out));
        model.linears[i].w = qf;
    }
    let emb = embed_all(&model, c.ids, |_, _| {})?;
    let cos: Vec<f64> = emb
        .iter()
        .zip(c.reference)
        .map(|(a, b)| cosine(a, b))
        .collect();
    let (sims, nn) = neighbourhood(&emb);
    let rho = spearman(c.ref_sims, &sims);
    let same_nn = nn.iter().zip(c.ref_nn).filter(|(a, b)| a == b).count();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    Ok(serde_json::json!({
        "method": me.name,
        "config": me.cfg,
        "importance": if me.wanda { "wanda" } else { "magnitude" },
        "bits_per_weight": me.cfg.bits_per_weight(),
        "weight_sqnr_db": mean(&wsq),
        "output_sqnr_db": mean(&osq),
        "output_sqnr_db_min": osq.iter().cloned().fold(f64::INFINITY, f64::min),
        "embedding_cosine_mean": mean(&cos),
        "embedding_cosine_min": cos.iter().cloned().fold(f64::INFINITY, f64::min),
        "pair_similarity_spearman": rho,
        "nearest_neighbour_kept": same_nn,
        "layers": bert.linears.iter().zip(wsq.iter().zip(&osq)).map(|(l, (w, o))| serde_json::json!({
            "tensor": l.name, "weight_sqnr_db": w, "output_sqnr_db": o,
        })).collect::<Vec<_>>(),
    }))
}

pub fn run(a: &ReportArgs) -> Result<()> {
    let sdq = a.sdq.config()?;
    dir_target(&a.out, |_| false)?;
    let (bert, tok) = minilm::load(&a.model)?;
    for l in &bert.linears {
        if !l.inp.is_multiple_of(8) {
            return Err(crate::error::bad(format!(
                "{}: rows of {} weights do not split into groups of 8",
                l.name, l.inp
            )));
        }
    }
    let ids: Vec<Vec<u32>> = SENTENCES.iter().map(|s| tok.encode(s)).collect();
    let tokens: usize = ids.iter().map(|v| v.len()).sum();
    eprintln!(
        "plume: FP32 encoder ({} layers, hidden {}, {} linear layers) on {} sentences, {tokens} tokens",
        bert.linears.len() / 6,
        bert.hidden,
        bert.linears.len(),
        SENTENCES.len()
    );
    let nl = bert.linears.len();
    let mut inputs: Vec<Vec<f32>> = vec![Vec::new(); nl];
    let t0 = std::time::Instant::now();
    let reference = embed_all(&bert, &ids, |i, x| inputs[i].extend_from_slice(x))?;
    let fp32_secs = t0.elapsed().as_secs_f64();
    let (ref_sims, ref_nn) = neighbourhood(&reference);
    // Wanda's activation norms ‖x_j‖ per input column of each layer.
    let norms: Vec<Vec<f64>> = bert
        .linears
        .iter()
        .zip(&inputs)
        .map(|(l, x)| {
            let mut n = vec![0f64; l.inp];
            for row in x.chunks_exact(l.inp) {
                for (k, v) in row.iter().enumerate() {
                    n[k] += (*v as f64).powi(2);
                }
            }
            n.iter().map(|v| v.sqrt()).collect()
        })
        .collect();

    let all = methods(sdq);
    for me in &all {
        me.cfg.validate().map_err(crate::error::bad)?;
    }
    // Methods are independent: one thread per core takes every n-th.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(all.len());
    let done = std::sync::atomic::AtomicUsize::new(0);
    let ctx = Ctx {
        bert: &bert,
        ids: &ids,
        inputs: &inputs,
        norms: &norms,
        reference: &reference,
        ref_sims: &ref_sims,
        ref_nn: &ref_nn,
    };
    let mut rows: Vec<(usize, serde_json::Value)> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (all, ctx, done) = (&all, &ctx, &done);
                sc.spawn(move || -> Result<Vec<(usize, serde_json::Value)>> {
                    let mut out = Vec::new();
                    for (mi, me) in all.iter().enumerate().skip(t).step_by(threads) {
                        out.push((mi, judge(ctx, me)?));
                        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        eprintln!("plume: method {n} of {} done: {}", all.len(), me.name);
                    }
                    Ok(out)
                })
            })
            .collect();
        let mut rows = Vec::new();
        for h in handles {
            rows.extend(
                h.join()
                    .map_err(|_| crate::error::failed("a report thread panicked"))??,
            );
        }
        Ok::<_, crate::error::Error>(rows)
    })?;
    rows.sort_by_key(|r| r.0);
    let rows: Vec<serde_json::Value> = rows.into_iter().map(|r| r.1).collect();
    crate::outln!(
        "{:<44} {:>7} {:>9} {:>9} {:>9} {:>9} {:>8} {:>6}",
        "method",
        "bits/w",
        "weight dB",
        "output dB",
        "cos mean",
        "cos min",
        "pairs ρ",
        "NN kept"
    );
    for r in &rows {
        crate::outln!(
            "{:<44} {:>7.3} {:>9.2} {:>9.2} {:>9.5} {:>9.5} {:>8.4} {:>3}/{}",
            r["method"].as_str().unwrap_or(""),
            r["bits_per_weight"].as_f64().unwrap_or(0.0),
            r["weight_sqnr_db"].as_f64().unwrap_or(0.0),
            r["output_sqnr_db"].as_f64().unwrap_or(0.0),
            r["embedding_cosine_mean"].as_f64().unwrap_or(0.0),
            r["embedding_cosine_min"].as_f64().unwrap_or(0.0),
            r["pair_similarity_spearman"].as_f64().unwrap_or(0.0),
            r["nearest_neighbour_kept"].as_u64().unwrap_or(0),
            SENTENCES.len()
        );
    }
    let report = serde_json::json!({
        "model": a.model.display().to_string(),
        "sentences": SENTENCES,
        "tokens": tokens,
        "fp32_forward_seconds": fp32_secs,
        "pairs": ref_sims.len(),
        "quantization": "weights only (every encoder linear layer); activations FP32",
        "output_sqnr": "per layer, on the layer's inputs captured from the FP32 model on the sentences",
        "methods": rows,
    });
    let svg = super::plot::quality_svg(&rows)?;
    write_dir(
        &a.out,
        &[
            ("report.json".into(), serde_json::to_vec_pretty(&report)?),
            ("quality.svg".into(), svg.into_bytes()),
        ],
    )?;
    crate::outln!(
        "wrote {}: report.json, quality.svg ({} methods, {} sentences, {} pairs)",
        a.out.display(),
        rows.len(),
        SENTENCES.len(),
        ref_sims.len()
    );
    Ok(())
}
