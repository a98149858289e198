#!/usr/bin/python3
"""Golden data for AttnScope's GPT-2 forward pass (tests/engine/test_gpt2.cpp).

    /usr/bin/python3 tests/golden/make_gpt2_golden.py

Needs only PyTorch (Debian's python3-torch, 1.13, CPU) and numpy; rewrites
gpt2_tiny.json next to itself. Deterministic: every draw comes from fixed seeds.

The model is GPT-2 written from its equations with plain torch ops, in the
order Hugging Face's GPT2Model (eval mode) applies them -- it imports neither
transformers nor anything of AttnScope:

    x = wte[ids] + wpe[0..n)
    per block:  h = layer_norm(x; ln_1)
                q|k|v = h @ c_attn.weight + c_attn.bias      (Conv1D: in x out)
                per head: w = softmax(where(visible, q k^T / full([], d**0.5), finfo.min))
                          context = w @ v
                a = concat(context) @ attn.c_proj.weight + bias;  x = x + a
                x = x + gelu_new(layer_norm(x; ln_2) @ c_fc.weight + bias) @ mlp.c_proj.weight + bias
    final_hidden = layer_norm(x; ln_f)
    gelu_new(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))

Weights: the C++ test rebuilds them and writes the safetensors file itself, so
they follow a rule both sides reproduce bit for bit:

    torch.manual_seed(case["seed"])
    for t in case["tensors"] (in that order):
        value = (torch.rand(t["shape"]) - 0.5) * t["scale"] + t["offset"]   # float32
    then, for dtype F16 or BF16, value = value.half().float() / .bfloat16().float()

t["first"] holds the first values of each tensor (after that rounding) so the
C++ side can check its draws. Each case also says the tensor name prefix
("" or "transformer.") and whether an lm_head.weight tied to wte is stored; the
model ignores both. An extra mask ("window:W") hides keys on top of the causal
mask: key j is visible to query i when j <= i and i - j < W.

Per run the file holds the ids and, per layer, per head: scores (raw q.k, null
where hidden), weights and context; the layer's c_proj output ("output"); and
final_hidden. Floats are float32 in their shortest round-trip decimal form.
A run of more than 64 tokens (past the CPU backend's 64-row attention blocks and
16-row projection blocks) stores its n x n scores and weights only at the rows
listed in "sampled_rows" (the first two, the last, both sides of every 64-row
edge); everything else whole.

    make_gpt2_golden.py --cases NAME,... --out DIR

regenerates only the named cases into DIR/gpt2_tiny.json (the token ids of every
run are still drawn in order, so the named cases come out as in the full file).
"""

import argparse
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_num_threads(1)


def f32(v):
    """Shortest decimal that round-trips to the same float32."""
    v = np.float32(v)
    assert np.isfinite(v), v
    r = float(str(v))
    assert np.float32(r) == v
    return r


def tolist(t):
    a = t.detach().numpy().astype(np.float32)
    if a.ndim == 1:
        return [f32(v) for v in a]
    return [tolist(torch.from_numpy(row)) for row in a]


def masked_list(scores, visible):
    s = scores.detach().numpy()
    m = visible.numpy()
    return [[f32(s[i, j]) if m[i, j] else None for j in range(s.shape[1])] for i in range(s.shape[0])]


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------

def f32_scale(x):
    """A scale exactly representable in float32, so both sides multiply by the same number."""
    return float(np.float32(x))


def tensor_specs(cfg, prefix, lm_head):
    """(name, shape, scale, offset) in the order they are drawn."""
    V, P, E, L = cfg["vocab_size"], cfg["n_positions"], cfg["n_embd"], cfg["n_layer"]
    inner = cfg["n_inner"] or 4 * E
    matrix = lambda fan_in: f32_scale(3.0 * math.sqrt(3.0 / fan_in))  # uniform(-a, a), a = 1.5 sqrt(3/fan_in)
    specs = [(prefix + "wte.weight", [V, E], 2.0, 0.0), (prefix + "wpe.weight", [P, E], 1.0, 0.0)]
    for l in range(L):
        h = "%sh.%d." % (prefix, l)
        specs += [
            (h + "ln_1.weight", [E], 0.5, 1.0),
            (h + "ln_1.bias", [E], 0.25, 0.0),
            (h + "attn.c_attn.weight", [E, 3 * E], matrix(E), 0.0),
            (h + "attn.c_attn.bias", [3 * E], 0.25, 0.0),
            (h + "attn.c_proj.weight", [E, E], matrix(E), 0.0),
            (h + "attn.c_proj.bias", [E], 0.25, 0.0),
            (h + "ln_2.weight", [E], 0.5, 1.0),
            (h + "ln_2.bias", [E], 0.25, 0.0),
            (h + "mlp.c_fc.weight", [E, inner], matrix(E), 0.0),
            (h + "mlp.c_fc.bias", [inner], 0.25, 0.0),
            (h + "mlp.c_proj.weight", [inner, E], matrix(inner), 0.0),
            (h + "mlp.c_proj.bias", [E], 0.25, 0.0),
        ]
    specs += [(prefix + "ln_f.weight", [E], 0.5, 1.0), (prefix + "ln_f.bias", [E], 0.25, 0.0)]
    return specs


def draw_weights(seed, specs, dtype):
    torch.manual_seed(seed)
    weights = {}
    for name, shape, scale, offset in specs:
        value = (torch.rand(shape) - 0.5) * scale + offset
        if dtype == "F16":
            value = value.half().float()
        elif dtype == "BF16":
            value = value.bfloat16().float()
        else:
            assert dtype == "F32"
        weights[name] = value
    return weights


# ---------------------------------------------------------------------------
# GPT-2, from the equations
# ---------------------------------------------------------------------------

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def conv1d(x, weight, bias):
    """Hugging Face's Conv1D: x @ weight + bias with weight stored (in, out)."""
    return torch.addmm(bias, x, weight)


def visible_keys(n, extra_mask):
    i = torch.arange(n).view(n, 1)
    j = torch.arange(n).view(1, n)
    visible = j <= i
    if extra_mask:
        kind, size = extra_mask.split(":")
        assert kind == "window"
        visible = visible & (i - j < int(size))
    return visible


def boundary_rows(n):
    """The rows a long run stores of its n x n matrices (as make_golden.py's large cases)."""
    rows = {0, 1, n - 1}
    for edge in range(64, n, 64):
        rows |= {edge - 1, edge}
    return sorted(rows)


def forward(cfg, w, prefix, ids, extra_mask):
    """Per layer: (scores, weights, context) of all heads (H x n x n, H x n x n, H x n x d) and the
    c_proj output; and the final hidden state."""
    E, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    eps = cfg["layer_norm_epsilon"]
    d = E // H
    n = len(ids)
    g = lambda name: w[prefix + name]
    visible = visible_keys(n, extra_mask)

    x = g("wte.weight")[torch.tensor(ids)] + g("wpe.weight")[torch.arange(n)]
    layers = []
    for l in range(L):
        p = "h.%d." % l
        h = F.layer_norm(x, (E,), g(p + "ln_1.weight"), g(p + "ln_1.bias"), eps)
        qkv = conv1d(h, g(p + "attn.c_attn.weight"), g(p + "attn.c_attn.bias"))
        q, k, v = qkv.split(E, dim=1)
        q, k, v = (t.view(n, H, d).permute(1, 0, 2) for t in (q, k, v))  # H x n x d
        scores = torch.matmul(q, k.transpose(-1, -2))
        scaled = scores / torch.full([], d ** 0.5, dtype=scores.dtype)
        scaled = torch.where(visible, scaled, torch.tensor(torch.finfo(scaled.dtype).min, dtype=scaled.dtype))
        weights = torch.softmax(scaled, dim=-1)
        context = torch.matmul(weights, v)  # H x n x d
        merged = context.permute(1, 0, 2).reshape(n, E)
        a = conv1d(merged, g(p + "attn.c_proj.weight"), g(p + "attn.c_proj.bias"))
        x = x + a
        m = conv1d(F.layer_norm(x, (E,), g(p + "ln_2.weight"), g(p + "ln_2.bias"), eps),
                   g(p + "mlp.c_fc.weight"), g(p + "mlp.c_fc.bias"))
        m = conv1d(gelu_new(m), g(p + "mlp.c_proj.weight"), g(p + "mlp.c_proj.bias"))
        x = x + m
        layers.append((scores, weights, context, a))
    final = F.layer_norm(x, (E,), g("ln_f.weight"), g("ln_f.bias"), eps)
    return layers, final


def layers_json(layers, visible, rows):
    """rows: the rows of the n x n matrices to store (None: all)."""
    out = []
    for scores, weights, context, a in layers:
        if rows is not None:
            scores, weights, visible_rows = scores[:, rows], weights[:, rows], visible[rows]
        else:
            visible_rows = visible
        out.append({
            "heads": [{"scores": masked_list(scores[hd], visible_rows), "weights": tolist(weights[hd]),
                       "context": tolist(context[hd])} for hd in range(len(context))],
            "output": tolist(a),
        })
    return out


def self_check(cfg, w, prefix, ids, extra_mask, layers, final):
    """The same numbers once more, the attention as one masked matrix per head in float64, from the raw
    weights: catches a slip in the head split or the mask."""
    E, H = cfg["n_embd"], cfg["n_head"]
    d = E // H
    n = len(ids)
    g = lambda name: w[prefix + name].double()
    eps = cfg["layer_norm_epsilon"]
    visible = visible_keys(n, extra_mask)

    def ln(x, name):
        mean = x.mean(dim=-1, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
        return (x - mean) / torch.sqrt(var + eps) * g(name + ".weight") + g(name + ".bias")

    x = g("wte.weight")[torch.tensor(ids)] + g("wpe.weight")[torch.arange(n)]
    for l in range(cfg["n_layer"]):
        p = "h.%d." % l
        h = ln(x, p + "ln_1")
        qkv = h @ g(p + "attn.c_attn.weight") + g(p + "attn.c_attn.bias")
        outputs = []
        for hd in range(H):
            q = qkv[:, hd * d:(hd + 1) * d]
            k = qkv[:, E + hd * d:E + (hd + 1) * d]
            v = qkv[:, 2 * E + hd * d:2 * E + (hd + 1) * d]
            s = (q @ k.T) / math.sqrt(d)
            s = s.masked_fill(~visible, -math.inf)
            wts = torch.softmax(s, dim=-1)
            got = layers[l][1][hd].detach().numpy()
            assert np.allclose(wts.numpy(), got, rtol=1e-4, atol=1e-5), ("weights", l, hd)
            outputs.append(wts @ v)
        a = torch.cat(outputs, dim=1) @ g(p + "attn.c_proj.weight") + g(p + "attn.c_proj.bias")
        x = x + a
        m = ln(x, p + "ln_2") @ g(p + "mlp.c_fc.weight") + g(p + "mlp.c_fc.bias")
        m = 0.5 * m * (1 + torch.tanh(math.sqrt(2 / math.pi) * (m + 0.044715 * m ** 3)))
        x = x + m @ g(p + "mlp.c_proj.weight") + g(p + "mlp.c_proj.bias")
    want = ln(x, "ln_f").numpy()
    err = np.abs(want - final.numpy()).max() / (np.abs(want).max())
    assert err < 1e-5, ("final_hidden", err)


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

def config(V, P, E, L, H, n_inner=None, eps=1e-5):
    return {"vocab_size": V, "n_positions": P, "n_embd": E, "n_layer": L, "n_head": H, "n_inner": n_inner,
            "layer_norm_epsilon": eps}


CASES = [
    # name, config, seed, dtype, prefix, lm_head, runs: (length, extra mask)
    ("1-layer-1-head", config(266, 4, 8, 1, 1), 11, "F32", "", False, [(1, None), (4, None)]),
    ("2-layers-2-heads-prefixed", config(270, 8, 16, 2, 2), 22, "F32", "transformer.", True,
     [(5, None), (8, None)]),
    ("3-layers-4-heads", config(300, 16, 32, 3, 4), 33, "F32", "", False,
     [(16, None), (7, "window:3"), (1, None)]),
    ("2-layers-4-heads-f16", config(280, 12, 32, 2, 4), 44, "F16", "", False, [(12, None), (3, None)]),
    ("2-layers-3-heads-bf16", config(264, 10, 24, 2, 3), 55, "BF16", "transformer.", False,
     [(10, None), (1, None)]),
    ("3-layers-3-heads-n_inner-eps", config(290, 9, 12, 3, 3, n_inner=20, eps=1e-6), 66, "F32", "", True,
     [(9, None), (6, "window:2")]),
    # Past the CPU backend's blocks: 64-row attention blocks, 16-row projection blocks, and the model's
    # own product up to 256 rows (Eigen's above).
    ("2-layers-2-heads-300-positions", config(270, 300, 8, 2, 2), 77, "F32", "", False,
     [(130, "window:100"), (300, None)]),
]
LONG_RUN = 64  # runs longer than this store sampled rows of their n x n matrices


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=HERE, help="folder to write to (default: next to this script)")
    parser.add_argument("--cases", help="comma-separated case names: regenerate only these")
    args = parser.parse_args()
    names = [c[0] for c in CASES]
    assert len(names) == len(set(names))
    wanted = set(names) if args.cases is None else set(args.cases.split(","))
    if wanted - set(names):
        parser.error("no such case: " + ", ".join(sorted(wanted - set(names))))

    rng = np.random.RandomState(20250611)
    cases = []
    worst_entropy = []
    for name, cfg, seed, dtype, prefix, lm_head, runs in CASES:
        # Every run's ids are drawn, wanted or not, so that a subset comes out as in the whole file.
        run_ids = [[int(i) for i in rng.randint(0, cfg["vocab_size"], size=length)] for length, _ in runs]
        if name not in wanted:
            continue
        specs = tensor_specs(cfg, prefix, lm_head)
        w = draw_weights(seed, specs, dtype)
        case = {
            "name": name, "config": cfg, "seed": seed, "dtype": dtype, "prefix": prefix, "lm_head": lm_head,
            "tensors": [{"name": n, "shape": s, "scale": sc, "offset": off,
                         "first": [f32(v) for v in w[n].flatten()[:4].tolist()]}
                        for n, s, sc, off in specs],
            "runs": [],
        }
        for ids, (length, extra_mask) in zip(run_ids, runs):
            assert length <= cfg["n_positions"]
            layers, final = forward(cfg, w, prefix, ids, extra_mask)
            self_check(cfg, w, prefix, ids, extra_mask, layers, final)
            for _, weights, _, _ in layers:
                for last in weights[:, -1].detach().numpy().astype(np.float32):
                    worst_entropy.append(float(-(last[last > 0] * np.log(last[last > 0])).sum()))
            rows = boundary_rows(length) if length > LONG_RUN else None
            run = {"ids": ids, "extra_mask": extra_mask}
            if rows is not None:
                run["sampled_rows"] = rows
            run.update(layers=layers_json(layers, visible_keys(length, extra_mask), rows),
                       final_hidden=tolist(final))
            case["runs"].append(run)
        cases.append(case)

    doc = {"generator": "make_gpt2_golden.py", "torch": torch.__version__,
           "weight_rule": "torch.manual_seed(seed); per tensor in order: (torch.rand(shape) - 0.5) * scale + "
                          "offset, then .half().float() (F16) or .bfloat16().float() (BF16)",
           "cases": cases}
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "gpt2_tiny.json")
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print("%d cases, %d runs -> %s (%d bytes); last-row attention entropy %.2f to %.2f nats" %
          (len(cases), sum(len(c["runs"]) for c in cases), path, os.path.getsize(path), min(worst_entropy),
           max(worst_entropy)))


if __name__ == "__main__":
    main()
