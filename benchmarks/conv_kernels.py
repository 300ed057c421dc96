"""Per-kernel timing of :mod:`lucid.kernels.conv` against PyTorch on the GUIDE §5 conv suite.

Usage::

    python benchmarks/conv_kernels.py [--threads 2] [--repeats 7] [--only stem depthwise]

For every suite layer it times the three kernel calls behind one forward+backward step —
the forward, the input gradient and the weight gradient — against the matching PyTorch
calls (``F.conv*`` and ``aten.convolution_backward`` with only the requested gradient).
For a transposed layer the forward is :func:`conv_input_grad`, its input gradient is
:func:`conv_forward` and its weight gradient :func:`conv_weight_grad` (with ``x`` and
``gy`` swapped). Both libraries are limited to ``--threads`` threads
(``torch.set_num_threads``, ``threadpoolctl`` for NumPy's BLAS and
``lucid.kernels.conv.set_num_threads``). Calls alternate A B A B; each row shows the median
of the per-pair ratios lucid / torch (lower is better; 1.0 = parity) and their spread
(min-max) as a noise indicator.
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

SUITE = [
    # name, N, C_in, C_out, spatial, kernel, stride, pad, dilation, groups, transposed
    ("resnet 3x3", 32, 64, 64, (32, 32), 3, 1, 1, 1, 1, False),
    ("resnet down", 32, 64, 128, (32, 32), 3, 2, 1, 1, 1, False),
    ("stem", 8, 3, 64, (112, 112), 7, 2, 3, 1, 1, False),
    ("pointwise", 32, 128, 256, (16, 16), 1, 1, 0, 1, 1, False),
    ("depthwise", 32, 128, 128, (28, 28), 3, 1, 1, 1, 128, False),
    ("dilated", 16, 64, 64, (32, 32), 3, 1, 2, 2, 1, False),
    ("dcgan up (T)", 32, 128, 64, (16, 16), 4, 2, 1, 1, 1, True),
    ("unet up (T)", 16, 64, 32, (32, 32), 2, 2, 0, 1, 1, True),
    ("audio conv1d", 16, 32, 64, (4096,), 9, 1, 4, 1, 1, False),
    ("video conv3d", 4, 16, 32, (8, 32, 32), 3, 1, 1, 1, 1, False),
]


def _once(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def ratio_stats(fa: Callable[[], object], fb: Callable[[], object], repeats: int,
                min_time: float) -> tuple[float, float, float, float, float]:
    """``(median ratio, min ratio, max ratio, median a, median b)`` of alternated samples.

    Each sample averages enough calls of one side to last about ``min_time`` seconds.
    """
    fa()
    fb()
    na = max(1, int(min_time / max(_once(fa), 1e-7)))
    nb = max(1, int(min_time / max(_once(fb), 1e-7)))
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(sum(_once(fa) for _ in range(na)) / na)
        tb.append(sum(_once(fb) for _ in range(nb)) / nb)
    ratios = [a / b for a, b in zip(ta, tb)]
    return (statistics.median(ratios), min(ratios), max(ratios),
            statistics.median(ta), statistics.median(tb))


def make_ops(K, torch, case, rng) -> dict[str, tuple[Callable, Callable]]:
    """``{op: (lucid_fn, torch_fn)}`` for the three kernel calls of one suite layer."""
    _, N, C, Co, S, k, s, p, d, g, transposed = case
    nd = len(S)
    kern, st, dil, pads = (k,) * nd, (s,) * nd, (d,) * nd, ((p, p),) * nd
    # a transposed layer's input is the output gradient of the underlying convolution
    if transposed:
        gy = rng.standard_normal((N, C) + S, dtype=np.float32)
        w = rng.standard_normal((C, Co // g) + kern, dtype=np.float32)
        xs = tuple((L - 1) * s - 2 * p + d * (k - 1) + 1 for L in S)
        x = rng.standard_normal((N, Co) + xs, dtype=np.float32)
    else:
        x = rng.standard_normal((N, C) + S, dtype=np.float32)
        w = rng.standard_normal((Co, C // g) + kern, dtype=np.float32)
        gy = rng.standard_normal(K.conv_forward(x, w, st, pads, dil, g).shape, dtype=np.float32)
    xs = x.shape[2:]
    tx, tw, tgy = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(gy)
    F = torch.nn.functional
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]

    def torch_backward(mask):
        return lambda: torch.ops.aten.convolution_backward(
            tgy, tx, tw, None, st, (p,) * nd, dil, False, (0,) * nd, g, mask)

    ops = {
        "C": (lambda: K.conv_forward(x, w, st, pads, dil, g),
              lambda: conv(tx, tw, None, s, p, d, g)),
        "T": (lambda: K.conv_input_grad(gy, w, xs, st, pads, dil, g),
              torch_backward((True, False, False))),
        "G": (lambda: K.conv_weight_grad(x, gy, kern, st, pads, dil, g),
              torch_backward((False, True, False))),
    }
    # names as seen from the layer: fwd, input grad (dx), weight grad (dw)
    order = ("T", "C", "G") if transposed else ("C", "T", "G")
    return dict(zip(("fwd", "dx", "dw"), (ops[o] for o in order)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.05)
    ap.add_argument("--only", nargs="*", help="substrings of layer names to run")
    args = ap.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    from lucid.kernels import conv as K

    torch.set_num_threads(args.threads)
    K.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"threads={args.threads}, {args.repeats} alternated pairs; ratio = lucid / torch "
          "(median [min-max] of per-pair ratios)")
    print(f"{'layer':14s} {'op':3s} {'lucid ms':>9s} {'torch ms':>9s} {'ratio':>6s}  spread")
    with threadpool_limits(args.threads), torch.no_grad():
        for case in SUITE:
            if args.only and not any(o in case[0] for o in args.only):
                continue
            for op, (fl, ft) in make_ops(K, torch, case, rng).items():
                r, rmin, rmax, tl, tt = ratio_stats(fl, ft, args.repeats, args.min_time)
                print(f"{case[0]:14s} {op:3s} {tl * 1e3:9.2f} {tt * 1e3:9.2f} {r:6.2f}  "
                      f"[{rmin:.2f}-{rmax:.2f}]", flush=True)


if __name__ == "__main__":
    main()
