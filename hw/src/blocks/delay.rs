//! Delay lines: a value carried `n` cycles through registers named `<name>0 … <name>(n−1)`
//! (visible in waveforms), reset to zero. Control that must meet data at the end of a
//! fixed-latency pipeline travels this way.

use crate::rtl::{ModuleBuilder, Sig};

/// `d` delayed by `n` cycles (`d` itself when `n` = 0), with `d`'s signedness.
pub fn delay_line(b: &mut ModuleBuilder, name: &str, d: Sig, n: u64) -> Sig {
    (0..n).fold(d, |s, k| b.delay(&format!("{name}{k}"), s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delay_line_has_one_named_register_per_cycle() {
        let mut b = ModuleBuilder::new("t");
        let x = b.input("x", 4);
        let y = delay_line(&mut b, "x_q", x, 3);
        b.output("y", y);
        let m = b.finish().unwrap();
        let regs: Vec<_> = m.nodes.iter().filter_map(|n| n.name.clone()).collect();
        assert_eq!(regs, ["x", "x_q0", "x_q1", "x_q2"]);
    }
}
