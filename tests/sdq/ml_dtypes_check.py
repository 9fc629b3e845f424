"""Cross-check plume's SDQ number formats against ml_dtypes (an independent implementation).

    python3 ml_dtypes_check.py FORMAT INPUTS.f32 CODES.u8 DECODED.f32

INPUTS.f32: little-endian float32 values; CODES.u8: plume's code for each (a cast: round to
nearest even, out-of-range as the format's cast does); DECODED.f32: plume's value of every code
point 0 .. 2^bits - 1. Prints one summary line; exit 1 on any disagreement.
"""
import sys

import ml_dtypes
import numpy as np

TYPES = {
    "e4m3": ml_dtypes.float8_e4m3fn,
    "e5m2": ml_dtypes.float8_e5m2,
    "e2m1": ml_dtypes.float4_e2m1fn,
    "e8m0": ml_dtypes.float8_e8m0fnu,
}


def main():
    fmt, inputs, codes, decoded = sys.argv[1:5]
    dt = TYPES[fmt]
    bits = 4 if fmt == "e2m1" else 8
    x = np.fromfile(inputs, dtype="<f4")
    ours = np.fromfile(codes, dtype=np.uint8)
    theirs = x.astype(dt).view(np.uint8) & ((1 << bits) - 1)
    # float4_e2m1fn has no NaN; ml_dtypes maps NaN to -0 there, plume to +0: not compared.
    skip = np.isnan(x) if fmt == "e2m1" else np.zeros(len(x), dtype=bool)
    # float8_e8m0fnu from a float32 subnormal above 2^-127: ml_dtypes (0.5.1) gives 2^-126
    # even where 2^-127 is nearer; plume rounds to nearest. Not compared, but counted.
    if fmt == "e8m0":
        tiny = (np.abs(x) > 2.0 ** -127) & (np.abs(x) < 2.0 ** -126)
        skip |= tiny
        print("e8m0: %d float32 subnormal inputs above 2^-127 not compared" % int(tiny.sum()))
    bad = np.nonzero((ours != theirs) & ~skip)[0]
    # Every code point's value.
    points = np.arange(1 << bits, dtype=np.uint8)
    ref = points.view(dt).astype(np.float32)
    ours_dec = np.fromfile(decoded, dtype="<f4")
    same = (ref.view(np.uint32) == ours_dec.view(np.uint32)) | (np.isnan(ref) & np.isnan(ours_dec))
    bad_dec = np.nonzero(~same)[0]
    print("%s: %d inputs, %d disagree; %d code points, %d decode differently"
          % (fmt, len(x), len(bad), len(points), len(bad_dec)))
    for i in bad[:5]:
        print("  input %r (0x%08x): plume %d, ml_dtypes %d"
              % (float(x[i]), x[i:i + 1].view(np.uint32)[0], ours[i], theirs[i]))
    for c in bad_dec[:5]:
        print("  code %d: plume %r, ml_dtypes %r" % (c, float(ours_dec[c]), float(ref[c])))
    return 1 if len(bad) or len(bad_dec) else 0


if __name__ == "__main__":
    sys.exit(main())
