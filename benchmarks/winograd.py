"""Kernel-level timing of :func:`lucid.kernels.winograd.winograd_conv2d` (stride-1 3x3 2-d).

Usage::

    python benchmarks/winograd.py [--threads 2] [--repeats 9] [--dtype float32] [--only 1 3]

For every shape, one process times, round-robin, ``conv_forward`` of
:mod:`lucid.kernels.conv` (im2col + GEMM), the Winograd kernel with output tiles ``m = 2``
and ``m = 4``, and ``torch.nn.functional.conv2d``. Every sample sleeps ``--settle``
seconds first (OpenBLAS and OpenMP worker threads busy-wait for a while after a parallel
region, which would slow down the next sample of the other library on a small machine)
and averages enough calls to last ``--min-time`` seconds. Each row shows the median over
rounds of the per-round ratios Winograd / im2col and Winograd / torch (lower is better)
and the median times; the tag after the shape is the default tile size and whether
:func:`~lucid.kernels.winograd.winograd_recommended` routes the shape to Winograd (+/-).
All libraries are limited to ``--threads`` threads.

The input gradient of a stride-1 3x3 convolution is the forward convolution of the output
gradient with the flipped kernel (padding ``2 - p``), so these shapes cover it too.

The second section times the weight gradient the same way: ``conv_weight_grad`` (im2col +
GEMM), :func:`~lucid.kernels.winograd.winograd_weight_grad` with ``m = 2`` and ``m = 4``,
and ``torch.nn.grad.conv2d_weight``; its tag is the default tile size and
:func:`~lucid.kernels.winograd.winograd_weight_grad_recommended` (+/-). ``--section``
picks one section (``--only`` numbers each section's shapes from 1).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHAPES = [
    # name, N, C, H, W, C_out
    ("resnet 3x3", 32, 64, 32, 32, 64),
    ("c128 16x16", 32, 128, 16, 16, 128),
    ("c256 8x8", 8, 256, 8, 8, 256),
    ("c64 16x16", 16, 64, 16, 16, 64),
    ("c32 56x56", 8, 32, 56, 56, 32),
    ("rgb 64x64", 4, 3, 64, 64, 16),
]

WGRAD_SHAPES = [
    # name, N, C, H, W, C_out
    ("resnet 3x3", 32, 64, 32, 32, 64),
    ("c128 16x16", 32, 128, 16, 16, 128),
    ("c256 8x8", 8, 256, 8, 8, 256),
    ("c64 16x16", 16, 64, 16, 16, 64),
    ("c32 56x56", 8, 32, 56, 56, 32),
    ("demo conv2", 64, 64, 8, 8, 32),
]


def _sample(fn: Callable[[], object], calls: int, settle: float) -> float:
    time.sleep(settle)
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def race(fns: dict[str, Callable[[], object]], repeats: int, min_time: float,
         settle: float) -> dict[str, list[float]]:
    """Per-call times of every function, sampled round-robin ``repeats`` times."""
    calls = {}
    for name, fn in fns.items():
        fn()
        t0 = time.perf_counter()
        fn()
        calls[name] = max(1, int(min_time / max(time.perf_counter() - t0, 1e-7)))
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(_sample(fn, calls[name], settle))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--min-time", type=float, default=0.05)
    parser.add_argument("--settle", type=float, default=0.1)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--only", type=int, nargs="*", help="1-based shape numbers")
    parser.add_argument("--section", choices=["forward", "wgrad"], help="default: both")
    args = parser.parse_args()

    from _timing import limit_threads

    limit_threads(args.threads)
    print(f"threads={args.threads} dtype={args.dtype} repeats={args.repeats} (median ratios)")
    if args.section != "wgrad":
        forward(args)
    if args.section != "forward":
        weight_grad(args)


def _row(label: str, t: dict[str, list[float]], ref: str) -> str:
    """A result line: median ratios of m=2 and m=4 to ``ref`` and to torch, median times."""

    def ratio(a: str, b: str) -> float:
        return statistics.median(p / q for p, q in zip(t[a], t[b]))

    ms = " / ".join(f"{statistics.median(v) * 1e3:.2f}" for v in t.values())
    return (f"{label:<42} {ratio('m2', ref):>10.3f} {ratio('m4', ref):>10.3f} "
            f"{ratio('m2', 'torch'):>9.3f} {ratio('m4', 'torch'):>9.3f}   {ms}")


def forward(args: argparse.Namespace) -> None:
    """The forward section."""
    import torch

    from lucid.kernels import conv as K
    from lucid.kernels.conv import conv_forward
    from lucid.kernels.winograd import _tile_size, winograd_conv2d, winograd_recommended

    K._use_winograd = lambda *a: False  # the baseline is im2col + GEMM, not the routed call

    rng = np.random.default_rng(0)
    dtype = np.dtype(args.dtype)
    pad = ((1, 1), (1, 1))
    print("\nforward")
    print(f"{'shape':<42} {'m=2/im2col':>10} {'m=4/im2col':>10} {'m=2/torch':>9} "
          f"{'m=4/torch':>9}   im2col / m=2 / m=4 / torch ms")
    for i, (name, N, C, H, W, Co) in enumerate(SHAPES, 1):
        if args.only and i not in args.only:
            continue
        x = rng.standard_normal((N, C, H, W)).astype(dtype)
        w = rng.standard_normal((Co, C, 3, 3)).astype(dtype)
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        fns = {
            "im2col": lambda x=x, w=w: conv_forward(x, w, (1, 1), pad, (1, 1), 1),
            "m2": lambda x=x, w=w: winograd_conv2d(x, w, pad, m=2),
            "m4": lambda x=x, w=w: winograd_conv2d(x, w, pad, m=4),
            "torch": lambda xt=xt, wt=wt: torch.nn.functional.conv2d(xt, wt, padding=1),
        }
        t = race(fns, args.repeats, args.min_time, args.settle)
        tag = f"m{_tile_size(N, C, Co, H, W)}{'+' if winograd_recommended(N, C, Co, H, W) else '-'}"
        print(_row(f"{i}. {name} ({N},{C},{H},{W})->{Co} {tag}", t, "im2col"), flush=True)


def weight_grad(args: argparse.Namespace) -> None:
    """The weight-gradient section."""
    import torch

    from lucid.kernels import conv as K
    from lucid.kernels.conv import conv_weight_grad
    from lucid.kernels.winograd import (
        _wgrad_tile_size,
        winograd_weight_grad,
        winograd_weight_grad_recommended,
    )

    K._use_winograd_weight_grad = lambda *a: False  # im2col + GEMM as the baseline
    rng = np.random.default_rng(0)
    dtype = np.dtype(args.dtype)
    pad = ((1, 1), (1, 1))
    print("\nweight gradient")
    print(f"{'shape':<42} {'m=2/im2col':>10} {'m=4/im2col':>10} {'m=2/torch':>9} "
          f"{'m=4/torch':>9}   im2col / m=2 / m=4 / torch ms")
    for i, (name, N, C, H, W, Co) in enumerate(WGRAD_SHAPES, 1):
        if args.only and i not in args.only:
            continue
        x = rng.standard_normal((N, C, H, W)).astype(dtype)
        gy = rng.standard_normal((N, Co, H, W)).astype(dtype)
        xt, gyt = torch.from_numpy(x), torch.from_numpy(gy)
        fns = {
            "im2col": lambda x=x, gy=gy: conv_weight_grad(x, gy, (3, 3), (1, 1), pad, (1, 1), 1),
            "m2": lambda x=x, gy=gy: winograd_weight_grad(x, gy, pad, m=2),
            "m4": lambda x=x, gy=gy: winograd_weight_grad(x, gy, pad, m=4),
            "torch": lambda xt=xt, gyt=gyt, Co=Co, C=C: torch.nn.grad.conv2d_weight(
                xt, (Co, C, 3, 3), gyt, padding=1),
        }
        t = race(fns, args.repeats, args.min_time, args.settle)
        rec = "+" if winograd_weight_grad_recommended(N, C, Co, H, W) else "-"
        tag = f"m{_wgrad_tile_size(N, C, Co, H, W)}{rec}"
        print(_row(f"{i}. {name} ({N},{C},{H},{W})->{Co} {tag}", t, "im2col"), flush=True)


if __name__ == "__main__":
    main()
