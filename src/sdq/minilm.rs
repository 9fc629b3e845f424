//! A BERT encoder's forward pass in plain Rust, enough to run all-MiniLM-L6-v2 (or any BERT
//! checkpoint of the same layout) end to end: the WordPiece tokenizer of its `tokenizer.json`,
//! embeddings, L encoder layers (multi-head self-attention, GELU feed-forward, post-LayerNorm),
//! mean pooling and L2 normalisation — the sentence-transformers recipe. FP32 arithmetic, one
//! sentence at a time (no padding). Every linear layer's weight can be replaced (quantized
//! models) and its inputs captured (real activations for Wanda scores and output SQNR).
//!
//! Checked against an independent NumPy implementation and the Hugging Face `tokenizers`
//! library on a small random checkpoint (`tests/sdq/bert_check.py`).

use crate::error::{bad, Result};
use std::collections::HashMap;
use std::path::Path;

/// Longest input, in tokens ([CLS] and [SEP] included), as sentence-transformers truncates
/// all-MiniLM-L6-v2.
pub const MAX_TOKENS: usize = 256;

/// The WordPiece tokenizer of a BERT `tokenizer.json` (lower-casing, accent stripping,
/// punctuation split, greedy longest-match sub-words).
pub struct Tokenizer {
    vocab: HashMap<String, u32>,
    unk: u32,
    cls: u32,
    sep: u32,
    lowercase: bool,
}

impl Tokenizer {
    pub fn from_json(text: &str) -> Result<Tokenizer> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("tokenizer.json: {e}")))?;
        let model = &v["model"];
        if model["type"] != "WordPiece" {
            return Err(bad(format!(
                "tokenizer.json: a {} model; plume reads WordPiece (BERT) tokenizers",
                model["type"]
            )));
        }
        let vocab: HashMap<String, u32> = model["vocab"]
            .as_object()
            .ok_or_else(|| bad("tokenizer.json: no vocabulary"))?
            .iter()
            .filter_map(|(k, id)| Some((k.clone(), id.as_u64()? as u32)))
            .collect();
        let id = |t: &str| {
            vocab
                .get(t)
                .copied()
                .ok_or_else(|| bad(format!("tokenizer.json: no {t} token")))
        };
        Ok(Tokenizer {
            unk: id(model["unk_token"].as_str().unwrap_or("[UNK]"))?,
            cls: id("[CLS]")?,
            sep: id("[SEP]")?,
            lowercase: v["normalizer"]["lowercase"].as_bool().unwrap_or(true),
            vocab,
        })
    }

    /// BERT's normalisation and pre-tokenisation: words and single punctuation marks.
    fn words(&self, text: &str) -> Vec<String> {
        use unicode_normalization::char::is_combining_mark;
        use unicode_normalization::UnicodeNormalization;
        let mut words = Vec::new();
        let mut cur = String::new();
        let flush = |cur: &mut String, words: &mut Vec<String>| {
            if !cur.is_empty() {
                words.push(std::mem::take(cur));
            }
        };
        let text: String = if self.lowercase {
            // Lower-casing strips accents too (BERT's uncased normaliser).
            text.to_lowercase()
                .nfd()
                .filter(|c| !is_combining_mark(*c))
                .collect()
        } else {
            text.to_string()
        };
        for c in text.chars() {
            if c == '\0' || c == '\u{fffd}' || (c.is_control() && !c.is_whitespace()) {
                continue;
            }
            if c.is_whitespace() {
                flush(&mut cur, &mut words);
            } else if is_punctuation(c) || is_cjk(c) {
                flush(&mut cur, &mut words);
                words.push(c.to_string());
            } else {
                cur.push(c);
            }
        }
        flush(&mut cur, &mut words);
        words
    }

    /// Token ids of `text`: [CLS], the word pieces, [SEP] (truncated to `MAX_TOKENS`).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = vec![self.cls];
        for w in self.words(text) {
            let chars: Vec<char> = w.chars().collect();
            if chars.len() > 100 {
                ids.push(self.unk);
                continue;
            }
            let mut pieces = Vec::new();
            let mut start = 0;
            let mut ok = true;
            while start < chars.len() {
                let mut end = chars.len();
                let mut found = None;
                while end > start {
                    let s: String = chars[start..end].iter().collect();
                    let s = if start > 0 { format!("##{s}") } else { s };
                    if let Some(&id) = self.vocab.get(&s) {
                        found = Some(id);
                        break;
                    }
                    end -= 1;
                }
                match found {
                    Some(id) => {
                        pieces.push(id);
                        start = end;
                    }
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                ids.extend(pieces);
            } else {
                ids.push(self.unk);
            }
        }
        ids.truncate(MAX_TOKENS - 1);
        ids.push(self.sep);
        ids
    }
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(c as u32, 0x2000..=0x206F | 0x3000..=0x303F | 0xFF00..=0xFF0F | 0x00A1..=0x00BF)
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// A linear layer: `out × in` weights (row-major) and a bias.
#[derive(Clone)]
pub struct Linear {
    pub name: String,
    pub out: usize,
    pub inp: usize,
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

impl Linear {
    /// `x` (tokens × in) times Wᵀ plus the bias.
    fn apply(&self, x: &[f32], tokens: usize) -> Vec<f32> {
        let mut y = vec![0f32; tokens * self.out];
        for t in 0..tokens {
            let xr = &x[t * self.inp..(t + 1) * self.inp];
            for o in 0..self.out {
                y[t * self.out + o] =
                    dot(xr, &self.w[o * self.inp..(o + 1) * self.inp]) + self.b[o];
            }
        }
        y
    }
}

/// A dot product in eight independent lanes (so it vectorises), then summed.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ar.iter().zip(br) {
        s += x * y;
    }
    s
}

#[derive(Clone)]
struct Norm {
    g: Vec<f32>,
    b: Vec<f32>,
}

impl Norm {
    fn apply(&self, x: &mut [f32], eps: f32) {
        let d = self.g.len();
        for row in x.chunks_mut(d) {
            let mean = row.iter().sum::<f32>() / d as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d as f32;
            let inv = 1.0 / (var + eps).sqrt();
            for (k, v) in row.iter_mut().enumerate() {
                *v = (*v - mean) * inv * self.g[k] + self.b[k];
            }
        }
    }
}

#[derive(Clone)]
struct Layer {
    q: usize,
    k: usize,
    v: usize,
    o: usize,
    up: usize,
    down: usize,
    attn_norm: Norm,
    out_norm: Norm,
}

/// A BERT encoder.
#[derive(Clone)]
pub struct Bert {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    emb_norm: Norm,
    layers: Vec<Layer>,
    /// Every linear layer of the encoder, in order (query, key, value, attention output,
    /// intermediate, output; layer after layer).
    pub linears: Vec<Linear>,
    pub hidden: usize,
    pub heads: usize,
    pub vocab: usize,
    eps: f32,
}

fn tensor(st: &safetensors::SafeTensors, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let t = st
        .tensor(name)
        .map_err(|_| bad(format!("the checkpoint has no tensor {name}")))?;
    if t.dtype() != safetensors::Dtype::F32 || t.shape() != shape {
        return Err(bad(format!(
            "tensor {name} is {:?} {:?}; expected F32 {shape:?}",
            t.dtype(),
            t.shape()
        )));
    }
    Ok(t.data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

impl Bert {
    /// Reads a BERT checkpoint (`embeddings.*`, `encoder.layer.N.*`, F32) with `heads`
    /// attention heads; the sizes come from the tensors.
    pub fn from_safetensors(bytes: &[u8], heads: usize) -> Result<Bert> {
        let st = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("not a valid safetensors file ({e})")))?;
        let shape = |n: &str| -> Result<Vec<usize>> {
            Ok(st
                .tensor(n)
                .map_err(|_| bad(format!("the checkpoint has no tensor {n}")))?
                .shape()
                .to_vec())
        };
        let ws = shape("embeddings.word_embeddings.weight")?;
        if ws.len() != 2 {
            return Err(bad("embeddings.word_embeddings.weight is not a matrix"));
        }
        let (vocab, hidden) = (ws[0], ws[1]);
        if heads == 0 || !hidden.is_multiple_of(heads) {
            return Err(bad(format!(
                "hidden size {hidden} does not split into {heads} heads"
            )));
        }
        let npos = shape("embeddings.position_embeddings.weight")?[0];
        let ntype = shape("embeddings.token_type_embeddings.weight")?[0];
        let norm = |p: &str| -> Result<Norm> {
            Ok(Norm {
                g: tensor(&st, &format!("{p}.weight"), &[hidden])?,
                b: tensor(&st, &format!("{p}.bias"), &[hidden])?,
            })
        };
        let mut linears = Vec::new();
        let mut layers = Vec::new();
        let mut l = 0;
        while st
            .tensor(&format!("encoder.layer.{l}.attention.self.query.weight"))
            .is_ok()
        {
            let p = format!("encoder.layer.{l}");
            let inter = shape(&format!("{p}.intermediate.dense.weight"))?[0];
            let mut lin = |name: String, out: usize, inp: usize| -> Result<usize> {
                linears.push(Linear {
                    w: tensor(&st, &format!("{name}.weight"), &[out, inp])?,
                    b: tensor(&st, &format!("{name}.bias"), &[out])?,
                    name: format!("{name}.weight"),
                    out,
                    inp,
                });
                Ok(linears.len() - 1)
            };
            let q = lin(format!("{p}.attention.self.query"), hidden, hidden)?;
            let k = lin(format!("{p}.attention.self.key"), hidden, hidden)?;
            let v = lin(format!("{p}.attention.self.value"), hidden, hidden)?;
            let o = lin(format!("{p}.attention.output.dense"), hidden, hidden)?;
            let up = lin(format!("{p}.intermediate.dense"), inter, hidden)?;
            let down = lin(format!("{p}.output.dense"), hidden, inter)?;
            layers.push(Layer {
                q,
                k,
                v,
                o,
                up,
                down,
                attn_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                out_norm: norm(&format!("{p}.output.LayerNorm"))?,
            });
            l += 1;
        }
        if layers.is_empty() {
            return Err(bad("the checkpoint has no encoder.layer.0"));
        }
        Ok(Bert {
            word: tensor(&st, "embeddings.word_embeddings.weight", &[vocab, hidden])?,
            position: tensor(
                &st,
                "embeddings.position_embeddings.weight",
                &[npos, hidden],
            )?,
            token_type: tensor(
                &st,
                "embeddings.token_type_embeddings.weight",
                &[ntype, hidden],
            )?,
            emb_norm: norm("embeddings.LayerNorm")?,
            layers,
            linears,
            hidden,
            heads,
            vocab,
            eps: 1e-12,
        })
    }

    /// The sentence embedding of `ids` (mean of the last hidden states, L2-normalised), with
    /// every linear layer's input rows passed to `capture` (layer index, tokens × in).
    pub fn embed(&self, ids: &[u32], capture: &mut dyn FnMut(usize, &[f32])) -> Result<Vec<f32>> {
        let (d, n) = (self.hidden, ids.len());
        if n > self.position.len() / d {
            return Err(bad(format!(
                "{n} tokens; the checkpoint has {} positions",
                self.position.len() / d
            )));
        }
        let mut x = vec![0f32; n * d];
        for (t, &id) in ids.iter().enumerate() {
            let id = id as usize;
            if id >= self.vocab {
                return Err(bad(format!("token id {id} is outside the vocabulary")));
            }
            for k in 0..d {
                x[t * d + k] =
                    self.word[id * d + k] + self.position[t * d + k] + self.token_type[k];
            }
        }
        self.emb_norm.apply(&mut x, self.eps);
        let hd = d / self.heads;
        let scale = 1.0 / (hd as f32).sqrt();
        for layer in &self.layers {
            let mut lin = |i: usize, input: &[f32]| {
                capture(i, input);
                self.linears[i].apply(input, n)
            };
            let q = lin(layer.q, &x);
            let k = lin(layer.k, &x);
            let v = lin(layer.v, &x);
            let mut ctx = vec![0f32; n * d];
            for h in 0..self.heads {
                for i in 0..n {
                    let qi = &q[i * d + h * hd..i * d + (h + 1) * hd];
                    let mut s: Vec<f32> = (0..n)
                        .map(|j| dot(qi, &k[j * d + h * hd..j * d + (h + 1) * hd]) * scale)
                        .collect();
                    let m = s.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                    let mut z = 0.0;
                    for e in s.iter_mut() {
                        *e = (*e - m).exp();
                        z += *e;
                    }
                    for (j, e) in s.iter().enumerate() {
                        let p = e / z;
                        for c in 0..hd {
                            ctx[i * d + h * hd + c] += p * v[j * d + h * hd + c];
                        }
                    }
                }
            }
            let a = lin(layer.o, &ctx);
            for (xv, av) in x.iter_mut().zip(&a) {
                *xv += av;
            }
            layer.attn_norm.apply(&mut x, self.eps);
            let mut u = lin(layer.up, &x);
            for e in u.iter_mut() {
                *e = 0.5 * *e * (1.0 + libm::erff(*e / std::f32::consts::SQRT_2));
            }
            let f = lin(layer.down, &u);
            for (xv, fv) in x.iter_mut().zip(&f) {
                *xv += fv;
            }
            layer.out_norm.apply(&mut x, self.eps);
        }
        let mut e = vec![0f32; d];
        for t in 0..n {
            for k in 0..d {
                e[k] += x[t * d + k];
            }
        }
        // The mean over tokens, L2-normalised (the 1/n cancels).
        let norm = e.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        Ok(e.iter().map(|v| v / norm).collect())
    }
}

/// The model files of a sentence-transformers directory.
pub fn load(dir: &Path) -> Result<(Bert, Tokenizer)> {
    let read = |name: &str| {
        std::fs::read(dir.join(name))
            .map_err(|e| bad(format!("cannot read {}: {e}", dir.join(name).display())))
    };
    let bytes = read("model.safetensors")?;
    let tok = read("tokenizer.json")?;
    let tok = String::from_utf8(tok).map_err(|_| bad("tokenizer.json is not UTF-8"))?;
    let tok = Tokenizer::from_json(&tok)?;
    // Heads from config.json (12 for all-MiniLM-L6-v2: 12 × 32 = 384).
    let heads = match std::fs::read(dir.join("config.json")) {
        Ok(c) => serde_json::from_slice::<serde_json::Value>(&c)
            .ok()
            .and_then(|v| v["num_attention_heads"].as_u64())
            .ok_or_else(|| bad("config.json: no num_attention_heads"))? as usize,
        Err(_) => 12,
    };
    let bert = Bert::from_safetensors(&bytes, heads)?;
    Ok((bert, tok))
}
