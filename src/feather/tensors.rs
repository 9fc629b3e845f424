//! A layer's operands and results as files: NumPy `.npy` arrays (int8, uint8, int32) and JSON,
//! for `plume feather run --data` (read) and `--out` (write).
//!
//! Operands are 8-bit: a `.npy` operand of dtype int8 makes that operand signed for the layer,
//! uint8 unsigned. Results: the output tensor as simulated (int8 or uint8 by the layer's output
//! format) and the golden model's 32-bit accumulators before requantisation (int32).

use super::layer::{Layer, LayerData, Prepared};
use crate::error::{bad, Result};
use npyz::WriterBuilder;
use plume_hw::feather::golden::{self, Quant};
use serde_json::Value;
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

/// A tensor's file name (without `.npy`) and shape.
type Named = (&'static str, Vec<usize>);

/// The names and shapes of a layer's two operands and of its result, as the files of
/// `--data` and `--out` call them.
fn tensor_names(layer: &Layer) -> ([Named; 2], Named) {
    match layer {
        Layer::Gemm(g) => (
            [("a", vec![g.m, g.k]), ("b", vec![g.k, g.n])],
            ("c", vec![g.m, g.n]),
        ),
        Layer::Conv(sh) => {
            let (p, q) = sh.out_hw().unwrap_or((0, 0));
            (
                [
                    ("x", vec![sh.n, sh.h, sh.w, sh.c]),
                    ("w", vec![sh.k, sh.r, sh.s, sh.c]),
                ],
                ("y", vec![sh.n, p, q, sh.k]),
            )
        }
        Layer::Depthwise { shape: sh, .. } => {
            let (p, q) = sh.out_hw().unwrap_or((0, 0));
            (
                [
                    ("x", vec![sh.n, sh.h, sh.w, sh.c]),
                    ("w", vec![sh.c, sh.r, sh.s]),
                ],
                ("y", vec![sh.n, p, q, sh.c]),
            )
        }
    }
}

/// Reads operands from `path`: a JSON file (each operand an array of bytes 0-255, or the name
/// of a `.npy` file beside it) or a directory of `.npy` files (`a.npy`, `b.npy` or `x.npy`,
/// `w.npy`, and optionally `quant.json` with the JSON file's other keys). Shapes must match
/// the layer; an int8 `.npy` operand is signed, a uint8 one unsigned.
pub fn load_data(path: &Path, layer: &Layer) -> Result<Prepared> {
    let is_dir = path.is_dir();
    let (dir, v) = if is_dir {
        let q = path.join("quant.json");
        let v = if q.exists() {
            let text = crate::input::read_text(&q, "quantisation file")?;
            crate::input::json(&text, &q.display().to_string())?
        } else {
            Value::Object(Default::default())
        };
        (path.to_path_buf(), v)
    } else {
        let text = crate::input::read_text(path, "data file")?;
        let v = crate::input::json(&text, &path.display().to_string())?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        (dir.to_path_buf(), v)
    };
    let bytes = |key: &str, arr: &[Value], want: usize| -> Result<Vec<u8>> {
        if arr.len() != want {
            return Err(bad(format!(
                "{}: {key:?} has {} elements, the layer needs {want}",
                path.display(),
                arr.len()
            )));
        }
        arr.iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_u64()
                    .filter(|&b| b < 256)
                    .map(|b| b as u8)
                    .ok_or_else(|| {
                        bad(format!(
                            "{}: {key}[{i}] is not a byte 0-255",
                            path.display()
                        ))
                    })
            })
            .collect()
    };
    let (names, _) = tensor_names(layer);
    let mut ops: Vec<Vec<u8>> = Vec::new();
    let mut dtype_signed = [None, None];
    for (i, (key, shape)) in names.iter().enumerate() {
        let want: usize = shape.iter().product();
        let file = match v.get(*key) {
            Some(Value::Array(arr)) => {
                ops.push(bytes(key, arr, want)?);
                continue;
            }
            Some(Value::String(f)) => dir.join(f),
            Some(_) => {
                return Err(bad(format!(
                    "{}: {key:?} must be an array of bytes or the name of a .npy file",
                    path.display()
                )))
            }
            None if is_dir => dir.join(format!("{key}.npy")),
            None => return Err(bad(format!("{}: missing array {key:?}", path.display()))),
        };
        let o = read_operand(&file, shape, key)?;
        dtype_signed[i] = Some(o.signed);
        ops.push(o.bytes);
    }
    let num = |key: &str, default: i64, min: i64, max: i64| -> Result<i64> {
        match v.get(key) {
            None => Ok(default),
            Some(x) => x
                .as_i64()
                .filter(|b| (min..=max).contains(b))
                .ok_or_else(|| {
                    bad(format!(
                        "{}: {key:?} must be an integer {min} to {max}",
                        path.display()
                    ))
                }),
        }
    };
    let flag = |key: &str, dtype: Option<bool>, default: bool| -> Result<bool> {
        let given = match v.get(key) {
            None => None,
            Some(x) => Some(x.as_bool().ok_or_else(|| {
                bad(format!("{}: {key:?} must be true or false", path.display()))
            })?),
        };
        match (given, dtype) {
            (Some(g), Some(d)) if g != d => Err(bad(format!(
                "{}: {key:?} is {g} but the operand's .npy dtype is {}",
                path.display(),
                if d { "int8" } else { "uint8" }
            ))),
            (g, d) => Ok(d.or(g).unwrap_or(default)),
        }
    };
    let gemm = layer.gemm().expect("checked by parse_layer");
    let defaults = LayerData::random(1, gemm.k, 1, 0).q;
    // Zero points as bytes: -128..-1 stand for int8 values.
    let zp = |key: &str| -> Result<u8> { Ok(num(key, 0, -128, 255)? as u8) };
    let q = Quant {
        zp_i: zp("zp_i")?,
        zp_w: zp("zp_w")?,
        scale: num("scale", defaults.scale as i64, 0, u32::MAX as i64)? as u32,
        zp_o: zp("zp_o")?,
        iact_signed: flag("iact_signed", dtype_signed[0], defaults.iact_signed)?,
        weight_signed: flag("weight_signed", dtype_signed[1], defaults.weight_signed)?,
        out_signed: flag("out_signed", None, defaults.out_signed)?,
    };
    let (x, wt) = (ops.remove(0), ops.remove(0));
    Prepared::from_operands(layer, x, wt, q).map_err(|e| bad(e.to_string()))
}

/// The files `--out` writes: each operand and the simulated result as `.npy` (int8 or
/// uint8 by the layer's formats), the golden model's accumulators (`acc.npy`, int32), and
/// `layer.json` with the same arrays as bytes, the quantisation and the cycle count (a file
/// `--data` reads back).
pub fn tensor_files(
    layer: &Layer,
    prep: &Prepared,
    out: &[u8],
    cycles: u64,
) -> Vec<(String, Vec<u8>)> {
    let q = &prep.data.q;
    let (names, (rname, rshape)) = tensor_names(layer);
    let signed = [q.iact_signed, q.weight_signed];
    let acc = match layer {
        Layer::Gemm(g) => golden::gemm_acc(&prep.operands[0], &prep.operands[1], g.m, g.k, g.n, q),
        Layer::Conv(sh) => golden::conv_acc(&prep.operands[0], &prep.operands[1], sh, q),
        Layer::Depthwise { shape, .. } => {
            golden::depthwise_acc(&prep.operands[0], &prep.operands[1], shape, q)
        }
    };
    // A depthwise layer's result in its NHWC shape, out of the patch GEMM's order.
    let scattered;
    let out = match layer {
        Layer::Depthwise { shape, block } => {
            scattered = plume_hw::feather::compiler::depthwise::scatter(out, shape, *block);
            &scattered[..]
        }
        _ => out,
    };
    let mut files = Vec::new();
    let mut json = serde_json::Map::new();
    json.insert("layer".into(), layer.describe().into());
    for (i, (key, shape)) in names.iter().enumerate() {
        files.push((
            format!("{key}.npy"),
            npy_u8(shape, &prep.operands[i], signed[i]),
        ));
        json.insert((*key).into(), prep.operands[i].clone().into());
        json.insert(format!("{key}_shape"), shape.clone().into());
    }
    files.push((format!("{rname}.npy"), npy_u8(&rshape, out, q.out_signed)));
    files.push(("acc.npy".into(), npy_i32(&rshape, &acc)));
    json.insert(rname.into(), out.to_vec().into());
    json.insert(format!("{rname}_shape"), rshape.into());
    for (k, v) in [("zp_i", q.zp_i), ("zp_w", q.zp_w), ("zp_o", q.zp_o)] {
        json.insert(k.into(), v.into());
    }
    json.insert("scale".into(), q.scale.into());
    json.insert("iact_signed".into(), q.iact_signed.into());
    json.insert("weight_signed".into(), q.weight_signed.into());
    json.insert("out_signed".into(), q.out_signed.into());
    json.insert("cycles".into(), cycles.into());
    let text = serde_json::to_string_pretty(&serde_json::Value::Object(json)).expect("JSON");
    files.push(("layer.json".into(), format!("{text}\n").into_bytes()));
    files
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
