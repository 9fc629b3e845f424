//! Bit-field tables: named fields packed LSB first into one word — a micro-instruction, a
//! descriptor queue entry, a pattern-table entry. One `Fields` value gives both sides: the
//! software encoder (`encode`) and the hardware's decoder and encoder (`slice`, `pack`), so
//! the two cannot drift apart. Names are checked: an unknown field is an error the caller
//! sees (`FieldError`, or a design-rule error from the builder), never a panic.

use crate::rtl::{Bits, ModuleBuilder, Sig};

/// Named fields `(name, width)` in packing order, the first at bit 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fields(pub Vec<(&'static str, u32)>);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("no field {name:?} (fields: {known})")]
    Unknown { name: String, known: String },
    #[error("{name} = {value} does not fit its {width}-bit field")]
    TooWide {
        name: String,
        value: u64,
        width: u32,
    },
}

impl Fields {
    /// Bits of the whole word.
    pub fn width(&self) -> u32 {
        self.0.iter().map(|f| f.1).sum()
    }

    /// `(lsb, width)` of a field.
    pub fn get(&self, name: &str) -> Result<(u32, u32), FieldError> {
        let mut lo = 0;
        for &(n, w) in &self.0 {
            if n == name {
                return Ok((lo, w));
            }
            lo += w;
        }
        Err(FieldError::Unknown {
            name: name.to_string(),
            known: self.names().join(", "),
        })
    }

    fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|f| f.0).collect()
    }

    /// A word with the given fields set (the others zero).
    pub fn encode(&self, values: &[(&str, u64)]) -> Result<Bits, FieldError> {
        let mut out = Bits::zero(self.width());
        for &(name, v) in values {
            let (lo, w) = self.get(name)?;
            if w < 64 && v >> w != 0 {
                return Err(FieldError::TooWide {
                    name: name.to_string(),
                    value: v,
                    width: w,
                });
            }
            out.set_slice(lo, &Bits::from_u64(w, v));
        }
        Ok(out)
    }

    /// The field `name` of `word`, in hardware. An unknown name is reported by `finish`.
    pub fn slice(&self, b: &mut ModuleBuilder, word: Sig, name: &str) -> Sig {
        match self.get(name) {
            Ok((lo, w)) => b.slice(word, lo + w - 1, lo),
            Err(e) => b.misuse(1, e.to_string()),
        }
    }

    /// The word made of `parts`, in hardware: every field exactly once, in any order, each
    /// signal as wide as its field. A missing, unknown or mis-sized field is reported by
    /// `finish`.
    pub fn pack(&self, b: &mut ModuleBuilder, parts: &[(&str, Sig)]) -> Sig {
        let mut msb_first = Vec::with_capacity(self.0.len());
        for &(name, w) in self.0.iter().rev() {
            let found: Vec<&Sig> = parts
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, s)| s)
                .collect();
            match found.as_slice() {
                [s] if s.width == w => msb_first.push(**s),
                [s] => {
                    let msg = format!("field {name} is {w} bits, given {} bits", s.width);
                    msb_first.push(b.misuse(w, msg));
                }
                [] => msb_first.push(b.misuse(w, format!("field {name} is not given"))),
                _ => msb_first.push(b.misuse(w, format!("field {name} is given twice"))),
            }
        }
        for (n, _) in parts {
            if self.get(n).is_err() {
                let msg = format!("no field {n:?} (fields: {})", self.names().join(", "));
                b.misuse(1, msg);
            }
        }
        b.cat(&msb_first)
    }

    /// The layout as JSON (`field`, `lsb`, `width` per field), for manifests.
    pub fn to_json(&self) -> serde_json::Value {
        let mut lo = 0;
        self.0
            .iter()
            .map(|&(n, w)| {
                let v = serde_json::json!({"field": n, "lsb": lo, "width": w});
                lo += w;
                v
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Fields {
        Fields(vec![("valid", 1), ("start", 8), ("count", 4)])
    }

    #[test]
    fn fields_pack_lsb_first_and_refuse_what_does_not_fit() {
        let f = table();
        assert_eq!(f.width(), 13);
        assert_eq!(f.get("count").unwrap(), (9, 4));
        let w = f.encode(&[("valid", 1), ("count", 5)]).unwrap();
        assert_eq!(w.to_u64(), 1 | 5 << 9);
        assert_eq!(
            f.encode(&[("count", 16)]).unwrap_err().to_string(),
            "count = 16 does not fit its 4-bit field"
        );
        assert_eq!(
            f.get("stop").unwrap_err().to_string(),
            "no field \"stop\" (fields: valid, start, count)"
        );
    }

    #[test]
    fn a_misnamed_field_in_hardware_is_a_design_rule_error_not_a_panic() {
        let f = table();
        let mut b = ModuleBuilder::new("t");
        let word = b.input("w", 13);
        let s = f.slice(&mut b, word, "stat");
        b.output("o", s);
        let e = b.finish().unwrap_err().to_string();
        assert!(
            e.contains("no field \"stat\" (fields: valid, start, count)"),
            "{e}"
        );

        let mut b = ModuleBuilder::new("t");
        let v = b.input("v", 1);
        let c = b.input("c", 3);
        let w = f.pack(&mut b, &[("valid", v), ("count", c)]);
        b.output("o", w);
        let e = b.finish().unwrap_err().to_string();
        assert!(e.contains("field start is not given"), "{e}");
        assert!(e.contains("field count is 4 bits, given 3 bits"), "{e}");
    }
}
