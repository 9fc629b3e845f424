//! FEATHER behind AXI (`plume_hw::feather::axi::axi_feather`) from the host's side.
//!
//! A compiled layer becomes a [`Package`]: the register values, one DMA-ready byte image per
//! `s_axis` packet (buffer lines and the loop-compressed program), the read-back request, and
//! how to turn the read-back lines into the output tensor, plus the golden output. The same
//! package drives plume's simulator here ([`Host`], cycle by cycle through the bus-functional
//! models of `plume_sim::bfm`, with random stalls if asked) and the board (`sw/run_feather.py` in a
//! `plume fpga zcu104 feather` build reads the directory [`Package::write`] produces).

pub use super::session::{play_session, Session, Step};
use anyhow::{bail, Context, Result};
use plume_hw::feather::axi::{axi_feather, feather_map, feather_stream_width, Target};
use plume_hw::feather::compiler::mapper::{place, Dataflow, Layout, Schedule};
use plume_hw::feather::compiler::program;
use plume_hw::feather::compiler::tiling::Tiling;
use plume_hw::feather::golden::Quant;
use plume_hw::feather::sequencer::{SeqConfig, SeqLayout};
use plume_hw::feather::top::FeatherConfig;
use plume_hw::rtl::Module;
use plume_sim::bfm::{bits_bytes, OKAY};
pub use plume_sim::bfm::{Host, Pace, Stalls};
use plume_sim::Recording;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::rc::Rc;

/// One `s_axis` packet: `entries` entries of `target`, from entry 0, as stream bytes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Packet {
    pub target: u32,
    pub entries: u64,
    pub file: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// Everything the host sends and expects for one layer (`layer.json` plus binary files).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Package {
    /// The hardware it was compiled for (`feather_<AH>x<AW>_<topology>`), and its sizes.
    pub design: String,
    pub hardware: serde_json::Value,
    pub layer: String,
    /// Register values, in the order to write them.
    pub registers: Vec<(String, u64)>,
    pub packets: Vec<Packet>,
    pub rd_sel: u64,
    pub rd_lines: u64,
    /// Bytes per stream beat (one buffer line).
    pub line_bytes: u64,
    pub m: u64,
    pub n: u64,
    /// Output element i (row-major M×N) is byte `gather[i]` of the read-back stream.
    #[serde(skip)]
    pub gather: Vec<u32>,
    /// The golden model's output tensor.
    #[serde(skip)]
    pub golden: Vec<u8>,
    /// The compiler's cycle count (what `CYCLES` should read).
    pub cycles: u64,
}

/// The sizes a package or a build is for, as JSON.
pub fn hardware(cfg: &FeatherConfig, seq: &SeqConfig) -> serde_json::Value {
    serde_json::json!({
        "ah": cfg.ah, "aw": cfg.aw, "topology": cfg.topology.to_string(),
        "s_depth": cfg.s_depth, "w_depth": cfg.w_depth, "o_depth": cfg.o_depth,
        "desc_depth": seq.desc_depth, "pattern_depth": seq.pattern_depth,
        "config_depth": seq.config_depth, "window_depth": seq.window_depth
    })
}

impl Package {
    /// Compiles the host's side of a layer: operands placed in buffer lines, the program
    /// encoded into table entries, every entry padded to whole beats.
    pub fn new(
        sched: &Schedule,
        seq: &SeqConfig,
        a: &[u8],
        bm: &[u8],
        q: &Quant,
        golden: &[u8],
        layer: &str,
    ) -> Result<Package> {
        let cfg = &sched.cfg;
        let lay = SeqLayout::new(cfg, seq);
        let prog = program::build(sched);
        let tables = lay.encode(&prog).map_err(|e| anyhow::anyhow!(e))?;
        let beat = feather_stream_width(cfg) as usize / 8;
        let mut registers: Vec<(String, u64)> = super::layer::layer_constants(sched, q)
            .iter()
            .map(|(n, v)| (n.to_string(), *v))
            .collect();
        // The walker's registers matter only to window descriptors (others ignore them).
        if sched.window.is_some() {
            registers.extend(
                super::layer::window_constants(sched)
                    .into_iter()
                    .map(|(n, v)| (n.to_string(), v)),
            );
        }
        registers.push(("length".into(), sched.uops.len() as u64));
        let (s_lines, w_lines) = place(sched, a, bm, q.zp_i, q.zp_w);
        let s_target = if sched.in_buf == 0 {
            Target::Stream0
        } else {
            Target::Stream1
        };
        let mut packets = Vec::new();
        let mut add = |target: Target, entries: Vec<Vec<u8>>| {
            if !entries.is_empty() {
                packets.push(Packet {
                    target: target as u32,
                    entries: entries.len() as u64,
                    file: format!("packet{}_{target:?}.bin", packets.len()).to_lowercase(),
                    bytes: entries.concat(),
                });
            }
        };
        let pad = |l: &Vec<u8>| {
            let mut v = l.clone();
            v.resize(beat, 0);
            v
        };
        add(s_target, s_lines.iter().map(pad).collect());
        add(Target::Weights, w_lines.iter().map(pad).collect());
        for (sel, entries) in &tables {
            let t = Target::table(*sel);
            let per = t.entry_width(cfg, &lay).div_ceil(8 * beat as u32) as usize * beat;
            add(
                t,
                entries
                    .iter()
                    .map(|e| {
                        let mut v = Vec::with_capacity(per);
                        bits_bytes(e, per, &mut v);
                        v
                    })
                    .collect(),
            );
        }
        let g = sched.gemm;
        let mut gather = Vec::with_capacity(g.m * g.n);
        for m in 0..g.m {
            for n in 0..g.n {
                let (bank, line) = sched.out.place(m, n, g.n);
                gather.push((line * beat + bank) as u32);
            }
        }
        Ok(Package {
            design: format!("feather_{}x{}_{}", cfg.ah, cfg.aw, cfg.topology),
            hardware: hardware(cfg, seq),
            layer: layer.to_string(),
            registers,
            packets,
            rd_sel: sched.out_buf as u64,
            rd_lines: sched.out.lines(g.m, g.n) as u64,
            line_bytes: beat as u64,
            m: g.m as u64,
            n: g.n as u64,
            gather,
            golden: golden.to_vec(),
            cycles: sched.cycles,
        })
    }

    /// The hardware sizes this package needs.
    pub fn config(&self) -> Result<(FeatherConfig, SeqConfig)> {
        config_of(&self.hardware)
    }

    /// The output tensor from the read-back stream's bytes.
    pub fn tensor(&self, stream: &[u8]) -> Result<Vec<u8>> {
        self.gather
            .iter()
            .map(|&i| {
                stream.get(i as usize).copied().with_context(|| {
                    format!("read-back has {} bytes; byte {i} is needed", stream.len())
                })
            })
            .collect()
    }

    /// Writes `layer.json`, the packet images, `gather.u32` (little-endian) and `golden.u8`
    /// into `dir`, all at once.
    pub fn write(&self, dir: &Path) -> crate::Result<()> {
        let mut files: Vec<(String, Vec<u8>)> = self
            .packets
            .iter()
            .map(|p| (p.file.clone(), p.bytes.clone()))
            .collect();
        files.push(("gather.u32".into(), gather_bytes(&self.gather)));
        files.push(("golden.u8".into(), self.golden.clone()));
        files.push(("layer.json".into(), serde_json::to_vec_pretty(self)?));
        crate::output::write_dir(dir, &files)
    }

    pub fn read(dir: &Path) -> Result<Package> {
        let mut p: Package = read_json(&dir.join("layer.json"), "a plume layer package")?;
        for pk in &mut p.packets {
            pk.bytes = std::fs::read(dir.join(&pk.file))
                .with_context(|| format!("cannot read {}", pk.file))?;
        }
        p.gather = gather_of(&std::fs::read(dir.join("gather.u32"))?);
        p.golden = std::fs::read(dir.join("golden.u8"))?;
        Ok(p)
    }
}

/// A gather table as its file holds it (little-endian u32s), and back.
pub(crate) fn gather_bytes(g: &[u32]) -> Vec<u8> {
    g.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn gather_of(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A package's or a session's JSON (`what` names it in the error).
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not {what}", path.display()))
}

/// The hardware sizes a package's or a session's `hardware` object names.
pub fn config_of(h: &serde_json::Value) -> Result<(FeatherConfig, SeqConfig)> {
    let u = |k: &str| -> Result<u32> {
        h[k].as_u64()
            .map(|v| v as u32)
            .with_context(|| format!("hardware.{k} is missing"))
    };
    let mut cfg = FeatherConfig::new(u("ah")?, u("aw")?);
    cfg.topology = h["topology"]
        .as_str()
        .context("hardware.topology is missing")?
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    cfg.s_depth = u("s_depth")?;
    cfg.w_depth = u("w_depth")?;
    cfg.o_depth = u("o_depth")?;
    let seq = SeqConfig {
        desc_depth: u("desc_depth")?,
        pattern_depth: u("pattern_depth")?,
        config_depth: u("config_depth")?,
        window_depth: u("window_depth")?,
    };
    cfg.validate()?;
    Ok((cfg, seq))
}

pub struct AxiRun {
    /// The output tensor (M×N row-major), read back over `m_axis`.
    pub out: Vec<u8>,
    /// `CYCLES` as the hardware counted it.
    pub cycles: u64,
    /// Entries the wrapper reports written (`ENTRIES`).
    pub entries: u64,
    /// Bus cycles of each phase: parameters + data in, run (start to done), read-back.
    pub phases: [u64; 3],
    pub recording: Option<Recording>,
    pub top: Rc<Module>,
}

/// Runs a package on the wrapped design in plume's simulator, as the board's host would.
pub fn run_package(pkg: &Package, stalls: Stalls, record: bool) -> Result<AxiRun> {
    let (cfg, seq) = pkg.config()?;
    let mut h = Host::new(
        axi_feather(&cfg, &seq)?,
        feather_map(&cfg, &seq)?,
        stalls,
        record,
    )?;
    let p = play(&mut h, pkg)?;
    let top = h.top();
    Ok(AxiRun {
        out: p.out,
        cycles: p.cycles,
        entries: p.entries,
        phases: p.phases,
        recording: h.sim.take_recording(),
        top,
    })
}

/// One package played on a host session.
pub struct Played {
    pub out: Vec<u8>,
    pub cycles: u64,
    pub entries: u64,
    pub phases: [u64; 3],
    /// Cycles the `s_axis` transfers took (the load phase without register accesses).
    pub load_transfers: u64,
}

/// The DRAM the board's DMA reads operands from and writes results to, as the simulation's
/// stream transfers see it (`Pace`): first-beat latency in fabric cycles and bytes per cycle.
/// ZCU104 defaults (our assumption, not measured on a board): the AXI DMA on `S_AXI_HP0_FPD`,
/// 128 bits wide at the fabric clock — 16 bytes per cycle — and about 400 ns from a read
/// request to its first beat through the PS interconnect and DDR4, 40 cycles at 100 MHz.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dram {
    pub latency: u64,
    pub bytes_per_cycle: u64,
}

impl Dram {
    /// Cycles one buffer line of `aw` bytes takes to arrive: what the tiler weighs a line at.
    pub fn line_cycles(&self, aw: u32) -> f64 {
        self.pace(aw as u64).beat_cycles as f64
    }
}

impl Default for Dram {
    fn default() -> Dram {
        Dram {
            latency: 40,
            bytes_per_cycle: 16,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DramError {
    #[error("DRAM latency {0} cycles is out of range (0 to 100000)")]
    Latency(u64),
    #[error("DRAM bandwidth {0} bytes per cycle is out of range (1 to 1024)")]
    Bandwidth(u64),
}

impl Dram {
    pub fn validate(&self) -> std::result::Result<(), DramError> {
        if self.latency > 100_000 {
            return Err(DramError::Latency(self.latency));
        }
        if !(1..=1024).contains(&self.bytes_per_cycle) {
            return Err(DramError::Bandwidth(self.bytes_per_cycle));
        }
        Ok(())
    }

    /// The stream pacing for beats of `line_bytes` bytes.
    pub fn pace(&self, line_bytes: u64) -> Pace {
        Pace {
            latency: self.latency,
            beat_cycles: line_bytes.div_ceil(self.bytes_per_cycle).max(1),
        }
    }
}

impl Package {
    /// The load transfers' cycles by the DRAM model: each packet one DMA read of its beats.
    pub fn load_transfer_cycles(&self, pace: Pace) -> u64 {
        self.packets
            .iter()
            .map(|p| pace.read_cycles(p.bytes.len() as u64 / self.line_bytes))
            .sum()
    }
}

/// Plays `pkg` on `h` (which may have run other packages before): registers, packets, run,
/// read-back.
pub fn play(h: &mut Host, pkg: &Package) -> Result<Played> {
    let t_start = h.sim.cycle();
    for (name, v) in &pkg.registers {
        h.write(name, *v)?;
    }
    let entries0 = h.read("entries")?;
    let mut want_entries = 0;
    let mut load_transfers = 0;
    for p in &pkg.packets {
        load_transfers += send_packet(h, p, 0)?;
        want_entries += p.entries;
    }
    // ENTRIES counts from reset (32 bits): this package's share is the difference.
    let entries = h.read("entries")?.wrapping_sub(entries0) & 0xffff_ffff;
    if entries != want_entries {
        bail!("the wrapper wrote {entries} entries; {want_entries} were sent");
    }
    let t_in = h.sim.cycle() - t_start;
    h.write("op", 0)?;
    let t_run = h.start_and_wait(2 * length(pkg) + 10_000)?;
    let cycles = h.read("cycles")?;
    let (out, t_read) = read_back(h, pkg)?;
    Ok(Played {
        out,
        cycles,
        entries,
        phases: [t_in, t_run, t_read],
        load_transfers,
    })
}

/// Sends one packet's entries to its target from entry `base`; returns the transfer's cycles.
fn send_packet(h: &mut Host, p: &Packet, base: u64) -> Result<u64> {
    h.write("wr_target", p.target as u64)?;
    h.write("wr_base", base)?;
    Ok(h.send(&p.bytes)?)
}

/// Reads the package's output lines back over `m_axis`: the output tensor and the cycles the
/// read-back took (until CTRL reports done).
fn read_back(h: &mut Host, pkg: &Package) -> Result<(Vec<u8>, u64)> {
    h.write("op", 1)?;
    h.write("rd_sel", pkg.rd_sel)?;
    h.write("rd_base", 0)?;
    h.write("rd_count", pkg.rd_lines)?;
    let t0 = h.sim.cycle();
    if h.mmio_write(0, 1)? != OKAY {
        bail!("CTRL write refused");
    }
    let bytes = h.receive(pkg.rd_lines as usize)?;
    // done follows the last beat by two cycles (registered, then CTRL); a host polls.
    let received = h.sim.cycle() - t0;
    h.wait_done(t0, received + 1000)
        .context("CTRL does not report done after the read-back")?;
    Ok((pkg.tensor(&bytes)?, h.sim.cycle() - t0))
}

/// The length register of a package (its program's micro-instructions).
pub(crate) fn length(pkg: &Package) -> u64 {
    pkg.registers
        .iter()
        .find(|r| r.0 == "length")
        .map_or(0, |r| r.1)
}

/// A tiled layer run tile by tile on one simulated board session.
pub struct TiledRun {
    /// The whole output tensor (M×N row-major), assembled from the tiles' read-backs.
    pub out: Vec<u8>,
    pub tiles: Vec<TileRun>,
    /// Bus cycles of the whole session.
    pub bus_cycles: u64,
    /// Every input and output of every cycle of the session, when asked for.
    pub recording: Option<Recording>,
    /// The wrapped design the session ran.
    pub top: Rc<Module>,
}

impl TiledRun {
    /// Fails unless every tile's `CYCLES` is the compiler's count and every tile's transfers
    /// took the DRAM model's cycles (a run without random stalls) — loads sent while the
    /// previous tile ran included, so the wrapper never held them back.
    pub fn verify(&self) -> Result<()> {
        for (i, t) in self.tiles.iter().enumerate() {
            if t.cycles != t.model_cycles {
                bail!(
                    "tile {i}: CYCLES reads {} but the compiler expects {}",
                    t.cycles,
                    t.model_cycles
                );
            }
            if t.load_transfers != t.model_load_transfers {
                bail!(
                    "tile {i}: the loads took {} cycles against the DRAM but the model says {}",
                    t.load_transfers,
                    t.model_load_transfers
                );
            }
        }
        Ok(())
    }

    /// The tiles' program cycles summed (each tile that quantizes checked against `CYCLES`
    /// by `verify`).
    pub fn compute_cycles(&self) -> u64 {
        self.tiles.iter().map(|t| t.compute).sum()
    }

    /// Bus cycles of each phase summed over the tiles: loading, running (with the next tile's
    /// loads when double-buffered), reading back.
    pub fn phases(&self) -> [u64; 3] {
        self.tiles.iter().fold([0; 3], |a, t| {
            [a[0] + t.phases[0], a[1] + t.phases[1], a[2] + t.phases[2]]
        })
    }

    /// The load transfers' cycles summed over the tiles.
    pub fn load_transfers(&self) -> u64 {
        self.tiles.iter().map(|t| t.load_transfers).sum()
    }

    /// Load transfer cycles that ran while a tile computed (double buffering).
    pub fn overlapped(&self) -> u64 {
        self.tiles.iter().map(|t| t.overlapped).sum()
    }

    /// Operand packets not sent because the buffers already held them.
    pub fn reused(&self) -> u64 {
        self.tiles.iter().map(|t| t.reused).sum()
    }
}

/// One tile of a tiled run.
#[derive(Clone, Copy, Debug)]
pub struct TileRun {
    /// `CYCLES` as counted in hardware, and what the compiler says it must read: the
    /// program's cycles, or 0 for a K chunk that does not quantize.
    pub cycles: u64,
    pub model_cycles: u64,
    /// The compiler's cycles of the tile's program (its run on the core).
    pub compute: u64,
    /// Bus cycles of the three phases: loading (registers, tables, and the operands unless
    /// they went in during the previous run), running (start to done), reading back.
    pub phases: [u64; 3],
    /// This tile's stream transfers (tables and operands, whenever sent) as simulated against
    /// the DRAM, and as modelled.
    pub load_transfers: u64,
    pub model_load_transfers: u64,
    /// Cycles of the next tile's operand transfers made during this tile's run.
    pub overlapped: u64,
    /// This tile's operand packets (streamed, stationary) the buffers already held.
    pub reused: u64,
    /// Operand lines sent for this tile (what the tiler's `loaded_lines` predicts).
    pub loaded_lines: u64,
}

/// Runs `tiling` of the GEMM `a`·`b` (row-major, M×K and K×N) on the wrapped design for `cfg`
/// from `dram`: the host's operations planned by [`Session::tiled`] (each tile compiled for the
/// same hardware, operands the buffers already hold not sent again, a double-buffered tiling's
/// next operands sent while a tile runs) and played by [`play_session`]. For a window tiling
/// (`tile_window`) `a` is the convolution's compact NHWC input. With `record`, the whole
/// session is recorded for a replay on the emitted Verilog.
#[allow(clippy::too_many_arguments)]
pub fn run_tiled(
    cfg: &FeatherConfig,
    seq: &SeqConfig,
    tiling: &Tiling,
    df: Dataflow,
    layout: Layout,
    a: &[u8],
    b: &[u8],
    q: &Quant,
    stalls: Stalls,
    dram: Dram,
    record: bool,
) -> Result<TiledRun> {
    let session = Session::tiled(cfg, seq, tiling, df, layout, a, b, q, &[], "")?;
    let mut h = Host::new(
        axi_feather(cfg, seq)?,
        feather_map(cfg, seq)?,
        stalls,
        record,
    )?;
    h.dram = dram.pace(feather_stream_width(cfg) as u64 / 8);
    let mut r = play_session(&mut h, &session)?;
    r.recording = h.sim.take_recording();
    Ok(r)
}

/// Compiles the host's side of a layer and runs it on the wrapped design in plume's simulator.
pub fn run_axi(
    sched: &Schedule,
    seq: &SeqConfig,
    a: &[u8],
    bm: &[u8],
    q: &Quant,
    stalls: Stalls,
    record: bool,
) -> Result<AxiRun> {
    let pkg = Package::new(sched, seq, a, bm, q, &[], "")?;
    run_package(&pkg, stalls, record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dram_parameters_out_of_range_are_refused_with_their_range() {
        assert_eq!(Dram::default().validate(), Ok(()));
        let e = |d: Dram| d.validate().unwrap_err().to_string();
        assert_eq!(
            e(Dram {
                latency: 100_001,
                bytes_per_cycle: 16
            }),
            "DRAM latency 100001 cycles is out of range (0 to 100000)"
        );
        assert_eq!(
            e(Dram {
                latency: 0,
                bytes_per_cycle: 0
            }),
            "DRAM bandwidth 0 bytes per cycle is out of range (1 to 1024)"
        );
        // A 16-byte line at 3 bytes a cycle takes 6 cycles; 40 cycles to the first beat.
        let p = Dram {
            latency: 40,
            bytes_per_cycle: 3,
        }
        .pace(16);
        assert_eq!((p.latency, p.beat_cycles), (40, 6));
        assert_eq!(p.read_cycles(10), 40 + 9 * 6 + 1);
    }
}
