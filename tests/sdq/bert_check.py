#!/usr/bin/env python3
"""An independent check of plume's BERT sentence encoder (src/sdq/minilm.rs): the same
checkpoint run with NumPy (written here from the BERT architecture, reading safetensors by
its header) and tokenized with the Hugging Face `tokenizers` library; the token ids must be
equal and the embeddings equal to float32 rounding.

    python3 bert_check.py MODEL_DIR PLUME_EMBED_JSON
Exit status 0 when they agree, 1 when not; prints the largest difference.
"""

import json
import math
import struct
import sys

import numpy as np
from tokenizers import Tokenizer


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        dt = {"F32": np.float32, "I64": np.int64}[t["dtype"]]
        out[name] = np.frombuffer(data[a:b], dtype=dt).reshape(t["shape"])
    return out


def layer_norm(x, g, b, eps=1e-12):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def encode(w, ids, heads):
    erf = np.vectorize(math.erf)
    n = len(ids)
    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.position_embeddings.weight"][:n]
         + w["embeddings.token_type_embeddings.weight"][0]).astype(np.float64)
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    lin = lambda x, p: x @ w[p + ".weight"].T.astype(np.float64) + w[p + ".bias"]
    l = 0
    while "encoder.layer.%d.attention.self.query.weight" % l in w:
        p = "encoder.layer.%d." % l
        d = x.shape[1]
        hd = d // heads
        q = lin(x, p + "attention.self.query").reshape(n, heads, hd).transpose(1, 0, 2)
        k = lin(x, p + "attention.self.key").reshape(n, heads, hd).transpose(1, 0, 2)
        v = lin(x, p + "attention.self.value").reshape(n, heads, hd).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(n, d)
        x = layer_norm(x + lin(ctx, p + "attention.output.dense"),
                       w[p + "attention.output.LayerNorm.weight"],
                       w[p + "attention.output.LayerNorm.bias"])
        u = lin(x, p + "intermediate.dense")
        u = 0.5 * u * (1.0 + erf(u / math.sqrt(2.0)))
        x = layer_norm(x + lin(u, p + "output.dense"),
                       w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        l += 1
    e = x.mean(0)
    return e / np.linalg.norm(e)


def main():
    model, plume_json = sys.argv[1], sys.argv[2]
    w = load(model + "/model.safetensors")
    heads = json.load(open(model + "/config.json"))["num_attention_heads"]
    tok = Tokenizer.from_file(model + "/tokenizer.json")
    tok.no_padding()
    tok.no_truncation()
    worst = 0.0
    bad = 0
    for item in json.load(open(plume_json)):
        ids = tok.encode(item["text"]).ids
        if ids != item["ids"]:
            print("token ids differ for %r: tokenizers %s, plume %s" % (item["text"], ids, item["ids"]))
            bad += 1
            continue
        e = encode(w, ids, heads)
        diff = float(np.abs(e - np.array(item["embedding"])).max())
        worst = max(worst, diff)
    print("largest embedding difference %.3g over the texts" % worst)
    if bad or worst > 2e-5:
        return 1
    print("plume's encoder agrees with NumPy and tokenizers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
