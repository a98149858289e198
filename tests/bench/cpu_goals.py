#!/usr/bin/env python3
"""Measures the CPU attention step against the performance goals, all ratios taken within one run.

Runs `attnscope-cli bench --json` for 12 heads of width 64 (weights kept) at n = 512 … 4,096, masks none and
causal, once with ATTNSCOPE_THREADS=1 and once with 2, then the n = 8,192 step under /usr/bin/time -v for its
peak resident memory, and prints each goal with the measured figure:

  non-causal attention / same-run 2-thread SGEMM  >= 0.90
  causal speed-up over non-causal                 >= 1.8
  2 threads over 1 thread                         >= 1.8
  scale + mask + softmax share of the step        <= 15 %
  peak resident memory, n = 8,192, 12 heads       <  4 GiB

    tests/bench/cpu_goals.py [--cli build/bin/attnscope-cli] [--tokens 512,1024,2048,4096] [--repeat 5]
                             [--json FILE]

Exit status 0 whether or not a goal is met (it is a measurement, not a test); 2 when the bench cannot run.
Run it on a quiet machine: anything else using the cores shows up in the 2-thread figures.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HEADS, HEAD_DIM = 12, 64
GIB = 1024**3


def run_bench(cli, tokens, masks, repeat, threads):
    command = [cli, "bench", "--device", "cpu", "--tokens", ",".join(map(str, tokens)), "--heads", str(HEADS),
               "--head-dim", str(HEAD_DIM), "--mask", ",".join(masks), "--repeat", str(repeat), "--json"]
    environment = dict(os.environ, ATTNSCOPE_THREADS=str(threads))
    result = subprocess.run(command, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"cpu_goals: {' '.join(command)} failed: {result.stderr.strip()}")
    return {(row["tokens"], row["mask"]): row for row in json.loads(result.stdout)}


def peak_memory(cli, tokens):
    time_program = Path("/usr/bin/time")
    if not time_program.exists():
        sys.exit("cpu_goals: /usr/bin/time is missing (apt-get install time)")
    command = [str(time_program), "-v", cli, "bench", "--device", "cpu", "--tokens", str(tokens), "--heads",
               str(HEADS), "--head-dim", str(HEAD_DIM), "--mask", "causal", "--repeat", "1", "--json"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"cpu_goals: {' '.join(command)} failed: {result.stderr.strip()}")
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    if not match:
        sys.exit("cpu_goals: /usr/bin/time -v printed no maximum resident set size")
    return int(match.group(1)) * 1024


def verdict(value, goal, at_least):
    return "met" if (value >= goal if at_least else value <= goal) else "MISSED"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", default="build/bin/attnscope-cli")
    parser.add_argument("--tokens", default="512,1024,2048,4096")
    parser.add_argument("--memory-tokens", type=int, default=8192)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="also write the figures to this file")
    arguments = parser.parse_args()
    if not Path(arguments.cli).exists():
        print(f"cpu_goals: no {arguments.cli}; build first (cmake --build --preset release)", file=sys.stderr)
        return 2
    tokens = [int(value) for value in arguments.tokens.split(",")]

    two = run_bench(arguments.cli, tokens, ["none", "causal"], arguments.repeat, threads=2)
    one = run_bench(arguments.cli, tokens, ["none", "causal"], arguments.repeat, threads=1)
    memory = peak_memory(arguments.cli, arguments.memory_tokens)

    rows = []
    print(f"{HEADS} heads, head_dim {HEAD_DIM}, weights kept; medians of {arguments.repeat} runs each\n")
    print("tokens  none ms  causal ms  none/SGEMM  causal speed-up  2 vs 1 thread  mask+softmax (none, causal)")
    for n in tokens:
        none, causal = two[(n, "none")], two[(n, "causal")]
        row = {
            "tokens": n,
            "none_ms": none["median_ms"],
            "causal_ms": causal["median_ms"],
            "none_vs_sgemm": none["gflops"] / none["sgemm_gflops"],
            "causal_speedup": none["median_ms"] / causal["median_ms"],
            "thread_speedup": one[(n, "none")]["median_ms"] / none["median_ms"],
            "mask_softmax_share": max(none["mask_softmax_share"], causal["mask_softmax_share"]),
            "one_thread_none_ms": one[(n, "none")]["median_ms"],
        }
        rows.append(row)
        print(f"{n:6d}  {row['none_ms']:7.1f}  {row['causal_ms']:9.1f}  {row['none_vs_sgemm']:10.2f}  "
              f"{row['causal_speedup']:15.2f}  {row['thread_speedup']:13.2f}  "
              f"{100 * none['mask_softmax_share']:5.1f} %, {100 * causal['mask_softmax_share']:5.1f} %")

    goals = [
        ("non-causal attention / same-run SGEMM", min(r["none_vs_sgemm"] for r in rows), 0.90, True, "{:.2f}"),
        ("causal speed-up over non-causal", min(r["causal_speedup"] for r in rows), 1.8, True, "{:.2f}x"),
        ("2 threads over 1", min(r["thread_speedup"] for r in rows), 1.8, True, "{:.2f}x"),
        ("scale + mask + softmax share", max(r["mask_softmax_share"] for r in rows), 0.15, False, "{:.1%}"),
        (f"peak resident memory, n = {arguments.memory_tokens}", memory / GIB, 4.0, False, "{:.2f} GiB"),
    ]
    print("\ngoal (worst over the token counts)            measured      goal        verdict")
    for name, value, goal, at_least, form in goals:
        bound = (">= " if at_least else "<= ") + form.format(goal)
        print(f"{name:45s}  {form.format(value):12s}  {bound:10s}  {verdict(value, goal, at_least)}")

    if arguments.json:
        figures = {"heads": HEADS, "head_dim": HEAD_DIM, "repeat": arguments.repeat, "rows": rows,
                   "memory_tokens": arguments.memory_tokens, "peak_rss_bytes": memory,
                   "median_of_thread_speedups": statistics.median(r["thread_speedup"] for r in rows)}
        Path(arguments.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
