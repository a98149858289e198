#!/usr/bin/python3
"""Golden data for AttnScope's Compare (engine/include/attnscope/compare.hpp, attnscope-cli --compare-text).

    /usr/bin/python3 tests/golden/make_compare_golden.py           # rewrites compare.json
    /usr/bin/python3 tests/golden/make_compare_golden.py --check   # CTest compare_golden_regenerates

Needs PyTorch (Debian's python3-torch, 1.13, CPU) and NumPy. It imports nothing of AttnScope. Each case runs
two texts, A and B, through the same settings:

  * chapter 3: the book's classes and instrumented forwards of make_golden.py (the same torch.manual_seed
    before construction, whitespace tokens), with the case's mask on both. A's embeddings: nn.Embedding seeded
    by embedding_seed over A's distinct tokens in order of first appearance. B's: each token A has takes A's
    row, so that a word means the same in both; the others, in order of first appearance, take the rows of
    a second table drawn right after A's: torch.manual_seed(embedding_seed); nn.Embedding(V_A, d_in);
    nn.Embedding(V_new, d_in). A mask file is one 0/1
    matrix of max(n_A, n_B) rows whose top-left n x n corner each text uses;
  * GPT-2: the tiny checkpoint's equations of make_gpt2_golden.py (its weight rule and seed; the case names
    the config), on token ids that are the texts' bytes: the texts are ASCII without the tiny vocabulary's
    merges (he, " t", or, " w"), so each byte is one GPT-2 byte piece, id = its index in GPT-2's byte order.

Then, in NumPy and float64 from the float32 weights (before dropout), per head, with m = min(n_A, n_B):

    weights_diff    = A[:m, :m] - B[:m, :m]
    total_variation = mean over the m rows i of 0.5 * sum_{j<m} |A_ij - B_ij|

A query whose every key is hidden (a mask file row of ones) gets NaN from torch's softmax; its weights are
taken as 0, as the engine stores them, and the row still counts among the m.

Output: {"generator", "torch",
         "mechanisms": [{"name", "mechanism", "d_in", "d_out", "n_heads", "qkv_bias", "dropout", "dropout_seed",
                         "seed", "embedding_seed", "mask" ("none", "causal", "window:W", "prefix:P" or "file"),
                         "mask_matrix" (file only, else null), "a_tokens", "b_tokens", "aligned",
                         "heads": [{"head", "total_variation", "weights_diff"}]}],
         "gpt2": [{"name", "config", "seed", "dtype", "extra_mask" (null or "window:W"), "a_text", "b_text",
                   "a_ids", "b_ids", "aligned", "heads": [{"layer", "head", "total_variation",
                   "weights_diff"}]}]}
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
try:
    import numpy as np
    import torch
    from torch import nn
    import make_golden as book
    import make_gpt2_golden as gpt2
except ImportError as error:  # CTest compare_golden_regenerates: skipped (77), or a failure when CI is set
    print("%s: PyTorch or NumPy is missing (%s); apt-get install python3-torch" % (
        "FAIL" if "CI" in os.environ else "SKIP", error))
    sys.exit(1 if "CI" in os.environ else 77)

OUT = os.path.join(HERE, "compare.json")
CHECK_TOLERANCE = 1e-6  # --check: another torch build may round a weight differently in its last bit


def file_mask(n, seed, empty_rows, empty_before):
    """A random 0/1 mask (1 = hidden) with a visible diagonal, except that the rows `empty_rows` hide every
    key and the rows `empty_before` hide the keys j < empty_before[i] (and show the rest)."""
    rng = np.random.RandomState(seed)
    m = (rng.rand(n, n) < 0.5).astype(np.int64)
    np.fill_diagonal(m, 0)
    for i in empty_rows:
        m[i, :] = 1
    for i, before in empty_before.items():
        m[i, :before] = 1
        m[i, before:] = 0
    return m


def hidden_of(case, n):
    spec = case["mask"]
    if spec == "file":
        return np.array(case["mask_matrix"], dtype=bool)[:n, :n]
    return book.build_mask(spec, n, None).numpy().astype(bool)


def distinct(tokens):
    vocab = []
    for t in tokens:
        if t not in vocab:
            vocab.append(t)
    return vocab


def compared_embeddings(tokens, base_tokens, embedding_seed, d_in):
    """B's embeddings: A's rows for A's words, a table drawn after A's for the others."""
    base = book.seeded_embeddings(base_tokens, embedding_seed, d_in)
    base_vocab, new_words = distinct(base_tokens), [t for t in distinct(tokens) if t not in base_tokens]
    torch.manual_seed(embedding_seed)
    nn.Embedding(len(base_vocab), d_in)
    extra = nn.Embedding(len(new_words), d_in).weight.detach() if new_words else None
    rows = [base[base_tokens.index(t)] if t in base_tokens else extra[new_words.index(t)] for t in tokens]
    return torch.stack(rows).clone()


def chapter3_weights(case, tokens, base_tokens=None):
    """Per head the weights before dropout, as make_golden.run_case computes them, NaN rows set to 0; with
    base_tokens, the embeddings of input B compared with them."""
    n = len(tokens)
    hidden = hidden_of(case, n)
    mask = torch.from_numpy(hidden.astype(np.float32))
    if base_tokens is None:
        x = book.seeded_embeddings(tokens, case["embedding_seed"], case["d_in"])
    else:
        x = compared_embeddings(tokens, base_tokens, case["embedding_seed"], case["d_in"])
    mech, d_in, d_out, p = case["mechanism"], case["d_in"], case["d_out"], case["dropout"]
    torch.manual_seed(case["seed"])
    if mech == "simplified":
        heads, _ = book.fwd_simplified(x.clone(), mask, "softmax")
    elif mech == "self-attention-v1":
        heads, _ = book.fwd_v1(book.SelfAttention_v1(d_in, d_out), x, mask)
    elif mech == "self-attention":
        heads, _ = book.fwd_v2(book.SelfAttention_v2(d_in, d_out, case["qkv_bias"]), x, mask)
    else:
        xb = x.unsqueeze(0)
        if mech == "causal":
            module = book.CausalAttention(d_in, d_out, n, p, case["qkv_bias"])
            module.mask = mask.clone()
            heads = [book.fwd_causal(module, xb, case["dropout_seed"], p, first=True)[0]]
        elif mech == "multihead-wrapper":
            module = book.MultiHeadAttentionWrapper(d_in, d_out, n, p, case["n_heads"], case["qkv_bias"])
            for head in module.heads:
                head.mask = mask.clone()
            heads, _ = book.fwd_wrapper(module, xb, case["dropout_seed"], p)
        else:
            module = book.MultiHeadAttention(d_in, d_out, n, p, case["n_heads"], case["qkv_bias"])
            module.mask = mask.clone()
            heads, _ = book.fwd_multihead(module, xb, case["dropout_seed"], p)
    out = []
    for head in heads:
        w = head["weights"].detach().numpy().astype(np.float32).astype(np.float64)
        nan_rows = np.isnan(w).any(axis=1)
        assert (nan_rows == hidden.all(axis=1)).all(), "NaN rows are not the fully hidden rows"
        w[nan_rows] = 0.0
        assert (w[hidden] == 0).all()
        out.append(w)
    assert len(out) == case["n_heads"]
    return out


def compare(a, b):
    m = min(a.shape[0], b.shape[0])
    diff = a[:m, :m] - b[:m, :m]
    tv = float(np.mean([0.5 * np.abs(diff[i]).sum() for i in range(m)]))
    assert 0.0 <= tv <= 1.0 + 1e-12
    return diff, tv


def chapter3_case(name, mechanism, a, b, d_in, d_out=None, heads=1, qkv_bias=False, dropout=0.0,
                  dropout_seed=None, seed=123, embedding_seed=123, mask=None, mask_matrix=None):
    a_tokens, b_tokens = a.split(), b.split()
    case = dict(name=name, mechanism=mechanism, d_in=d_in, d_out=d_in if d_out is None else d_out,
                n_heads=heads, qkv_bias=qkv_bias, dropout=dropout, dropout_seed=dropout_seed, seed=seed,
                embedding_seed=embedding_seed, mask=mask or book.DEFAULT_MASK[mechanism],
                mask_matrix=None if mask_matrix is None else mask_matrix.tolist(), a_tokens=a_tokens,
                b_tokens=b_tokens)
    wa, wb = chapter3_weights(case, a_tokens), chapter3_weights(case, b_tokens, a_tokens)
    case["aligned"] = min(len(a_tokens), len(b_tokens))
    case["heads"] = []
    for h, (ha, hb) in enumerate(zip(wa, wb)):
        diff, tv = compare(ha, hb)
        case["heads"].append(dict(head=h, total_variation=tv, weights_diff=diff.tolist()))
    return case


def mechanisms_section():
    wrapper_mask = file_mask(9, 21, empty_rows=[4], empty_before={2: 7})
    return [
        chapter3_case("self-attention-none-a-longer", "self-attention", "the cat sat on the warm mat",
                      "a dog sat on it", d_in=4, d_out=3, seed=789, embedding_seed=123),
        chapter3_case("simplified-none-b-longer", "simplified", "one two three", "one two three four five",
                      d_in=3, embedding_seed=5),
        chapter3_case("causal-dropout-b-longer", "causal", "Your journey starts with one step",
                      "Your journey starts with one small step today", d_in=3, d_out=2, dropout=0.5,
                      dropout_seed=123, seed=123, embedding_seed=123),
        chapter3_case("multihead-window3-b-longer", "multihead", "x y z x y",
                      "x y z w v u x y z", d_in=4, d_out=4, heads=2, qkv_bias=True, seed=42,
                      embedding_seed=7, mask="window:3"),
        # Row 2 hides every key before 7: empty for B (6 tokens), keys 7 and 8 visible for A. Row 4 hides every
        # key: empty for both.
        chapter3_case("multihead-wrapper-file-a-longer", "multihead-wrapper", "a b c d e f g h i",
                      "a c e g b d", d_in=3, d_out=2, heads=3, dropout=0.1, seed=2024, embedding_seed=11,
                      mask="file", mask_matrix=wrapper_mask),
        chapter3_case("self-attention-v1-prefix2-same-length", "self-attention-v1", "p q r s t",
                      "p q r q p", d_in=2, d_out=2, seed=1, embedding_seed=3, mask="prefix:2"),
        chapter3_case("simplified-causal-identical", "simplified", "same words here", "same words here",
                      d_in=5, embedding_seed=9, mask="causal"),
    ]


# GPT-2's byte order (bytes_to_unicode): the printable bytes first, then the others.
PRINTABLE = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
BYTE_ORDER = PRINTABLE + [b for b in range(256) if b not in PRINTABLE]
TINY_MERGES = ["he", " t", "or", " w"]  # the first pair of every merge in tests/support/gpt2_checkpoint.hpp


def byte_ids(text):
    assert text.isascii() and not any(pair in text for pair in TINY_MERGES), text
    return [BYTE_ORDER.index(b) for b in text.encode("ascii")]


def gpt2_weights(cfg, w, ids, extra_mask):
    layers, _ = gpt2.forward(cfg, w, "", ids, extra_mask)
    return [[weights[h].detach().numpy().astype(np.float32).astype(np.float64) for h in range(cfg["n_head"])]
            for _, weights, _, _ in layers]


def gpt2_section():
    # tests/golden/make_gpt2_golden.py's "3-layers-4-heads" checkpoint.
    cfg, seed, dtype = gpt2.config(300, 16, 32, 3, 4), 33, "F32"
    w = gpt2.draw_weights(seed, gpt2.tensor_specs(cfg, "", False), dtype)
    out = []
    for name, a_text, b_text, extra_mask in [("causal-a-longer", "Big cats nap", "Big dog", None),
                                             ("window3-b-longer", "a cat", "a dog, a cat", "window:3")]:
        a_ids, b_ids = byte_ids(a_text), byte_ids(b_text)
        wa, wb = gpt2_weights(cfg, w, a_ids, extra_mask), gpt2_weights(cfg, w, b_ids, extra_mask)
        heads = []
        for layer in range(cfg["n_layer"]):
            for h in range(cfg["n_head"]):
                diff, tv = compare(wa[layer][h], wb[layer][h])
                heads.append(dict(layer=layer, head=h, total_variation=tv, weights_diff=diff.tolist()))
        out.append(dict(name=name, config=cfg, seed=seed, dtype=dtype, extra_mask=extra_mask, a_text=a_text,
                        b_text=b_text, a_ids=a_ids, b_ids=b_ids, aligned=min(len(a_ids), len(b_ids)),
                        heads=heads))
    return out


def build():
    torch.set_num_threads(1)
    doc = {"generator": "make_compare_golden.py", "torch": torch.__version__,
           "mechanisms": mechanisms_section(), "gpt2": gpt2_section()}
    by = {c["name"]: c for c in doc["mechanisms"]}
    # Hand-derived: the same text under the same settings differs nowhere.
    for head in by["simplified-causal-identical"]["heads"]:
        assert head["total_variation"] == 0.0 and not np.any(head["weights_diff"])
    # Row 4 is empty in both and row 2 hides every aligned key: both rows of the difference are 0.
    for head in by["multihead-wrapper-file-a-longer"]["heads"]:
        assert not np.any(np.array(head["weights_diff"])[[2, 4]])
    # Under a causal mask query 0 sees only key 0 (weight 1) in every text: row 0 differs nowhere.
    for case in doc["gpt2"]:
        for head in case["heads"]:
            assert not np.any(np.array(head["weights_diff"])[0])
    every = [h for c in doc["mechanisms"] + doc["gpt2"] for h in c["heads"]]
    assert sum(h["total_variation"] > 0.01 for h in every) > len(every) // 2, "too few heads differ"
    return doc


def check(new, old, where):
    if isinstance(new, (bool, str)) or new is None or old is None:
        assert new == old, "%s: %r, stored %r" % (where, new, old)
    elif isinstance(new, (int, float)) and isinstance(old, (int, float)):
        assert abs(new - old) <= CHECK_TOLERANCE, "%s: %r, stored %r" % (where, new, old)
    elif isinstance(new, list) and isinstance(old, list):
        assert len(new) == len(old), "%s: %d entries, stored %d" % (where, len(new), len(old))
        for i, (a, b) in enumerate(zip(new, old)):
            check(a, b, "%s[%d]" % (where, i))
    elif isinstance(new, dict) and isinstance(old, dict):
        assert new.keys() == old.keys(), "%s: keys %s, stored %s" % (where, sorted(new), sorted(old))
        for key in new:
            check(new[key], old[key], "%s.%s" % (where, key))
    else:
        raise AssertionError("%s: %r, stored %r" % (where, new, old))


def main():
    doc = build()
    heads = sum(len(c["heads"]) for c in doc["mechanisms"] + doc["gpt2"])
    if sys.argv[1:] == ["--check"]:
        with open(OUT, encoding="utf-8") as f:
            stored = json.load(f)
        try:
            check({k: v for k, v in doc.items() if k != "torch"},
                  {k: v for k, v in stored.items() if k != "torch"}, "compare.json")
        except AssertionError as error:
            print("FAIL: compare.json is not what make_compare_golden.py makes: %s" % error)
            sys.exit(1)
        print("compare.json regenerates: %d heads within %g" % (heads, CHECK_TOLERANCE))
        return
    assert not sys.argv[1:], "usage: make_compare_golden.py [--check]"
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n")
    print("compare.json: %d chapter-3 cases, %d GPT-2 cases, %d heads; %d bytes" % (
        len(doc["mechanisms"]), len(doc["gpt2"]), heads, os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
