#!/usr/bin/python3
"""CTest golden_regenerates: the stored golden data still comes from PyTorch.

Regenerates a sample of the cases with make_golden.py and make_gpt2_golden.py (their --cases and --out)
into a temporary folder and compares every value with the stored files: numbers within 1e-6 relative
(with the same torch they come out bit for bit), everything else (names, ids, null cells, shapes) equal.
random.json, which make_golden.py always writes whole, is compared whole.

Without PyTorch the check cannot run: with the environment variable CI set that is a failure (CI must have
python3-torch), otherwise the test is skipped (exit code 77, CTest's SKIP_RETURN_CODE) with the reason.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77
RELATIVE = 1e-6

# A few small cases (the book's, a masked file, seeded embeddings, sum normalisation, dropout with and
# without dropout_seed, n = 64) and large ones past the CPU backend's 16- and 64-row blocks.
MECHANISM_CASES = [
    "book-causal-seed123-p0.5-dseed123",
    "book-v2-seed789",
    "book-simplified-sum",
    "multihead-file-n13-din3-dout12-h4-p0.1-dseed0-bias",
    "multihead-wrapper-file-n13-din4-dout1-h1-p0.3-seeded",
    "multihead-n64-din32-h8-causal-p0.1-dseed123",
    "causal-n10-din1-dout3-p0.1",
    "embedding-v17-multihead",
    "multihead-causal-n300-din6-dout4-h2-p0.1-bias",
    "multihead-prefix100-n129-din8-dout12-h12-p0.3-dseed5",
    "multihead-wrapper-window40-n200-din6-dout2-h3-p0.2-dseed789",
    "simplified-window70-n300-din4",
]
GPT2_CASES = ["3-layers-4-heads", "2-layers-2-heads-300-positions"]


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def compare(new, old, where, stats):
    """Raises AssertionError at the first difference."""
    if isinstance(new, bool) or isinstance(old, bool) or new is None or old is None or isinstance(new, str):
        assert new == old, "%s: %r, stored %r" % (where, new, old)
    elif isinstance(new, (int, float)) and isinstance(old, (int, float)):
        stats["numbers"] += 1
        if new != old:
            stats["inexact"] += 1
            error = abs(new - old) / max(abs(new), abs(old))
            stats["worst"] = max(stats["worst"], error)
            assert error <= RELATIVE, "%s: %r, stored %r (relative difference %.3g)" % (where, new, old, error)
    elif isinstance(new, list) and isinstance(old, list):
        assert len(new) == len(old), "%s: %d entries, stored %d" % (where, len(new), len(old))
        for i, (a, b) in enumerate(zip(new, old)):
            compare(a, b, "%s[%d]" % (where, i), stats)
    elif isinstance(new, dict) and isinstance(old, dict):
        assert new.keys() == old.keys(), "%s: keys %s, stored %s" % (where, sorted(new), sorted(old))
        for key in new:
            compare(new[key], old[key], "%s.%s" % (where, key), stats)
    else:
        raise AssertionError("%s: %r, stored %r" % (where, new, old))


def compare_file(out, name, wanted, stats):
    with open(os.path.join(out, name)) as f:
        new = json.load(f)
    with open(os.path.join(HERE, name)) as f:
        old = json.load(f)
    if new.get("torch") != old.get("torch"):
        print("note: %s was made with torch %s, this is %s" % (name, old.get("torch"), new.get("torch")))
    if wanted is None:  # the whole file
        compare({k: v for k, v in new.items() if k != "torch"}, {k: v for k, v in old.items() if k != "torch"},
                name, stats)
        return 0
    stored = {c["name"]: c for c in old["cases"]}
    got = [c["name"] for c in new["cases"]]
    assert sorted(got) == sorted(wanted), "%s: regenerated %s, asked for %s" % (name, got, wanted)
    for case in new["cases"]:
        assert case["name"] in stored, "%s: no stored case %s" % (name, case["name"])
        compare(case, stored[case["name"]], "%s:%s" % (name, case["name"]), stats)
    return len(got)


def main():
    try:
        import numpy  # noqa: F401
        import torch  # noqa: F401
    except ImportError as error:
        reason = ("python3-torch is missing: %s cannot import PyTorch and numpy (%s); install Debian's "
                  "python3-torch and python3-numpy (apt-get install python3-torch python3-numpy)"
                  % (sys.executable, error))
        if "CI" in os.environ:
            fail(reason + "; CI is set, so this check must run")
        print("SKIP: " + reason)
        sys.exit(SKIP)

    start = time.monotonic()
    with open(os.path.join(HERE, "mechanisms.json")) as f:
        small = {c["name"] for c in json.load(f)["cases"]}
    with tempfile.TemporaryDirectory(prefix="attnscope-golden-") as out:
        for script, cases in [("make_golden.py", MECHANISM_CASES), ("make_gpt2_golden.py", GPT2_CASES)]:
            command = [sys.executable, os.path.join(HERE, script), "--cases", ",".join(cases), "--out", out]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                fail("%s exited with %d:\n%s%s" % (" ".join(command), result.returncode, result.stdout,
                                                   result.stderr))
        stats = {"numbers": 0, "inexact": 0, "worst": 0.0}
        try:
            count = compare_file(out, "mechanisms.json", [c for c in MECHANISM_CASES if c in small], stats)
            count += compare_file(out, "mechanisms_large.json", [c for c in MECHANISM_CASES if c not in small],
                                  stats)
            count += compare_file(out, "gpt2_tiny.json", GPT2_CASES, stats)
            compare_file(out, "random.json", None, stats)
        except AssertionError as error:
            fail("the regenerated golden data differs from the stored files: %s" % error)
    print("%d cases and random.json regenerated with torch %s: %d numbers, %d not bit-identical (worst "
          "relative difference %.3g), in %.1f s" % (count, torch.__version__, stats["numbers"], stats["inexact"],
                                                   stats["worst"], time.monotonic() - start))


if __name__ == "__main__":
    main()
