#!/usr/bin/python3
"""AttnScope's attention step against PyTorch's, same shapes, same machine, one run.

Runs `attnscope-cli bench --json` and, for each shape, the same step in PyTorch 1.13 (Debian's python3-torch,
CPU): the body of the book's MultiHeadAttention.forward after the projections — scores = q·kᵀ, causal (or no)
mask, softmax(scores / √head_dim) with the weights kept, context = weights·v. It also times the book's whole
MultiHeadAttention forward (projections included) for reference. Prints the medians and the ratio
PyTorch / AttnScope (above 1: AttnScope is faster).

Usage: /usr/bin/python3 tests/bench/compare_pytorch.py [--cli build/bin/attnscope-cli] [--tokens 512,1024,2048]
       [--heads 12] [--head-dim 64] [--mask none,causal] [--repeat 5] [--threads 2]
"""
import argparse
import json
import statistics
import subprocess
import time

import torch
from torch import nn


class MultiHeadAttention(nn.Module):  # chapter 3, returning the weights as a viewer keeps them
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        assert d_out % num_heads == 0
        self.d_out, self.num_heads, self.head_dim = d_out, num_heads, d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), diagonal=1))

    def forward(self, x, causal=True):
        b, num_tokens, _ = x.shape
        split = lambda t: t.view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)
        keys, queries, values = split(self.W_key(x)), split(self.W_query(x)), split(self.W_value(x))
        context, weights = attention_step(queries, keys, values, self.mask if causal else None)
        context = self.dropout(context).transpose(1, 2).contiguous().view(b, num_tokens, self.d_out)
        return self.out_proj(context), weights


def attention_step(queries, keys, values, mask):
    attn_scores = queries @ keys.transpose(2, 3)
    if mask is not None:
        n = queries.shape[-2]
        attn_scores.masked_fill_(mask.bool()[:n, :n], -torch.inf)
    attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)
    return attn_weights @ values, attn_weights


def median_ms(function, repeat):
    function()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", default="build/bin/attnscope-cli")
    parser.add_argument("--tokens", default="512,1024,2048")
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--mask", default="none,causal")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(123)

    command = [args.cli, "bench", "--device", "cpu", "--tokens", args.tokens, "--heads", str(args.heads),
               "--head-dim", str(args.head_dim), "--mask", args.mask, "--repeat", str(args.repeat), "--json"]
    attnscope = {(row["tokens"], row["mask"]): row for row in json.loads(subprocess.check_output(command))}

    d_model = args.heads * args.head_dim
    print(f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads) vs AttnScope, {args.heads} heads, "
          f"head_dim {args.head_dim}, weights kept, median of {args.repeat}")
    print(f"{'tokens':>7} {'mask':>7} {'torch step ms':>14} {'attnscope ms':>13} {'ratio':>7} {'torch forward ms':>17}")
    with torch.no_grad():
        for n in (int(t) for t in args.tokens.split(",")):
            module = MultiHeadAttention(d_model, d_model, n, 0.0, args.heads)
            x = torch.randn(1, n, d_model)
            q, k, v = (torch.randn(1, args.heads, n, args.head_dim) for _ in range(3))
            for mask_name in args.mask.split(","):
                causal = mask_name == "causal"
                step = median_ms(lambda: attention_step(q, k, v, module.mask if causal else None), args.repeat)
                forward = median_ms(lambda: module(x, causal), args.repeat)
                ours = attnscope[(n, mask_name)]["median_ms"]
                print(f"{n:>7} {mask_name:>7} {step:>14.1f} {ours:>13.1f} {step / ours:>6.2f}x {forward:>17.1f}")


if __name__ == "__main__":
    main()
