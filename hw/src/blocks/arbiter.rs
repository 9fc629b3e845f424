//! Fixed-priority arbitration: one-hot grants to the lowest requester, and the granted
//! requester's value as an AND-OR over the grants (no priority chain of muxes).

use crate::rtl::{ModuleBuilder, RedOp, Sig};

/// The OR of one-bit `xs` (0 for none), as one reduction.
pub fn any(b: &mut ModuleBuilder, xs: &[Sig]) -> Sig {
    match xs.len() {
        0 => b.zero(1),
        1 => xs[0],
        _ => {
            let v = b.cat(xs);
            b.reduce(RedOp::Or, v)
        }
    }
}

/// The AND of one-bit `xs` (1 for none), as one reduction.
pub fn all(b: &mut ModuleBuilder, xs: &[Sig]) -> Sig {
    match xs.len() {
        0 => b.lit(1, 1),
        1 => xs[0],
        _ => {
            let v = b.cat(xs);
            b.reduce(RedOp::And, v)
        }
    }
}

/// One-hot grants: request k is granted when it is set and no request below it is.
pub fn lowest(b: &mut ModuleBuilder, req: &[Sig]) -> Vec<Sig> {
    (0..req.len())
        .map(|k| {
            if k == 0 {
                return req[0];
            }
            let below = any(b, &req[..k]);
            let free = b.not(below);
            b.and(req[k], free)
        })
        .collect()
}

/// `values[k]` for the one set `grant[k]` (0 when none is), as a balanced OR of masked values.
pub fn one_hot(b: &mut ModuleBuilder, grant: &[Sig], values: &[Sig]) -> Sig {
    let terms: Vec<Sig> = grant
        .iter()
        .zip(values)
        .map(|(&g, &v)| {
            let z = b.zero(v.width);
            b.mux(g, v, z)
        })
        .collect();
    or_tree(b, &terms)
}

fn or_tree(b: &mut ModuleBuilder, xs: &[Sig]) -> Sig {
    match xs.len() {
        0 => b.misuse(1, "one_hot over no values"),
        1 => xs[0],
        n => {
            let l = or_tree(b, &xs[..n / 2]);
            let r = or_tree(b, &xs[n / 2..]);
            b.or(l, r)
        }
    }
}
