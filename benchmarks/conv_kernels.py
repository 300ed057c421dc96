"""Quick timing of :mod:`lucid.kernels.conv` against PyTorch (CPU, float32, fixed threads).

Usage::

    python benchmarks/conv_kernels.py [--threads 2] [--repeat 20] [--only 0 2]

For every case it prints the best-of-``repeat`` wall time of the forward, the input
gradient and the weight gradient for lucid's kernels and for PyTorch (``F.conv*`` and
``aten.convolution_backward`` with only the requested gradient), and the ratio
lucid / torch (lower is better; 1.0 = parity). Both libraries are limited to ``--threads``
threads: ``torch.set_num_threads``, ``threadpoolctl`` for NumPy's BLAS and
``lucid.kernels.conv.set_num_threads`` for the kernels' own worker threads. The two sides
are measured interleaved, which makes best-of-N robust to a noisy machine.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CASES = [
    # name, N, C_in, C_out, spatial, kernel, stride, pad, groups
    ("32x64->64 32x32 k3p1", 32, 64, 64, (32, 32), 3, 1, 1, 1),
    ("8x3->64 112x112 k7s2p3", 8, 3, 64, (112, 112), 7, 2, 3, 1),
    ("32x128->128 28x28 k3p1 dw", 32, 128, 128, (28, 28), 3, 1, 1, 128),
    ("64x256->256 14x14 k3p1", 64, 256, 256, (14, 14), 3, 1, 1, 1),
    ("32x128->256 28x28 k3s2p1", 32, 128, 256, (28, 28), 3, 2, 1, 1),
    ("32x256->64 28x28 1x1", 32, 256, 64, (28, 28), 1, 1, 0, 1),
]


def load_conv():
    """``lucid.kernels.conv``, loaded from its file if the ``lucid`` package is not importable."""
    try:
        return importlib.import_module("lucid.kernels.conv")
    except Exception:
        path = ROOT / "lucid" / "kernels" / "conv.py"
        spec = importlib.util.spec_from_file_location("_lucid_kernels_conv", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module


def best_pair(fa: Callable[[], object], fb: Callable[[], object], repeat: int):
    """Best-of-``repeat`` times of two callables, measured interleaved."""
    fa()
    fb()
    ta, tb = [], []
    for _ in range(repeat):
        for fn, acc in ((fa, ta), (fb, tb)):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    return min(ta), min(tb)


def make_ops(K, torch, case, rng):
    """``{op: (lucid_fn, torch_fn)}`` for one benchmark case."""
    F = torch.nn.functional
    _, N, C, Co, S, k, s, p, g = case
    nd = len(S)
    x = rng.standard_normal((N, C) + S, dtype=np.float32)
    w = rng.standard_normal((Co, C // g) + (k,) * nd, dtype=np.float32)
    kern, st, dil, pads = (k,) * nd, (s,) * nd, (1,) * nd, ((p, p),) * nd
    gy = rng.standard_normal(K.conv_forward(x, w, st, pads, dil, g).shape, dtype=np.float32)
    tx, tw, tgy = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(gy)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]

    def torch_backward(mask):
        return lambda: torch.ops.aten.convolution_backward(
            tgy, tx, tw, None, st, (p,) * nd, dil, False, (0,) * nd, g, mask
        )

    return {
        "fwd": (
            lambda: K.conv_forward(x, w, st, pads, dil, g),
            lambda: conv(tx, tw, None, s, p, 1, g),
        ),
        "dx": (
            lambda: K.conv_input_grad(gy, w, S, st, pads, dil, g),
            torch_backward((True, False, False)),
        ),
        "dw": (
            lambda: K.conv_weight_grad(x, gy, kern, st, pads, dil, g),
            torch_backward((False, True, False)),
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--only", type=int, nargs="*", help="case indices to run")
    args = ap.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    K = load_conv()
    torch.set_num_threads(args.threads)
    K.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"threads={args.threads}  best of {args.repeat} (interleaved)")
    print(f"{'case':28s} {'op':4s} {'lucid ms':>9s} {'torch ms':>9s} {'ratio':>6s}")
    with threadpool_limits(args.threads), torch.no_grad():
        for ci, case in enumerate(CASES):
            if args.only and ci not in args.only:
                continue
            for op, (fl, ft) in make_ops(K, torch, case, rng).items():
                tl, tt = best_pair(fl, ft, args.repeat)
                print(f"{case[0]:28s} {op:4s} {tl * 1e3:9.2f} {tt * 1e3:9.2f} {tl / tt:6.2f}")


if __name__ == "__main__":
    main()
