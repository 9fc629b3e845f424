//! SDQ's number formats, bit-exact (spec sdq.md §3): FP8 E4M3 (no infinities, one NaN per
//! sign), FP8 E5M2 (IEEE-style infinities and NaNs), FP4 E2M1 (finite only), the E8M0 power-of-
//! two scale of MX blocks, and INT8/INT4.
//!
//! A float format is described by its fields; its code points are decoded from that
//! description, and quantizing a value chooses among the decoded code points — the nearest, ties
//! to the code with an even significand — so the rounding never depends on bit tricks that
//! could disagree with the decoding. Out-of-range values follow one of two policies:
//! `Overflow::Ieee` (what a cast does: E4M3 and E8M0 give NaN, E5M2 ±∞, E2M1 saturates — as
//! `ml_dtypes` casts) or `Overflow::Saturate` (MX quantization: the largest finite magnitude).

use serde::{Deserialize, Serialize};

/// An element or scale format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Format {
    E4M3,
    E5M2,
    E2M1,
    /// Unsigned power of two, 2^(e − 127); 0xFF is NaN.
    E8M0,
    /// Two's complement, symmetric range ±127.
    Int8,
    /// Two's complement, symmetric range ±7.
    Int4,
}

/// How a value between two representable ones is rounded (microxcaling's modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rounding {
    /// To nearest, ties to the even significand (IEEE; E8M0 ties up).
    Even,
    /// To nearest, ties away from zero (microxcaling's 'nearest').
    Away,
    /// Toward zero: the magnitude truncated (microxcaling's 'floor').
    Floor,
}

/// What a value beyond the largest finite magnitude becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// As a cast: NaN (E4M3, E8M0), ±∞ (E5M2), saturation (E2M1, integers: nothing else exists).
    Ieee,
    /// The largest finite magnitude of the right sign.
    Saturate,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("unknown number format {0:?} (e4m3, e5m2, e2m1, e8m0, int8, int4)")]
    Unknown(String),
}

impl std::str::FromStr for Format {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Format, FormatError> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "e4m3" | "fp8" | "fp8_e4m3" => Format::E4M3,
            "e5m2" | "fp8_e5m2" => Format::E5M2,
            "e2m1" | "fp4" | "fp4_e2m1" => Format::E2M1,
            "e8m0" => Format::E8M0,
            "int8" => Format::Int8,
            "int4" => Format::Int4,
            _ => return Err(FormatError::Unknown(s.to_string())),
        })
    }
}

/// The fields of a float format.
#[derive(Clone, Copy, Debug)]
struct Fields {
    ebits: u32,
    mbits: u32,
    bias: i32,
    signed: bool,
    /// All-ones exponent means ∞ (mantissa 0) or NaN, as IEEE.
    ieee_special: bool,
    /// The all-ones code (sign aside) is NaN (E4M3's S.1111.111, E8M0's 0xFF).
    nan_all_ones: bool,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::E4M3,
        Format::E5M2,
        Format::E2M1,
        Format::E8M0,
        Format::Int8,
        Format::Int4,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::E4M3 => "e4m3",
            Format::E5M2 => "e5m2",
            Format::E2M1 => "e2m1",
            Format::E8M0 => "e8m0",
            Format::Int8 => "int8",
            Format::Int4 => "int4",
        }
    }

    /// Bits of a code.
    pub fn bits(self) -> u32 {
        match self {
            Format::E4M3 | Format::E5M2 | Format::E8M0 | Format::Int8 => 8,
            Format::E2M1 | Format::Int4 => 4,
        }
    }

    fn fields(self) -> Option<Fields> {
        let f = |ebits, mbits, bias, signed, ieee_special, nan_all_ones| Fields {
            ebits,
            mbits,
            bias,
            signed,
            ieee_special,
            nan_all_ones,
        };
        match self {
            Format::E4M3 => Some(f(4, 3, 7, true, false, true)),
            Format::E5M2 => Some(f(5, 2, 15, true, true, false)),
            Format::E2M1 => Some(f(2, 1, 1, true, false, false)),
            Format::E8M0 => Some(f(8, 0, 127, false, false, true)),
            Format::Int8 | Format::Int4 => None,
        }
    }

    /// The value of `code` (NaN for NaN codes).
    pub fn decode(self, code: u32) -> f64 {
        let code = code & ((1 << self.bits()) - 1);
        let Some(f) = self.fields() else {
            // Two's complement; the most negative code is unused (symmetric range) and reads
            // as its two's complement value.
            let b = self.bits();
            let v = if code >> (b - 1) == 1 {
                code as i64 - (1 << b)
            } else {
                code as i64
            };
            return v as f64;
        };
        let sign_bit = f.ebits + f.mbits;
        let neg = f.signed && (code >> sign_bit) & 1 == 1;
        let mag = code & ((1 << sign_bit) - 1);
        let e = mag >> f.mbits;
        let m = mag & ((1 << f.mbits) - 1);
        let emax_code = (1 << f.ebits) - 1;
        if f.nan_all_ones && mag == (1 << sign_bit) - 1 {
            return f64::NAN;
        }
        if f.ieee_special && e == emax_code {
            return if m == 0 {
                if neg {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            } else {
                f64::NAN
            };
        }
        let v = if f.mbits == 0 {
            // E8M0: no implicit-bit logic, every exponent is a power of two.
            (2f64).powi(e as i32 - f.bias)
        } else if e == 0 {
            (m as f64) * (2f64).powi(1 - f.bias - f.mbits as i32)
        } else {
            (1.0 + m as f64 / (1 << f.mbits) as f64) * (2f64).powi(e as i32 - f.bias)
        };
        if neg {
            -v
        } else {
            v
        }
    }

    /// The largest finite magnitude.
    pub fn max_finite(self) -> f64 {
        self.finite_codes()
            .iter()
            .map(|&(v, _)| v.abs())
            .fold(0.0, f64::max)
    }

    /// `finite_codes`, computed once per format.
    pub fn table(self) -> &'static [(f64, u32)] {
        use std::sync::OnceLock;
        static TABLES: [OnceLock<Vec<(f64, u32)>>; 6] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        let i = Format::ALL.iter().position(|&f| f == self).expect("listed");
        TABLES[i].get_or_init(|| self.finite_codes())
    }

    /// Every finite code point as (value, code), ascending by value (−0 and +0 both listed).
    pub fn finite_codes(self) -> Vec<(f64, u32)> {
        let mut v: Vec<(f64, u32)> = (0..1u32 << self.bits())
            .filter(|&c| !(self.fields().is_none() && c == 1 << (self.bits() - 1)))
            .map(|c| (self.decode(c), c))
            .filter(|(x, _)| x.is_finite())
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v
    }

    /// The code of `x` rounded to the nearest representable value, ties to the even code
    /// (significand LSB 0; for integers, the even integer). Zero keeps its sign where the
    /// format has one.
    pub fn encode(self, x: f64, overflow: Overflow) -> u32 {
        let table = self.table();
        self.encode_with(table, x, overflow)
    }

    /// `encode` with the table of `finite_codes` computed once.
    pub fn encode_with(self, table: &[(f64, u32)], x: f64, overflow: Overflow) -> u32 {
        self.encode_rounded(table, x, overflow, Rounding::Even)
    }

    /// `encode_with` under one of the MX rounding modes.
    pub fn encode_rounded(
        self,
        table: &[(f64, u32)],
        x: f64,
        overflow: Overflow,
        rounding: Rounding,
    ) -> u32 {
        let b = self.bits();
        let sign_code = 1u32 << (b - 1);
        let fields = self.fields();
        let signed = fields.is_none_or(|f| f.signed);
        let nan = || -> u32 {
            match self {
                Format::E4M3 => 0x7f,
                Format::E5M2 => 0x7e,
                Format::E8M0 => 0xff,
                // Formats without NaN: zero.
                _ => 0,
            }
        };
        if x.is_nan() {
            return nan();
        }
        let max = table.last().map_or(0.0, |t| t.0);
        let min = table.first().map_or(0.0, |t| t.0);
        // Beyond the largest finite value: the halfway point to the next power-of-two step
        // decides, as RNE would with an unbounded exponent.
        let over = |neg: bool| -> u32 {
            match (overflow, self) {
                (Overflow::Ieee, Format::E4M3) => nan() | if neg { 0x80 } else { 0 },
                (Overflow::Ieee, Format::E8M0) => nan(),
                (Overflow::Ieee, Format::E5M2) => {
                    if neg {
                        0xfc
                    } else {
                        0x7c
                    }
                }
                _ => {
                    let t = if neg {
                        table[0]
                    } else {
                        table[table.len() - 1]
                    };
                    t.1
                }
            }
        };
        if !signed && x <= 0.0 {
            // E8M0 has neither sign nor zero: zero and negative values are NaN as a cast,
            // the smallest power when saturating.
            return match overflow {
                Overflow::Ieee => nan(),
                Overflow::Saturate => table[0].1,
            };
        }
        if !signed && x < min {
            // Below the smallest power: nothing smaller to round to.
            return table[0].1;
        }
        if x.is_infinite() {
            return over(x < 0.0);
        }
        if x > max || x < min {
            let neg = x < 0.0;
            let mag = x.abs();
            let top = if neg { -min } else { max };
            // The overflow threshold: halfway between the top value and the next value the
            // format would have with one more exponent (the top's ulp step).
            let ulp = self.top_ulp();
            let limit = top + ulp / 2.0;
            let top_even = self.significand_even(if neg {
                table[0].1
            } else {
                table[table.len() - 1].1
            });
            let stays = match rounding {
                Rounding::Even => mag < limit || (mag == limit && top_even),
                Rounding::Away => mag < limit,
                Rounding::Floor => true,
            };
            if stays {
                return if neg {
                    table[0].1
                } else {
                    table[table.len() - 1].1
                };
            }
            return over(neg);
        }
        // Binary search for the neighbours.
        let i = table.partition_point(|t| t.0 < x);
        if i < table.len() && table[i].0 == x {
            // Exact: keep the sign of zero.
            if x == 0.0 && signed {
                let neg_zero = x.is_sign_negative();
                return if neg_zero && fields.is_some() {
                    sign_code
                } else {
                    0
                };
            }
            return table[i].1;
        }
        let (lo, hi) = (table[i - 1], table[i]);
        let (dl, dh) = (x - lo.0, hi.0 - x);
        // The neighbour nearer zero and the one farther from it.
        let (inner, outer) = if x > 0.0 { (lo, hi) } else { (hi, lo) };
        let pick = match rounding {
            Rounding::Floor => inner,
            _ if dl < dh => lo,
            _ if dh < dl => hi,
            Rounding::Away => outer,
            Rounding::Even if self.significand_even(lo.1) => lo,
            Rounding::Even => hi,
        };
        // A value rounding to zero keeps its sign.
        if pick.0 == 0.0 && signed && fields.is_some() {
            return if x < 0.0 { sign_code } else { 0 };
        }
        if pick.0 == 0.0 {
            return 0;
        }
        pick.1
    }

    /// The distance from the largest finite magnitude to the next value the format would
    /// reach with its exponent continued.
    fn top_ulp(self) -> f64 {
        match self.fields() {
            None => 1.0,
            Some(f) if f.mbits == 0 => self.max_finite(),
            Some(f) => {
                let max = self.max_finite();
                let e = max.log2().floor() as i32;
                (2f64).powi(e - f.mbits as i32)
            }
        }
    }

    /// Whether `code`'s significand is even (the tie-breaking rule).
    fn significand_even(self, code: u32) -> bool {
        match self.fields() {
            None => {
                let v = self.decode(code) as i64;
                v % 2 == 0
            }
            // No significand bits: the kept significand 1 is odd, the rounded-up 10 even, so
            // ties always go up.
            Some(f) if f.mbits == 0 => {
                let _ = code;
                false
            }
            Some(_) => code & 1 == 0,
        }
    }

    /// `x` quantized: the value of its code.
    pub fn quantize(self, x: f64, overflow: Overflow) -> f64 {
        self.decode(self.encode(x, overflow))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_formats_have_the_published_ranges() {
        assert_eq!(Format::E4M3.max_finite(), 448.0);
        assert_eq!(Format::E5M2.max_finite(), 57344.0);
        assert_eq!(Format::E2M1.max_finite(), 6.0);
        assert_eq!(Format::Int8.max_finite(), 127.0);
        assert_eq!(Format::Int4.max_finite(), 7.0);
        assert_eq!(Format::E8M0.max_finite(), (2f64).powi(127));
        let e2m1: Vec<f64> = Format::E2M1
            .finite_codes()
            .iter()
            .map(|t| t.0)
            .filter(|&v| v >= 0.0)
            .collect();
        assert_eq!(e2m1, [0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]);
        // Smallest subnormals.
        assert_eq!(Format::E4M3.decode(1), (2f64).powi(-9));
        assert_eq!(Format::E5M2.decode(1), (2f64).powi(-16));
        assert!(Format::E4M3.decode(0x7f).is_nan() && Format::E4M3.decode(0xff).is_nan());
        assert_eq!(Format::E4M3.decode(0x7e), 448.0);
        assert_eq!(Format::E5M2.decode(0x7c), f64::INFINITY);
        assert_eq!(Format::E8M0.decode(127), 1.0);
        assert!(Format::E8M0.decode(255).is_nan());
    }

    #[test]
    fn the_mx_rounding_modes_round_ties_and_truncate_as_named() {
        let t = Format::E2M1.finite_codes();
        let q = |x: f64, r: Rounding| {
            Format::E2M1.decode(Format::E2M1.encode_rounded(&t, x, Overflow::Saturate, r))
        };
        // 2.5 lies between 2 and 3; 5 between 4 and 6; 2.9 is nearer 3.
        assert_eq!(
            [
                q(2.5, Rounding::Even),
                q(2.5, Rounding::Away),
                q(2.5, Rounding::Floor)
            ],
            [2.0, 3.0, 2.0]
        );
        assert_eq!(
            [
                q(-2.5, Rounding::Even),
                q(-2.5, Rounding::Away),
                q(-2.5, Rounding::Floor)
            ],
            [-2.0, -3.0, -2.0]
        );
        assert_eq!(
            [
                q(5.0, Rounding::Even),
                q(5.0, Rounding::Away),
                q(2.9, Rounding::Floor)
            ],
            [4.0, 6.0, 2.0]
        );
        assert_eq!(q(2.9, Rounding::Away), 3.0);
        // Beyond the top: truncation stays at the largest value; a tie at the top rounds away.
        let e = Format::E4M3.finite_codes();
        let r = |x: f64, m: Rounding| {
            Format::E4M3.decode(Format::E4M3.encode_rounded(&e, x, Overflow::Ieee, m))
        };
        assert_eq!(r(470.0, Rounding::Floor), 448.0);
        assert_eq!(r(464.0, Rounding::Even), 448.0);
        assert!(r(464.0, Rounding::Away).is_nan());
    }

    #[test]
    fn ties_go_to_the_even_significand_and_overflow_follows_the_policy() {
        // 0.25 lies halfway between E2M1's 0 and 0.5: to 0. 2.5 between 2 and 3: to 2.
        assert_eq!(Format::E2M1.quantize(0.25, Overflow::Ieee), 0.0);
        assert_eq!(Format::E2M1.quantize(2.5, Overflow::Ieee), 2.0);
        assert_eq!(Format::E2M1.quantize(5.0, Overflow::Ieee), 4.0);
        assert_eq!(Format::E2M1.quantize(1000.0, Overflow::Ieee), 6.0);
        assert!(Format::E4M3.quantize(1000.0, Overflow::Ieee).is_nan());
        assert_eq!(Format::E4M3.quantize(1000.0, Overflow::Saturate), 448.0);
        assert_eq!(Format::E4M3.quantize(460.0, Overflow::Ieee), 448.0);
        assert_eq!(Format::E5M2.quantize(1e9, Overflow::Ieee), f64::INFINITY);
        assert_eq!(Format::E8M0.quantize(6.0, Overflow::Ieee), 8.0);
        assert_eq!(Format::E8M0.quantize(5.0, Overflow::Ieee), 4.0);
        // E8M0 ties go up (no significand bits to be even): 12 → 16, and the top tie overflows.
        assert_eq!(Format::E8M0.quantize(12.0, Overflow::Ieee), 16.0);
        assert!(Format::E8M0
            .quantize(1.5 * (2f64).powi(127), Overflow::Ieee)
            .is_nan());
        assert!(Format::E8M0.quantize(0.0, Overflow::Ieee).is_nan());
        assert_eq!(Format::Int4.quantize(2.5, Overflow::Ieee), 2.0);
        assert_eq!(Format::Int4.quantize(-9.0, Overflow::Ieee), -7.0);
        assert_eq!("FP4".parse::<Format>(), Ok(Format::E2M1));
        assert_eq!(
            "fp5".parse::<Format>().unwrap_err().to_string(),
            "unknown number format \"fp5\" (e4m3, e5m2, e2m1, e8m0, int8, int4)"
        );
    }
}
