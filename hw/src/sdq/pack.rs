//! The packed storage of a decomposed matrix — what the datapath reads — and its exact size.
//!
//! Two streams, least significant bit first:
//! * **weights**, row after row, group after group: the outliers' positions in the group
//!   (⌈log2 M⌉ bits each, ascending) then their element codes; the inliers' positions (omitted
//!   when nothing is pruned: they are the non-outlier positions in order) then their codes;
//! * **scales**, row after row, block after block: the outlier part's E8M0 code (when the
//!   format has outliers), then the inlier part's (when it has inliers).

use super::decompose::{Decomposed, SdqConfig, SdqError};
use super::formats::Format;
use super::mx;

/// Bits appended least significant first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BitWriter {
    pub bytes: Vec<u8>,
    pub bits: u64,
}

impl BitWriter {
    pub fn put(&mut self, value: u32, width: u32) {
        for i in 0..width {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let bit = (value >> i) & 1;
            *self.bytes.last_mut().expect("pushed") |= (bit as u8) << (self.bits % 8);
            self.bits += 1;
        }
    }
}

/// Reads what a `BitWriter` wrote.
pub struct BitReader<'a> {
    bytes: &'a [u8],
    at: u64,
}

impl<'a> BitReader<'a> {
    pub fn new(bytes: &'a [u8]) -> BitReader<'a> {
        BitReader { bytes, at: 0 }
    }

    /// `width` bits, or None past the end.
    pub fn get(&mut self, width: u32) -> Option<u32> {
        let mut v = 0;
        for i in 0..width {
            let byte = *self.bytes.get((self.at / 8) as usize)?;
            v |= (((byte >> (self.at % 8)) & 1) as u32) << i;
            self.at += 1;
        }
        Some(v)
    }
}

/// A packed matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packed {
    pub rows: usize,
    pub cols: usize,
    pub weights: BitWriter,
    pub scales: BitWriter,
}

impl Packed {
    /// Bits per weight actually stored.
    pub fn bits_per_weight(&self) -> f64 {
        (self.weights.bits + self.scales.bits) as f64 / (self.rows * self.cols) as f64
    }
}

fn parts(cfg: &SdqConfig) -> (bool, bool) {
    (cfg.outliers > 0, cfg.n > cfg.outliers)
}

/// Packs `d`, decomposed with `cfg`.
pub fn pack(cfg: &SdqConfig, d: &Decomposed) -> Packed {
    let (m, ib) = (cfg.m as usize, cfg.index_bits());
    let block = cfg.block as usize;
    let per_row = d.cols.div_ceil(block);
    let code =
        |blocks: &[mx::Block], r: usize, c: usize| blocks[r * per_row + c / block].codes[c % block];
    let mut w = BitWriter::default();
    for r in 0..d.rows {
        for g in (0..d.cols).step_by(m) {
            let at = |k: usize| r * d.cols + g + k;
            let outs: Vec<usize> = (0..m).filter(|&k| d.role[at(k)] == 2).collect();
            let ins: Vec<usize> = (0..m).filter(|&k| d.role[at(k)] == 1).collect();
            if cfg.outliers < cfg.m {
                for &k in &outs {
                    w.put(k as u32, ib);
                }
            }
            for &k in &outs {
                w.put(code(&d.outlier_blocks, r, g + k), cfg.outlier_format.bits());
            }
            if cfg.n < cfg.m {
                for &k in &ins {
                    w.put(k as u32, ib);
                }
            }
            for &k in &ins {
                w.put(code(&d.inlier_blocks, r, g + k), cfg.inlier_format.bits());
            }
        }
    }
    let (has_o, has_i) = parts(cfg);
    let mut s = BitWriter::default();
    for b in 0..d.rows * per_row {
        if has_o {
            s.put(d.outlier_blocks[b].scale_code(), 8);
        }
        if has_i {
            s.put(d.inlier_blocks[b].scale_code(), 8);
        }
    }
    Packed {
        rows: d.rows,
        cols: d.cols,
        weights: w,
        scales: s,
    }
}

/// `count` positions of `bits` bits in a group of `m`, none repeated nor in `taken`.
fn positions(
    wr: &mut BitReader,
    count: u32,
    bits: u32,
    m: usize,
    taken: &[usize],
    (r, g): (usize, usize),
) -> Result<Vec<usize>, String> {
    let mut v: Vec<usize> = Vec::new();
    for _ in 0..count {
        let k = wr
            .get(bits)
            .ok_or_else(|| "the packed weights end early".to_string())? as usize;
        if k >= m || v.contains(&k) || taken.contains(&k) {
            return Err(format!(
                "row {r}, column {g}: position {k} is outside the group or repeated"
            ));
        }
        v.push(k);
    }
    Ok(v)
}

/// What a packed matrix stands for: each weight's role (0 pruned, 1 inlier, 2 outlier) and
/// the outlier and inlier parts' values.
#[derive(Clone, Debug, PartialEq)]
pub struct Unpacked {
    pub role: Vec<u8>,
    pub outliers: Vec<f64>,
    pub inliers: Vec<f64>,
}

/// Reads a packed matrix back; a stream too short, a position out of the group or repeated,
/// or an E8M0 NaN scale is refused.
pub fn unpack(cfg: &SdqConfig, p: &Packed) -> Result<Unpacked, String> {
    cfg.validate().map_err(|e: SdqError| e.to_string())?;
    let (m, ib) = (cfg.m as usize, cfg.index_bits());
    let block = cfg.block as usize;
    let per_row = p.cols.div_ceil(block);
    let n = p.rows * p.cols;
    let short = || "the packed weights end early".to_string();
    let (has_o, has_i) = parts(cfg);
    let mut sr = BitReader::new(&p.scales.bytes);
    let mut scale_o = vec![0i32; p.rows * per_row];
    let mut scale_i = vec![0i32; p.rows * per_row];
    for b in 0..p.rows * per_row {
        for (has, v) in [(has_o, &mut scale_o), (has_i, &mut scale_i)] {
            if has {
                let c = sr.get(8).ok_or("the packed scales end early")?;
                if c == 0xff {
                    return Err(format!("scale {b} is the E8M0 NaN code"));
                }
                v[b] = c as i32 - 127;
            }
        }
    }
    let mut role = vec![0u8; n];
    let mut outliers = vec![0.0; n];
    let mut inliers = vec![0.0; n];
    let mut wr = BitReader::new(&p.weights.bytes);
    let value = |f: Format, c: u32, e: i32| f.decode(c) * (2f64).powi(e);
    for r in 0..p.rows {
        for g in (0..p.cols).step_by(m) {
            let at = |k: usize| r * p.cols + g + k;
            let scale_of = |v: &[i32], k: usize| v[r * per_row + (g + k) / block];
            // Every weight an outlier: the positions are implicit.
            let outs = if cfg.outliers < cfg.m {
                positions(&mut wr, cfg.outliers, ib, m, &[], (r, g))?
            } else {
                (0..m).collect()
            };
            let mut out_codes = Vec::new();
            for _ in &outs {
                out_codes.push(wr.get(cfg.outlier_format.bits()).ok_or_else(short)?);
            }
            let ins: Vec<usize> = if cfg.n < cfg.m {
                positions(&mut wr, cfg.n - cfg.outliers, ib, m, &outs, (r, g))?
            } else {
                (0..m).filter(|k| !outs.contains(k)).collect()
            };
            for (&k, &c) in outs.iter().zip(&out_codes) {
                role[at(k)] = 2;
                outliers[at(k)] = value(cfg.outlier_format, c, scale_of(&scale_o, k));
            }
            for &k in &ins {
                let c = wr.get(cfg.inlier_format.bits()).ok_or_else(short)?;
                role[at(k)] = 1;
                inliers[at(k)] = value(cfg.inlier_format, c, scale_of(&scale_i, k));
            }
        }
    }
    Ok(Unpacked {
        role,
        outliers,
        inliers,
    })
}
