#!/usr/bin/python3
"""Golden-data generator for AttnScope's engine tests.

Run from the repository root (or anywhere):

    /usr/bin/python3 tests/golden/make_golden.py

It needs only PyTorch (Debian's python3-torch, 1.13, CPU) and numpy, and it
rewrites, next to itself:

    mechanisms.json  reference intermediates of every attention mechanism
    random.json      raw checks of torch's CPU generator (rand, Linear,
                     Embedding, Dropout)

The output is deterministic: every random draw comes from fixed seeds.

The modules are the classes of chapter 3 of "Build a Large Language Model
(From Scratch)" (rasbt/LLMs-from-scratch, ch03), constructed exactly as in
the book so that the parameters come from the same torch RNG draws.  To
expose every intermediate, the forward passes are re-implemented below in
instrumented form with the same torch ops in the same order; each
instrumented run is cross-checked against the book's own forward (same RNG
state) wherever that forward supports the requested mask.

Conventions of the generated cases (see the `case` dict in `run_case`):
  * torch.manual_seed(seed) right before the module is constructed.
  * The input is a batch of one (x.unsqueeze(0)) for the causal classes; the
    book's v1/v2 and the simplified mechanism take the 2-D input.
  * Masks: 1 = masked.  Masked scores are filled with -inf before scaling
    and softmax.  For the causal classes the class's `mask` buffer is
    replaced by the requested mask (all zeros for "none").
  * Dropout: with dropout_seed D, torch.manual_seed(D) is called right
    before the first dropout draw of the forward pass; without it, dropout
    continues from the generator state left by construction.
  * "sum" normalisation: where(mask, 0, scores * scale) / row sum.
  * Floats are float32 values written with their shortest round-trip
    decimal form (parse as double, cast to float32 to get the exact value).
"""

import argparse
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "book-chapter3.json")  # the book's printed numbers

torch.set_num_threads(1)


# ---------------------------------------------------------------------------
# The book's chapter 3 classes (rasbt/LLMs-from-scratch, ch03)
# ---------------------------------------------------------------------------

class SelfAttention_v1(nn.Module):

    def __init__(self, d_in, d_out):
        super().__init__()
        self.W_query = nn.Parameter(torch.rand(d_in, d_out))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out))

    def forward(self, x):
        keys = x @ self.W_key
        queries = x @ self.W_query
        values = x @ self.W_value

        attn_scores = queries @ keys.T  # omega
        attn_weights = torch.softmax(
            attn_scores / keys.shape[-1]**0.5, dim=-1
        )

        context_vec = attn_weights @ values
        return context_vec


class SelfAttention_v2(nn.Module):

    def __init__(self, d_in, d_out, qkv_bias=False):
        super().__init__()
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)

    def forward(self, x):
        keys = self.W_key(x)
        queries = self.W_query(x)
        values = self.W_value(x)

        attn_scores = queries @ keys.T
        attn_weights = torch.softmax(attn_scores / keys.shape[-1]**0.5, dim=-1)

        context_vec = attn_weights @ values
        return context_vec


class CausalAttention(nn.Module):

    def __init__(self, d_in, d_out, context_length,
                 dropout, qkv_bias=False):
        super().__init__()
        self.d_out = d_out
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)  # New
        self.register_buffer('mask', torch.triu(torch.ones(context_length, context_length), diagonal=1))  # New

    def forward(self, x):
        b, num_tokens, d_in = x.shape  # New batch dimension b
        keys = self.W_key(x)
        queries = self.W_query(x)
        values = self.W_value(x)

        attn_scores = queries @ keys.transpose(1, 2)  # Changed transpose
        attn_scores.masked_fill_(  # New, _ ops are in-place
            self.mask.bool()[:num_tokens, :num_tokens], -torch.inf)  # `:num_tokens` to account for cases where the number of tokens in the batch is smaller than the supported context_size
        attn_weights = torch.softmax(
            attn_scores / keys.shape[-1]**0.5, dim=-1
        )
        attn_weights = self.dropout(attn_weights)  # New

        context_vec = attn_weights @ values
        return context_vec


class MultiHeadAttentionWrapper(nn.Module):

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.heads = nn.ModuleList(
            [CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)
             for _ in range(num_heads)]
        )

    def forward(self, x):
        return torch.cat([head(x) for head in self.heads], dim=-1)


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        assert (d_out % num_heads == 0), \
            "d_out must be divisible by num_heads"

        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads  # Reduce the projection dim to match desired output dim

        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)  # Linear layer to combine head outputs
        self.dropout = nn.Dropout(dropout)
        self.register_buffer(
            "mask",
            torch.triu(torch.ones(context_length, context_length),
                       diagonal=1)
        )

    def forward(self, x):
        b, num_tokens, d_in = x.shape

        keys = self.W_key(x)  # Shape: (b, num_tokens, d_out)
        queries = self.W_query(x)
        values = self.W_value(x)

        # We implicitly split the matrix by adding a `num_heads` dimension
        # Unroll last dim: (b, num_tokens, d_out) -> (b, num_tokens, num_heads, head_dim)
        keys = keys.view(b, num_tokens, self.num_heads, self.head_dim)
        values = values.view(b, num_tokens, self.num_heads, self.head_dim)
        queries = queries.view(b, num_tokens, self.num_heads, self.head_dim)

        # Transpose: (b, num_tokens, num_heads, head_dim) -> (b, num_heads, num_tokens, head_dim)
        keys = keys.transpose(1, 2)
        queries = queries.transpose(1, 2)
        values = values.transpose(1, 2)

        # Compute scaled dot-product attention (aka self-attention) with a causal mask
        attn_scores = queries @ keys.transpose(2, 3)  # Dot product for each head

        # Original mask truncated to the number of tokens and converted to boolean
        mask_bool = self.mask.bool()[:num_tokens, :num_tokens]

        # Use the mask to fill attention scores
        attn_scores.masked_fill_(mask_bool, -torch.inf)

        attn_weights = torch.softmax(attn_scores / keys.shape[-1]**0.5, dim=-1)
        attn_weights = self.dropout(attn_weights)

        # Shape: (b, num_tokens, num_heads, head_dim)
        context_vec = (attn_weights @ values).transpose(1, 2)

        # Combine heads, where self.d_out = self.num_heads * self.head_dim
        context_vec = context_vec.contiguous().view(b, num_tokens, self.d_out)
        context_vec = self.out_proj(context_vec)  # optional projection

        return context_vec


# ---------------------------------------------------------------------------
# Masks
# ---------------------------------------------------------------------------

def build_mask(spec, n, rng):
    """Returns an n x n float tensor, 1 = masked."""
    m = np.zeros((n, n), dtype=np.float32)
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    if spec == "none":
        pass
    elif spec == "causal":
        m = (j > i).astype(np.float32)
    elif spec.startswith("window:"):
        w = int(spec.split(":")[1])
        visible = (j <= i) & (j > i - w)
        m = (~visible).astype(np.float32)
    elif spec.startswith("prefix:"):
        p = int(spec.split(":")[1])
        visible = (j < p) | (j <= i)
        m = (~visible).astype(np.float32)
    elif spec == "file":
        m = (rng.rand(n, n) < 0.5).astype(np.float32)
        np.fill_diagonal(m, 0.0)  # never a fully masked row
    else:
        raise ValueError(spec)
    assert (m.sum(axis=1) < n).all(), "a fully masked row"
    return torch.from_numpy(m)


# ---------------------------------------------------------------------------
# Instrumented forward passes (same ops, same order as the classes above)
# ---------------------------------------------------------------------------

def _normalise(scores, mask_bool, scale_div, normalization):
    """scores: raw scores (already masked_fill_-ed with -inf for softmax)."""
    if normalization == "softmax":
        return torch.softmax(scores / scale_div, dim=-1)
    scaled = scores / scale_div
    scaled = torch.where(mask_bool, torch.zeros_like(scaled), scaled)
    return scaled / scaled.sum(dim=-1, keepdim=True)


def fwd_simplified(x, mask, normalization):
    mask_bool = mask.bool()
    attn_scores = x @ x.T
    raw = attn_scores.clone()
    attn_scores.masked_fill_(mask_bool, -torch.inf)
    attn_weights = _normalise(attn_scores, mask_bool, 1, normalization)
    context_vec = attn_weights @ x
    head = dict(queries=x, keys=x, values=x, scale=1.0, scores=raw,
                weights=attn_weights, dropout_weights=None, context=context_vec)
    return [head], context_vec


def fwd_v1(mod, x, mask):
    mask_bool = mask.bool()
    keys = x @ mod.W_key
    queries = x @ mod.W_query
    values = x @ mod.W_value
    attn_scores = queries @ keys.T
    raw = attn_scores.clone()
    attn_scores.masked_fill_(mask_bool, -torch.inf)
    attn_weights = torch.softmax(attn_scores / keys.shape[-1]**0.5, dim=-1)
    context_vec = attn_weights @ values
    head = dict(queries=queries, keys=keys, values=values,
                scale=1.0 / keys.shape[-1]**0.5, scores=raw,
                weights=attn_weights, dropout_weights=None, context=context_vec)
    return [head], context_vec


def fwd_v2(mod, x, mask):
    mask_bool = mask.bool()
    keys = mod.W_key(x)
    queries = mod.W_query(x)
    values = mod.W_value(x)
    attn_scores = queries @ keys.T
    raw = attn_scores.clone()
    attn_scores.masked_fill_(mask_bool, -torch.inf)
    attn_weights = torch.softmax(attn_scores / keys.shape[-1]**0.5, dim=-1)
    context_vec = attn_weights @ values
    head = dict(queries=queries, keys=keys, values=values,
                scale=1.0 / keys.shape[-1]**0.5, scores=raw,
                weights=attn_weights, dropout_weights=None, context=context_vec)
    return [head], context_vec


def fwd_causal(mod, x, dropout_seed, p, first):
    """One CausalAttention head on a (1, n, d_in) batch."""
    b, num_tokens, d_in = x.shape
    keys = mod.W_key(x)
    queries = mod.W_query(x)
    values = mod.W_value(x)
    attn_scores = queries @ keys.transpose(1, 2)
    raw = attn_scores.clone()
    attn_scores.masked_fill_(mod.mask.bool()[:num_tokens, :num_tokens], -torch.inf)
    attn_weights = torch.softmax(attn_scores / keys.shape[-1]**0.5, dim=-1)
    pre = attn_weights
    if first and dropout_seed is not None:
        torch.manual_seed(dropout_seed)
    attn_weights = mod.dropout(attn_weights)
    context_vec = attn_weights @ values
    head = dict(queries=queries[0], keys=keys[0], values=values[0],
                scale=1.0 / keys.shape[-1]**0.5, scores=raw[0], weights=pre[0],
                dropout_weights=attn_weights[0] if p > 0 else None,
                context=context_vec[0])
    return head, context_vec


def fwd_wrapper(mod, x, dropout_seed, p):
    heads, outs = [], []
    for h, head in enumerate(mod.heads):
        rec, ctx = fwd_causal(head, x, dropout_seed, p, first=(h == 0))
        heads.append(rec)
        outs.append(ctx)
    out = torch.cat(outs, dim=-1)
    return heads, out[0]


def fwd_multihead(mod, x, dropout_seed, p):
    b, num_tokens, d_in = x.shape
    keys = mod.W_key(x)
    queries = mod.W_query(x)
    values = mod.W_value(x)
    keys = keys.view(b, num_tokens, mod.num_heads, mod.head_dim)
    values = values.view(b, num_tokens, mod.num_heads, mod.head_dim)
    queries = queries.view(b, num_tokens, mod.num_heads, mod.head_dim)
    keys = keys.transpose(1, 2)
    queries = queries.transpose(1, 2)
    values = values.transpose(1, 2)
    attn_scores = queries @ keys.transpose(2, 3)
    raw = attn_scores.clone()
    mask_bool = mod.mask.bool()[:num_tokens, :num_tokens]
    attn_scores.masked_fill_(mask_bool, -torch.inf)
    attn_weights = torch.softmax(attn_scores / keys.shape[-1]**0.5, dim=-1)
    pre = attn_weights
    if dropout_seed is not None:
        torch.manual_seed(dropout_seed)
    attn_weights = mod.dropout(attn_weights)
    per_head_ctx = attn_weights @ values
    context_vec = per_head_ctx.transpose(1, 2)
    context_vec = context_vec.contiguous().view(b, num_tokens, mod.d_out)
    context_vec = mod.out_proj(context_vec)
    heads = []
    for h in range(mod.num_heads):
        heads.append(dict(queries=queries[0, h], keys=keys[0, h], values=values[0, h],
                          scale=1.0 / keys.shape[-1]**0.5, scores=raw[0, h],
                          weights=pre[0, h],
                          dropout_weights=attn_weights[0, h] if p > 0 else None,
                          context=per_head_ctx[0, h]))
    return heads, context_vec[0]


# ---------------------------------------------------------------------------
# JSON helpers
# ---------------------------------------------------------------------------

def f32(v):
    """Shortest decimal that round-trips to the same float32."""
    v = np.float32(v)
    assert np.isfinite(v), v
    r = float(str(v))
    assert np.float32(r) == v
    return r


def tolist(t):
    if t is None:
        return None
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    a = a.astype(np.float32)
    if a.ndim == 0:
        return f32(a)
    return [tolist(row) if a.ndim > 1 else f32(row) for row in a]


def masked_list(scores, mask):
    s = scores.detach().numpy()
    m = mask.numpy()
    return [[None if m[i, j] else f32(s[i, j]) for j in range(s.shape[1])]
            for i in range(s.shape[0])]


# ---------------------------------------------------------------------------
# Case runner
# ---------------------------------------------------------------------------

MECHANISMS = ["simplified", "self-attention-v1", "self-attention", "causal",
              "multihead-wrapper", "multihead"]
DROPOUT_MECHANISMS = {"causal", "multihead-wrapper", "multihead"}
DEFAULT_MASK = {"simplified": "none", "self-attention-v1": "none",
                "self-attention": "none", "causal": "causal",
                "multihead-wrapper": "causal", "multihead": "causal"}


def seeded_embeddings(tokens, embedding_seed, d_in):
    vocab = []
    for t in tokens:
        if t not in vocab:
            vocab.append(t)
    torch.manual_seed(embedding_seed)
    emb = nn.Embedding(len(vocab), d_in)
    idx = torch.tensor([vocab.index(t) for t in tokens], dtype=torch.long)
    return emb.weight.detach()[idx].clone()


def boundary_rows(n):
    """The rows a large case stores of its n x n matrices: the first two, the last, and both sides of every
    64-row block edge (the CPU backend's query blocks, which also holds the edges of its 16-row projection and
    64-row out_proj blocks)."""
    rows = {0, 1, n - 1}
    for edge in range(64, n, 64):
        rows |= {edge - 1, edge}
    return sorted(rows)


def run_case(spec, np_rng, compute=True):
    """The case's JSON object and output. With compute=False only the random draws of the input and the
    mask are made (so a subset of the cases can be regenerated with the generator in the same state) and
    (None, None) comes back.

    A spec with large=True stores its n x n matrices (scores, weights, dropout weights) only at the rows
    boundary_rows(n) lists ("sampled_rows"); its mask shows in the null cells of scores_masked, and
    "scores_abs_max" keeps the largest |raw score| of the whole matrix (what the C++ test's tolerance
    floor is made from). Everything else is stored whole."""
    mech = spec["mechanism"]
    assert mech in MECHANISMS
    n = spec["n"]
    d_in = spec["d_in"]
    heads_n = spec.get("heads", 1)
    d_out = spec.get("d_out", d_in if mech == "simplified" else 2)
    if mech == "simplified":
        d_out = d_in
    qkv_bias = spec.get("qkv_bias", False) if mech not in ("simplified", "self-attention-v1") else False
    p = spec.get("dropout", 0.0) if mech in DROPOUT_MECHANISMS else 0.0
    dropout_seed = spec.get("dropout_seed") if mech in DROPOUT_MECHANISMS else None
    seed = spec.get("seed", 123)
    mask_spec = spec.get("mask", DEFAULT_MASK[mech])
    normalization = spec.get("normalization", "softmax")
    if normalization == "sum":
        assert mech == "simplified" and mask_spec in ("none", "causal")
    if mech not in ("multihead-wrapper", "multihead"):
        heads_n = 1
    if mech == "multihead":
        assert d_out % heads_n == 0

    # --- input
    case = {"name": spec["name"], "mechanism": mech, "d_in": d_in, "d_out": d_out,
            "heads": heads_n, "qkv_bias": qkv_bias, "dropout": p, "seed": seed,
            "dropout_seed": dropout_seed, "mask": mask_spec}
    if "tokens" in spec:
        tokens = spec["tokens"]
        assert len(tokens) == n
        x = seeded_embeddings(tokens, spec["embedding_seed"], d_in)
    elif "input" in spec:
        x = torch.tensor(spec["input"], dtype=torch.float32)
    else:
        kind = spec.get("input_kind", "signed")
        if kind == "positive":
            a = np_rng.rand(n, d_in)
        else:
            a = np_rng.uniform(-1.0, 1.0, size=(n, d_in))
        # Round to 4 decimals so the values are short in the JSON file.
        x = torch.tensor(np.round(a, 4), dtype=torch.float32)
    assert tuple(x.shape) == (n, d_in)
    mask = build_mask(mask_spec, n, np_rng)
    if not compute:
        return None, None
    large = spec.get("large", False)
    rows = boundary_rows(n) if large else list(range(n))
    if large:
        assert mask_spec != "file", "a large case's mask is rebuilt from its spec"
        case["n"] = n
        case["sampled_rows"] = rows
    else:
        case["mask_matrix"] = [[int(v) for v in row] for row in mask.numpy()]
    case["normalization"] = normalization
    if "tokens" in spec:
        case["tokens"] = spec["tokens"]
        case["embedding_seed"] = spec["embedding_seed"]
    case["input"] = tolist(x)

    # --- construction and forward
    torch.manual_seed(seed)
    module = None
    if mech == "simplified":
        heads, out = fwd_simplified(x.clone(), mask, normalization)
    elif mech == "self-attention-v1":
        module = SelfAttention_v1(d_in, d_out)
        heads, out = fwd_v1(module, x, mask)
        if mask_spec == "none":
            check_equal(out, module(x), spec["name"])
    elif mech == "self-attention":
        module = SelfAttention_v2(d_in, d_out, qkv_bias)
        heads, out = fwd_v2(module, x, mask)
        if mask_spec == "none":
            check_equal(out, module(x), spec["name"])
    else:
        if mech == "causal":
            module = CausalAttention(d_in, d_out, n, p, qkv_bias)
            causal_heads = [module]
        elif mech == "multihead-wrapper":
            module = MultiHeadAttentionWrapper(d_in, d_out, n, p, heads_n, qkv_bias)
            causal_heads = list(module.heads)
        else:
            module = MultiHeadAttention(d_in, d_out, n, p, heads_n, qkv_bias)
            causal_heads = [module]
        for m in causal_heads:
            m.mask = mask.clone()  # replaces the registered buffer
        assert module.training
        state = torch.get_rng_state()
        xb = x.unsqueeze(0)
        if mech == "causal":
            rec, ctx = fwd_causal(module, xb, dropout_seed, p, first=True)
            heads, out = [rec], ctx[0]
        elif mech == "multihead-wrapper":
            heads, out = fwd_wrapper(module, xb, dropout_seed, p)
        else:
            heads, out = fwd_multihead(module, xb, dropout_seed, p)
        after = torch.get_rng_state()
        # The book's forward from the same generator state must agree.
        torch.set_rng_state(state)
        if dropout_seed is not None:
            torch.manual_seed(dropout_seed)
        check_equal(out, module(xb)[0], spec["name"])
        assert torch.equal(after, torch.get_rng_state())

    expected_heads = []
    for h in heads:
        if large:
            expected_heads.append({
                "queries": tolist(h["queries"]), "keys": tolist(h["keys"]),
                "values": tolist(h["values"]), "scale": h["scale"],
                "scores_abs_max": f32(h["scores"].detach().abs().max().item()),
                "scores_masked": masked_list(h["scores"][rows], mask[rows]),
                "weights": tolist(h["weights"][rows]),
                "dropout_weights": None if h["dropout_weights"] is None else tolist(h["dropout_weights"][rows]),
                "context": tolist(h["context"]),
            })
            assert (h["weights"][mask.bool()] == 0).all()
            continue
        expected_heads.append({
            "queries": tolist(h["queries"]), "keys": tolist(h["keys"]),
            "values": tolist(h["values"]), "scale": h["scale"],
            "scores": tolist(h["scores"]),
            "scores_masked": masked_list(h["scores"], mask),
            "weights": tolist(h["weights"]),
            "dropout_weights": tolist(h["dropout_weights"]),
            "context": tolist(h["context"]),
        })
        # masked cells are exactly zero before dropout
        assert (h["weights"][mask.bool()] == 0).all()
    case["expected"] = {"heads": expected_heads, "output": tolist(out)}
    if module is not None:
        case["expected"]["parameters"] = {
            k: tolist(v) for k, v in module.state_dict().items()
            if not k.split(".")[-1] == "mask"}
    return case, out


def check_equal(a, b, name):
    if not torch.equal(a, b):
        diff = (a - b).abs().max().item()
        assert diff < 1e-6, (name, diff)


# ---------------------------------------------------------------------------
# Case list
# ---------------------------------------------------------------------------

WORDS = ["Your", "journey", "starts", "with", "one", "step", "the", "cat",
         "sat", "on", "mat", "and", "then", "a", "dog", "ran"]


def token_list(n, vocab):
    """n tokens drawn from the first `vocab` words, deterministic, with repeats."""
    return [WORDS[(i * 7 + i // 3) % vocab] for i in range(n)]


def mask_for(kind, n, k):
    if kind == "window":
        return "window:%d" % (1 + k % max(1, min(n, 4)) if n > 1 else 1)
    if kind == "prefix":
        return "prefix:%d" % (k % (n + 1))
    return kind


def case_name(s):
    """Name from the fields that matter for the mechanism."""
    mech = s["mechanism"]
    parts = [mech, s["mask"].replace(":", ""), "n%d" % s["n"], "din%d" % s["d_in"]]
    if mech != "simplified":
        parts.append("dout%d" % s["d_out"])
    if mech in ("multihead-wrapper", "multihead"):
        parts.append("h%d" % s["heads"])
    if mech in DROPOUT_MECHANISMS and s.get("dropout", 0.0) > 0:
        parts.append("p%s" % s["dropout"])
    if mech in DROPOUT_MECHANISMS and s.get("dropout_seed") is not None:
        parts.append("dseed%d" % s["dropout_seed"])
    if mech not in ("simplified", "self-attention-v1") and s.get("qkv_bias"):
        parts.append("bias")
    if "tokens" in s:
        parts.append("seeded")
    return "-".join(parts)


def make_specs(book):
    specs = []
    add = specs.append
    bi = book["inputs"]
    # Book cases.
    add(dict(name="book-simplified", mechanism="simplified", n=6, d_in=3, input=bi))
    add(dict(name="book-simplified-sum", mechanism="simplified", n=6, d_in=3, input=bi,
             normalization="sum"))
    add(dict(name="book-v1-seed123", mechanism="self-attention-v1", n=6, d_in=3, d_out=2,
             seed=123, input=bi))
    add(dict(name="book-v2-seed789", mechanism="self-attention", n=6, d_in=3, d_out=2,
             seed=789, input=bi))
    add(dict(name="book-causal-seed789", mechanism="causal", n=6, d_in=3, d_out=2,
             seed=789, dropout=0.0, input=bi))
    add(dict(name="book-causal-seed123", mechanism="causal", n=6, d_in=3, d_out=2,
             seed=123, dropout=0.0, input=bi))
    add(dict(name="book-wrapper-seed123", mechanism="multihead-wrapper", n=6, d_in=3,
             d_out=2, heads=2, seed=123, dropout=0.0, input=bi))
    add(dict(name="book-multihead-seed123", mechanism="multihead", n=6, d_in=3,
             d_out=2, heads=2, seed=123, dropout=0.0, input=bi))
    add(dict(name="book-causal-seed123-p0.5-dseed123", mechanism="causal", n=6, d_in=3,
             d_out=2, seed=123, dropout=0.5, dropout_seed=123, input=bi))

    # Every mechanism x every mask, dropout 0; explicit and seeded inputs alternate.
    seeds = [123, 789, 1, 42, 2024, 7]
    k = 0
    for mech in MECHANISMS:
        for mk in ["none", "causal", "window", "prefix", "file"]:
            n = 3 + (k * 7) % 11          # 3..13
            d_in = 1 + (k * 3) % 8        # 1..8
            heads = 1 + k % 3
            d_out = heads * (1 + k % 2) if mech == "multihead" else 1 + k % 4
            mask = mask_for(mk, n, k)
            s = dict(mechanism=mech, n=n, d_in=d_in, d_out=d_out, heads=heads,
                     seed=seeds[k % len(seeds)], mask=mask, dropout=0.0,
                     qkv_bias=bool(k % 2))
            if k % 2:
                s.update(tokens=token_list(n, 2 + k % 6), embedding_seed=100 + k)
            s["name"] = case_name(s)
            add(s)
            k += 1

    # Dropout mechanisms x masks with dropout > 0, with and without dropout_seed.
    ps = [0.1, 0.5, 0.2, 0.9, 0.3]
    for mech in ["causal", "multihead-wrapper", "multihead"]:
        for mi, mk in enumerate(["none", "causal", "window", "prefix", "file"]):
            for with_dseed in (False, True):
                n = 4 + (k * 5) % 11         # 4..14
                d_in = 2 + (k * 5) % 7
                heads = 1 + k % 4
                d_out = heads * (1 + k % 3) if mech == "multihead" else 1 + k % 3
                p = ps[(mi + with_dseed) % len(ps)]
                mask = mask_for(mk, n, k)
                s = dict(mechanism=mech, n=n, d_in=d_in, d_out=d_out, heads=heads,
                         seed=seeds[k % len(seeds)], mask=mask, dropout=p,
                         qkv_bias=bool((k // 2) % 2))
                if with_dseed:
                    s["dropout_seed"] = [123, 789, 5, 0][k % 4]
                if k % 3 == 0:
                    s.update(tokens=token_list(n, 3 + k % 5), embedding_seed=200 + k)
                s["name"] = case_name(s)
                add(s)
                k += 1

    # Sum normalisation (simplified, positive inputs).
    add(dict(name="simplified-sum-none-n5-din4", mechanism="simplified", n=5, d_in=4,
             mask="none", normalization="sum", input_kind="positive"))
    add(dict(name="simplified-sum-causal-n7-din3", mechanism="simplified", n=7, d_in=3,
             mask="causal", normalization="sum", input_kind="positive"))
    add(dict(name="simplified-sum-none-n1-din2", mechanism="simplified", n=1, d_in=2,
             mask="none", normalization="sum", input_kind="positive"))
    add(dict(name="simplified-sum-causal-n16-din8", mechanism="simplified", n=16, d_in=8,
             mask="causal", normalization="sum", input_kind="positive"))

    # Small n for every mechanism.
    for mech in MECHANISMS:
        for n in (1, 2):
            s = dict(name="%s-n%d" % (mech, n), mechanism=mech, n=n, d_in=3, d_out=4,
                     heads=2, seed=789 if n == 1 else 123,
                     dropout=0.5 if n == 2 else 0.1, qkv_bias=(n == 2))
            if n == 2:
                s.update(tokens=["hello", "hello"], embedding_seed=3)  # repeated token, V*d<16
                s["name"] += "-seeded-repeat"
            add(s)

    # Extremes of d_in, heads and n.
    add(dict(name="multihead-n64-din32-h8-causal-p0.1-dseed123", mechanism="multihead",
             n=64, d_in=32, d_out=32, heads=8, seed=123, dropout=0.1, dropout_seed=123,
             qkv_bias=True))
    add(dict(name="multihead-wrapper-n64-din16-h2-window8-p0.5", mechanism="multihead-wrapper",
             n=64, d_in=16, d_out=4, heads=2, seed=789, dropout=0.5, mask="window:8",
             tokens=token_list(64, 16), embedding_seed=64))
    add(dict(name="simplified-n64-din32-causal", mechanism="simplified", n=64, d_in=32,
             mask="causal"))
    add(dict(name="self-attention-n20-din32-dout16-bias", mechanism="self-attention",
             n=20, d_in=32, d_out=16, seed=42, qkv_bias=True))
    add(dict(name="self-attention-v1-n9-din1-dout1", mechanism="self-attention-v1",
             n=9, d_in=1, d_out=1, seed=789))
    add(dict(name="causal-n10-din1-dout3-p0.1", mechanism="causal", n=10, d_in=1, d_out=3,
             seed=123, dropout=0.1))
    add(dict(name="multihead-n12-din8-h8-dout8-prefix3", mechanism="multihead", n=12,
             d_in=8, d_out=8, heads=8, seed=789, mask="prefix:3", dropout=0.0))
    add(dict(name="multihead-n12-din8-h1-dout6-file-p0.5", mechanism="multihead", n=12,
             d_in=8, d_out=6, heads=1, seed=5, mask="file", dropout=0.5))
    add(dict(name="multihead-wrapper-n8-din6-h4-dout3-p0.1-bias", mechanism="multihead-wrapper",
             n=8, d_in=6, d_out=3, heads=4, seed=123, dropout=0.1, qkv_bias=True))
    add(dict(name="multihead-wrapper-n8-din6-h8-dout1-p0.5-dseed789",
             mechanism="multihead-wrapper", n=8, d_in=6, d_out=1, heads=8, seed=789,
             dropout=0.5, dropout_seed=789))
    add(dict(name="causal-n64-din4-dout2-p0.1-seeded", mechanism="causal", n=64, d_in=4,
             d_out=2, seed=7, dropout=0.1, tokens=token_list(64, 12), embedding_seed=11))

    # Seeded embeddings around the 16-value boundary of torch's normal_ (V * d_in).
    boundary = [
        ("v15", ["a", "b", "c", "d", "e", "a"], 3, 15),        # V=5 -> 15 values
        ("v16", ["a", "b", "c", "d", "a", "b"], 4, 16),        # V=4 -> 16 values
        ("v17", ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
                 "p", "q", "a"], 1, 17),                        # V=17 -> 17 values
        ("v33", ["a", "b", "c", "a", "d", "e", "f", "g", "h", "i", "j", "k", "a"], 3, 33),  # V=11
        ("v100", [w for w in "abcdefghijklmnopqrstuvwxy"] + ["a", "b"], 4, 100),  # V=25
    ]
    for j, (tag, toks, d_in, total) in enumerate(boundary):
        vocab = len(dict.fromkeys(toks))
        assert vocab * d_in == total, (tag, vocab, d_in)
        mech = ["self-attention", "causal", "multihead", "simplified", "multihead-wrapper"][j]
        add(dict(name="embedding-%s-%s" % (tag, mech), mechanism=mech, n=len(toks),
                 d_in=d_in, d_out=2, heads=2 if mech == "multihead" else 1,
                 seed=[123, 789, 1, 2, 3][j], tokens=toks, embedding_seed=[123, 789, 0, 5, 9][j],
                 dropout=0.1 if mech in DROPOUT_MECHANISMS else 0.0))
    return specs


def make_large_specs():
    """mechanisms_large.json: n past the CPU backend's blocks (64 query rows over 16-row projection
    blocks; out_proj in 64-row blocks), every mechanism, the masks none, causal, window:W and prefix:P,
    dropout with and without dropout_seed, up to 12 heads. d_in stays small to keep the file small."""
    specs = []

    def add(**s):
        s["large"] = True
        s.setdefault("dropout", 0.0)
        s.setdefault("mask", DEFAULT_MASK[s["mechanism"]])
        s["name"] = case_name(s)
        specs.append(s)

    add(mechanism="simplified", n=65, d_in=8, mask="none")
    add(mechanism="simplified", n=300, d_in=4, mask="window:70")
    add(mechanism="simplified", n=129, d_in=6, mask="causal", normalization="sum", input_kind="positive")
    add(mechanism="self-attention-v1", n=129, d_in=6, d_out=4, seed=123, mask="window:16")
    add(mechanism="self-attention-v1", n=300, d_in=3, d_out=2, seed=789, mask="none")
    add(mechanism="self-attention", n=200, d_in=8, d_out=6, seed=42, qkv_bias=True, mask="prefix:70")
    add(mechanism="self-attention", n=65, d_in=5, d_out=3, seed=7, mask="causal",
        tokens=token_list(65, 16), embedding_seed=65)
    add(mechanism="causal", n=300, d_in=6, d_out=4, seed=123, qkv_bias=True, dropout=0.1, dropout_seed=123)
    add(mechanism="causal", n=129, d_in=4, d_out=3, seed=789, mask="none", dropout=0.5,
        tokens=token_list(129, 12), embedding_seed=129)
    add(mechanism="causal", n=200, d_in=5, d_out=2, seed=1, mask="prefix:130")
    add(mechanism="multihead-wrapper", n=200, d_in=6, d_out=2, heads=3, seed=789, mask="window:40",
        dropout=0.2, dropout_seed=789)
    add(mechanism="multihead-wrapper", n=65, d_in=5, d_out=2, heads=12, seed=2024, mask="causal")
    add(mechanism="multihead-wrapper", n=300, d_in=4, d_out=2, heads=2, seed=5, mask="prefix:200",
        dropout=0.3, qkv_bias=True)
    add(mechanism="multihead", n=300, d_in=6, d_out=4, heads=2, seed=123, qkv_bias=True, dropout=0.1)
    add(mechanism="multihead", n=129, d_in=8, d_out=12, heads=12, seed=42, mask="prefix:100",
        dropout=0.3, dropout_seed=5)
    add(mechanism="multihead", n=200, d_in=8, d_out=6, heads=2, seed=7, mask="none")
    add(mechanism="multihead", n=65, d_in=6, d_out=6, heads=6, seed=0, mask="window:5", dropout=0.5,
        dropout_seed=0, tokens=token_list(65, 10), embedding_seed=3)
    return specs


# ---------------------------------------------------------------------------
# random.json
# ---------------------------------------------------------------------------

def make_random():
    out = {"rand": [], "linear": [], "embedding": [], "dropout": [],
           "sequence": []}
    for seed, r, c in [(123, 3, 2), (123, 6, 6), (789, 1, 1), (0, 2, 3), (1, 4, 5),
                       (42, 7, 13), (2024, 16, 1), (5, 1, 17), (123, 33, 3)]:
        torch.manual_seed(seed)
        out["rand"].append({"seed": seed, "rows": r, "cols": c,
                            "values": tolist(torch.rand(r, c))})
    for seed, i, o, b in [(1, 3, 2, True), (123, 3, 2, False), (789, 3, 2, False),
                          (2, 1, 1, True), (3, 8, 4, True), (4, 5, 7, False),
                          (5, 32, 16, True), (6, 16, 16, True)]:
        torch.manual_seed(seed)
        lin = nn.Linear(i, o, bias=b)
        out["linear"].append({"seed": seed, "in": i, "out": o, "bias": b,
                              "weight": tolist(lin.weight),
                              "bias_values": tolist(lin.bias) if b else None})
    for seed, num, dim in [(5, 3, 2), (1, 1, 1), (2, 5, 3), (3, 4, 4), (4, 16, 1),
                           (6, 17, 1), (7, 11, 3), (8, 25, 4), (9, 10, 10), (10, 7, 5),
                           (123, 6, 3)]:
        torch.manual_seed(seed)
        emb = nn.Embedding(num, dim)
        out["embedding"].append({"seed": seed, "num": num, "dim": dim,
                                 "weight": tolist(emb.weight)})
    for seed, p, r, c in [(123, 0.5, 6, 6), (123, 0.1, 6, 6), (123, 0.9, 6, 6),
                          (1, 0.5, 1, 1), (2, 0.1, 1, 1), (3, 0.9, 1, 1),
                          (789, 0.5, 7, 13), (4, 0.1, 7, 13), (5, 0.9, 7, 13),
                          (6, 0.2, 64, 64)]:
        torch.manual_seed(seed)
        vals = torch.nn.Dropout(p)(torch.ones(r, c))
        out["dropout"].append({"seed": seed, "p": p, "rows": r, "cols": c,
                               "values": tolist(vals)})

    # Draws that continue after a first one from the same seed.
    torch.manual_seed(123)
    a = torch.rand(2, 3)
    b = torch.rand(4, 1)
    out["sequence"].append({"kind": "rand-rand", "seed": 123,
                            "description": "torch.manual_seed(123); a = torch.rand(2, 3); b = torch.rand(4, 1)",
                            "first": tolist(a), "second": tolist(b)})
    torch.manual_seed(789)
    l1 = nn.Linear(3, 2, bias=True)
    l2 = nn.Linear(4, 5, bias=False)
    out["sequence"].append({"kind": "linear-linear", "seed": 789,
                            "description": "torch.manual_seed(789); l1 = nn.Linear(3, 2, bias=True); l2 = nn.Linear(4, 5, bias=False)",
                            "first": {"weight": tolist(l1.weight), "bias_values": tolist(l1.bias)},
                            "second": {"weight": tolist(l2.weight), "bias_values": None}})
    torch.manual_seed(1)
    e1 = nn.Embedding(3, 2)       # 6 values: scalar normal path
    e2 = nn.Embedding(5, 4)       # 20 values: vectorised normal path
    e3 = nn.Embedding(2, 3)       # 6 values again
    out["sequence"].append({"kind": "embedding-embedding-embedding", "seed": 1,
                            "description": "torch.manual_seed(1); nn.Embedding(3, 2); nn.Embedding(5, 4); nn.Embedding(2, 3)",
                            "first": tolist(e1.weight), "second": tolist(e2.weight),
                            "third": tolist(e3.weight)})
    # Tensors of fewer than 16 values use torch's scalar normal sampler, which
    # draws pairs (Box-Muller in double) and caches the unused second value in
    # the generator: the cache survives later draws (even rand and the
    # vectorised >= 16 path) until the next manual_seed.
    torch.manual_seed(5)
    e1 = nn.Embedding(3, 1)       # 3 values: cos1, sin1, cos2; sin2 stays cached
    e2 = nn.Embedding(4, 4)       # 16 values: vectorised path, cache untouched
    r1 = torch.rand(2)
    e3 = nn.Embedding(1, 1)       # the cached sin2
    e4 = nn.Embedding(1, 3)       # fresh pair + cached
    out["sequence"].append({"kind": "embedding-normal-cache", "seed": 5,
                            "description": "torch.manual_seed(5); nn.Embedding(3, 1); nn.Embedding(4, 4); torch.rand(2); nn.Embedding(1, 1); nn.Embedding(1, 3)",
                            "first": tolist(e1.weight), "second": tolist(e2.weight),
                            "third": tolist(r1), "fourth": tolist(e3.weight),
                            "fifth": tolist(e4.weight)})
    torch.manual_seed(42)
    r1 = torch.rand(3)
    d1 = torch.nn.Dropout(0.5)(torch.ones(2, 4))
    r2 = torch.rand(2)
    out["sequence"].append({"kind": "rand-dropout-rand", "seed": 42,
                            "description": "torch.manual_seed(42); torch.rand(3); torch.nn.Dropout(0.5)(torch.ones(2, 4)); torch.rand(2)",
                            "first": tolist(r1), "second": tolist(d1), "third": tolist(r2)})
    # Linear layers back to back use the same generator as the book's modules.
    torch.manual_seed(123)
    q = nn.Linear(3, 2, bias=False)
    k = nn.Linear(3, 2, bias=False)
    v = nn.Linear(3, 2, bias=False)
    o = nn.Linear(2, 2)
    out["sequence"].append({"kind": "linear-x4", "seed": 123,
                            "description": "torch.manual_seed(123); nn.Linear(3, 2, bias=False) x3; nn.Linear(2, 2)",
                            "first": {"weight": tolist(q.weight), "bias_values": None},
                            "second": {"weight": tolist(k.weight), "bias_values": None},
                            "third": {"weight": tolist(v.weight), "bias_values": None},
                            "fourth": {"weight": tolist(o.weight), "bias_values": tolist(o.bias)}})
    return out


# ---------------------------------------------------------------------------
# Self-checks against the printed book values
# ---------------------------------------------------------------------------

def close4(got, want, what):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    err = np.abs(got - want).max()
    assert err <= 5e-5 + 1e-6, (what, err)


def self_check(cases_by_name, book):
    """The book cases among cases_by_name (all of them, or those a --cases subset names) against the
    book's printed numbers."""
    def case(name):
        return cases_by_name[name]["expected"] if name in cases_by_name else None

    c = case("book-v1-seed123")
    if c:
        close4(c["output"], book["self_attention_v1_seed_123"]["context"], "v1 context")
    c = case("book-v2-seed789")
    if c:
        close4(c["output"], book["self_attention_v2_seed_789"]["context"], "v2 context")
        close4(c["heads"][0]["weights"], book["self_attention_v2_seed_789"]["weights"], "v2 weights")
    c = case("book-causal-seed789")
    if c:
        close4(c["heads"][0]["weights"], book["self_attention_v2_seed_789"]["causal_weights"],
               "causal weights")
    c = case("book-simplified")
    if c:
        close4(c["output"], book["simplified"]["context"], "simplified context")
        close4(c["heads"][0]["weights"], book["simplified"]["weights"], "simplified weights")
    c = case("book-simplified-sum")
    if c:
        close4(c["heads"][0]["weights"][1], book["simplified"]["sum_normalized_row_2"],
               "simplified sum row 2")


def write_json(doc, path):
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print("%d cases -> %s (%d bytes)" % (len(doc["cases"]), path, os.path.getsize(path)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=HERE, help="folder to write to (default: next to this script)")
    parser.add_argument("--cases", help="comma-separated case names: regenerate only these (into "
                        "mechanisms.json and mechanisms_large.json under --out); random.json is always whole")
    args = parser.parse_args()
    with open(REFERENCE) as f:
        book = json.load(f)
    specs = make_specs(book)
    large_specs = make_large_specs()
    names = [s["name"] for s in specs + large_specs]
    assert len(names) == len(set(names)), "duplicate case names"
    wanted = set(names) if args.cases is None else set(args.cases.split(","))
    unknown = wanted - set(names)
    if unknown:
        parser.error("no such case: " + ", ".join(sorted(unknown)))
    os.makedirs(args.out, exist_ok=True)

    # Each list draws from its own generator, every case in order whether it is wanted or not.
    for file_name, spec_list, np_rng in [("mechanisms.json", specs, np.random.RandomState(20240611)),
                                         ("mechanisms_large.json", large_specs,
                                          np.random.RandomState(20250612))]:
        cases = []
        for s in spec_list:
            case, _ = run_case(s, np_rng, compute=s["name"] in wanted)
            if case is not None:
                cases.append(case)
        self_check({c["name"]: c for c in cases}, book)
        if cases:
            write_json({"generator": "make_golden.py", "torch": torch.__version__, "cases": cases},
                       os.path.join(args.out, file_name))

    rnd = make_random()
    # The book's dropout example (PyTorch 2.4) must match this generator too.
    assert rnd["dropout"][0]["values"] == [[float(v) for v in row]
                                           for row in book["dropout_seed_123"]["result"]]
    rdoc = {"generator": "make_golden.py", "torch": torch.__version__}
    rdoc.update(rnd)
    rpath = os.path.join(args.out, "random.json")
    with open(rpath, "w") as f:
        json.dump(rdoc, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print("random checks -> %s (%d bytes)" % (rpath, os.path.getsize(rpath)))


if __name__ == "__main__":
    main()
