//! The Verilog shell `plume_<name>` that Vivado's IP integrator takes as a module reference:
//! `aclk`/`aresetn` to the design's `clk` and synchronous active-high `rst`, the AXI ports
//! named and annotated (interfaces `s_axi`, `s_axis`, `m_axis`, `irq`), streams padded to the
//! AXI DMA's widths, a 4 KiB register window. Built through the Verilog backend's AST, like
//! every other module plume emits.

use super::{dma_width, Wrapped};
use plume_hw::rtl::verilog::{VExpr, VItem, VModule, VPort};
use plume_hw::rtl::Bits;

/// The AXI4-Lite window's address bits (4 KiB).
const WINDOW_BITS: u32 = 12;

fn port(output: bool, name: &str, width: u32, attrs: &[(&str, String)]) -> VPort {
    VPort {
        output,
        name: name.to_string(),
        width,
        attrs: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

fn info(intf: &str, port: &str) -> (&'static str, String) {
    (
        "X_INTERFACE_INFO",
        format!("xilinx.com:interface:{intf} {port}"),
    )
}

fn ident(n: &str) -> VExpr {
    VExpr::Ident(n.to_string())
}

/// `name[w-1:0]` of a wider net, or the net itself.
fn low_bits(name: &str, w: u32, of: u32) -> VExpr {
    if w < of {
        VExpr::Range(name.to_string(), w - 1, 0)
    } else {
        ident(name)
    }
}

/// The shell's Verilog text.
pub fn shell(design: &Wrapped) -> String {
    let top = &design.board.top;
    let ab = design.board.map.addr_bits;
    let (wi, wo) = design.stream_widths();
    let (di, d_o) = (dma_width(wi), dma_width(wo));
    let mut ports = vec![
        port(
            false,
            "aclk",
            1,
            &[
                (
                    "X_INTERFACE_INFO",
                    "xilinx.com:signal:clock:1.0 aclk CLK".into(),
                ),
                (
                    "X_INTERFACE_PARAMETER",
                    "XIL_INTERFACENAME aclk, ASSOCIATED_BUSIF s_axi:s_axis:m_axis, ASSOCIATED_RESET aresetn"
                        .into(),
                ),
            ],
        ),
        port(
            false,
            "aresetn",
            1,
            &[
                (
                    "X_INTERFACE_INFO",
                    "xilinx.com:signal:reset:1.0 aresetn RST".into(),
                ),
                (
                    "X_INTERFACE_PARAMETER",
                    "XIL_INTERFACENAME aresetn, POLARITY ACTIVE_LOW".into(),
                ),
            ],
        ),
    ];
    let lite = [
        (false, "awaddr", WINDOW_BITS, "AWADDR"),
        (false, "awvalid", 1, "AWVALID"),
        (true, "awready", 1, "AWREADY"),
        (false, "wdata", 32, "WDATA"),
        (false, "wstrb", 4, "WSTRB"),
        (false, "wvalid", 1, "WVALID"),
        (true, "wready", 1, "WREADY"),
        (true, "bresp", 2, "BRESP"),
        (true, "bvalid", 1, "BVALID"),
        (false, "bready", 1, "BREADY"),
        (false, "araddr", WINDOW_BITS, "ARADDR"),
        (false, "arvalid", 1, "ARVALID"),
        (true, "arready", 1, "ARREADY"),
        (true, "rdata", 32, "RDATA"),
        (true, "rresp", 2, "RRESP"),
        (true, "rvalid", 1, "RVALID"),
        (false, "rready", 1, "RREADY"),
    ];
    for (k, (out, p, w, cap)) in lite.iter().enumerate() {
        let mut attrs = vec![info("aximm:1.0", &format!("s_axi {cap}"))];
        if k == 0 {
            attrs.push((
                "X_INTERFACE_PARAMETER",
                format!(
                    "XIL_INTERFACENAME s_axi, PROTOCOL AXI4LITE, DATA_WIDTH 32, ADDR_WIDTH {WINDOW_BITS}"
                ),
            ));
        }
        ports.push(port(*out, &format!("s_axi_{p}"), *w, &attrs));
    }
    let streams = [
        ("s_axis", false, "tdata", di, "TDATA"),
        ("s_axis", false, "tlast", 1, "TLAST"),
        ("s_axis", false, "tvalid", 1, "TVALID"),
        ("s_axis", true, "tready", 1, "TREADY"),
        ("m_axis", true, "tdata", d_o, "TDATA"),
        ("m_axis", true, "tkeep", d_o / 8, "TKEEP"),
        ("m_axis", true, "tlast", 1, "TLAST"),
        ("m_axis", true, "tvalid", 1, "TVALID"),
        ("m_axis", false, "tready", 1, "TREADY"),
    ];
    for (intf, out, p, w, cap) in streams {
        ports.push(port(
            out,
            &format!("{intf}_{p}"),
            w,
            &[info("axis:1.0", &format!("{intf} {cap}"))],
        ));
    }
    ports.push(port(
        true,
        "irq",
        1,
        &[
            (
                "X_INTERFACE_INFO",
                "xilinx.com:signal:interrupt:1.0 irq INTERRUPT".into(),
            ),
            (
                "X_INTERFACE_PARAMETER",
                "XIL_INTERFACENAME irq, SENSITIVITY LEVEL_HIGH".into(),
            ),
        ],
    ));

    let mut items = vec![
        VItem::Wire("rst".into(), 1),
        VItem::Assign(ident("rst"), VExpr::Unary("~", Box::new(ident("aresetn")))),
        VItem::Assign(
            ident("m_axis_tkeep"),
            VExpr::Repeat(d_o / 8, Box::new(VExpr::Const(Bits::from_u64(1, 1)))),
        ),
    ];
    let m_data = if wo < d_o {
        items.push(VItem::Wire("m_data".into(), wo));
        items.push(VItem::Assign(
            ident("m_axis_tdata"),
            VExpr::Concat(vec![VExpr::Const(Bits::zero(d_o - wo)), ident("m_data")]),
        ));
        "m_data"
    } else {
        "m_axis_tdata"
    };
    // The address bits above the design's decoder and the stream's padding are unused by
    // design: gathered into Verilator's documented `_unused_ok` idiom.
    let mut unused = vec![VExpr::Const(Bits::zero(1))];
    if ab < WINDOW_BITS {
        for a in ["s_axi_awaddr", "s_axi_araddr"] {
            unused.push(VExpr::Range(a.into(), WINDOW_BITS - 1, ab));
        }
    }
    if wi < di {
        unused.push(VExpr::Range("s_axis_tdata".into(), di - 1, wi));
    }
    unused.push(VExpr::Const(Bits::zero(1)));
    if unused.len() > 2 {
        items.push(VItem::Wire("_unused_ok".into(), 1));
        items.push(VItem::Assign(
            ident("_unused_ok"),
            VExpr::Unary("&", Box::new(VExpr::Concat(unused))),
        ));
    }
    let mut conns = vec![
        ("clk".to_string(), ident("aclk")),
        ("rst".to_string(), ident("rst")),
    ];
    for (_, p, _, _) in lite {
        let name = format!("s_axi_{p}");
        let e = match p {
            "awaddr" | "araddr" => low_bits(&name, ab, WINDOW_BITS),
            _ => ident(&name),
        };
        conns.push((name, e));
    }
    conns.push(("s_axis_tdata".into(), low_bits("s_axis_tdata", wi, di)));
    for p in ["s_axis_tlast", "s_axis_tvalid", "s_axis_tready"] {
        conns.push((p.into(), ident(p)));
    }
    conns.push(("m_axis_tdata".into(), ident(m_data)));
    for p in ["m_axis_tlast", "m_axis_tvalid", "m_axis_tready"] {
        conns.push((p.into(), ident(p)));
    }
    conns.push(("o_irq".into(), ident("irq")));
    items.push(VItem::Instance {
        module: top.name.clone(),
        name: "core".into(),
        connections: conns,
    });
    VModule {
        name: format!("plume_{}", design.name),
        ports,
        items,
        comments: vec![
            format!(
                "AXI shell of {} for Vivado's IP integrator (generated by plume; do not edit).",
                top.name
            ),
            "aclk/aresetn drive the design's clk and synchronous active-high rst; the register"
                .into(),
            format!("window is 4 KiB (the design decodes the low {ab} address bits)."),
        ],
        scalar_bits: true,
        no_implicit_nets: true,
    }
    .to_text()
}
