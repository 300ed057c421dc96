"""Quick timing of lucid.kernels.conv against PyTorch (CPU, float32, fixed thread count).

Usage: ``python benchmarks/conv_kernels.py [--threads 2] [--repeat 5]``. Prints, per case,
the best-of-``repeat`` wall time of forward, input-grad and weight-grad for lucid and torch
and the ratio lucid / torch (lower is better; 1.0 = parity).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CASES = [
    # name, N, C_in, C_out, spatial, kernel, stride, pad, groups
    ("32x64->64 32x32 k3p1", 32, 64, 64, (32, 32), 3, 1, 1, 1),
    ("8x3->64 112x112 k7s2p3", 8, 3, 64, (112, 112), 7, 2, 3, 1),
    ("32x128->128 28x28 k3p1 dw", 32, 128, 128, (28, 28), 3, 1, 1, 128),
]


def best(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", type=int, default=None, help="run only case index")
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F
    from threadpoolctl import threadpool_limits

    from lucid.kernels import conv as K

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"{'case':28s} {'op':6s} {'lucid ms':>9s} {'torch ms':>9s} {'ratio':>6s}")
    with threadpool_limits(args.threads):
        for ci, (name, N, C, Co, S, k, s, p, g) in enumerate(CASES):
            if args.only is not None and ci != args.only:
                continue
            nd = len(S)
            x = rng.standard_normal((N, C) + S, dtype=np.float32)
            w = rng.standard_normal((Co, C // g) + (k,) * nd, dtype=np.float32)
            kern, st, dil = (k,) * nd, (s,) * nd, (1,) * nd
            pads = ((p, p),) * nd
            y = K.conv_forward(x, w, st, pads, dil, g)
            gy = rng.standard_normal(y.shape, dtype=np.float32)
            tx, tw, tgy = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(gy)
            conv = F.conv2d if nd == 2 else (F.conv1d if nd == 1 else F.conv3d)
            ops = {
                "fwd": (
                    lambda: K.conv_forward(x, w, st, pads, dil, g),
                    lambda: conv(tx, tw, None, s, p, 1, g),
                ),
                "dx": (
                    lambda: K.conv_input_grad(gy, w, S, st, pads, dil, g),
                    lambda: torch.ops.aten.convolution_backward(
                        tgy, tx, tw, None, st, (p,) * nd, dil, False, (0,) * nd, g,
                        (True, False, False),
                    ),
                ),
                "dw": (
                    lambda: K.conv_weight_grad(x, gy, kern, st, pads, dil, g),
                    lambda: torch.ops.aten.convolution_backward(
                        tgy, tx, tw, None, st, (p,) * nd, dil, False, (0,) * nd, g,
                        (False, True, False),
                    ),
                ),
            }
            for op, (fl, ft) in ops.items():
                with torch.no_grad():
                    tl = best(fl, args.repeat)
                    tt = best(ft, args.repeat)
                print(f"{name:28s} {op:6s} {tl * 1e3:9.2f} {tt * 1e3:9.2f} {tl / tt:6.2f}")


if __name__ == "__main__":
    main()
