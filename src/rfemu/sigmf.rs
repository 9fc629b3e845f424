//! SigMF recordings (`name.sigmf-meta` + `name.sigmf-data`), the format GNU Radio,
//! inspectrum and numpy users read: complex samples as `ci16_le` (16-bit I, 16-bit Q) or
//! `cf32_le` (32-bit floats), one channel, with the sample rate and the centre frequency.
//! Reading checks the metadata against the data (type, length) before trusting either.

use crate::error::{bad, Result};
use crate::input;
use num_complex::Complex64;
use std::path::{Path, PathBuf};

/// SigMF specification version written.
pub const VERSION: &str = "1.0.0";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Datatype {
    Ci16,
    Cf32,
}

impl Datatype {
    pub fn name(self) -> &'static str {
        match self {
            Datatype::Ci16 => "ci16_le",
            Datatype::Cf32 => "cf32_le",
        }
    }

    pub fn bytes_per_sample(self) -> usize {
        match self {
            Datatype::Ci16 => 4,
            Datatype::Cf32 => 8,
        }
    }
}

/// A recording: samples at full scale ±1, the sample rate, the centre frequency.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    pub samples: Vec<Complex64>,
    pub sample_rate: f64,
    pub frequency: Option<f64>,
    pub description: String,
    /// plume's own global fields (`plume:…`), declared as an optional extension.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The data file of a recording named by its metadata file (or base name).
pub fn data_path(meta: &Path) -> PathBuf {
    let s = meta.to_string_lossy();
    let base = s.strip_suffix(".sigmf-meta").unwrap_or(&s);
    PathBuf::from(format!("{base}.sigmf-data"))
}

impl Recording {
    /// The metadata JSON and the data bytes, for `datatype` (ci16: scaled by 2^15, saturated).
    pub fn encode(&self, datatype: Datatype) -> (Vec<u8>, Vec<u8>) {
        let mut data = Vec::with_capacity(self.samples.len() * datatype.bytes_per_sample());
        for z in &self.samples {
            match datatype {
                Datatype::Ci16 => {
                    let q = |v: f64| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                    data.extend_from_slice(&q(z.re).to_le_bytes());
                    data.extend_from_slice(&q(z.im).to_le_bytes());
                }
                Datatype::Cf32 => {
                    data.extend_from_slice(&(z.re as f32).to_le_bytes());
                    data.extend_from_slice(&(z.im as f32).to_le_bytes());
                }
            }
        }
        let mut global = serde_json::Map::new();
        global.insert("core:datatype".into(), datatype.name().into());
        global.insert("core:sample_rate".into(), self.sample_rate.into());
        global.insert("core:version".into(), VERSION.into());
        global.insert("core:num_channels".into(), 1.into());
        global.insert("core:description".into(), self.description.clone().into());
        global.insert(
            "core:recorder".into(),
            format!("plume {}", env!("CARGO_PKG_VERSION")).into(),
        );
        if !self.extra.is_empty() {
            global.insert(
                "core:extensions".into(),
                serde_json::json!([{"name": "plume", "version": "1.0.0", "optional": true}]),
            );
            for (k, v) in &self.extra {
                global.insert(k.clone(), v.clone());
            }
        }
        let mut capture = serde_json::Map::new();
        capture.insert("core:sample_start".into(), 0.into());
        if let Some(f) = self.frequency {
            capture.insert("core:frequency".into(), f.into());
        }
        let meta = serde_json::json!({
            "global": global,
            "captures": [capture],
            "annotations": [],
        });
        (serde_json::to_vec_pretty(&meta).unwrap_or_default(), data)
    }

    /// Reads a recording from its `.sigmf-meta` file (the data file beside it).
    pub fn read(meta_path: &Path) -> Result<Recording> {
        let what = "SigMF metadata";
        let text = input::read_text(meta_path, what)?;
        let meta = input::json(&text, &format!("{what} {}", meta_path.display()))?;
        let m = |e: String| bad(format!("{}: {e}", meta_path.display()));
        let global = meta
            .get("global")
            .and_then(|g| g.as_object())
            .ok_or_else(|| m("no \"global\" object".into()))?;
        let dt = global
            .get("core:datatype")
            .and_then(|d| d.as_str())
            .ok_or_else(|| m("no core:datatype".into()))?;
        let datatype = match dt {
            "ci16_le" => Datatype::Ci16,
            "cf32_le" => Datatype::Cf32,
            other => {
                return Err(m(format!(
                    "core:datatype {other:?} is not one plume reads (ci16_le, cf32_le)"
                )))
            }
        };
        let sample_rate = global
            .get("core:sample_rate")
            .and_then(|r| r.as_f64())
            .filter(|r| r.is_finite() && *r > 0.0)
            .ok_or_else(|| m("core:sample_rate is missing or not above zero".into()))?;
        if let Some(n) = global.get("core:num_channels") {
            if n.as_u64() != Some(1) {
                return Err(m(format!(
                    "core:num_channels is {n}; plume reads one channel"
                )));
            }
        }
        let frequency = meta["captures"]
            .as_array()
            .and_then(|c| c.first())
            .and_then(|c| c.get("core:frequency"))
            .and_then(|f| f.as_f64());
        let data_file = data_path(meta_path);
        let data = input::read_file(&data_file, "SigMF data")?;
        let per = datatype.bytes_per_sample();
        if data.len() % per != 0 {
            return Err(bad(format!(
                "{}: {} bytes is not a whole number of {} samples ({per} bytes each)",
                data_file.display(),
                data.len(),
                datatype.name()
            )));
        }
        let samples = data
            .chunks(per)
            .map(|c| match datatype {
                Datatype::Ci16 => Complex64::new(
                    i16::from_le_bytes([c[0], c[1]]) as f64 / 32768.0,
                    i16::from_le_bytes([c[2], c[3]]) as f64 / 32768.0,
                ),
                Datatype::Cf32 => Complex64::new(
                    f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64,
                    f32::from_le_bytes([c[4], c[5], c[6], c[7]]) as f64,
                ),
            })
            .collect();
        Ok(Recording {
            samples,
            sample_rate,
            frequency,
            description: global
                .get("core:description")
                .and_then(|d| d.as_str())
                .unwrap_or("")
                .to_string(),
            extra: global
                .iter()
                .filter(|(k, _)| k.starts_with("plume:"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }
}
