//! A layer's operands and results as files: NumPy `.npy` arrays (int8, uint8, int32) and JSON,
//! for `plume feather run --data` (read) and `--out` (write).
//!
//! Operands are 8-bit: a `.npy` operand of dtype int8 makes that operand signed for the layer,
//! uint8 unsigned. Results: the output tensor as simulated (int8 or uint8 by the layer's output
//! format) and the golden model's 32-bit accumulators before requantisation (int32).

use crate::error::{bad, Result};
use npyz::WriterBuilder;
use std::path::Path;

/// An 8-bit operand read from a `.npy` file: its bytes (two's complement where signed) and
/// whether its dtype is signed.
pub struct Operand {
    pub bytes: Vec<u8>,
    pub signed: bool,
}

/// Reads `path`, an array of exactly `shape` (C order) of dtype uint8 or int8; `what` names it
/// in messages.
pub fn read_operand(path: &Path, shape: &[usize], what: &str) -> Result<Operand> {
    let raw = crate::input::read_file(path, what)?;
    let f = npyz::NpyFile::new(&raw[..])
        .map_err(|e| bad(format!("{}: not a NumPy .npy file ({e})", path.display())))?;
    if f.order() != npyz::Order::C && shape.len() > 1 {
        return Err(bad(format!(
            "{}: the array is in Fortran order; save it in C order (numpy.ascontiguousarray)",
            path.display()
        )));
    }
    let dtype = match f.dtype() {
        npyz::DType::Plain(t) => t.to_string(),
        other => other.descr(),
    };
    if !matches!(
        dtype.as_str(),
        "|u1" | "<u1" | ">u1" | "|i1" | "<i1" | ">i1"
    ) {
        return Err(bad(format!(
            "{}: {what} has dtype {dtype}; operands are 8-bit (uint8 or int8)",
            path.display()
        )));
    }
    let got: Vec<usize> = f.shape().iter().map(|&d| d as usize).collect();
    if got != shape {
        return Err(bad(format!(
            "{}: {what} has shape {got:?}, the layer needs {shape:?}",
            path.display()
        )));
    }
    let (bytes, signed) = match dtype.as_str() {
        "|u1" | "<u1" | ">u1" => (f.into_vec::<u8>(), false),
        _ => (
            f.into_vec::<i8>()
                .map(|v| v.into_iter().map(|x| x as u8).collect()),
            true,
        ),
    };
    let bytes = bytes.map_err(|e| bad(format!("{}: {e}", path.display())))?;
    Ok(Operand { bytes, signed })
}

/// A `.npy` file of 8-bit values, int8 when `signed` (the bytes as two's complement).
pub fn npy_u8(shape: &[usize], bytes: &[u8], signed: bool) -> Vec<u8> {
    if signed {
        npy(shape, bytes.iter().map(|&b| b as i8))
    } else {
        npy(shape, bytes.iter().copied())
    }
}

/// A `.npy` file of int32 values (the accumulators' bits).
pub fn npy_i32(shape: &[usize], words: &[u32]) -> Vec<u8> {
    npy(shape, words.iter().map(|&w| w as i32))
}

fn npy<T: npyz::AutoSerialize>(shape: &[usize], data: impl IntoIterator<Item = T>) -> Vec<u8> {
    let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut out = Vec::new();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&dims)
        .writer(&mut out)
        .begin_nd()
        .expect("writing to memory");
    w.extend(data).expect("writing to memory");
    w.finish().expect("writing to memory");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_int8_array_reads_back_as_its_bytes_and_signed() {
        let dir = std::env::temp_dir().join(format!("plume-npy-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.npy");
        std::fs::write(&p, npy_u8(&[2, 3], &[0, 1, 127, 128, 200, 255], true)).unwrap();
        let o = read_operand(&p, &[2, 3], "A").unwrap();
        assert_eq!(o.bytes, vec![0, 1, 127, 128, 200, 255]);
        assert!(o.signed);
        let e = read_operand(&p, &[3, 2], "A").err().unwrap().to_string();
        assert!(
            e.contains("has shape [2, 3], the layer needs [3, 2]"),
            "{e}"
        );
        std::fs::write(&p, npy_i32(&[2], &[1, u32::MAX])).unwrap();
        let e = read_operand(&p, &[2], "A").err().unwrap().to_string();
        assert!(e.contains("has dtype <i4; operands are 8-bit"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
