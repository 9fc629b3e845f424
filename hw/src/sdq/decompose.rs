//! The SDQ decomposition (spec sdq.md §2, a reconstruction — every choice is a parameter):
//! along each row, groups of M consecutive weights; in each group the N most important are
//! kept (magnitude |w|, or Wanda's |w|·‖x_j‖ with activation norms); of those the K most
//! important become *outliers*, the rest *inliers*. Outliers and inliers are each quantized
//! with MX block scaling along the row (their own element formats), so Ŵ = Q(W_o) + Q(W_i).
//!
//! Storage per group: the outliers' and inliers' element codes, and for every kept weight its
//! position in the group (⌈log2 M⌉ bits; with nothing pruned only the outliers'); per block of
//! `block` positions one E8M0 scale per part.

use super::formats::Format;
use super::mx;
use serde::{Deserialize, Serialize};

/// The decomposition's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdqConfig {
    /// Group size M.
    pub m: u32,
    /// Weights kept per group (outliers and inliers), N ≤ M.
    pub n: u32,
    /// Outliers per group, K ≤ N.
    pub outliers: u32,
    pub outlier_format: Format,
    pub inlier_format: Format,
    /// Elements per MX scale, along the row.
    pub block: u32,
}

impl Default for SdqConfig {
    /// 1:8 FP8 outliers + 6:8 FP4 inliers (7:8 kept), MX blocks of 32 — the configuration
    /// that matches the paper's 4× (spec §2.1).
    fn default() -> Self {
        SdqConfig {
            m: 8,
            n: 7,
            outliers: 1,
            outlier_format: Format::E4M3,
            inlier_format: Format::E2M1,
            block: mx::BLOCK as u32,
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SdqError {
    #[error("group size M must be from 1 to 64, got {0}")]
    M(u32),
    #[error("N (kept per group) must be from 1 to M = {m}, got {n}")]
    N { n: u32, m: u32 },
    #[error("outliers per group must be at most N = {n}, got {k}")]
    Outliers { k: u32, n: u32 },
    #[error("{0} is a scale format, not an element format")]
    ScaleFormat(&'static str),
    #[error("MX block must be from 1 to 1024 elements, got {0}")]
    Block(u32),
    #[error("row length {k} is not a multiple of M = {m}")]
    Row { k: usize, m: u32 },
    #[error("{what} has {got} values, expected {want}")]
    Shape {
        what: &'static str,
        got: usize,
        want: usize,
    },
}

impl SdqConfig {
    pub fn validate(&self) -> Result<(), SdqError> {
        if !(1..=64).contains(&self.m) {
            return Err(SdqError::M(self.m));
        }
        if !(1..=self.m).contains(&self.n) {
            return Err(SdqError::N {
                n: self.n,
                m: self.m,
            });
        }
        if self.outliers > self.n {
            return Err(SdqError::Outliers {
                k: self.outliers,
                n: self.n,
            });
        }
        for f in [self.outlier_format, self.inlier_format] {
            if f == Format::E8M0 {
                return Err(SdqError::ScaleFormat(f.name()));
            }
        }
        if !(1..=1024).contains(&self.block) {
            return Err(SdqError::Block(self.block));
        }
        Ok(())
    }

    /// Bits of a position in a group.
    pub fn index_bits(&self) -> u32 {
        32 - (self.m - 1).leading_zeros()
    }

    /// Exact storage bits per weight: element codes, positions, and the E8M0 scales of both
    /// parts (a part with no weights has none).
    pub fn bits_per_weight(&self) -> f64 {
        let k = self.outliers as f64;
        let i = (self.n - self.outliers) as f64;
        let m = self.m as f64;
        let data = k * self.outlier_format.bits() as f64 + i * self.inlier_format.bits() as f64;
        // Positions of every kept weight; with nothing pruned, only the outliers' (the rest
        // are the inliers, in order).
        // With every weight an outlier, not even those.
        let placed = if self.outliers == self.m {
            0.0
        } else if self.n == self.m {
            k
        } else {
            k + i
        };
        let index = placed * self.index_bits() as f64;
        let parts = (self.outliers > 0) as u32 + (self.n > self.outliers) as u32;
        (data + index) / m + parts as f64 * 8.0 / self.block as f64
    }
}

/// A decomposed matrix: which weights are kept and where they went, and both parts
/// quantized (dequantized values, row-major like the input).
#[derive(Clone, Debug)]
pub struct Decomposed {
    pub rows: usize,
    pub cols: usize,
    /// 0 pruned, 1 inlier, 2 outlier, per weight.
    pub role: Vec<u8>,
    /// The outlier and inlier parts before quantization (the other's places zero).
    pub outliers: Vec<f64>,
    pub inliers: Vec<f64>,
    /// After MX quantization.
    pub q_outliers: Vec<f64>,
    pub q_inliers: Vec<f64>,
    /// The MX blocks of each part, row after row (`block` columns each, the last of a row
    /// possibly shorter).
    pub outlier_blocks: Vec<mx::Block>,
    pub inlier_blocks: Vec<mx::Block>,
}

impl Decomposed {
    /// Ŵ = Q(W_o) + Q(W_i).
    pub fn reconstructed(&self) -> Vec<f64> {
        self.q_outliers
            .iter()
            .zip(&self.q_inliers)
            .map(|(a, b)| a + b)
            .collect()
    }

    /// The pruned matrix W_o + W_i before quantization.
    pub fn pruned(&self) -> Vec<f64> {
        self.outliers
            .iter()
            .zip(&self.inliers)
            .map(|(a, b)| a + b)
            .collect()
    }
}

/// Decomposes `w` (rows × cols, row-major). `act_norm`, one per column, switches the
/// importance from |w| to Wanda's |w|·‖x_j‖. Ties in importance go to the earlier position.
pub fn decompose(
    cfg: &SdqConfig,
    w: &[f64],
    rows: usize,
    cols: usize,
    act_norm: Option<&[f64]>,
) -> Result<Decomposed, SdqError> {
    cfg.validate()?;
    if w.len() != rows * cols {
        return Err(SdqError::Shape {
            what: "the weight matrix",
            got: w.len(),
            want: rows * cols,
        });
    }
    if let Some(a) = act_norm {
        if a.len() != cols {
            return Err(SdqError::Shape {
                what: "the activation norms",
                got: a.len(),
                want: cols,
            });
        }
    }
    let m = cfg.m as usize;
    if !cols.is_multiple_of(m) {
        return Err(SdqError::Row { k: cols, m: cfg.m });
    }
    let mut role = vec![0u8; w.len()];
    let mut outliers = vec![0.0; w.len()];
    let mut inliers = vec![0.0; w.len()];
    let score = |j: usize, v: f64| v.abs() * act_norm.map_or(1.0, |a| a[j]);
    let mut order: Vec<usize> = Vec::with_capacity(m);
    for r in 0..rows {
        for g in (0..cols).step_by(m) {
            order.clear();
            order.extend(0..m);
            let at = |k: usize| r * cols + g + k;
            order.sort_by(|&a, &b| {
                score(g + b, w[at(b)])
                    .total_cmp(&score(g + a, w[at(a)]))
                    .then(a.cmp(&b))
            });
            for (rank, &k) in order.iter().enumerate().take(cfg.n as usize) {
                let i = at(k);
                if rank < cfg.outliers as usize {
                    role[i] = 2;
                    outliers[i] = w[i];
                } else {
                    role[i] = 1;
                    inliers[i] = w[i];
                }
            }
        }
    }
    let block = cfg.block as usize;
    // Each part in MX blocks along every row, and the values they stand for.
    let quant = |f: Format, x: &[f64]| -> (Vec<mx::Block>, Vec<f64>) {
        let blocks: Vec<mx::Block> = x
            .chunks(cols)
            .flat_map(|row| row.chunks(block).map(|c| mx::quantize_block(f, c)))
            .collect();
        let values = blocks
            .iter()
            .flat_map(|b| mx::dequantize_block(f, b))
            .collect();
        (blocks, values)
    };
    let (outlier_blocks, q_outliers) = quant(cfg.outlier_format, &outliers);
    let (inlier_blocks, q_inliers) = quant(cfg.inlier_format, &inliers);
    Ok(Decomposed {
        rows,
        cols,
        q_outliers,
        q_inliers,
        outlier_blocks,
        inlier_blocks,
        role,
        outliers,
        inliers,
    })
}

/// Signal-to-quantization-noise ratio of `approx` against `exact`, in dB.
pub fn sqnr_db(exact: &[f64], approx: &[f64]) -> f64 {
    let s: f64 = exact.iter().map(|x| x * x).sum();
    let n: f64 = exact
        .iter()
        .zip(approx)
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    if n == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (s / n).log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_say_what_is_allowed() {
        let bad = |f: fn(&mut SdqConfig)| {
            let mut c = SdqConfig::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert_eq!(
            bad(|c| c.n = 9),
            "N (kept per group) must be from 1 to M = 8, got 9"
        );
        assert_eq!(
            bad(|c| c.outliers = 8),
            "outliers per group must be at most N = 7, got 8"
        );
        assert_eq!(bad(|c| c.m = 0), "group size M must be from 1 to 64, got 0");
        assert_eq!(
            bad(|c| c.inlier_format = Format::E8M0),
            "e8m0 is a scale format, not an element format"
        );
        assert_eq!(
            bad(|c| c.block = 0),
            "MX block must be from 1 to 1024 elements, got 0"
        );
    }

    #[test]
    fn one_fp8_outlier_and_six_fp4_inliers_of_eight_cost_7_125_bits_with_position_indices() {
        // (1·8 + 6·4)/8 data + 7·3/8 positions + 2 scales per 32 (spec §2.2: a combinatorial
        // code would need 1 bit/weight of metadata instead of 2.625).
        let c = SdqConfig::default();
        assert_eq!(c.index_bits(), 3);
        assert_eq!(c.bits_per_weight(), 4.0 + 2.625 + 0.5);
        // Nothing pruned, no outliers: plain MXFP4, 4.25 bits.
        let dense = SdqConfig {
            n: 8,
            outliers: 0,
            ..c
        };
        assert_eq!(dense.bits_per_weight(), 4.25);
        // Dense with one FP8 outlier per 8: (8 + 7·4)/8 + 3/8 + 2 scales per 32.
        let dense_o = SdqConfig { n: 8, ..c };
        assert_eq!(dense_o.bits_per_weight(), 4.5 + 0.375 + 0.5);
    }
}
