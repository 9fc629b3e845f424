//! The ZCU104 build flow: for each design, the AXI-wrapped top, a clock/reset shell Vivado's
//! IP integrator recognises, constraints, the Vivado Tcl (block design with the Zynq
//! UltraScale+ PS and an AXI DMA; and an out-of-context run of the design alone), a Makefile,
//! the register map as a C header and a PYNQ-style driver, and a README — written all at once
//! or not at all. Also the checks open tools can make without Vivado: a resource estimate
//! against the XCZU7EV, a Tcl dry run, Verilator lint, Icarus elaboration and Yosys synthesis.

use crate::tools::{self, Resources, TempDir};
use anyhow::{bail, Context, Result};
use plume_hw::feather::axi::{
    axi_birrd, axi_feather, beats_per_entry, birrd_map, feather_map, feather_stream_width, Target,
    RUN_DRAIN,
};
use plume_hw::feather::birrd::BirrdConfig;
use plume_hw::feather::sequencer::{SeqConfig, SEQ_LATENCY};
use plume_hw::feather::top::FeatherConfig;
use plume_hw::lib::axi_lite::{Access, RegMap};
use plume_hw::rtl::ir::{BinOp, CmpOp, MemStyle, Op};
use plume_hw::rtl::Module;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::rc::Rc;

pub const PART: &str = "xczu7ev-ffvc1156-2-e";
/// pl_clk0 frequencies accepted (MHz).
pub const MHZ_MIN: f64 = 10.0;
pub const MHZ_MAX: f64 = 400.0;
/// AXI DMA stream widths: 8 to 1024 bits in powers of two; the shell pads to at least 32.
pub const DMA_MAX_WIDTH: u32 = 1024;

const BUILD_TCL: &str = include_str!("../fpga/zcu104/build.tcl");
const OOC_TCL: &str = include_str!("../fpga/zcu104/ooc.tcl");
const MAKEFILE: &str = include_str!("../fpga/zcu104/Makefile");
const RUN_FEATHER: &str = include_str!("../fpga/zcu104/run_feather.py");
const RUN_BIRRD: &str = include_str!("../fpga/zcu104/run_birrd.py");

/// A design the flow can build.
#[derive(Clone, Debug)]
pub enum Design {
    Birrd(BirrdConfig),
    Feather(FeatherConfig, SeqConfig),
}

impl Design {
    /// The configuration `plume report zcu104` uses.
    pub fn board_defaults() -> Vec<Design> {
        vec![
            Design::Birrd(BirrdConfig {
                ports: 16,
                width: 32,
                topology: plume_hw::feather::birrd::Topology::Bitrev,
            }),
            Design::Feather(FeatherConfig::new(16, 16), SeqConfig::default()),
        ]
    }

    /// `birrd_n16_w32_bitrev`, `feather_16x16_bitrev`.
    pub fn name(&self) -> String {
        match self {
            Design::Birrd(c) => format!("birrd_n{}_w{}_{}", c.ports, c.width, c.topology),
            Design::Feather(c, _) => format!("feather_{}x{}_{}", c.ah, c.aw, c.topology),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Design::Birrd(_) => "birrd",
            Design::Feather(..) => "feather",
        }
    }

    pub fn params(&self) -> serde_json::Value {
        match self {
            Design::Birrd(c) => serde_json::json!({
                "ports": c.ports, "width": c.width, "topology": c.topology.to_string()
            }),
            Design::Feather(c, s) => crate::feather_axi::hardware(c, s),
        }
    }

    /// The AXI-wrapped top (`clk`, active-high `rst`, AXI4-Lite `s_axi_*`, `s_axis_*`,
    /// `m_axis_*`, `o_irq`).
    pub fn wrapped(&self) -> Result<Rc<Module>> {
        Ok(match self {
            Design::Birrd(c) => axi_birrd(c)?,
            Design::Feather(c, s) => axi_feather(c, s)?,
        })
    }

    pub fn map(&self) -> Result<RegMap> {
        Ok(match self {
            Design::Birrd(c) => birrd_map(c)?,
            Design::Feather(c, s) => feather_map(c, s)?,
        })
    }

    /// Widths of `s_axis_tdata` and `m_axis_tdata` of the wrapped top.
    pub fn stream_widths(&self) -> (u32, u32) {
        match self {
            Design::Birrd(c) => (c.ports * c.width, c.ports * c.width),
            Design::Feather(c, _) => (feather_stream_width(c), feather_stream_width(c)),
        }
    }

    /// The README section on the data streams.
    fn stream_doc(&self) -> String {
        match self {
            Design::Birrd(c) => format!(
                "Each `s_axis` beat is one input vector: port p in bits [{w}p+{wm}:{w}p] (the DMA \
                 stream is padded to a power of two; padding bits are ignored). Each beat leaves on \
                 `m_axis` {s} cycles later, reduced and reordered by the configuration in \
                 `CMD_*`; `tlast` travels with its beat. CTRL.done rises when a beat with `tlast` \
                 has left; `BEATS` counts beats out. BIRRD cannot stall, so the wrapper admits a \
                 beat only when its output FIFO has room for it and every beat in flight: \
                 back-pressure on `m_axis` never loses a beat.\n",
                w = c.width,
                wm = c.width - 1,
                s = c.stages()
            ) + &format!(
                "\n### Running on the board\n\n```\n# on the development machine\nplume birrd route --ports {p} --topology {t} --target '{{\"0\":[0,1]}}' > config.json\nplume birrd export --ports {p} --width {w} --topology {t} --config @config.json -o vectors/\n# on the ZCU104 (PYNQ), in this directory after `make`\nsudo python3 sw/run_birrd.py vectors/\n```\n\n`run_birrd.py` writes `CMD_*`, sends the vectors with one MM2S transfer while one S2MM \
                 transfer takes the results, and compares every output vector with the golden model's.\n",
                p = c.ports,
                t = c.topology,
                w = c.width
            ),
            Design::Feather(c, s) => {
                let mut t = format!(
                    "`s_axis` ({dw} bits) writes whichever memory `WR_TARGET` names, from entry \
                     `WR_BASE` up; every packet (ended by `tlast`) starts again at `WR_BASE`. An \
                     entry is packed LSB first in whole beats:\n\n| WR_TARGET | memory | beats per entry |\n|---|---|---|\n",
                    dw = feather_stream_width(c)
                );
                for target in Target::ALL {
                    t.push_str(&format!(
                        "| {} | {:?} | {} |\n",
                        target as u32,
                        target,
                        beats_per_entry(c, s, target)
                    ));
                }
                t.push_str(&format!(
                    "\nWith `OP` = 0, CTRL.start runs the loaded program: done comes `LENGTH` + {} \
                     cycles after start and `CYCLES` then holds the cycles from micro-instruction \
                     0 to the last quantized write. With `OP` = 1, CTRL.start streams `RD_COUNT` \
                     lines of streaming buffer `RD_SEL` from `RD_BASE` out on `m_axis` (`tlast` on \
                     the last; back-pressure never loses a line); done when the last has left. \
                     `s_axis` is not ready while either runs. The buffer lines, tables and \
                     `LENGTH` come from plume's compiler; `src/feather_axi.rs` is the reference \
                     host sequence (it is what the tests run, cycle by cycle).\n",
                    SEQ_LATENCY + RUN_DRAIN
                ));
                t.push_str(&format!(
                    "\n### Running a layer on the board\n\n```\n# on the development machine: compile a layer for exactly this hardware\nplume feather export --array {}x{} --topology {} --depths {},{},{} --gemm M,K,N -o layer/\n# on the ZCU104 (PYNQ), in this directory after `make`\nsudo python3 sw/run_feather.py layer/\n```\n\n`run_feather.py` loads `out/plume.bit`, writes the registers, sends each packet with \
                     one MM2S transfer, runs the layer, reads `CYCLES`, receives the output with one S2MM \
                     transfer and compares it with the package's golden output (exit 0 when equal, 1 \
                     when not, 2 for a package built for other hardware).\n",
                    c.ah, c.aw, c.topology, c.s_depth, c.w_depth, c.o_depth
                ));
                t
            }
        }
    }
}

/// The AXI DMA stream width for a port of `w` bits.
pub fn dma_width(w: u32) -> u32 {
    w.next_power_of_two().max(32)
}

/// Checks the frequency and the stream widths; the one-line reason otherwise.
pub fn validate(design: &Design, mhz: f64) -> std::result::Result<(), String> {
    if !(MHZ_MIN..=MHZ_MAX).contains(&mhz) || !mhz.is_finite() {
        return Err(format!(
            "clock {mhz} MHz is outside the {MHZ_MIN}–{MHZ_MAX} MHz the ZCU104's PL clock takes"
        ));
    }
    let (i, o) = design.stream_widths();
    for (what, w) in [("input", i), ("output", o)] {
        if dma_width(w) > DMA_MAX_WIDTH {
            return Err(format!(
                "{}: the {what} stream is {w} bits; the AXI DMA takes at most {DMA_MAX_WIDTH}",
                design.name()
            ));
        }
    }
    Ok(())
}

/// Device capacity of the XCZU7EV (LUT, FF, DSP, BRAM36, URAM).
pub fn capacity() -> [(&'static str, f64); 5] {
    [
        ("LUT", tools::XCZU7EV_LUT as f64),
        ("FF", tools::XCZU7EV_FF as f64),
        ("DSP48E2", tools::XCZU7EV_DSP as f64),
        ("BRAM36", tools::XCZU7EV_BRAM36 as f64),
        ("URAM288", tools::XCZU7EV_URAM as f64),
    ]
}

fn used(r: &Resources) -> [f64; 5] {
    [
        r.lut as f64,
        r.ff as f64,
        r.dsp as f64,
        r.bram36,
        r.uram as f64,
    ]
}

/// Fails, naming every resource over the device's capacity.
pub fn fits(r: &Resources) -> std::result::Result<(), String> {
    let over: Vec<String> = capacity()
        .iter()
        .zip(used(r))
        .filter(|((_, cap), u)| *u > *cap)
        .map(|((name, cap), u)| format!("{name} {u} of {cap}"))
        .collect();
    if over.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} does not fit the XCZU7EV: {}",
            r.design,
            over.join(", ")
        ))
    }
}

/// A resource estimate from the IR, without synthesis: flip-flops, DSP48E2 tiles for each
/// multiply, block RAM, UltraRAM and LUT-RAM from each memory's shape, and LUTs from a cost
/// per operator. DSP, BRAM and FF counts track Yosys closely; LUTs are a rough figure (the
/// README gives the measured ratio). Used to refuse designs that cannot fit, quickly.
pub fn estimate(top: &Rc<Module>) -> Resources {
    let mut memo: HashMap<String, [f64; 7]> = HashMap::new();
    let c = cost(top, &mut memo);
    Resources {
        design: top.name.clone(),
        lut: c[0].ceil() as u64,
        ff: c[1] as u64,
        carry: c[2].ceil() as u64,
        dsp: c[3] as u64,
        bram36: c[4],
        uram: c[5] as u64,
        lutram: c[6] as u64,
    }
}

/// RAMB18 halves for a width × depth memory (simple dual port; 36 bits wide at most per half
/// at 512 deep, 18 at 1K, and so on).
fn bram18(width: u32, depth: u32) -> u64 {
    [
        (36u32, 512u32),
        (18, 1024),
        (9, 2048),
        (4, 4096),
        (2, 8192),
        (1, 16384),
    ]
    .iter()
    .map(|&(w, d)| width.div_ceil(w) as u64 * depth.div_ceil(d) as u64)
    .min()
    .unwrap()
}

/// Where a memory lands: as declared, or for `Auto` block RAM from 4 Kbit up.
fn effective_style(mem: &plume_hw::rtl::ir::Memory) -> MemStyle {
    match mem.style {
        MemStyle::Auto if mem.width as u64 * mem.depth as u64 >= 4096 => MemStyle::Block,
        MemStyle::Auto => MemStyle::Distributed,
        s => s,
    }
}

fn cost(m: &Rc<Module>, memo: &mut HashMap<String, [f64; 7]>) -> [f64; 7] {
    if let Some(c) = memo.get(&m.name) {
        return *c;
    }
    // [lut, ff, carry8, dsp, bram36, uram, lutram cells]
    let mut c = [0.0f64; 7];
    let w = |id: u32| m.node(id).width as f64;
    for n in &m.nodes {
        let nw = n.width as f64;
        match &n.op {
            Op::Bin(BinOp::Add | BinOp::Sub, ..) => {
                c[0] += nw;
                c[2] += (nw / 8.0).ceil();
            }
            Op::Bin(..) => c[0] += nw / 2.0,
            Op::Not(_) => {}
            Op::Mul(a, b) => {
                let (x, y) = (w(*a), w(*b));
                let (big, small) = if x >= y { (x, y) } else { (y, x) };
                if small <= 2.0 {
                    c[0] += big * small;
                } else {
                    c[3] += (big / 27.0).ceil() * (small / 18.0).ceil();
                }
            }
            Op::Cmp(CmpOp::Eq | CmpOp::Ne, a, _) => c[0] += (w(*a) / 3.0).ceil(),
            Op::Cmp(_, a, _) => {
                c[0] += (w(*a) / 2.0).ceil();
                c[2] += (w(*a) / 8.0).ceil();
            }
            Op::Shift(_, a, _) => c[0] += w(*a) * w(*a).log2().ceil().max(1.0) / 2.0,
            Op::Reduce(_, a) => c[0] += (w(*a) / 5.0).ceil(),
            Op::Mux { .. } => c[0] += nw / 2.0,
            Op::Select { choices, .. } => c[0] += nw * (choices.len() as f64 / 4.0).ceil(),
            Op::Reg { .. } => c[1] += nw,
            Op::MemRead { mem, .. }
                if effective_style(&m.memories[*mem]) == MemStyle::Distributed =>
            {
                c[1] += nw
            }
            _ => {}
        }
    }
    for mem in &m.memories {
        match effective_style(mem) {
            MemStyle::Block => c[4] += bram18(mem.width, mem.depth) as f64 / 2.0,
            MemStyle::Ultra => {
                c[5] += (mem.width.div_ceil(72) * mem.depth.div_ceil(4096)) as f64;
            }
            _ => {
                // LUT-RAM primitives, counted as Yosys counts them: RAM32M16 (32 × 14 bits)
                // up to 32 deep, else RAM64M8 (64 × 7 bits) per 64 lines.
                let cells = if mem.depth <= 32 {
                    mem.width.div_ceil(14)
                } else {
                    mem.depth.div_ceil(64) * mem.width.div_ceil(7)
                };
                c[6] += cells as f64;
            }
        }
    }
    for inst in &m.instances {
        let s = cost(&inst.module, memo);
        for k in 0..7 {
            c[k] += s[k];
        }
    }
    memo.insert(m.name.clone(), c);
    c
}

/// The Verilog shell `plume_<name>`: `aclk`/`aresetn` to the design's `clk`/`rst`, the AXI
/// ports named and annotated for Vivado's IP integrator (interfaces `s_axi`, `s_axis`,
/// `m_axis`, `interrupt`), streams padded to the DMA's widths, a 4 KiB register window.
pub fn shell(design: &Design, top: &Rc<Module>, map: &RegMap) -> String {
    let name = format!("plume_{}", design.name());
    let (wi, wo) = design.stream_widths();
    let (di, d_o) = (dma_width(wi), dma_width(wo));
    let ab = map.addr_bits;
    let info = |intf: &str, port: &str| {
        format!("(* X_INTERFACE_INFO = \"xilinx.com:interface:{intf} {port}\" *)")
    };
    let mut s = format!(
        "// AXI shell of {top} for Vivado's IP integrator (generated by plume; do not edit).\n\
         // aclk/aresetn drive the design's clk and synchronous active-high rst; the register\n\
         // window is 4 KiB (the design decodes the low {ab} address bits).\n\
         `default_nettype none\n\
         /* verilator lint_off UNUSEDSIGNAL */\n\
         module {name} (\n",
        top = top.name
    );
    let mut ports: Vec<String> = vec![
        "    (* X_INTERFACE_INFO = \"xilinx.com:signal:clock:1.0 aclk CLK\" *)\n    (* X_INTERFACE_PARAMETER = \"XIL_INTERFACENAME aclk, ASSOCIATED_BUSIF s_axi:s_axis:m_axis, ASSOCIATED_RESET aresetn\" *)\n    input  wire aclk".into(),
        "    (* X_INTERFACE_INFO = \"xilinx.com:signal:reset:1.0 aresetn RST\" *)\n    (* X_INTERFACE_PARAMETER = \"XIL_INTERFACENAME aresetn, POLARITY ACTIVE_LOW\" *)\n    input  wire aresetn".into(),
    ];
    let lite = [
        ("input ", "awaddr", 12, "AWADDR"),
        ("input ", "awvalid", 1, "AWVALID"),
        ("output", "awready", 1, "AWREADY"),
        ("input ", "wdata", 32, "WDATA"),
        ("input ", "wstrb", 4, "WSTRB"),
        ("input ", "wvalid", 1, "WVALID"),
        ("output", "wready", 1, "WREADY"),
        ("output", "bresp", 2, "BRESP"),
        ("output", "bvalid", 1, "BVALID"),
        ("input ", "bready", 1, "BREADY"),
        ("input ", "araddr", 12, "ARADDR"),
        ("input ", "arvalid", 1, "ARVALID"),
        ("output", "arready", 1, "ARREADY"),
        ("output", "rdata", 32, "RDATA"),
        ("output", "rresp", 2, "RRESP"),
        ("output", "rvalid", 1, "RVALID"),
        ("input ", "rready", 1, "RREADY"),
    ];
    let range = |w: u32| {
        if w == 1 {
            "      ".to_string()
        } else {
            format!("[{}:0]", w - 1)
        }
    };
    for (k, (dir, p, w, cap)) in lite.iter().enumerate() {
        let param = if k == 0 {
            "\n    (* X_INTERFACE_PARAMETER = \"XIL_INTERFACENAME s_axi, PROTOCOL AXI4LITE, DATA_WIDTH 32, ADDR_WIDTH 12\" *)"
        } else {
            ""
        };
        ports.push(format!(
            "    {}{param}\n    {dir} wire {} s_axi_{p}",
            info("aximm:1.0", &format!("s_axi {cap}")),
            range(*w)
        ));
    }
    let streams = [
        ("s_axis", "input ", "tdata", di, "TDATA"),
        ("s_axis", "input ", "tlast", 1, "TLAST"),
        ("s_axis", "input ", "tvalid", 1, "TVALID"),
        ("s_axis", "output", "tready", 1, "TREADY"),
        ("m_axis", "output", "tdata", d_o, "TDATA"),
        ("m_axis", "output", "tkeep", d_o / 8, "TKEEP"),
        ("m_axis", "output", "tlast", 1, "TLAST"),
        ("m_axis", "output", "tvalid", 1, "TVALID"),
        ("m_axis", "input ", "tready", 1, "TREADY"),
    ];
    for (intf, dir, p, w, cap) in streams {
        ports.push(format!(
            "    {}\n    {dir} wire {} {intf}_{p}",
            info("axis:1.0", &format!("{intf} {cap}")),
            range(w)
        ));
    }
    ports.push("    (* X_INTERFACE_INFO = \"xilinx.com:signal:interrupt:1.0 irq INTERRUPT\" *)\n    (* X_INTERFACE_PARAMETER = \"XIL_INTERFACENAME irq, SENSITIVITY LEVEL_HIGH\" *)\n    output wire irq".into());
    s.push_str(&ports.join(",\n"));
    s.push_str("\n);\n");
    s.push_str("    wire rst = ~aresetn;\n");
    if wo < d_o {
        s.push_str(&format!("    wire [{}:0] m_data;\n", wo - 1));
        s.push_str(&format!(
            "    assign m_axis_tdata = {{{}'d0, m_data}};\n",
            d_o - wo
        ));
    }
    s.push_str(&format!(
        "    assign m_axis_tkeep = {{{}{{1'b1}}}};\n",
        d_o / 8
    ));
    s.push_str(&format!("    {} core (\n", top.name));
    let mut conns = vec![
        "        .clk(aclk)".to_string(),
        "        .rst(rst)".to_string(),
    ];
    for (_, p, _, _) in lite {
        let sig = match p {
            "awaddr" | "araddr" => format!("s_axi_{p}[{}:0]", ab - 1),
            _ => format!("s_axi_{p}"),
        };
        conns.push(format!("        .s_axi_{p}({sig})"));
    }
    conns.push(format!(
        "        .s_axis_tdata(s_axis_tdata{})",
        if wi < di {
            format!("[{}:0]", wi - 1)
        } else {
            String::new()
        }
    ));
    for p in ["s_axis_tlast", "s_axis_tvalid", "s_axis_tready"] {
        conns.push(format!("        .{p}({p})"));
    }
    conns.push(format!(
        "        .m_axis_tdata({})",
        if wo < d_o { "m_data" } else { "m_axis_tdata" }
    ));
    for p in ["m_axis_tlast", "m_axis_tvalid", "m_axis_tready"] {
        conns.push(format!("        .{p}({p})"));
    }
    conns.push("        .o_irq(irq)".into());
    s.push_str(&conns.join(",\n"));
    s.push_str(
        "\n    );\nendmodule\n/* verilator lint_on UNUSEDSIGNAL */\n`default_nettype wire\n",
    );
    s
}

/// The `.xdc`: the clock on `aclk` for the out-of-context run (in the block design the PS's
/// own constraints time pl_clk0, set to the same frequency).
pub fn xdc(design: &Design, mhz: f64) -> String {
    format!(
        "# Constraints for {} (generated by plume; do not edit).\n\
         # Read by vivado/ooc.tcl. In the block design (vivado/build.tcl) the clock is the PS's\n\
         # pl_clk0 at the same frequency, constrained by the PS IP itself. No board pins are used:\n\
         # the design talks to the PS only.\n\
         create_clock -period {:.3} -name aclk [get_ports aclk]\n",
        design.name(),
        1000.0 / mhz
    )
}

fn fill(template: &str, design: &Design, mhz: f64) -> String {
    let (wi, wo) = design.stream_widths();
    let (di, d_o) = (dma_width(wi), dma_width(wo));
    template
        .replace("@@NAME@@", &design.name())
        .replace("@@SHELL@@", &format!("plume_{}", design.name()))
        .replace("@@PART@@", PART)
        .replace("@@MHZ@@", &format!("{mhz}"))
        .replace("@@DMA_IN@@", &di.to_string())
        .replace("@@DMA_OUT@@", &d_o.to_string())
        .replace("@@DMA_MM@@", &di.max(d_o).max(128).to_string())
}

/// Where the estimate came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EstimateSource {
    Ir,
    Yosys,
}

fn estimate_table(r: &Resources, source: EstimateSource) -> String {
    let mut s = String::from("| resource | used | XCZU7EV | share |\n|---|---:|---:|---:|\n");
    for ((name, cap), u) in capacity().iter().zip(used(r)) {
        s.push_str(&format!(
            "| {name} | {u} | {cap} | {:.1} % |\n",
            100.0 * u / cap
        ));
    }
    s.push_str(match source {
        EstimateSource::Ir => "\n(estimated from plume's IR without synthesis: DSP, BRAM and FF are close; LUTs are rough. `plume fpga zcu104 … --yosys` runs Yosys `synth_xilinx -family xcup` instead.)\n",
        EstimateSource::Yosys => "\n(Yosys `synth_xilinx -family xcup -flatten` on the wrapped design; Vivado's numbers will differ.)\n",
    });
    s
}

fn map_table(map: &RegMap) -> String {
    let mut s = String::from("| offset | word | access | bits | use |\n|---|---|---|---:|---|\n");
    for w in &map.words {
        let acc = match w.access {
            Access::Control => "control",
            Access::ReadWrite => "RW",
            Access::WriteOneToClear => "W1C",
            Access::ReadOnly => "RO",
        };
        s.push_str(&format!(
            "| 0x{:03x} | {} | {acc} | {} | {} |\n",
            w.offset,
            w.name,
            w.width,
            w.doc.replace('|', "/")
        ));
    }
    s
}

fn readme(
    design: &Design,
    mhz: f64,
    top: &Rc<Module>,
    map: &RegMap,
    est: &Resources,
    source: EstimateSource,
) -> String {
    let n = design.name();
    let (wi, wo) = design.stream_widths();
    format!(
        "# {n} for the ZCU104\n\n\
         Generated by plume {ver} on {date} for `{PART}` (ZCU104) at {mhz} MHz.\n\
         Parameters: `{params}`.\n\n\
         ## Build\n\n\
         ```\nmake          # Vivado batch: block design, synthesis, implementation, bitstream\nmake ooc      # the design alone, out of context, at the same clock\n```\n\n\
         `make` needs Vivado (2021.1 or newer, with Zynq UltraScale+ support; the ZCU104 board files \
         are used when installed). It writes `out/plume.bit`, `out/plume.hwh` (for PYNQ), \
         `out/plume.xsa`, and `reports/utilization.rpt`, `reports/timing_summary.rpt`; it fails \
         when the worst setup slack is negative. `PLUME_JOBS` sets Vivado's parallel jobs.\n\n\
         The block design: the Zynq UltraScale+ PS (`M_AXI_HPM0_FPD` → `accel/s_axi` and the DMA's \
         registers; `S_AXI_HP0_FPD` ← the DMA), an AXI DMA in simple mode (MM2S → `accel/s_axis`, \
         `accel/m_axis` → S2MM), pl_clk0 at {mhz} MHz for everything, and the interrupts \
         (accelerator, MM2S, S2MM) on `pl_ps_irq0`.\n\n\
         ## Files\n\n\
         | file | what |\n|---|---|\n\
         | `rtl/*.v` | the design `{top}` (one file per module) and its shell `plume_{n}` |\n\
         | `constraints/plume.xdc` | the clock for the out-of-context run |\n\
         | `vivado/build.tcl`, `vivado/ooc.tcl` | the Vivado batch scripts |\n\
         | `sw/{n}_regs.h` | the register map as C `#define`s |\n\
         | `sw/{n}.py` | a PYNQ-style driver class (`mmio` with `read`/`write`) |\n\
         {runner}
         | `plume.json` | what plume built (parameters, files, estimate); marks this directory as plume's |\n\n\
         ## Resource estimate\n\n{table}\n\
         ## Interfaces\n\n\
         `s_axi`: AXI4-Lite, 32-bit data, 4 KiB window. `s_axis`: {wi} bits of data in a {di}-bit \
         stream. `m_axis`: {wo} bits in {do_}-bit beats (`tkeep` all ones). `irq`: CTRL.done \
         when GIER and IER are set (level).\n\n{streams}\n\
         ## Register map\n\n{regs}\n\
         CTRL bit 0 start (write 1), bit 1 done (cleared when CTRL is read), bit 2 idle. Unmapped \
         offsets answer SLVERR.\n\n\
         ## What was checked, and what was not\n\n\
         Checked by plume before this directory was written: the design fits the XCZU7EV by the \
         estimate above; the Tcl scripts parse and their Vivado command sequence runs in `tclsh` \
         with every Vivado command stubbed (no Vivado command was executed). plume's test suite \
         lints the wrapped designs and this shell with Verilator `-Wall`, elaborates them in \
         Icarus, synthesises them with Yosys for `xcup`, and runs them end to end through AXI \
         bus-functional models against the golden model in plume's simulator, Verilator and Icarus.\n\n\
         Not checked: Vivado itself (it is not available where plume is developed), so IP \
         integrator's handling of the block design, timing closure at {mhz} MHz and the bitstream \
         have not been run; nor has the design run on a board.\n",
        ver = env!("CARGO_PKG_VERSION"),
        date = today(),
        params = design.params(),
        top = top.name,
        table = estimate_table(est, source),
        di = dma_width(wi),
        do_ = dma_width(wo),
        streams = design.stream_doc(),
        regs = map_table(map),
        runner = match design {
            Design::Feather(..) => "| `sw/run_feather.py` | runs a layer package from `plume feather export` on the board (PYNQ) and checks it against the golden output |\n",
            Design::Birrd(_) => "| `sw/run_birrd.py` | streams a vector package from `plume birrd export` through the board and checks every output against the golden model (PYNQ) |\n",
        },
    )
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02}")
}

/// Everything a build directory holds, by relative path.
pub struct Build {
    pub files: Vec<(String, Vec<u8>)>,
    pub estimate: Resources,
    pub source: EstimateSource,
}

/// Generates a build for `design` at `mhz`: validates, estimates (IR, or Yosys when asked),
/// refuses a design that does not fit, and dry-runs the Tcl when `tclsh` exists.
pub fn build(design: &Design, mhz: f64, yosys: bool) -> Result<Build> {
    validate(design, mhz).map_err(|e| anyhow::anyhow!(crate::BadInputError(e)))?;
    let top = design.wrapped()?;
    let map = design.map()?;
    let (est, source) = if yosys {
        (tools::synth(&top)?, EstimateSource::Yosys)
    } else {
        (estimate(&top), EstimateSource::Ir)
    };
    fits(&est).map_err(|e| {
        let hint = match source {
            EstimateSource::Ir => " (plume's IR estimate; --yosys synthesises for a closer figure)",
            EstimateSource::Yosys => " (Yosys synth_xilinx)",
        };
        anyhow::anyhow!(crate::BadInputError(format!("{e}{hint}")))
    })?;
    let n = design.name();
    let mut files: Vec<(String, Vec<u8>)> = plume_hw::rtl::verilog::emit_modules(&top)
        .into_iter()
        .map(|(m, t)| (format!("rtl/{m}.v"), t.into_bytes()))
        .collect();
    files.push((
        format!("rtl/plume_{n}.v"),
        shell(design, &top, &map).into_bytes(),
    ));
    files.push((
        "constraints/plume.xdc".into(),
        xdc(design, mhz).into_bytes(),
    ));
    let build_tcl = fill(BUILD_TCL, design, mhz);
    let ooc_tcl = fill(OOC_TCL, design, mhz);
    if plume_sim::cosim::which("tclsh") {
        for (name, text) in [("build.tcl", &build_tcl), ("ooc.tcl", &ooc_tcl)] {
            tcl_dry_run(text).with_context(|| format!("vivado/{name} fails its dry run"))?;
        }
    }
    files.push(("vivado/build.tcl".into(), build_tcl.into_bytes()));
    files.push(("vivado/ooc.tcl".into(), ooc_tcl.into_bytes()));
    files.push(("Makefile".into(), fill(MAKEFILE, design, mhz).into_bytes()));
    files.push((format!("sw/{n}_regs.h"), map.c_header().into_bytes()));
    files.push((format!("sw/{n}.py"), map.python_driver().into_bytes()));
    let (runner, template) = match design {
        Design::Feather(..) => ("sw/run_feather.py", RUN_FEATHER),
        Design::Birrd(_) => ("sw/run_birrd.py", RUN_BIRRD),
    };
    let text = template
        .replace("@@NAME@@", &n)
        .replace("@@MODULE@@", &n)
        .replace("@@CLASS@@", &map.python_class())
        .replace("@@HARDWARE@@", &design.params().to_string());
    files.push((runner.into(), text.into_bytes()));
    files.push((
        "README.md".into(),
        readme(design, mhz, &top, &map, &est, source).into_bytes(),
    ));
    let names: Vec<&String> = files.iter().map(|(n, _)| n).collect();
    let manifest = serde_json::json!({
        "plume_build": "zcu104",
        "generator": format!("plume {}", env!("CARGO_PKG_VERSION")),
        "date": today(),
        "part": PART,
        "design": design.kind(),
        "name": n,
        "params": design.params(),
        "mhz": mhz,
        "top": top.name,
        "shell": format!("plume_{n}"),
        "estimate": { "source": format!("{source:?}").to_lowercase(), "resources": est },
        "files": names,
    });
    files.push(("plume.json".into(), serde_json::to_vec_pretty(&manifest)?));
    Ok(Build {
        files,
        estimate: est,
        source,
    })
}

/// Writes a build into `dir` all at once. A `dir` that exists must be empty or a previous
/// plume build (it holds a `plume.json` plume wrote); the previous build is replaced whole.
pub fn write(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    if tools::holds_anything(dir) {
        let marker = dir.join("plume.json");
        let ours = std::fs::read_to_string(&marker)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| v.get("plume_build").is_some());
        if !ours {
            return Err(anyhow::anyhow!(crate::BadInputError(format!(
                "{} exists and is not a plume build (no plume.json); choose another directory",
                dir.display()
            ))));
        }
    }
    tools::replace_dir_atomically(dir, files)
}

/// Runs a Vivado script in `tclsh` with every Vivado command stubbed: the script must parse,
/// and its control flow run to the end without error. Returns the Vivado commands it called,
/// in order.
pub fn tcl_dry_run(script: &str) -> Result<Vec<String>> {
    let dir = TempDir::new("tcl")?;
    let script_path = dir.path().join("vivado").join("script.tcl");
    std::fs::create_dir_all(script_path.parent().unwrap())?;
    std::fs::create_dir_all(dir.path().join("rtl"))?;
    std::fs::write(dir.path().join("rtl").join("x.v"), "")?;
    std::fs::write(&script_path, script)?;
    let log = dir.path().join("calls.txt");
    let harness = format!(
        r#"
set ::plume_log [open {{{log}}} w]
proc unknown {{args}} {{
    puts $::plume_log [lindex $args 0]
    return ""
}}
proc get_property {{args}} {{
    puts $::plume_log get_property
    set names {{}}
    foreach a $args {{ if {{![string match -* $a]}} {{ lappend names $a }} }}
    switch -- [lindex $names 0] {{
        PROGRESS {{ return "100%" }}
        SLACK {{ return 0.5 }}
        default {{ return "" }}
    }}
}}
proc get_board_parts {{args}} {{ puts $::plume_log get_board_parts; return "xilinx.com:zcu104:part0:1.1" }}
rename file __plume_file
proc file {{sub args}} {{
    if {{$sub in {{mkdir copy delete}}}} {{ puts $::plume_log "file $sub"; return "" }}
    return [__plume_file $sub {{*}}$args]
}}
rename glob __plume_glob
proc glob {{args}} {{
    set r [__plume_glob -nocomplain {{*}}[lsearch -all -inline -not -exact $args -nocomplain]]
    if {{[llength $r] == 0}} {{ return [list stub.bit] }}
    return $r
}}
rename exit __plume_exit
proc exit {{{{code 0}}}} {{ puts $::plume_log "exit $code"; close $::plume_log; __plume_exit $code }}
if {{![info complete [read [open {{{script}}}]]]}} {{ puts stderr "incomplete script"; __plume_exit 3 }}
source {{{script}}}
puts $::plume_log "end"
close $::plume_log
"#,
        log = log.display(),
        script = script_path.display()
    );
    let harness_path = dir.path().join("harness.tcl");
    std::fs::write(&harness_path, harness)?;
    let out = Command::new("tclsh")
        .arg(&harness_path)
        .output()
        .context("cannot run tclsh")?;
    let calls: Vec<String> = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect();
    if !out.status.success() || calls.last().map(String::as_str) != Some("end") {
        bail!(
            "tclsh: {}{}(last call: {})",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
            calls.last().cloned().unwrap_or_default()
        );
    }
    Ok(calls)
}

/// Longest combinational path after `synth_xilinx -family xcup`, in cells (LUTs, CARRY8,
/// wide muxes, DSP48E2) between flip-flops and block RAMs — Yosys `ltp` over every cell but
/// FD*, RAMB* and URAM* — with the resources.
pub fn synth_with_depth(top: &Rc<Module>) -> Result<(Resources, LogicDepth)> {
    let (r, text) = tools::yosys_synth(
        top,
        Some("ltp -noff w:* t:* t:FD* %d t:RAMB* %d t:URAM* %d %u"),
    )?;
    let depth =
        parse_ltp(&text).with_context(|| format!("no path length in Yosys ltp output:\n{text}"))?;
    Ok((r, depth))
}

/// The longest path Yosys `ltp` found: its length in cells and the signals it starts and ends
/// at (hierarchical names of the flattened design).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LogicDepth {
    pub cells: u64,
    pub from: String,
    pub to: String,
}

/// Reads `ltp` output: "Longest topological path in m (length=N):" then one line per node,
/// `  k: <net> [bit] (via <cell>)`.
pub fn parse_ltp(text: &str) -> Option<LogicDepth> {
    let mut lines = text.lines().skip_while(|l| !l.contains("length="));
    let head = lines.next()?;
    let i = head.find("length=")?;
    let cells = head[i + 7..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse::<u64>()
        .ok()?;
    let nets: Vec<String> = lines
        .filter_map(|l| {
            let (k, rest) = l.trim().split_once(": ")?;
            k.parse::<u64>().ok()?;
            let net = rest.split(" (via").next()?.trim();
            Some(net.trim_start_matches('\\').to_string())
        })
        .collect();
    Some(LogicDepth {
        cells,
        from: nets.first().cloned().unwrap_or_default(),
        to: nets.last().cloned().unwrap_or_default(),
    })
}
