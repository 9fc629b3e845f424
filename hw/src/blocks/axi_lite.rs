//! An AXI4-Lite register file generated from a design's parameters: the control/status block
//! a host (the Zynq PS) uses to configure, start and wait for an accelerator.
//!
//! # Register map
//! | offset | name | bits | access |
//! |---|---|---|---|
//! | 0x00 | CTRL | 0 start (write 1: one-cycle `o_start` pulse), 1 done (set by `i_done`, cleared when CTRL is read), 2 idle (no start since the last done) | W1S / COR / RO |
//! | 0x04 | GIER | 0 global interrupt enable | RW |
//! | 0x08 | IER | 0 done interrupt enable | RW |
//! | 0x0C | ISR | 0 done interrupt status (set by `i_done`; write 1 to clear) | W1C |
//! | 0x10… | parameters | one 32-bit word per 32 bits of each parameter, in declaration order (`o_<name>`) | RW, byte strobes honoured |
//! | … | status | one word per 32 bits of each status input (`i_<name>`) | RO |
//!
//! Addresses are decoded per 32-bit word (the two low address bits are ignored).
//! `o_irq = GIER & IER & ISR`. The same layout as Vitis HLS control blocks, so PYNQ-style
//! drivers feel at home. Unmapped addresses answer SLVERR (reads return 0); writes to
//! read-only words answer SLVERR and change nothing.
//!
//! # Protocol
//! Every output that takes part in a handshake (`awready wready bvalid arready rvalid` and the
//! payloads) comes from a register: no combinational path runs from an input `*ready` or
//! `*valid` to an output. A write address and its data are taken independently (either may come
//! first), the write happens once both are held, and the response waits for `bready`; a read
//! answers the cycle after its address and holds `rdata` until `rready`.

use crate::rtl::{Bits, DrcErrors, InstanceOutputs, Module, ModuleBuilder, Sig};
use std::rc::Rc;

/// A parameter register the host writes (`o_<name>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    /// 1 to 64 bits.
    pub width: u32,
    pub reset: u64,
    pub doc: String,
}

/// A status word the design drives (`i_<name>`), read-only to the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub name: String,
    pub width: u32,
    pub doc: String,
}

/// How the host may use a word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Control,
    ReadWrite,
    WriteOneToClear,
    ReadOnly,
}

/// One 32-bit word of the map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub offset: u32,
    pub name: String,
    pub access: Access,
    /// Bits of the word in use.
    pub width: u32,
    pub doc: String,
}

/// The register map: the standard control words, then parameters, then status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegMap {
    pub name: String,
    pub params: Vec<Param>,
    pub status: Vec<Status>,
    pub words: Vec<Word>,
    /// Address bits the slave decodes (the map rounded up to a power of two, at least 64 bytes).
    pub addr_bits: u32,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegMapError {
    #[error("register {0:?}: width {1} is outside 1..=64")]
    Width(String, u32),
    #[error("register {0:?}: reset value {1:#x} does not fit {2} bits")]
    Reset(String, u64, u32),
    #[error("register name {0:?} is used twice")]
    Duplicate(String),
    #[error("register name {0:?} is not a Verilog identifier")]
    Name(String),
}

fn words_of(width: u32) -> u32 {
    width.div_ceil(32)
}

impl RegMap {
    pub fn new(name: &str, params: Vec<Param>, status: Vec<Status>) -> Result<RegMap, RegMapError> {
        let mut seen = std::collections::HashSet::new();
        for n in ["ctrl", "gier", "ier", "isr", "start", "done", "irq"] {
            seen.insert(n.to_string());
        }
        let mut check = |n: &str, w: u32| {
            if w == 0 || w > 64 {
                return Err(RegMapError::Width(n.into(), w));
            }
            let ok = n.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok {
                return Err(RegMapError::Name(n.into()));
            }
            if !seen.insert(n.to_string()) {
                return Err(RegMapError::Duplicate(n.into()));
            }
            Ok(())
        };
        for p in &params {
            check(&p.name, p.width)?;
            if p.width < 64 && p.reset >> p.width != 0 {
                return Err(RegMapError::Reset(p.name.clone(), p.reset, p.width));
            }
        }
        for s in &status {
            check(&s.name, s.width)?;
        }
        let mut words = vec![
            Word {
                offset: 0x00,
                name: "CTRL".into(),
                access: Access::Control,
                width: 3,
                doc: "bit 0 start (write 1), bit 1 done (cleared on read), bit 2 idle".into(),
            },
            Word {
                offset: 0x04,
                name: "GIER".into(),
                access: Access::ReadWrite,
                width: 1,
                doc: "global interrupt enable".into(),
            },
            Word {
                offset: 0x08,
                name: "IER".into(),
                access: Access::ReadWrite,
                width: 1,
                doc: "done interrupt enable".into(),
            },
            Word {
                offset: 0x0C,
                name: "ISR".into(),
                access: Access::WriteOneToClear,
                width: 1,
                doc: "done interrupt status (write 1 to clear)".into(),
            },
        ];
        // One word per 32 bits of each register, parameters first, then status.
        let regs = params
            .iter()
            .map(|p| (&p.name, p.width, &p.doc, Access::ReadWrite))
            .chain(
                status
                    .iter()
                    .map(|s| (&s.name, s.width, &s.doc, Access::ReadOnly)),
            );
        let mut off = 0x10;
        for (name, width, doc, access) in regs {
            for k in 0..words_of(width) {
                words.push(Word {
                    offset: off,
                    name: format!("{}_{k}", name.to_uppercase()),
                    access,
                    width: (width - 32 * k).min(32),
                    doc: format!("{doc} (bits {}..{})", 32 * k, (32 * k + 31).min(width - 1)),
                });
                off += 4;
            }
        }
        let addr_bits = off.next_power_of_two().max(64).trailing_zeros();
        Ok(RegMap {
            name: name.to_string(),
            params,
            status,
            words,
            addr_bits,
        })
    }

    /// Byte offset of the first word of parameter or status register `name`.
    pub fn offset(&self, name: &str) -> Option<u32> {
        let first = format!("{}_0", name.to_uppercase());
        self.words
            .iter()
            .find(|w| w.name == first)
            .map(|w| w.offset)
    }

    pub fn word(&self, offset: u32) -> Option<&Word> {
        self.words.iter().find(|w| w.offset == offset)
    }
}

/// Generates the slave (`axil_<name>`).
pub fn regfile(map: &RegMap) -> Result<Rc<Module>, DrcErrors> {
    let ab = map.addr_bits;
    let mut b = ModuleBuilder::new(format!("axil_{}", map.name));
    let awaddr = b.input("s_axi_awaddr", ab);
    let awvalid = b.input("s_axi_awvalid", 1);
    let wdata = b.input("s_axi_wdata", 32);
    let wstrb = b.input("s_axi_wstrb", 4);
    let wvalid = b.input("s_axi_wvalid", 1);
    let bready = b.input("s_axi_bready", 1);
    let araddr = b.input("s_axi_araddr", ab);
    let arvalid = b.input("s_axi_arvalid", 1);
    let rready = b.input("s_axi_rready", 1);
    let done_in = b.input("i_done", 1);

    // ---- write channel state.
    let aw_full = b.reg("aw_full", Bits::zero(1));
    let aw_addr = b.reg("aw_addr", Bits::zero(ab));
    let w_full = b.reg("w_full", Bits::zero(1));
    let w_data = b.reg("w_data", Bits::zero(32));
    let w_strb = b.reg("w_strb", Bits::zero(4));
    let bvalid = b.reg("bvalid", Bits::zero(1));
    let bresp = b.reg("bresp", Bits::zero(2));
    let nb = b.not(bvalid);
    let naw = b.not(aw_full);
    let nw = b.not(w_full);
    let awready = b.and(naw, nb);
    let wready = b.and(nw, nb);
    let aw_take = b.and(awvalid, awready);
    let w_take = b.and(wvalid, wready);
    let both = b.and(aw_full, w_full);
    let do_write = b.and(both, nb);
    // Word index of the held write address.
    let widx = b.slice(aw_addr, ab - 1, 2);
    let hit = |b: &mut ModuleBuilder, idx: Sig, off: u32| b.eq_lit(idx, (off >> 2) as u64);
    // Byte-strobed merge of the held data into an old word value.
    let mut strobe_mask = Vec::new();
    for k in (0..4).rev() {
        let s = b.bit(w_strb, k);
        let ones = b.lit(8, 0xff);
        let z = b.zero(8);
        strobe_mask.push(b.mux(s, ones, z));
    }
    let mask = b.cat(&strobe_mask);
    let nmask = b.not(mask);
    let data_masked = b.and(w_data, mask);
    let byte0 = b.bit(w_strb, 0);

    // ---- control words.
    let start_q = b.reg("start_q", Bits::zero(1));
    let done_q = b.reg("done_q", Bits::zero(1));
    let idle_q = b.reg("idle_q", Bits::from_u64(1, 1));
    let gier = b.reg("gier", Bits::zero(1));
    let ier = b.reg("ier", Bits::zero(1));
    let isr = b.reg("isr", Bits::zero(1));
    let wd0 = b.bit(w_data, 0);
    let w_ctrl = {
        let h = hit(&mut b, widx, 0x00);
        let x = b.and(do_write, h);
        b.and(x, byte0)
    };
    let start_now = b.and(w_ctrl, wd0);
    b.next(start_q, start_now, None);
    b.output("o_start", start_q);
    // idle: cleared by start, set by done.
    let not_start = b.not(start_now);
    let idle_keep = b.and(idle_q, not_start);
    let idle_d = b.or(idle_keep, done_in);
    b.next(idle_q, idle_d, None);
    for (reg, off) in [(gier, 0x04u32), (ier, 0x08)] {
        let h = hit(&mut b, widx, off);
        let x = b.and(do_write, h);
        let en = b.and(x, byte0);
        b.next(reg, wd0, Some(en));
    }
    let w_isr = {
        let h = hit(&mut b, widx, 0x0C);
        let x = b.and(do_write, h);
        let y = b.and(x, byte0);
        b.and(y, wd0)
    };
    let nclr = b.not(w_isr);
    let isr_keep = b.and(isr, nclr);
    let isr_d = b.or(isr_keep, done_in);
    b.next(isr, isr_d, None);
    let irq = {
        let x = b.and(gier, ier);
        b.and(x, isr)
    };
    b.output("o_irq", irq);

    // ---- parameters: one register per word.
    let mut mapped_w: Vec<Sig> = Vec::new(); // write hits on writable words
    let mut read_arms: Vec<(u64, Sig)> = Vec::new();
    for w in [0x04u32, 0x08, 0x0C] {
        let h = hit(&mut b, widx, w);
        mapped_w.push(h);
    }
    let ctrl_hit = hit(&mut b, widx, 0x00);
    mapped_w.push(ctrl_hit);
    let gier32 = b.extend(gier, 32);
    let ier32 = b.extend(ier, 32);
    let isr32 = b.extend(isr, 32);
    let ctrl32 = {
        let z = b.zero(29);
        b.cat(&[z, idle_q, done_q, start_q])
    };
    read_arms.push((0, ctrl32));
    read_arms.push((1, gier32));
    read_arms.push((2, ier32));
    read_arms.push((3, isr32));
    let mut off = 0x10u32;
    for p in &map.params {
        let mut parts = Vec::new();
        for k in 0..words_of(p.width) {
            let ww = (p.width - 32 * k).min(32);
            let reset = (p.reset >> (32 * k)) & if ww == 32 { 0xffff_ffff } else { (1 << ww) - 1 };
            let r = b.reg(&format!("p_{}_{k}", p.name), Bits::from_u64(ww, reset));
            let h = hit(&mut b, widx, off);
            mapped_w.push(h);
            let en = b.and(do_write, h);
            let old = b.extend(r, 32);
            let kept = b.and(old, nmask);
            let merged = b.or(kept, data_masked);
            let d = b.slice(merged, ww - 1, 0);
            b.next(r, d, Some(en));
            read_arms.push(((off >> 2) as u64, old));
            parts.push(r);
            off += 4;
        }
        parts.reverse();
        let v = b.cat(&parts);
        b.output(&format!("o_{}", p.name), v);
    }
    for s in &map.status {
        let i = b.input(&format!("i_{}", s.name), s.width);
        for k in 0..words_of(s.width) {
            let ww = (s.width - 32 * k).min(32);
            let part = b.slice(i, 32 * k + ww - 1, 32 * k);
            let part = b.extend(part, 32);
            read_arms.push(((off >> 2) as u64, part));
            off += 4;
        }
    }
    // Write response: OKAY on a writable word, SLVERR otherwise.
    let writable = mapped_w
        .iter()
        .copied()
        .reduce(|a, c| b.or(a, c))
        .expect("the control words exist");
    let okay = b.zero(2);
    let slverr = b.lit(2, 2);
    let resp = b.mux(writable, okay, slverr);
    let zero1 = b.zero(1);
    let nbr = b.not(bready);
    let b_keep = b.and(bvalid, nbr);
    let bvalid_d = b.or(do_write, b_keep);
    b.next(bvalid, bvalid_d, None);
    b.next(bresp, resp, Some(do_write));
    let aw_full_d = {
        let keep = b.mux(do_write, zero1, aw_full);
        b.or(keep, aw_take)
    };
    b.next(aw_full, aw_full_d, None);
    b.next(aw_addr, awaddr, Some(aw_take));
    let w_full_d = {
        let keep = b.mux(do_write, zero1, w_full);
        b.or(keep, w_take)
    };
    b.next(w_full, w_full_d, None);
    b.next(w_data, wdata, Some(w_take));
    b.next(w_strb, wstrb, Some(w_take));

    // ---- read channel.
    let rvalid = b.reg("rvalid", Bits::zero(1));
    let rdata = b.reg("rdata", Bits::zero(32));
    let rresp = b.reg("rresp", Bits::zero(2));
    let nrv = b.not(rvalid);
    let arready = nrv;
    let ar_take = b.and(arvalid, arready);
    let ridx = b.slice(araddr, ab - 1, 2);
    let zero32 = b.zero(32);
    let rword = b.case(ridx, &read_arms, zero32);
    // One bit wider than the index: a map that fills its address space has 2^(ab−2) words.
    let mapped_r = {
        let n = (off >> 2) as u64;
        let wide = b.extend(ridx, ab - 1);
        let nl = b.lit(ab - 1, n);
        b.lt(wide, nl)
    };
    let rr = b.mux(mapped_r, okay, slverr);
    b.next(rdata, rword, Some(ar_take));
    b.next(rresp, rr, Some(ar_take));
    let nrr = b.not(rready);
    let r_keep = b.and(rvalid, nrr);
    let rvalid_d = b.or(ar_take, r_keep);
    b.next(rvalid, rvalid_d, None);
    // done: set by i_done, cleared when CTRL is read (a read in the same cycle as i_done
    // returns the old value and the new done stays).
    let ctrl_read = {
        let h = b.eq_lit(ridx, 0);
        b.and(ar_take, h)
    };
    let nread = b.not(ctrl_read);
    let done_keep = b.and(done_q, nread);
    let done_d = b.or(done_keep, done_in);
    b.next(done_q, done_d, None);

    b.output("s_axi_awready", awready);
    b.output("s_axi_wready", wready);
    b.output("s_axi_bvalid", bvalid);
    b.output("s_axi_bresp", bresp);
    b.output("s_axi_arready", arready);
    b.output("s_axi_rvalid", rvalid);
    b.output("s_axi_rdata", rdata);
    b.output("s_axi_rresp", rresp);
    b.finish()
}

impl RegMap {
    /// A C header: one `#define` per word offset and per control bit, with the word's use.
    pub fn c_header(&self) -> String {
        let up = self.name.to_uppercase();
        let guard = format!("PLUME_{up}_REGS_H");
        let mut s = format!(
            "/* Register map of {} (AXI4-Lite, 32-bit words). Generated by plume; do not edit. */\n#ifndef {guard}\n#define {guard}\n\n",
            self.name
        );
        for w in &self.words {
            s.push_str(&format!(
                "#define {up}_{:<24} 0x{:02x}u /* {:?}, {} bit(s): {} */\n",
                w.name,
                w.offset,
                w.access,
                w.width,
                w.doc.replace("*/", "* /")
            ));
        }
        s.push_str(&format!(
            "\n#define {up}_CTRL_START 0x1u\n#define {up}_CTRL_DONE  0x2u\n#define {up}_CTRL_IDLE  0x4u\n#define {up}_ADDR_BITS {}\n\n#endif /* {guard} */\n",
            self.addr_bits
        ));
        s
    }

    /// The driver's class name: the map's name in CamelCase.
    pub fn python_class(&self) -> String {
        self.name
            .split('_')
            .map(|p| {
                let mut c = p.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// A PYNQ-style Python driver: a class over an MMIO-like object with `read(offset)` and
    /// `write(offset, value)`, with a property per parameter and status register, `start()` and
    /// `wait_done()`.
    pub fn python_driver(&self) -> String {
        let class = self.python_class();
        let mut s = format!(
            "\"\"\"Driver for {} (AXI4-Lite register map). Generated by plume; do not edit.\"\"\"\n\nimport time\n\n\nclass {class}:\n    \"\"\"`mmio` needs read(offset) -> int and write(offset, value), e.g. pynq.MMIO.\"\"\"\n\n    CTRL, GIER, IER, ISR = 0x00, 0x04, 0x08, 0x0C\n\n    def __init__(self, mmio):\n        self.mmio = mmio\n\n    def start(self):\n        self.mmio.write(self.CTRL, 1)\n\n    def done(self):\n        return bool(self.mmio.read(self.CTRL) & 2)\n\n    def idle(self):\n        return bool(self.mmio.read(self.CTRL) & 4)\n\n    def wait_done(self, timeout_s=1.0):\n        end = time.monotonic() + timeout_s\n        while time.monotonic() < end:\n            if self.done():\n                return\n        raise TimeoutError(\"{} did not finish in %s s\" % timeout_s)\n\n    def enable_interrupt(self, on=True):\n        self.mmio.write(self.GIER, int(on))\n        self.mmio.write(self.IER, int(on))\n\n    def clear_interrupt(self):\n        self.mmio.write(self.ISR, 1)\n",
            self.name, self.name
        );
        // The value of a register spanning n words from `off`, read word by word.
        let read_expr = |off: u32, n: u32| {
            (0..n)
                .map(|k| format!("(self.mmio.read(0x{:02x}) << {})", off + 4 * k, 32 * k))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        let mut off = 0x10u32;
        for p in &self.params {
            let n = p.width.div_ceil(32);
            s.push_str(&format!(
                "\n    @property\n    def {name}(self):\n        \"\"\"{doc} ({w} bits).\"\"\"\n        return {read}\n\n    @{name}.setter\n    def {name}(self, value):\n        if not 0 <= value < (1 << {w}):\n            raise ValueError(\"{name} takes {w} bits\")\n{writes}",
                name = p.name,
                doc = p.doc.replace('"', "'"),
                w = p.width,
                read = read_expr(off, n),
                writes = (0..n)
                    .map(|k| format!(
                        "        self.mmio.write(0x{:02x}, (value >> {}) & 0xFFFFFFFF)\n",
                        off + 4 * k,
                        32 * k
                    ))
                    .collect::<String>(),
            ));
            off += 4 * n;
        }
        for st in &self.status {
            let n = st.width.div_ceil(32);
            s.push_str(&format!(
                "\n    @property\n    def {name}(self):\n        \"\"\"{doc} ({w} bits, read-only).\"\"\"\n        return {read}\n",
                name = st.name,
                doc = st.doc.replace('"', "'"),
                w = st.width,
                read = read_expr(off, n),
            ));
            off += 4 * n;
        }
        s
    }
}

/// Puts the register file `regs` (generated from `map`) into the module being built: creates
/// the `s_axi_*` inputs and outputs and `o_irq`, connects `i_done` and the status inputs, and
/// returns the instance (its `o_start` and `o_<param>` outputs).
pub fn attach(
    b: &mut ModuleBuilder,
    map: &RegMap,
    regs: &Rc<Module>,
    done: Sig,
    status: &[(&str, Sig)],
) -> InstanceOutputs {
    let ab = map.addr_bits;
    let lite_in = [
        ("s_axi_awaddr", ab),
        ("s_axi_awvalid", 1),
        ("s_axi_wdata", 32),
        ("s_axi_wstrb", 4),
        ("s_axi_wvalid", 1),
        ("s_axi_bready", 1),
        ("s_axi_araddr", ab),
        ("s_axi_arvalid", 1),
        ("s_axi_rready", 1),
    ];
    let status_ports: Vec<String> = status.iter().map(|(n, _)| format!("i_{n}")).collect();
    let mut conns: Vec<(&str, Sig)> = lite_in.iter().map(|&(n, w)| (n, b.input(n, w))).collect();
    conns.push(("i_done", done));
    for (port, (_, sig)) in status_ports.iter().zip(status) {
        conns.push((port.as_str(), *sig));
    }
    let r = b.instance("regs", regs, &conns);
    for out in [
        "s_axi_awready",
        "s_axi_wready",
        "s_axi_bvalid",
        "s_axi_bresp",
        "s_axi_arready",
        "s_axi_rvalid",
        "s_axi_rdata",
        "s_axi_rresp",
        "o_irq",
    ] {
        b.output(out, r.get(out));
    }
    r
}
