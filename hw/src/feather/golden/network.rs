//! BIRRD's golden model: the network's outputs for one input vector under one configuration,
//! with no notion of cycles.
//!
//! It is written independently of the generator's wiring function (`birrd::dest`):
//! the bit-reversal network follows the public RTL's formula stage by stage, and the Beneš
//! network is evaluated in address space (stage s pairs the addresses that differ in bit b_s).
//! Sums wrap at the data width, as the hardware's adders do.

use crate::feather::birrd::{BirrdConfig, BirrdError, Config, Mode, Topology};

fn switch(mode: Mode, a: u64, b: u64, mask: u64) -> (u64, u64) {
    let sum = a.wrapping_add(b) & mask;
    match mode {
        Mode::Pass => (a, b),
        Mode::Swap => (b, a),
        Mode::AddEven => (sum, b),
        Mode::AddOdd => (a, sum),
    }
}

/// Outputs of the network for `inputs` under `config` (checked for shape and range).
pub fn birrd(cfg: &BirrdConfig, config: &Config, inputs: &[u64]) -> Result<Vec<u64>, BirrdError> {
    cfg.validate()?;
    cfg.check_config(config)?;
    cfg.check_inputs(inputs)?;
    let n = cfg.ports as usize;
    let l = cfg.log2();
    let mask = if cfg.width == 64 {
        u64::MAX
    } else {
        (1u64 << cfg.width) - 1
    };
    let mut cur = inputs.to_vec();
    let s_count = config.len();
    match cfg.topology {
        Topology::Bitrev => {
            let rev = |x: usize, k: u32| {
                let lo = x & ((1 << k) - 1);
                let mut r = 0;
                for bit in 0..k {
                    r |= ((lo >> bit) & 1) << (k - 1 - bit);
                }
                (x & !((1 << k) - 1)) | r
            };
            for (s, row) in config.iter().enumerate() {
                let mut next = vec![0; n];
                for (j, mode) in row.iter().enumerate() {
                    let (e, o) = switch(*mode, cur[2 * j], cur[2 * j + 1], mask);
                    if s + 1 < s_count {
                        let k = (2 + s as u32).min(l).min(2 * l - s as u32);
                        next[rev(2 * j, k)] = e;
                        next[rev(2 * j + 1, k)] = o;
                    } else {
                        next[2 * j] = e;
                        next[2 * j + 1] = o;
                    }
                }
                cur = next;
            }
        }
        Topology::Benes => {
            // `cur` is indexed by address throughout; switch j of stage s joins addresses
            // (j with a 0 inserted at bit b) and (the same with a 1 there).
            for (s, row) in config.iter().enumerate() {
                let s = s as u32;
                let b = if s < l { s } else { 2 * l - 2 - s };
                for (j, mode) in row.iter().enumerate() {
                    let high = (j >> b) << (b + 1);
                    let a0 = high | (j & ((1 << b) - 1));
                    let a1 = a0 | (1 << b);
                    let (e, o) = switch(*mode, cur[a0], cur[a1], mask);
                    cur[a0] = e;
                    cur[a1] = o;
                }
            }
        }
    }
    Ok(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feather::birrd::MODES;

    fn cfg(ports: u32, topology: Topology) -> BirrdConfig {
        BirrdConfig {
            ports,
            width: 32,
            topology,
        }
    }

    #[test]
    fn all_pass_is_a_fixed_permutation_and_preserves_values() {
        for topo in [Topology::Bitrev, Topology::Benes] {
            for n in [4u32, 8, 16, 64] {
                let c = cfg(n, topo);
                let config = vec![vec![Mode::Pass; n as usize / 2]; c.stages() as usize];
                let inputs: Vec<u64> = (0..n as u64).map(|i| i * 7 + 1).collect();
                let mut out = birrd(&c, &config, &inputs).unwrap();
                out.sort();
                assert_eq!(out, inputs, "{topo} {n}");
            }
        }
    }

    #[test]
    fn benes_all_pass_is_identity() {
        let c = cfg(16, Topology::Benes);
        let config = vec![vec![Mode::Pass; 8]; 7];
        let inputs: Vec<u64> = (100..116).collect();
        assert_eq!(birrd(&c, &config, &inputs).unwrap(), inputs);
    }

    /// N=4 bit-reversal by hand: stage wiring [0,2,1,3] between stages. With every switch of the
    /// first stage adding into its even output and the rest passing, out0 = in0+in1 and
    /// out1 = in2+in3 (wire 1 of stage 1 is stage 0's position 2).
    #[test]
    fn n4_hand_worked_reduction() {
        let c = BirrdConfig {
            ports: 4,
            width: 8,
            topology: Topology::Bitrev,
        };
        let config = vec![
            vec![Mode::AddEven, Mode::AddEven],
            vec![Mode::Pass, Mode::Pass],
            vec![Mode::Pass, Mode::Pass],
        ];
        // stage0: [1+2, 2, 3+4, 4] -> wiring [0,2,1,3] -> [3, 7, 2, 4] -> stage1 pass -> wiring -> [3, 2, 7, 4]
        let out = birrd(&c, &config, &[1, 2, 3, 4]).unwrap();
        assert_eq!(out, vec![3, 2, 7, 4]);
        // Wrap-around at the data width.
        let out = birrd(&c, &config, &[200, 100, 0, 0]).unwrap();
        assert_eq!(out[0], (300 % 256) as u64);
    }

    #[test]
    fn full_reduction_reaches_port_zero_on_benes() {
        // Adding into even outputs at every butterfly stage gathers the total at address 0.
        let c = cfg(8, Topology::Benes);
        let mut config = vec![vec![Mode::Pass; 4]; 5];
        for row in config.iter_mut().take(3) {
            row.iter_mut().for_each(|m| *m = Mode::AddEven);
        }
        let out = birrd(&c, &config, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        assert_eq!(out[0], 36);
        assert!(MODES.len() == 4);
    }
}
