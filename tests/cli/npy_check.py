"""Holds `plume feather run --data/--out` against NumPy: operands made and saved here, the
layer computed here from its definition (a GEMM with matmul, a convolution with NumPy's
sliding windows over the zero-point-padded input), plume's output files read back with
numpy.load. Usage: npy_check.py PLUME WORKDIR. Prints one line per case; exits 1 on any
difference."""

import json
import os
import subprocess
import sys

import numpy as np

PLUME, WORK = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(7)


def as_signed(v, signed):
    """A zero point byte as the operand's number format."""
    return int(np.array(v, dtype=np.uint8).view(np.int8)) if signed else int(v)


def requant(acc, scale, zp_o, out_signed):
    """clamp(round-half-up(acc * scale / 2^24) + zp_o) on int32 accumulators."""
    scale = int(np.array(scale, dtype=np.uint32).view(np.int32))
    p = acc.astype(np.int64) * scale
    y = ((p + (1 << 23)) >> 24) + as_signed(zp_o, out_signed)
    if out_signed:
        return np.clip(y, -128, 127).astype(np.int8)
    return np.clip(y, 0, 255).astype(np.uint8)


def run(args, data, out):
    r = subprocess.run([PLUME, "feather", "run", "--array", "8x8", *args,
                        "--data", data, "--out", out], capture_output=True, text=True)
    if r.returncode != 0:
        print("plume failed:", r.stderr)
        sys.exit(1)


def check(name, got, want):
    if got.dtype != want.dtype or got.shape != want.shape or not np.array_equal(got, want):
        print(f"{name}: DIFFERS (got {got.dtype} {got.shape}, want {want.dtype} {want.shape})")
        sys.exit(1)


def case_gemm():
    m, k, n = 9, 37, 13
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    b = rng.integers(0, 256, (k, n), dtype=np.uint8)
    q = {"zp_i": 250, "zp_w": 17, "scale": 40000, "zp_o": 3, "out_signed": True}
    d = os.path.join(WORK, "gemm_in")
    os.makedirs(d)
    np.save(os.path.join(d, "a.npy"), a)
    np.save(os.path.join(d, "b.npy"), b)
    json.dump(q, open(os.path.join(d, "quant.json"), "w"))
    out = os.path.join(WORK, "gemm_out")
    run(["--gemm", f"{m},{k},{n}"], d, out)
    da = a.astype(np.int64) - as_signed(q["zp_i"], True)
    db = b.astype(np.int64) - q["zp_w"]
    acc = (da @ db).astype(np.int64).astype(np.int32)
    check("gemm acc.npy", np.load(os.path.join(out, "acc.npy")), acc)
    check("gemm c.npy", np.load(os.path.join(out, "c.npy")),
          requant(acc, q["scale"], q["zp_o"], True))
    check("gemm a.npy", np.load(os.path.join(out, "a.npy")), a)
    print(f"gemm {m}x{k}x{n}: c.npy and acc.npy equal NumPy's")


def case_conv():
    n, c, h, w, kk, r, s, stride, pad = 1, 5, 7, 6, 11, 3, 3, 2, 1
    x = rng.integers(0, 256, (n, h, w, c), dtype=np.uint8)
    wt = rng.integers(-128, 128, (kk, r, s, c), dtype=np.int8)
    zp_i, zp_w = 100, 0xfd  # the weight zero point is int8 -3
    d = os.path.join(WORK, "conv_in")
    os.makedirs(d)
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "w.npy"), wt)
    # The JSON form: operands named by file, zero points and scale beside them.
    spec = {"x": "x.npy", "w": "w.npy", "zp_i": zp_i, "zp_w": zp_w, "scale": 300000,
            "zp_o": 128}
    json.dump(spec, open(os.path.join(d, "layer.json"), "w"))
    out = os.path.join(WORK, "conv_out")
    run(["--conv", f"{n},{c},{h},{w},{kk},{r},{s},{stride},{pad}"],
        os.path.join(d, "layer.json"), out)
    dx = x.astype(np.int64) - zp_i
    dx = np.pad(dx, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dw = wt.astype(np.int64) - as_signed(zp_w, True)
    win = np.lib.stride_tricks.sliding_window_view(dx, (r, s), axis=(1, 2))
    win = win[:, ::stride, ::stride]  # n, p, q, c, r, s
    acc = np.einsum("npqcrs,krsc->npqk", win, dw).astype(np.int32)
    check("conv acc.npy", np.load(os.path.join(out, "acc.npy")), acc)
    check("conv y.npy", np.load(os.path.join(out, "y.npy")),
          requant(acc, 300000, 128, False))
    print(f"conv {x.shape} * {wt.shape} stride {stride} pad {pad}: y.npy and acc.npy equal NumPy's")


def case_depthwise():
    """A depthwise layer (one filter per channel, CRS), tiled through the AXI top."""
    n, c, h, w, r, s, stride, pad = 1, 8, 9, 11, 3, 3, 2, 1
    x = rng.integers(-128, 128, (n, h, w, c), dtype=np.int8)
    wt = rng.integers(0, 256, (c, r, s), dtype=np.uint8)
    zp_i, zp_w = 0xf0, 130  # the input zero point is int8 -16
    d = os.path.join(WORK, "dw_in")
    os.makedirs(d)
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "w.npy"), wt)
    q = {"zp_i": zp_i, "zp_w": zp_w, "scale": 500000, "zp_o": 5, "out_signed": True}
    json.dump(q, open(os.path.join(d, "quant.json"), "w"))
    out = os.path.join(WORK, "dw_out")
    run(["--depthwise", f"{n},{c},{h},{w},{r},{s},{stride},{pad}", "--block", "2x2",
         "--tiled", "--depths", "64,64,64"], d, out)
    dx = x.astype(np.int64) - as_signed(zp_i, True)
    dx = np.pad(dx, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dw = wt.astype(np.int64) - zp_w
    win = np.lib.stride_tricks.sliding_window_view(dx, (r, s), axis=(1, 2))
    win = win[:, ::stride, ::stride]  # n, p, q, c, r, s
    acc = np.einsum("npqcrs,crs->npqc", win, dw).astype(np.int32)
    check("depthwise acc.npy", np.load(os.path.join(out, "acc.npy")), acc)
    check("depthwise y.npy", np.load(os.path.join(out, "y.npy")),
          requant(acc, 500000, 5, True))
    print(f"depthwise {x.shape} * {wt.shape} stride {stride} pad {pad}: y.npy and acc.npy equal NumPy's")


case_gemm()
case_conv()
case_depthwise()
