//! A tiled layer as the host's operations: [`Session`] is the ordered list of register
//! writes, DMA transfers, starts, waits and read-backs that runs a layer too large for the
//! buffers tile by tile — planned once ([`Session::tiled`]), played on plume's simulator
//! ([`play_session`]) or written to a directory (`session.json` and the transfers' bytes) that
//! `sw/run_feather.py` plays on the board, step for step the same.
//!
//! Planning decides what the buffers hold, so the plan needs no feedback from the hardware:
//! an operand the buffers already hold is not sent again; a GEMM tile's operands go into half
//! 0 (one tile after another) or, double-buffered, into the half the running tile does not use
//! (`S_BASE` / `W_BASE` tell the program where its lines start); a band's input rows go round
//! the streaming buffer as a ring, each band loading only the rows past the previous band's.

use super::host::{hardware, length, Package, TileRun, TiledRun};
use anyhow::{bail, Context, Result};
use plume_hw::feather::axi::{feather_stream_width, Target};
use plume_hw::feather::compiler::mapper::{compile_with, Dataflow, Layout, Options, Stream};
use plume_hw::feather::compiler::route::RouteCache;
use plume_hw::feather::compiler::tiling::Tiling;
use plume_hw::feather::compiler::window::slab_rows;
use plume_hw::feather::golden::Quant;
use plume_hw::feather::sequencer::SeqConfig;
use plume_hw::feather::top::FeatherConfig;
use plume_sim::bfm::{Host, OKAY};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One operation of the host.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Step {
    /// Write a register of the wrapper's map.
    Write { reg: String, value: u64 },
    /// One DMA transfer of `entries` entries of `target` from entry `base`, for tile `tile`.
    Send {
        tile: usize,
        target: u32,
        base: u64,
        entries: u64,
        file: String,
        #[serde(skip)]
        bytes: Vec<u8>,
    },
    /// `CTRL.start` with `OP = 0` (the wrapper's `ENTRIES` must count every entry sent so far).
    Start { tile: usize },
    /// Wait for done; `CYCLES` must then read the tile's compiler count (0 for a K chunk
    /// that does not quantize).
    Wait { tile: usize },
    /// Read the tile's output lines back and place them in the output tensor.
    Read { tile: usize },
}

/// What the host knows of one tile.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SessionTile {
    pub m0: usize,
    pub mt: usize,
    pub n0: usize,
    pub nt: usize,
    /// The reduction chunk `k0..k0+kt`; `last` when it ends the reduction: the tile then
    /// quantizes and is read back (earlier chunks leave partial sums in the output buffer).
    pub k0: usize,
    pub kt: usize,
    pub last: bool,
    /// The compiler's cycle count of the tile's program (what `CYCLES` reads when `last`;
    /// it reads 0 otherwise, no quantized write having happened).
    pub cycles: u64,
    /// The program's micro-instructions (the `LENGTH` register).
    pub length: u64,
    /// The streaming buffer read back (`RD_SEL`) and its lines.
    pub rd_sel: u64,
    pub rd_lines: u64,
    /// Output element `i` of the tile (row-major `mt`×`nt`) is byte `gather[i]` of its
    /// read-back stream (`gather_file`, little-endian u32).
    pub gather_file: String,
    #[serde(skip)]
    pub gather: Vec<u32>,
    /// Operand lines sent for it, and operand packets the buffers already held.
    pub loaded_lines: u64,
    pub reused: u64,
}

/// A tiled layer as the host's operations (`session.json` plus binary files).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Session {
    pub design: String,
    pub hardware: serde_json::Value,
    pub layer: String,
    pub m: usize,
    pub n: usize,
    /// Bytes per stream beat (one buffer line).
    pub line_bytes: u64,
    pub double_buffered: bool,
    pub tiles: Vec<SessionTile>,
    pub steps: Vec<Step>,
    /// The golden model's output tensor (`golden.u8`, M×N row-major).
    #[serde(skip)]
    pub golden: Vec<u8>,
}

/// Where a tile's operands went: the first streaming-buffer and weight-buffer lines its
/// program reads, the halves they are in, and for a band the ring rows its slab holds.
#[derive(Clone, Copy, Default)]
struct Placed {
    s_base: u64,
    w_base: u64,
    s_half: usize,
    w_half: usize,
    ring: (u64, u64),
}

/// The streaming buffer as a ring of a band tiling's input rows: rows `lo..hi` of image `n`
/// are held from ring row `q` on (ring row `j` starts at line `j·row_lines` mod the depth).
#[derive(Clone, Copy)]
struct Ring {
    n: usize,
    lo: usize,
    hi: usize,
    q: u64,
}

/// What the buffers hold: the operand bytes each half of S0 and W last received, and the
/// ring of input rows of a band tiling.
#[derive(Default)]
struct Resident {
    s: [Option<Vec<u8>>; 2],
    w: [Option<Vec<u8>>; 2],
    ring: Option<Ring>,
}

fn is_operand(target: u32) -> bool {
    target == Target::Stream0 as u32 || target == Target::Weights as u32
}

/// Which of a tile's operands to load.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Both,
    Streamed,
    Weights,
}

/// The planner: the tiling, the buffers' contents, and the steps so far.
struct Planner<'a> {
    cfg: &'a FeatherConfig,
    tiling: &'a Tiling,
    res: Resident,
    steps: Vec<Step>,
    /// Per tile: operand lines sent, operand packets the buffers already held.
    counts: Vec<(u64, u64)>,
}

impl Planner<'_> {
    fn send(&mut self, tile: usize, target: u32, base: u64, bytes: &[u8], line_bytes: u64) {
        let entries = bytes.len() as u64 / line_bytes;
        let kind = if target == Target::Weights as u32 {
            "w"
        } else {
            "s"
        };
        self.steps.push(Step::Send {
            tile,
            target,
            base,
            entries,
            file: format!("tile{tile}_{kind}_{}.bin", self.steps.len()),
            bytes: bytes.to_vec(),
        });
        self.counts[tile].0 += entries;
    }

    /// Plans the operand transfers (`part` of them) of tile `i` (package `pkg`) unless the
    /// buffers already hold them. A GEMM tile's go into half 0 one tile after another, or into
    /// the half the running tile (`busy`) does not use; a band's new input rows go into the
    /// ring after the rows it shares with the band before, its weights into the whole weight
    /// buffer (never while a band runs).
    fn operands(
        &mut self,
        i: usize,
        pkg: &Package,
        busy: Option<Placed>,
        part: Part,
        placed: &mut Placed,
    ) -> Result<()> {
        let cfg = self.cfg;
        let lb = pkg.line_bytes;
        for p in pkg.packets.iter().filter(|p| is_operand(p.target)) {
            let weights = p.target == Target::Weights as u32;
            if part
                == if weights {
                    Part::Streamed
                } else {
                    Part::Weights
                }
            {
                continue;
            }
            if let (false, Some((n, lo, hi))) = (weights, self.tiling.slab(i)) {
                let rl = p.entries / (hi - lo) as u64;
                let (q, from) = match self.res.ring {
                    Some(r) if r.n == n && r.lo <= lo && lo <= r.hi && r.hi <= hi => {
                        (r.q + (lo - r.lo) as u64, r.hi)
                    }
                    r => (r.map_or(0, |r| r.q + (r.hi - r.lo) as u64), lo),
                };
                let end = q + (hi - lo) as u64;
                if let Some(b) = busy {
                    // The rows written now must not reach the running band's.
                    if (end - b.ring.0) * rl > cfg.s_depth as u64 {
                        bail!(
                            "band {i}: its rows and the running band's need {} lines; the streaming buffer has {}",
                            (end - b.ring.0) * rl,
                            cfg.s_depth
                        );
                    }
                }
                if from < hi {
                    let first = q + (from - lo) as u64;
                    let off = (from - lo) * rl as usize * lb as usize;
                    let base = first * rl % cfg.s_depth as u64;
                    self.send(i, p.target, base, &p.bytes[off..], lb);
                } else {
                    self.counts[i].1 += 1;
                }
                self.res.ring = Some(Ring { n, lo, hi, q });
                placed.ring = (q, end);
                placed.s_base = q * rl % cfg.s_depth as u64;
                continue;
            }
            if busy.is_some() && self.tiling.window.is_some() {
                bail!("a band's weights cannot load while the band before runs");
            }
            let (depth, busy_half) = if weights {
                (cfg.w_depth, busy.map(|b| b.w_half))
            } else {
                (cfg.s_depth, busy.map(|b| b.s_half))
            };
            let halves = if weights {
                &mut self.res.w
            } else {
                &mut self.res.s
            };
            let half = match (0..2).find(|&h| halves[h].as_deref() == Some(&p.bytes[..])) {
                Some(h) => {
                    self.counts[i].1 += 1;
                    h
                }
                None => {
                    let h = match (self.tiling.double, busy_half) {
                        (true, Some(b)) => 1 - b,
                        _ => 0,
                    };
                    halves[h] = Some(p.bytes.clone());
                    let base = h as u64 * (depth as u64 / 2);
                    self.send(i, p.target, base, &p.bytes, lb);
                    h
                }
            };
            let base = half as u64 * (depth as u64 / 2);
            if weights {
                (placed.w_half, placed.w_base) = (half, base);
            } else {
                (placed.s_half, placed.s_base) = (half, base);
            }
        }
        Ok(())
    }
}

impl Session {
    /// Plans `tiling` of the GEMM `a`·`b` (row-major, M×K and K×N; for a window tiling `a` is
    /// the convolution's compact NHWC input; for a grouped tiling `b` is the stacked K×N
    /// matrices, `Tiling::groups`) on the wrapped design for `cfg`: every tile
    /// compiled for the buffers it may use (`Tiling::tile_cfg`) and packaged for the whole
    /// hardware, then the steps that load, run and read back each tile in turn.
    #[allow(clippy::too_many_arguments)]
    pub fn tiled(
        cfg: &FeatherConfig,
        seq: &SeqConfig,
        tiling: &Tiling,
        df: Dataflow,
        layout: Layout,
        a: &[u8],
        b: &[u8],
        q: &Quant,
        golden: &[u8],
        layer: &str,
    ) -> Result<Session> {
        let g = tiling.gemm;
        if tiling.tiles.is_empty() {
            bail!("a tiling without tiles");
        }
        let plan_cfg = tiling.tile_cfg(cfg);
        let mut cache = RouteCache::new();
        let mut stage = |i: usize| -> Result<(Package, u64)> {
            let t = &tiling.tiles[i];
            let (stream, ta) = match (tiling.band(t), tiling.band_shape(t)) {
                (Some((n, p0, rows)), Some(shape)) => {
                    // A band: the input rows its windows touch, from the compact input `a`.
                    let (lo, hi) = slab_rows(&shape, p0, rows);
                    let row = shape.w * shape.c;
                    let first = (n * shape.h + lo) * row;
                    (
                        Stream::Band { shape, n, p0, rows },
                        &a[first..first + (hi - lo) * row],
                    )
                }
                _ => (Stream::Placed, &a[t.m0 * g.k..(t.m0 + t.mt) * g.k]),
            };
            // A K chunk: A's columns k0..k0+kt of the tile's rows.
            let chunk: Vec<u8>;
            let ta = if t.kt < g.k {
                chunk = ta
                    .chunks(g.k)
                    .flat_map(|row| row[t.k0..t.k0 + t.kt].iter().copied())
                    .collect();
                &chunk[..]
            } else {
                ta
            };
            let (first, last) = tiling.k_chunk(i);
            let opt = Options::layer(df, layout, stream).grouped(tiling.groups);
            // Compiled for the buffers a tile may use (half of them for a double-buffered GEMM
            // tile); the program's line numbers mean the same on the whole hardware.
            let mut sched = compile_with(&plan_cfg, t.gemm(), &opt, &mut cache)
                .map_err(|e| anyhow::anyhow!("tile at m={} n={} k={}: {e}", t.m0, t.n0, t.k0))?
                .k_chunk(first, last);
            sched.cfg = *cfg;
            if (sched.in_buf, sched.out_buf) != (0, 1) {
                bail!("a tile must stream from S0 and write S1");
            }
            // B's rows k0..k0+kt, columns n0..n0+nt (of every stacked matrix when grouped).
            let tb: Vec<u8> = (0..tiling.groups)
                .flat_map(|grp| (t.k0..t.k0 + t.kt).map(move |k| (grp * g.k + k) * g.n))
                .flat_map(|row| b[row + t.n0..row + t.n0 + t.nt].iter().copied())
                .collect();
            Ok((
                Package::new(&sched, seq, ta, &tb, q, &[], "")?,
                sched.cycles,
            ))
        };
        let mut pl = Planner {
            cfg,
            tiling,
            res: Resident::default(),
            steps: Vec::new(),
            counts: vec![(0, 0); tiling.tiles.len()],
        };
        let count = tiling.tiles.len();
        let mut tiles = Vec::with_capacity(count);
        let mut pkgs = Vec::with_capacity(2);
        let mut bases = (0, 0);
        let mut ahead: Option<Placed> = None;
        for i in 0..count {
            if pkgs.is_empty() {
                pkgs.push(stage(i)?);
            }
            let (pkg, cycles) = pkgs.remove(0);
            let t = tiling.tiles[i];
            tiles.push(SessionTile {
                m0: t.m0,
                mt: t.mt,
                n0: t.n0,
                nt: t.nt,
                k0: t.k0,
                kt: t.kt,
                last: tiling.k_chunk(i).1,
                cycles,
                length: length(&pkg),
                rd_sel: pkg.rd_sel,
                rd_lines: pkg.rd_lines,
                gather_file: format!("tile{i}_gather.u32"),
                gather: pkg.gather.clone(),
                loaded_lines: 0,
                reused: 0,
            });
            let mut placed = Placed::default();
            match ahead.take() {
                // The streamed rows went in while the band before ran; the weights wait.
                Some(p) if tiling.window.is_some() => {
                    placed = p;
                    pl.operands(i, &pkg, None, Part::Weights, &mut placed)?;
                }
                Some(p) => placed = p,
                None => pl.operands(i, &pkg, None, Part::Both, &mut placed)?,
            }
            for (name, v) in &pkg.registers {
                pl.steps.push(Step::Write {
                    reg: name.clone(),
                    value: *v,
                });
            }
            let want = (placed.s_base, placed.w_base);
            if want != bases {
                for (reg, value) in [("s_base", want.0), ("w_base", want.1)] {
                    pl.steps.push(Step::Write {
                        reg: reg.into(),
                        value,
                    });
                }
                bases = want;
            }
            for p in pkg.packets.iter().filter(|p| !is_operand(p.target)) {
                pl.steps.push(Step::Send {
                    tile: i,
                    target: p.target,
                    base: 0,
                    entries: p.entries,
                    file: format!("tile{i}_t{}.bin", p.target),
                    bytes: p.bytes.clone(),
                });
            }
            pl.steps.push(Step::Write {
                reg: "op".into(),
                value: 0,
            });
            pl.steps.push(Step::Start { tile: i });
            if i + 1 < count {
                let next = stage(i + 1)?;
                if tiling.double {
                    // While this tile runs: the next one's operands beside it.
                    let part = if tiling.window.is_some() {
                        Part::Streamed
                    } else {
                        Part::Both
                    };
                    let mut p = Placed::default();
                    pl.operands(i + 1, &next.0, Some(placed), part, &mut p)?;
                    ahead = Some(p);
                }
                pkgs.push(next);
            }
            pl.steps.push(Step::Wait { tile: i });
            if tiling.k_chunk(i).1 {
                pl.steps.push(Step::Read { tile: i });
            }
        }
        for (t, &(lines, reused)) in tiles.iter_mut().zip(&pl.counts) {
            (t.loaded_lines, t.reused) = (lines, reused);
        }
        let line_bytes = feather_stream_width(cfg) as u64 / 8;
        Ok(Session {
            design: format!("feather_{}x{}_{}", cfg.ah, cfg.aw, cfg.topology),
            hardware: hardware(cfg, seq),
            layer: layer.to_string(),
            m: g.m,
            n: g.n,
            line_bytes,
            double_buffered: tiling.double,
            tiles,
            steps: pl.steps,
            golden: golden.to_vec(),
        })
    }
}

impl Session {
    /// Writes `session.json`, every transfer's bytes, the tiles' gather tables and
    /// `golden.u8` into `dir`, all at once.
    pub fn write(&self, dir: &Path) -> crate::Result<()> {
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for st in &self.steps {
            if let Step::Send { file, bytes, .. } = st {
                files.push((file.clone(), bytes.clone()));
            }
        }
        for t in &self.tiles {
            files.push((t.gather_file.clone(), super::host::gather_bytes(&t.gather)));
        }
        files.push(("golden.u8".into(), self.golden.clone()));
        files.push(("session.json".into(), serde_json::to_vec_pretty(self)?));
        crate::output::write_dir(dir, &files)
    }

    pub fn read(dir: &Path) -> Result<Session> {
        let mut s: Session = super::host::read_json(&dir.join("session.json"), "a plume session")?;
        let file = |name: &str| {
            std::fs::read(dir.join(name)).with_context(|| format!("cannot read {name}"))
        };
        for st in &mut s.steps {
            if let Step::Send { file: f, bytes, .. } = st {
                *bytes = file(f)?;
            }
        }
        for t in &mut s.tiles {
            t.gather = super::host::gather_of(&file(&t.gather_file)?);
        }
        s.golden = file("golden.u8")?;
        Ok(s)
    }

    /// The hardware sizes this session needs.
    pub fn config(&self) -> Result<(FeatherConfig, SeqConfig)> {
        super::host::config_of(&self.hardware)
    }

    /// The compiler's cycle count summed over the tiles' programs.
    pub fn cycles(&self) -> u64 {
        self.tiles.iter().map(|t| t.cycles).sum()
    }
}

/// Plays `s` on `h` (the wrapped design for the session's hardware, its DRAM pacing set):
/// every step in order. Returns the output tensor assembled from the read-backs and per tile
/// `CYCLES`, the bus cycles of each phase, its transfers as simulated and as the DRAM model
/// says, and the transfers made while it ran.
pub fn play_session(h: &mut Host, s: &Session) -> Result<TiledRun> {
    let pace = h.dram;
    let mut runs: Vec<TileRun> = s
        .tiles
        .iter()
        .map(|t| TileRun {
            cycles: 0,
            model_cycles: if t.last { t.cycles } else { 0 },
            compute: t.cycles,
            phases: [0; 3],
            load_transfers: 0,
            model_load_transfers: 0,
            overlapped: 0,
            reused: t.reused,
            loaded_lines: t.loaded_lines,
        })
        .collect();
    let tile = |i: usize| -> Result<&SessionTile> {
        s.tiles
            .get(i)
            .with_context(|| format!("the session has no tile {i}"))
    };
    let mut out = vec![0u8; s.m * s.n];
    let entries0 = h.read("entries")?;
    let mut sent = 0u64;
    let mut mark = h.sim.cycle();
    let mut running: Option<(usize, u64)> = None;
    for step in &s.steps {
        match step {
            Step::Write { reg, value } => h.write(reg, *value)?,
            Step::Send {
                tile: i,
                target,
                base,
                entries,
                bytes,
                ..
            } => {
                tile(*i)?;
                h.write("wr_target", *target as u64)?;
                h.write("wr_base", *base)?;
                let c = h.send(bytes)?;
                runs[*i].load_transfers += c;
                runs[*i].model_load_transfers +=
                    pace.read_cycles(bytes.len() as u64 / s.line_bytes);
                if let Some((r, _)) = running {
                    runs[r].overlapped += c;
                }
                sent += entries;
            }
            Step::Start { tile: i } => {
                tile(*i)?;
                // ENTRIES counts from reset (32 bits).
                let got = h.read("entries")?.wrapping_sub(entries0) & 0xffff_ffff;
                if got != sent & 0xffff_ffff {
                    bail!("tile {i}: the wrapper wrote {got} entries; {sent} were sent");
                }
                runs[*i].phases[0] = h.sim.cycle() - mark;
                let t0 = h.sim.cycle();
                if h.mmio_write(0, 1)? != OKAY {
                    bail!("CTRL write refused");
                }
                running = Some((*i, t0));
            }
            Step::Wait { tile: i } => {
                let t = tile(*i)?;
                let Some((r, t0)) = running.take().filter(|r| r.0 == *i) else {
                    bail!("the session waits for tile {i}, which was not started");
                };
                let limit = 2 * t.length + runs[r].overlapped + 10_000;
                runs[r].phases[1] = h.wait_done(t0, limit)?;
                runs[r].cycles = h.read("cycles")?;
                // The next tile's loading phase starts here (or after this tile's read-back).
                mark = h.sim.cycle();
            }
            Step::Read { tile: i } => {
                let t = tile(*i)?;
                if !t.last {
                    bail!("tile {i} is not its outputs' last K chunk: nothing to read back");
                }
                h.write("op", 1)?;
                h.write("rd_sel", t.rd_sel)?;
                h.write("rd_base", 0)?;
                h.write("rd_count", t.rd_lines)?;
                let t0 = h.sim.cycle();
                if h.mmio_write(0, 1)? != OKAY {
                    bail!("CTRL write refused");
                }
                let bytes = h.receive(t.rd_lines as usize)?;
                // done follows the last beat by two cycles (registered, then CTRL).
                let received = h.sim.cycle() - t0;
                h.wait_done(t0, received + 1000)
                    .context("CTRL does not report done after the read-back")?;
                runs[*i].phases[2] = h.sim.cycle() - t0;
                for (j, &g) in t.gather.iter().enumerate() {
                    let (m, c) = (j / t.nt, j % t.nt);
                    out[(t.m0 + m) * s.n + t.n0 + c] =
                        *bytes.get(g as usize).with_context(|| {
                            format!(
                                "tile {i}: read-back has {} bytes; byte {g} is needed",
                                bytes.len()
                            )
                        })?;
                }
                mark = h.sim.cycle();
            }
        }
    }
    Ok(TiledRun {
        out,
        tiles: runs,
        bus_cycles: h.sim.cycle(),
        recording: None,
        top: h.top(),
    })
}
