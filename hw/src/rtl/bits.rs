//! Fixed-width bit-vector values: constants in the IR, values poked into and peeked out of a
//! simulation, and the reference arithmetic that tests compare against.
//!
//! A value is a width (1 … any) and little-endian 64-bit words; bits above the width are always
//! zero. Signedness is not part of the value: it belongs to the signal that carries it.

use std::fmt;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Bits {
    width: u32,
    words: Vec<u64>,
}

/// Number of 64-bit words holding `width` bits.
pub fn words_for(width: u32) -> usize {
    (width as usize).div_ceil(64)
}

/// Mask of the valid bits in the top word of a `width`-bit value.
pub fn top_mask(width: u32) -> u64 {
    match width % 64 {
        0 => u64::MAX,
        r => (1u64 << r) - 1,
    }
}

impl Bits {
    pub fn zero(width: u32) -> Bits {
        assert!(width > 0, "zero-width value");
        Bits {
            width,
            words: vec![0; words_for(width)],
        }
    }

    /// `value` truncated to `width` bits.
    pub fn from_u64(width: u32, value: u64) -> Bits {
        let mut b = Bits::zero(width);
        b.words[0] = value;
        b.normalize();
        b
    }

    /// `value` two's-complement encoded in `width` bits (sign-extended when wider than 64).
    pub fn from_i64(width: u32, value: i64) -> Bits {
        let mut b = Bits::zero(width);
        let fill = if value < 0 { u64::MAX } else { 0 };
        b.words.iter_mut().for_each(|w| *w = fill);
        b.words[0] = value as u64;
        b.normalize();
        b
    }

    /// Little-endian words; bits beyond `width` are dropped.
    pub fn from_words(width: u32, words: &[u64]) -> Bits {
        let mut b = Bits::zero(width);
        for (dst, src) in b.words.iter_mut().zip(words) {
            *dst = *src;
        }
        b.normalize();
        b
    }

    /// Parses hexadecimal digits (optional `0x`, `_` separators allowed). Fails if the number
    /// needs more than `width` bits.
    pub fn from_hex(width: u32, text: &str) -> Result<Bits, String> {
        let digits: String = text
            .trim()
            .trim_start_matches("0x")
            .chars()
            .filter(|c| *c != '_')
            .collect();
        if digits.is_empty() {
            return Err(format!("'{text}' is not a hexadecimal number"));
        }
        let mut b = Bits::zero(width.max(1));
        let mut bit = 0usize;
        for c in digits.chars().rev() {
            let d = c
                .to_digit(16)
                .ok_or_else(|| format!("'{text}' is not a hexadecimal number"))?
                as u64;
            if d != 0 {
                if bit + (64 - d.leading_zeros() as usize) > width as usize {
                    return Err(format!("0x{digits} does not fit in {width} bits"));
                }
                b.words[bit / 64] |= d << (bit % 64);
                if bit % 64 > 60 && bit / 64 + 1 < b.words.len() {
                    b.words[bit / 64 + 1] |= d >> (64 - bit % 64);
                }
            }
            bit += 4;
        }
        Ok(b)
    }

    /// Parses a decimal number (any size) into `width` bits; fails if it does not fit.
    pub fn from_dec(width: u32, text: &str) -> Result<Bits, String> {
        let t = text.trim();
        if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!("'{text}' is not an unsigned decimal number"));
        }
        let mut b = Bits::zero(width);
        for c in t.bytes() {
            // b = b * 10 + digit, watching for overflow past `width`.
            let mut carry = (c - b'0') as u128;
            for w in b.words.iter_mut() {
                let v = (*w as u128) * 10 + carry;
                *w = v as u64;
                carry = v >> 64;
            }
            if carry != 0 || b.words[b.words.len() - 1] & !top_mask(width) != 0 {
                return Err(format!("{t} does not fit in {width} bits"));
            }
        }
        Ok(b)
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// The low 64 bits.
    pub fn to_u64(&self) -> u64 {
        self.words[0]
    }

    /// The value read as a two's-complement number of `width` bits (widths ≤ 64).
    pub fn to_i64(&self) -> i64 {
        assert!(self.width <= 64, "to_i64 of a {}-bit value", self.width);
        let shift = 64 - self.width;
        ((self.words[0] << shift) as i64) >> shift
    }

    pub fn bit(&self, i: u32) -> bool {
        assert!(i < self.width);
        (self.words[i as usize / 64] >> (i % 64)) & 1 == 1
    }

    pub fn set_bit(&mut self, i: u32, v: bool) {
        assert!(i < self.width);
        let (w, b) = (i as usize / 64, i % 64);
        self.words[w] = (self.words[w] & !(1 << b)) | ((v as u64) << b);
    }

    /// Bits `[lo + width - 1 : lo]`.
    pub fn slice(&self, lo: u32, width: u32) -> Bits {
        assert!(
            lo + width <= self.width,
            "slice [{}:{}] of a {}-bit value",
            lo + width - 1,
            lo,
            self.width
        );
        let mut out = Bits::zero(width);
        for i in 0..words_for(width) {
            out.words[i] = self.get_u64_at(lo + 64 * i as u32);
        }
        out.normalize();
        out
    }

    /// 64 bits starting at bit `lo` (bits past the width read as zero).
    pub fn get_u64_at(&self, lo: u32) -> u64 {
        let (w, b) = (lo as usize / 64, lo % 64);
        let low = self.words.get(w).copied().unwrap_or(0) >> b;
        let high = if b == 0 {
            0
        } else {
            self.words.get(w + 1).copied().unwrap_or(0) << (64 - b)
        };
        low | high
    }

    /// Writes `value` (its whole width) at bit `lo`.
    pub fn set_slice(&mut self, lo: u32, value: &Bits) {
        assert!(lo + value.width <= self.width);
        for i in 0..value.width {
            self.set_bit(lo + i, value.bit(i));
        }
    }

    /// Concatenation, most significant part first (as Verilog `{a, b}`).
    pub fn concat(parts: &[Bits]) -> Bits {
        let width = parts.iter().map(|p| p.width).sum();
        let mut out = Bits::zero(width);
        let mut lo = width;
        for p in parts {
            lo -= p.width;
            out.set_slice(lo, p);
        }
        out
    }

    pub fn is_zero(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// Lowercase hexadecimal, exactly ceil(width/4) digits.
    pub fn to_hex(&self) -> String {
        let digits = (self.width as usize).div_ceil(4);
        let mut s = String::with_capacity(digits);
        for d in (0..digits).rev() {
            let v = (self.get_u64_at(d as u32 * 4) & 0xf) as u32;
            s.push(char::from_digit(v, 16).unwrap());
        }
        s
    }

    /// Binary digits, most significant first (VCD and Verilog constants).
    pub fn to_bin(&self) -> String {
        (0..self.width)
            .rev()
            .map(|i| if self.bit(i) { '1' } else { '0' })
            .collect()
    }

    /// Unsigned decimal.
    pub fn to_dec(&self) -> String {
        let mut words = self.words.clone();
        let mut digits = Vec::new();
        loop {
            let mut rem = 0u128;
            for w in words.iter_mut().rev() {
                let cur = (rem << 64) | *w as u128;
                *w = (cur / 10) as u64;
                rem = cur % 10;
            }
            digits.push(b'0' + rem as u8);
            if words.iter().all(|w| *w == 0) {
                break;
            }
        }
        digits.reverse();
        String::from_utf8(digits).unwrap()
    }

    fn normalize(&mut self) {
        let n = self.words.len();
        self.words[n - 1] &= top_mask(self.width);
    }
}

impl fmt::Debug for Bits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}'h{}", self.width, self.to_hex())
    }
}

impl fmt::Display for Bits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}'h{}", self.width, self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_wide() {
        let h = "1".to_string() + &"0123456789abcdef".repeat(12);
        let b = Bits::from_hex(769, &h).unwrap();
        assert_eq!(b.to_hex(), "1".to_string() + &"0123456789abcdef".repeat(12));
        assert!(Bits::from_hex(768, &h)
            .unwrap_err()
            .contains("does not fit in 768 bits"));
    }

    #[test]
    fn decimal_round_trip_and_overflow() {
        let b = Bits::from_dec(128, "340282366920938463463374607431768211455").unwrap();
        assert_eq!(b.to_hex(), "f".repeat(32));
        assert_eq!(b.to_dec(), "340282366920938463463374607431768211455");
        assert!(Bits::from_dec(8, "256").is_err());
        assert_eq!(Bits::from_dec(8, "255").unwrap().to_u64(), 255);
        assert!(Bits::from_dec(8, "-1").is_err());
    }

    #[test]
    fn slices_across_words() {
        let b = Bits::from_words(130, &[0xffff_0000_0000_0000, 0x0000_0000_0000_abcd, 0x3]);
        assert_eq!(b.slice(48, 32).to_u64(), 0xabcd_ffff);
        assert_eq!(b.slice(128, 2).to_u64(), 3);
        let c = Bits::concat(&[Bits::from_u64(4, 0xa), Bits::from_u64(8, 0x5b)]);
        assert_eq!(c.to_hex(), "a5b");
        assert_eq!(Bits::from_i64(70, -2).to_hex(), "3ffffffffffffffffe");
        assert_eq!(Bits::from_u64(12, 0xfff).to_i64(), -1);
    }
}
