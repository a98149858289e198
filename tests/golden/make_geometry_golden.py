#!/usr/bin/python3
"""Independent NumPy oracle for AttnScope's query/key geometry (engine/include/attnscope/geometry.hpp).

    /usr/bin/python3 tests/golden/make_geometry_golden.py           # rewrites geometry.json
    /usr/bin/python3 tests/golden/make_geometry_golden.py --check   # CTest geometry_golden_regenerates

Needs only NumPy. Reads the PyTorch queries and keys already stored next to this script (mechanisms.json)
and makes its own inputs (seeded, rounded to float32), then rewrites geometry.json next to itself. It imports
nothing of AttnScope: everything below is the issue's definition written out in float64, through the SVD of
the centred points (the engine uses the eigen-decomposition of their covariance; numpy.linalg.eigh is used
here only as a cross-check and to record the raw eigenvector's sign). Deterministic.

Geometry of one head, from its queries Q and keys K (n x head_dim):
    head_dim 2          queries_2d = Q, keys_2d = K, explained = null
    otherwise           P = [Q; K] (2n x head_dim), m = mean of P's rows, C = P - m,
                        C = U S V^T; component c = row c of V^T (c = 0, 1), signed so that its
                        largest-magnitude loading (the first on an exact tie) is positive;
                        share_c = S_c^2 / sum(C^2); a component with share_c <= 1e-12 (or missing,
                        head_dim 1) has coordinates 0 and share 0;
                        queries_2d[i] = (C[i] . v0, C[i] . v1), keys_2d[i] = (C[n+i] . v0, C[n+i] . v1),
                        explained = [share_0, share_1]
    zero variance       sum(C^2) == 0: every coordinate 0, explained [0, 0]

Inputs read:
    mechanisms.json  cases[c].name, .expected.heads[h].queries and .keys (n x head_dim).

Output: {"generator", "mechanisms": [{"case", "heads": [{"head", <geometry>}]}],
         "synthetic": [{"name", "queries", "keys", <geometry>}]}, where <geometry> is queries_2d, keys_2d,
explained, and for the record components (the signed loadings, null for head_dim 2) and eigh_raw_negative
(per component, whether numpy.linalg.eigh's own eigenvector had a negative largest loading, i.e. whether the
sign rule flipped it).
"""

import json
import os
import sys

try:
    import numpy as np
except ImportError as error:  # CTest geometry_golden_regenerates: skipped (77), or a failure when CI is set
    print("%s: python3-numpy is missing (%s); apt-get install python3-numpy" % (
        "FAIL" if "CI" in os.environ else "SKIP", error))
    sys.exit(1 if "CI" in os.environ else 77)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "geometry.json")
FLAT_SHARE = 1e-12
CHECK_TOLERANCE = 1e-9  # --check: another NumPy/LAPACK agrees to rounding, not bit for bit

MECHANISM_CASES = [
    "book-v2-seed789",                                      # head_dim 2: the vectors themselves
    "book-simplified",                                      # head_dim 3 (the inputs), n = 6
    "book-multihead-seed123",                               # head_dim 1, 2 heads
    "causal-none-n9-din6-dout4-bias-seeded",                # head_dim 4, n = 9
    "multihead-file-n13-din3-dout12-h4-p0.1-dseed0-bias",   # head_dim 3, 4 heads
    "self-attention-n20-din32-dout16-bias",                 # head_dim 16, n = 20
    "multihead-n64-din32-h8-causal-p0.1-dseed123",          # head_dim 4, n = 64, 8 heads
    "simplified-n64-din32-causal",                          # head_dim 32, n = 64
    "causal-n1",                                            # n = 1: one line, the second component flat
    "self-attention-n2-seeded-repeat",                      # n = 2, one token twice: rank 1
    "simplified-n2-seeded-repeat",                          # every point the same: zero variance
]


def load(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return json.load(f)


def as_float32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def signed(v):
    """v flipped so that its largest-magnitude entry (the first on an exact tie) is positive."""
    return -v if v[int(np.argmax(np.abs(v)))] < 0 else v


def geometry(q, k):
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    assert q.shape == k.shape and q.ndim == 2 and q.shape[0] >= 1 and q.shape[1] >= 1, (q.shape, k.shape)
    assert np.isfinite(q).all() and np.isfinite(k).all()
    n, d = q.shape
    if d == 2:
        return dict(queries_2d=q.tolist(), keys_2d=k.tolist(), explained=None, components=None,
                    eigh_raw_negative=None)
    p = np.vstack([q, k])
    c = p - p.mean(axis=0)
    total = float(np.sum(c * c))
    coords = np.zeros((2 * n, 2))
    explained = [0.0, 0.0]
    components = [[0.0] * d, [0.0] * d]
    raw_negative = [False, False]
    if total > 0:
        _, s, vt = np.linalg.svd(c, full_matrices=False)
        # Cross-check against the covariance's eigenvectors (the engine's route), and record their raw sign.
        w, v = np.linalg.eigh(c.T @ c / (2 * n))
        w, v = w[::-1], v[:, ::-1]
        assert abs(w.sum() * 2 * n - total) <= 1e-9 * total
        for comp in range(min(2, d)):
            share = float(s[comp] ** 2 / total) if comp < len(s) else 0.0
            assert abs(share - max(0.0, w[comp]) * 2 * n / total) < 1e-9
            if share <= FLAT_SHARE:
                continue
            vec = signed(vt[comp])
            raw = v[:, comp]
            raw_negative[comp] = bool(raw[int(np.argmax(np.abs(raw)))] < 0)
            # The same component up to sign, where it is well separated from the next.
            gap = (s[comp] ** 2 - (s[comp + 1] ** 2 if comp + 1 < len(s) else 0.0)) / total
            if gap > 1e-3:
                assert np.abs(signed(raw) - vec).max() < 1e-8, (comp, gap)
            coords[:, comp] = c @ vec
            explained[comp] = share
            components[comp] = vec.tolist()
        assert explained[0] >= explained[1] >= 0 and explained[0] + explained[1] <= 1 + 1e-12
    assert np.isfinite(coords).all()
    return dict(queries_2d=coords[:n].tolist(), keys_2d=coords[n:].tolist(), explained=explained,
                components=components, eigh_raw_negative=raw_negative)


def mechanisms_section():
    cases = {c["name"]: c for c in load("mechanisms.json")["cases"]}
    out = []
    for name in MECHANISM_CASES:
        heads = []
        for h, head in enumerate(cases[name]["expected"]["heads"]):
            heads.append(dict(head=h, **geometry(head["queries"], head["keys"])))
        out.append(dict(case=name, heads=heads))
    return out


def anisotropic(rng, rows, scales):
    """rows x len(scales) normal points, column j scaled by scales[j], in a random orthonormal frame."""
    d = len(scales)
    basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return as_float32((rng.standard_normal((rows, d)) * np.asarray(scales)) @ basis.T + rng.standard_normal(d))


def synthetic_section():
    rng = np.random.default_rng(21)
    cases = []

    def add(name, p):
        p = as_float32(p)
        n = p.shape[0] // 2
        cases.append((name, p[:n], p[n:]))

    add("d2-n6-identity", rng.standard_normal((12, 2)) * 3)
    add("d4-n6", anisotropic(rng, 12, [3.0, 1.5, 0.7, 0.3]))
    add("d4-n2", anisotropic(rng, 4, [2.0, 1.0, 0.5, 0.2]))
    add("d4-n1", anisotropic(rng, 2, [1.0, 1.0, 1.0, 1.0]))
    add("d4-n40", anisotropic(rng, 80, [4.0, 2.0, 1.0, 0.5]))
    add("d64-n1", anisotropic(rng, 2, [1.0] * 64))
    add("d64-n2", anisotropic(rng, 4, [3.0, 2.0, 1.0] + [0.5] * 61))
    add("d64-n6", anisotropic(rng, 12, [5.0, 3.0] + [0.8] * 62))
    add("d64-n40", anisotropic(rng, 80, [5.0, 3.0] + list(np.linspace(1.0, 0.1, 62))))
    add("d1-n6", rng.standard_normal((12, 1)) * 2)
    add("d3-n5-collinear",
        np.array([0.5, -1.0, 2.0]) + np.outer(rng.standard_normal(10), [0.25, 0.5, -1.0]))
    # Spread along (-0.8, 0.6, 0) and, uncorrelated and less, along z: the first component's largest loading, -0.8 either way, must come out positive,
    # so the point at t along (-0.8, 0.6, 0) gets coordinate -t, whichever sign the eigensolver chose.
    t = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0, -1.5, 1.5])
    add("d3-n4-sign-by-hand",
        np.outer(t, [-0.8, 0.6, 0.0]) + np.outer([1, -1, 1, 1, -1, 1, -1, -1], [0.0, 0.0, 0.25]))
    add("d4-n6-zero-variance", np.tile(as_float32([0.1, -2.5, 3.0, 0.7]), (12, 1)))
    add("d64-n40-zero-variance", np.tile(as_float32(rng.standard_normal(64)), (80, 1)))
    add("d3-n1-query-is-key", np.tile(as_float32([1.5, -0.25, 4.0]), (2, 1)))

    out = []
    for name, q, k in cases:
        out.append(dict(name=name, queries=q.tolist(), keys=k.tolist(), **geometry(q, k)))
    by = {c["name"]: c for c in out}

    # hand-derived values
    assert by["d2-n6-identity"]["explained"] is None
    assert by["d2-n6-identity"]["queries_2d"] == by["d2-n6-identity"]["queries"]
    for name in ["d4-n6-zero-variance", "d64-n40-zero-variance", "d3-n1-query-is-key"]:
        g = by[name]
        assert g["explained"] == [0.0, 0.0], name
        assert not np.any(g["queries_2d"]) and not np.any(g["keys_2d"]), name
    for name in ["d4-n1", "d64-n1", "d3-n5-collinear"]:  # one line: the second component flat
        g = by[name]
        assert abs(g["explained"][0] - 1) < 1e-12 and g["explained"][1] == 0.0, (name, g["explained"])
        assert all(row[1] == 0.0 for row in g["queries_2d"] + g["keys_2d"]), name
    # n = 1: the query and the key sit at ±|q - k|/2 on the first axis
    g = by["d64-n1"]
    half = np.linalg.norm(np.array(g["queries"][0]) - np.array(g["keys"][0])) / 2
    assert abs(abs(g["queries_2d"][0][0]) - half) < 1e-9 and abs(g["queries_2d"][0][0] + g["keys_2d"][0][0]) < 1e-9
    # head_dim 1: the centred values, second coordinate 0, explained [1, 0]
    g = by["d1-n6"]
    values = np.array(g["queries"] + g["keys"])[:, 0]
    assert np.allclose([r[0] for r in g["queries_2d"] + g["keys_2d"]], values - values.mean(), atol=1e-12)
    assert abs(g["explained"][0] - 1) < 1e-12 and g["explained"][1] == 0.0
    # the sign by hand: component 0 = (0.8, -0.6, 0), coordinates -t
    g = by["d3-n4-sign-by-hand"]
    assert np.allclose(g["components"][0], [0.8, -0.6, 0.0], atol=1e-6), g["components"][0]
    assert np.allclose([r[0] for r in g["queries_2d"] + g["keys_2d"]], -t, atol=1e-6)
    assert np.allclose(g["components"][1], [0.0, 0.0, 1.0], atol=1e-6), g["components"][1]
    return out


def build():
    mech = mechanisms_section()
    synth = synthetic_section()
    heads = [h for c in mech for h in c["heads"]] + synth
    flags = [f for g in heads if g["eigh_raw_negative"] for f in g["eigh_raw_negative"]]
    # The sign rule must have had work to do: some raw eigenvector came out with a negative largest loading.
    assert any(flags) and not all(flags), flags
    return {"generator": "make_geometry_golden.py", "mechanisms": mech, "synthetic": synth}, heads, flags


def compare(new, old, where):
    if isinstance(new, (bool, str)) or new is None or old is None:
        assert new == old, "%s: %r, stored %r" % (where, new, old)
    elif isinstance(new, (int, float)) and isinstance(old, (int, float)):
        assert abs(new - old) <= CHECK_TOLERANCE * max(1.0, abs(old)), "%s: %r, stored %r" % (where, new, old)
    elif isinstance(new, list) and isinstance(old, list):
        assert len(new) == len(old), "%s: %d entries, stored %d" % (where, len(new), len(old))
        for i, (a, b) in enumerate(zip(new, old)):
            compare(a, b, "%s[%d]" % (where, i))
    elif isinstance(new, dict) and isinstance(old, dict):
        assert new.keys() == old.keys(), "%s: keys %s, stored %s" % (where, sorted(new), sorted(old))
        for key in new:
            compare(new[key], old[key], "%s.%s" % (where, key))
    else:
        raise AssertionError("%s: %r, stored %r" % (where, new, old))


def main():
    doc, heads, flags = build()
    if sys.argv[1:] == ["--check"]:
        try:
            compare(doc, load("geometry.json"), "geometry.json")
        except AssertionError as error:
            print("FAIL: geometry.json is not what make_geometry_golden.py makes: %s" % error)
            sys.exit(1)
        print("geometry.json regenerates: %d heads within %g" % (len(heads), CHECK_TOLERANCE))
        return
    assert not sys.argv[1:], "usage: make_geometry_golden.py [--check]"
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print("geometry.json: %d mechanism cases, %d synthetic; %d heads, %d of %d raw eigenvectors flipped; %d bytes"
          % (len(doc["mechanisms"]), len(doc["synthetic"]), len(heads), sum(flags), len(flags),
             os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
