#!/usr/bin/python3
"""Independent NumPy oracle for AttnScope's head statistics, attention rollout and probe.

    /usr/bin/python3 tests/golden/make_head_stats_golden.py

Needs only NumPy. Reads the PyTorch attention weights already stored next to this script
(mechanisms.json, gpt2_tiny.json) and rewrites head_stats.json next to itself. It imports nothing
of AttnScope and no PyTorch: everything below is the issue's definitions written out literally in
float64 (inputs are the stored float32 values, parsed as float64). Deterministic.

Head statistics, from a head's weights w (n x n, before dropout) and its mask (1 = hidden), over
the query rows that see at least one key (rows whose every key is hidden are left out); V_i is row
i's set of visible keys:
    entropy_bits        mean of H_i = -sum_{j in V_i} w_ij log2 w_ij      (0 log 0 = 0)
    normalized_entropy  mean over rows with |V_i| >= 2 of H_i / log2 |V_i|  (null if no such row)
    effective_keys      mean of 2^H_i
    max_weight          mean of max_{j in V_i} w_ij
    first_token         mean of w_i0       (the stored weight, 0 where key 0 is hidden)
    self                mean of w_ii       (likewise)
    previous_token      mean over rows i >= 1 of w_i,i-1   (null when n = 1 or no row i >= 1 counts)
    every statistic is null when no row counts at all.

Rollout (Abnar & Zuidema 2020), GPT-2 runs: A_l = mean over heads of layer l's weights;
At_l = 0.5 A_l + 0.5 I, each row renormalised to sum 1; R_0 = At_0, R_l = At_l R_{l-1}.

Probe (q, k): every head (every layer's for a GPT-2 run; layer 0 for a chapter-3 case) with its
weight w_qk and rank = 1 + #{j : w_qj > w_qk}; sorted by weight descending, then layer, then head.

Inputs read:
    mechanisms.json  cases[c].name, .mask_matrix (n x n, 1 = hidden), .dropout, .mask,
                     .expected.heads[h].weights (n x n; dropout_weights is never read).
                     mechanisms_large.json is not read (its cases store only sampled rows).
    gpt2_tiny.json   cases[c].name, .config.n_layer/.n_head, .runs[r].ids (n = len),
                     .runs[r].extra_mask (None or "window:W"; visible = j <= i and i - j < W),
                     .runs[r].layers[l].heads[h].weights (n x n) and .scores (null where hidden,
                     cross-checked against the mask). Runs with "sampled_rows" are skipped.
"""

import json
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "head_stats.json")
TOL = 1e-6  # float32 inputs: a row sums to 1 only to ~1e-7

STAT_KEYS = ["entropy_bits", "normalized_entropy", "effective_keys", "max_weight",
             "first_token", "self", "previous_token"]

MECHANISM_CASES = [
    "book-simplified",                                            # simplified, none, n = 6
    "book-simplified-sum",                                        # sum normalisation
    "book-v1-seed123",                                            # self-attention-v1
    "book-v2-seed789",                                            # self-attention
    "book-causal-seed123-p0.5-dseed123",                          # causal, dropout 0.5
    "book-multihead-seed123",                                     # multihead, 2 heads
    "simplified-window3-n6-din7",                                 # window
    "simplified-file-n9-din5",                                    # file
    "self-attention-v1-prefix3-n4-din1-dout1",                    # prefix
    "self-attention-file-n13-din3-dout3",                         # file
    "causal-window4-n14-din2-dout3-p0.9-dseed0-bias",             # causal, window, dropout 0.9
    "causal-file-n7-din3-dout3-p0.3-bias",                        # causal, file, dropout
    "multihead-wrapper-prefix1-n10-din6-dout4-h3-bias-seeded",    # wrapper, 3 heads, prefix
    "multihead-wrapper-file-n7-din2-dout2-h2-p0.1-dseed789",      # wrapper, file, dropout
    "multihead-file-n13-din3-dout12-h4-p0.1-dseed0-bias",         # multihead, file, 4 heads, dropout
    "multihead-n12-din8-h8-dout8-prefix3",                        # 8 heads, prefix
    "multihead-wrapper-n8-din6-h8-dout1-p0.5-dseed789",           # wrapper, 8 heads, dropout
    "simplified-n1",                                              # n = 1
    "simplified-sum-none-n1-din2",                                # n = 1, sum
    "multihead-n1",                                               # n = 1, 2 heads, causal, dropout
    "self-attention-n2-seeded-repeat",                            # n = 2, none
    "causal-n2-seeded-repeat",                                    # n = 2, causal, dropout
    "multihead-n64-din32-h8-causal-p0.1-dseed123",                # n = 64, 8 heads
    "multihead-wrapper-n64-din16-h2-window8-p0.5",                # n = 64, window
    "simplified-n64-din32-causal",                                # n = 64
    "causal-n64-din4-dout2-p0.1-seeded",                          # n = 64, dropout
]


def load(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return json.load(f)


def matrix(rows):
    a = np.array(rows, dtype=np.float64)
    assert a.ndim == 2 and a.shape[0] == a.shape[1], a.shape
    assert np.isfinite(a).all()
    return a


def check_weights(w, hidden):
    """Stored weights: non-negative, 0 where hidden, rows over visible keys summing to ~1."""
    assert w.shape == hidden.shape
    assert (w >= 0).all() and (w <= 1 + TOL).all()
    assert (w[hidden] == 0).all(), "a hidden cell with a non-zero weight"
    for i in range(w.shape[0]):
        if not hidden[i].all():
            assert abs(w[i].sum() - 1.0) < 1e-5, (i, w[i].sum())


def head_stats(w, hidden):
    n = w.shape[0]
    ent, norm, eff, mx, first, self_, prev = [], [], [], [], [], [], []
    for i in range(n):
        vis = np.flatnonzero(~hidden[i])
        if len(vis) == 0:
            continue
        h = 0.0
        for j in vis:
            if w[i, j] > 0:
                h -= w[i, j] * math.log2(w[i, j])
        ent.append(h)
        if len(vis) >= 2:
            norm.append(h / math.log2(len(vis)))
        eff.append(2.0 ** h)
        mx.append(max(w[i, j] for j in vis))
        first.append(w[i, 0])
        self_.append(w[i, i])
        if i >= 1:
            prev.append(w[i, i - 1])

    def mean(xs):
        return float(math.fsum(xs) / len(xs)) if xs else None

    s = dict(entropy_bits=mean(ent), normalized_entropy=mean(norm), effective_keys=mean(eff),
             max_weight=mean(mx), first_token=mean(first), self=mean(self_),
             previous_token=mean(prev))
    # ranges
    if s["entropy_bits"] is None:
        assert all(v is None for v in s.values())
    else:
        assert s["entropy_bits"] >= -TOL and s["entropy_bits"] <= math.log2(n) + TOL
        assert 1 - TOL <= s["effective_keys"] <= n + TOL
        if s["normalized_entropy"] is not None:
            assert -TOL <= s["normalized_entropy"] <= 1 + TOL
        for k in ["max_weight", "first_token", "self", "previous_token"]:
            if s[k] is not None:
                assert -TOL <= s[k] <= 1 + TOL, (k, s[k])
        if n == 1:
            assert s["previous_token"] is None
    return s


def probe(heads, q, k):
    """heads: list of (layer, head, w). Returns the sorted order."""
    order = []
    for layer, head, w in heads:
        wq = w[q]
        rank = 1 + int((wq > wq[k]).sum())
        assert rank >= 1
        order.append(dict(layer=layer, head=head, weight=float(wq[k]), rank=rank))
    order.sort(key=lambda e: (-e["weight"], e["layer"], e["head"]))
    return dict(query=q, key=k, order=order)


def probe_points(hidden):
    """(n-1, 0), (n-1, n-1), a middle query with a visible middle key, and one hidden key."""
    n = hidden.shape[0]
    pts = [(n - 1, 0), (n - 1, n - 1)]
    qm = n // 2
    vis = np.flatnonzero(~hidden[qm])
    if len(vis):
        pts.append((qm, int(vis[len(vis) // 2])))
    if not any(hidden[q, kk] for q, kk in pts):
        hid = np.argwhere(hidden)
        if len(hid):
            # last hidden cell of the last row that has one, else the first hidden cell
            rows = sorted(set(int(r) for r, _ in hid))
            q = rows[-1]
            pts.append((q, int(np.flatnonzero(hidden[q])[-1])))
    out = []
    for p in pts:
        if p not in out:
            out.append(p)
    return out


def mechanisms_section():
    cases = {c["name"]: c for c in load("mechanisms.json")["cases"]}
    out = []
    for name in MECHANISM_CASES:
        c = cases[name]
        hidden = matrix(c["mask_matrix"]) == 1
        n = hidden.shape[0]
        heads = []
        for h, head in enumerate(c["expected"]["heads"]):
            w = matrix(head["weights"])  # before dropout; dropout_weights is never read
            assert w.shape == (n, n), (name, w.shape)
            check_weights(w, hidden)
            heads.append((0, h, w))
        out.append(dict(
            case=name,
            heads=[dict(head=h, stats=head_stats(w, hidden)) for _, h, w in heads],
            probes=[probe(heads, q, k) for q, k in probe_points(hidden)]))
    return out


def gpt2_hidden(n, extra_mask):
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    visible = j <= i
    if extra_mask:
        kind, size = extra_mask.split(":")
        assert kind == "window"
        visible = visible & (i - j < int(size))
    return ~visible


def rollout(layer_weights):
    """layer_weights: list over layers of (H, n, n) arrays."""
    out = []
    r = None
    for a in layer_weights:
        n = a.shape[1]
        mean = a.mean(axis=0)
        at = 0.5 * mean + 0.5 * np.eye(n)
        at = at / at.sum(axis=1, keepdims=True)
        assert np.abs(at.sum(axis=1) - 1).max() < 1e-12
        r = at if r is None else at @ r
        assert np.abs(r.sum(axis=1) - 1).max() < 1e-12
        assert (r >= 0).all()
        out.append(r.copy())
    return out


def gpt2_section():
    data = load("gpt2_tiny.json")
    out, used, skipped = [], [], []
    for c in data["cases"]:
        L, H = c["config"]["n_layer"], c["config"]["n_head"]
        for ri, run in enumerate(c["runs"]):
            if "sampled_rows" in run:
                skipped.append((c["name"], ri))
                continue
            n = len(run["ids"])
            hidden = gpt2_hidden(n, run["extra_mask"])
            assert len(run["layers"]) == L
            heads, per_layer = [], []
            for l, layer in enumerate(run["layers"]):
                assert len(layer["heads"]) == H
                ws = []
                for h, head in enumerate(layer["heads"]):
                    w = matrix(head["weights"])
                    assert w.shape == (n, n)
                    null = np.array([[x is None for x in row] for row in head["scores"]])
                    assert (null == hidden).all(), "mask differs from the stored scores' nulls"
                    check_weights(w, hidden)
                    heads.append((l, h, w))
                    ws.append(w)
                per_layer.append(np.stack(ws))
            out.append(dict(
                checkpoint=c["name"], run=ri,
                heads=[dict(layer=l, head=h, stats=head_stats(w, hidden)) for l, h, w in heads],
                rollout=[dict(layer=l, weights=[[float(x) for x in row] for row in r])
                         for l, r in enumerate(rollout(per_layer))],
                probes=[probe(heads, q, k) for q, k in probe_points(hidden)]))
            used.append((c["name"], ri))
    return out, used, skipped


def synthetic_section():
    q, h, t = 0.25, 0.5, 0.75
    cases = [
        # row 0 sees one key: H = 0, left out of normalized_entropy
        ("one-visible-key-row",
         [[1, 0, 0], [q, t, 0], [h, q, q]],
         [[0, 1, 1], [0, 0, 1], [0, 0, 0]]),
        # row 2 sees nothing (file-style mask): left out of every mean; key 0 hidden for row 3
        # and key 2 hidden for row 3 (first_token / previous_token take the stored 0)
        ("file-empty-row",
         [[h, 0, h, 0], [q, q, 0, h], [0, 0, 0, 0], [0, q, 0, t]],
         [[0, 1, 0, 1], [0, 0, 1, 0], [1, 1, 1, 1], [1, 0, 1, 0]]),
        # no row sees a key: every statistic null
        ("all-rows-empty",
         [[0, 0, 0], [0, 0, 0], [0, 0, 0]],
         [[1, 1, 1], [1, 1, 1], [1, 1, 1]]),
        ("n1", [[1]], [[0]]),
        ("n1-hidden", [[0]], [[1]]),
        # only row 0 counts: previous_token null although n > 1
        ("only-row0-counted",
         [[1, 0, 0], [0, 0, 0], [0, 0, 0]],
         [[0, 1, 1], [1, 1, 1], [1, 1, 1]]),
        # uniform rows: normalized_entropy = 1, effective_keys = n
        ("uniform-none",
         [[q] * 4] * 4,
         [[0] * 4] * 4),
        # uniform over the causal prefix: normalized_entropy = 1 over rows 1..4
        ("uniform-causal",
         [[1.0 / (i + 1) if j <= i else 0.0 for j in range(5)] for i in range(5)],
         [[0 if j <= i else 1 for j in range(5)] for i in range(5)]),
        # exact zero weights on visible keys: 0 log 0 = 0
        ("zero-weight-visible",
         [[1, 0, 0], [0, h, h], [q, 0, t]],
         [[0, 0, 0], [0, 0, 0], [0, 0, 0]]),
        # identity: entropy 0, self 1, previous 0
        ("identity",
         [[1.0 if i == j else 0.0 for j in range(4)] for i in range(4)],
         [[0] * 4] * 4),
        # previous-token head under a causal mask
        ("previous-token",
         [[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]],
         [[0 if j <= i else 1 for j in range(4)] for i in range(4)]),
        # n = 2 with a window of 1: each row sees only itself
        ("window1-n2",
         [[1, 0], [0, 1]],
         [[0, 1], [1, 0]]),
    ]
    out = []
    for name, w, m in cases:
        w = matrix(w)
        hidden = matrix(m) == 1
        check_weights(w, hidden)
        out.append(dict(name=name, weights=[[float(x) for x in row] for row in w],
                        mask=[[int(x) for x in row] for row in hidden], stats=head_stats(w, hidden)))
    by = {c["name"]: c["stats"] for c in out}
    # hand-derived values
    assert all(v is None for v in by["all-rows-empty"].values())
    assert all(v is None for v in by["n1-hidden"].values())
    assert by["n1"] == dict(entropy_bits=0.0, normalized_entropy=None, effective_keys=1.0,
                            max_weight=1.0, first_token=1.0, self=1.0, previous_token=None)
    assert by["only-row0-counted"]["previous_token"] is None
    assert by["only-row0-counted"]["normalized_entropy"] is None
    assert by["uniform-none"]["normalized_entropy"] == 1.0
    assert by["uniform-none"]["entropy_bits"] == 2.0 and by["uniform-none"]["effective_keys"] == 4.0
    assert abs(by["uniform-causal"]["normalized_entropy"] - 1.0) < 1e-15
    assert by["identity"]["entropy_bits"] == 0.0 and by["identity"]["self"] == 1.0
    assert by["identity"]["previous_token"] == 0.0
    assert by["previous-token"]["previous_token"] == 1.0
    # one-visible-key-row: H = (0, H(.25,.75), 1.5); normalized over rows 1, 2 only
    h1 = -(q * math.log2(q) + t * math.log2(t))
    assert abs(by["one-visible-key-row"]["entropy_bits"] - (h1 + 1.5) / 3) < 1e-15
    assert abs(by["one-visible-key-row"]["normalized_entropy"]
               - (h1 / 1 + 1.5 / math.log2(3)) / 2) < 1e-15
    # file-empty-row: rows 0, 1, 3 count; first = (.5+.25+0)/3, previous over rows 1, 3 = (.25+0)/2
    fe = by["file-empty-row"]
    assert abs(fe["first_token"] - 0.25) < 1e-15 and fe["previous_token"] == 0.125
    assert abs(fe["self"] - (0.5 + 0.25 + 0.75) / 3) < 1e-15
    # zero-weight-visible: H = (0, 1, H(.25,.75))
    assert abs(by["zero-weight-visible"]["entropy_bits"] - (1 + h1) / 3) < 1e-15
    return out


def main():
    mech = mechanisms_section()
    gpt2, used, skipped = gpt2_section()
    synth = synthetic_section()
    doc = {"generator": "make_head_stats_golden.py", "mechanisms": mech, "gpt2": gpt2,
           "synthetic": synth}
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    n_heads = sum(len(c["heads"]) for c in mech) + sum(len(r["heads"]) for r in gpt2)
    n_probes = sum(len(c["probes"]) for c in mech) + sum(len(r["probes"]) for r in gpt2)
    print(f"head_stats.json: {len(mech)} mechanism cases, {len(gpt2)} gpt2 runs "
          f"(skipped sampled {skipped}), {len(synth)} synthetic; {n_heads} heads, "
          f"{n_probes} probes, {sum(len(r['rollout']) for r in gpt2)} rollout layers; "
          f"{os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
