"""The GUIDE §5 convolution suite: lucid's ``F.conv*`` / ``F.conv_transpose*`` against PyTorch.

Run: ``python benchmarks/conv.py [--threads 2] [--repeats 7] [--only NAME ...] [--breakdown]``.
The suite table is followed by the training-step ratio of :mod:`train_step` (skip it with
``--no-train-step``).

Timing
    Both libraries run in this process with the same thread count (``torch.set_num_threads``;
    ``threadpoolctl`` for NumPy's BLAS; lucid's conv-kernel worker threads). Each layer is
    timed twice: forward under no-grad, and forward + backward (gradients of input, weight
    and bias; the ``.grad`` fields are reset before every step so both sides allocate them).
    ``_timing.compare`` alternates lucid and torch (A B A B ...), each sample averaging
    enough calls to last ``--min-time``; the table shows the median of the per-pair
    ratios lucid/torch (lower is better, 1.0 = parity), the median fwd+bwd times and, as
    ``(best)``, the ratio of the best fwd+bwd times (robust to load spikes). Before each
    sample the process sleeps ``--settle`` seconds: NumPy's OpenBLAS threads and torch's
    OpenMP threads busy-wait after their work, and on 2 cores that spinning steals the CPU
    from the other library's next sample (it made some ratios wrong by up to 8x).

Peak memory (forward + backward, one step, after a warm-up step)
    Bytes allocated above what was live before the step: outputs, saved tensors,
    gradients and scratch buffers. The previous step's gradients are dropped before the
    measured step on both sides (otherwise torch's curve could start with their free and
    read low: the video layer measured 8.1 MB after the other layers, 12.1 MB alone).

    * lucid: :mod:`tracemalloc` sees every NumPy data buffer (NumPy reports its
      allocations to it). The conv kernels keep scratch buffers between calls; they are
      released first (workspace of this thread, and the kernel worker pool is rebuilt so
      its threads' buffers go too), so the step pays for them as a cold call would.
    * torch: the profiler with ``profile_memory=True`` records one ``[memory]`` event per
      allocation and free of c10's CPU allocator, with a timestamp; their running sum in
      time order is the allocator's live-bytes curve, whose maximum is the peak. (Summing
      the per-op ``cpu_memory_usage`` of ``prof.events()`` instead would double count
      nested ops.) Memory that oneDNN allocates behind c10's back, if any, is not seen.

The machine is shared, so absolute times are noisy; per-pair ratios of interleaved runs
are much more stable than either time alone.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _timing import compare, limit_threads, peak_numpy_bytes, peak_torch_bytes  # noqa: E402


@dataclass(frozen=True)
class Layer:
    """One benchmark layer: ``x`` is ``(N, C_in, *spatial)``."""

    name: str
    n: int
    c_in: int
    c_out: int
    spatial: tuple[int, ...]
    kernel: int
    kwargs: dict[str, Any] = field(default_factory=dict)
    transposed: bool = False

    @property
    def op(self) -> str:
        nd = len(self.spatial)
        return f"conv_transpose{nd}d" if self.transposed else f"conv{nd}d"

    def shapes(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        groups = self.kwargs.get("groups", 1)
        k = (self.kernel,) * len(self.spatial)
        if self.transposed:
            w = (self.c_in, self.c_out // groups) + k
        else:
            w = (self.c_out, self.c_in // groups) + k
        return (self.n, self.c_in) + self.spatial, w, (self.c_out,)


LAYERS = [
    Layer("resnet 3x3", 32, 64, 64, (32, 32), 3, dict(padding=1)),
    Layer("resnet down", 32, 64, 128, (32, 32), 3, dict(stride=2, padding=1)),
    Layer("stem", 8, 3, 64, (112, 112), 7, dict(stride=2, padding=3)),
    Layer("pointwise", 32, 128, 256, (16, 16), 1),
    Layer("depthwise", 32, 128, 128, (28, 28), 3, dict(padding=1, groups=128)),
    Layer("dilated", 16, 64, 64, (32, 32), 3, dict(padding=2, dilation=2)),
    Layer("dcgan up (T)", 32, 128, 64, (16, 16), 4, dict(stride=2, padding=1), True),
    Layer("unet up (T)", 16, 64, 32, (32, 32), 2, dict(stride=2), True),
    Layer("audio conv1d", 16, 32, 64, (4096,), 9, dict(padding=4)),
    Layer("video conv3d", 4, 16, 32, (8, 32, 32), 3, dict(padding=1)),
]


class Side:
    """Tensors and step functions of one library for one layer."""

    def __init__(self, lib: Any, fn: Callable[..., Any], layer: Layer,
                 arrays: list[np.ndarray]) -> None:
        self.lib, self.fn, self.layer = lib, fn, layer
        self.x, self.w, self.b = (lib.tensor(a, requires_grad=True) for a in arrays[:3])
        self.gy = lib.tensor(arrays[3])

    def forward(self) -> Any:
        with self.lib.no_grad():
            return self.fn(self.x, self.w, self.b, **self.layer.kwargs)

    def clear_grads(self) -> None:
        for t in (self.x, self.w, self.b):
            t.grad = None

    def forward_backward(self) -> None:
        self.clear_grads()
        self.fn(self.x, self.w, self.b, **self.layer.kwargs).backward(self.gy)


def make_sides(layer: Layer) -> tuple[Side, Side]:
    import torch
    import torch.nn.functional as TF

    import lucid
    import lucid.nn.functional as F

    rng = np.random.default_rng(0)
    x_shape, w_shape, b_shape = layer.shapes()
    arrays = [rng.standard_normal(s, dtype=np.float32) for s in (x_shape, w_shape, b_shape)]
    with torch.no_grad():
        y_shape = getattr(TF, layer.op)(*map(torch.from_numpy, arrays), **layer.kwargs).shape
    arrays.append(rng.standard_normal(tuple(y_shape), dtype=np.float32))
    return (Side(lucid, getattr(F, layer.op), layer, arrays),
            Side(torch, getattr(TF, layer.op), layer, arrays))


def lucid_peak(side: Side) -> int:
    """Peak NumPy bytes of a cold-workspace forward+backward step (see the module doc)."""
    from lucid.kernels import conv as K

    side.forward_backward()
    side.clear_grads()
    K.release_workspace()
    K.set_num_threads(K.get_num_threads())  # new worker pool: old threads' buffers go
    gc.collect()
    return peak_numpy_bytes(side.forward_backward)


def kernel_breakdown(layer: Layer, lucid_side: Side) -> dict[str, float]:
    """Median seconds of the three kernel calls behind one fwd+bwd, and of the full step."""
    import time

    from lucid.kernels import conv as K

    x, w = lucid_side.x.detach().numpy(), lucid_side.w.detach().numpy()
    gy = lucid_side.gy.numpy()
    nd = len(layer.spatial)
    kw = layer.kwargs
    st = (kw.get("stride", 1),) * nd
    dil = (kw.get("dilation", 1),) * nd
    pads = ((kw.get("padding", 0),) * 2,) * nd
    g = kw.get("groups", 1)
    if layer.transposed:  # forward = T(x, w); backward = C(gy, w) and G(gy, x)
        calls = {
            "fwd": lambda: K.conv_input_grad(x, w, gy.shape[2:], st, pads, dil, g),
            "d_input": lambda: K.conv_forward(gy, w, st, pads, dil, g),
            "d_weight": lambda: K.conv_weight_grad(gy, x, w.shape[2:], st, pads, dil, g),
        }
    else:
        calls = {
            "fwd": lambda: K.conv_forward(x, w, st, pads, dil, g),
            "d_input": lambda: K.conv_input_grad(gy, w, x.shape[2:], st, pads, dil, g),
            "d_weight": lambda: K.conv_weight_grad(x, gy, w.shape[2:], st, pads, dil, g),
        }
    calls["full step"] = lucid_side.forward_backward
    out = {}
    for name, fn in calls.items():
        fn()
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--min-time", type=float, default=0.05)
    parser.add_argument("--settle", type=float, default=0.2,
                        help="seconds of sleep before each sample (lets spinning BLAS/OpenMP "
                             "threads of the other library go idle)")
    parser.add_argument("--only", nargs="*", help="substrings of layer names to run")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time lucid's kernel calls alone (where the time goes)")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-train-step", action="store_true")
    args = parser.parse_args(argv)

    limit_threads(args.threads)
    layers = [la for la in LAYERS if not args.only or any(s in la.name for s in args.only)]
    print(f"conv suite, float32, {args.threads} threads, {args.repeats} A/B pairs; "
          "ratios = lucid / torch (median of per-pair ratios)")
    head = (f"{'layer':<14} {'fwd':>6} {'fwd+bwd':>8} {'(best)':>7} {'lucid ms':>9} "
            f"{'torch ms':>9} {'mem':>6} {'lucid MB':>9} {'torch MB':>9}")
    print(head)
    print("-" * len(head))
    fwd_r, step_r, best_r, mem_r = [], [], [], []
    for layer in layers:
        lucid_side, torch_side = make_sides(layer)
        f = compare(lucid_side.forward, torch_side.forward, args.repeats, min_time=args.min_time,
                    settle=args.settle)
        s = compare(lucid_side.forward_backward, torch_side.forward_backward, args.repeats,
                    min_time=args.min_time, settle=args.settle)
        fwd_r.append(f["ratio"])
        step_r.append(s["ratio"])
        best_r.append(s["best_ratio"])
        line = (f"{layer.name:<14} {f['ratio']:6.2f} {s['ratio']:8.2f} {s['best_ratio']:7.2f} "
                f"{s['lucid'] * 1e3:9.1f} {s['torch'] * 1e3:9.1f}")
        if not args.no_memory:
            torch_side.forward_backward()
            torch_side.clear_grads()  # no free of an earlier step's gradients in the window
            ml, mt = lucid_peak(lucid_side), peak_torch_bytes(torch_side.forward_backward)
            mem_r.append(ml / mt)
            line += f" {ml / mt:6.2f} {ml / 2**20:9.1f} {mt / 2**20:9.1f}"
        print(line, flush=True)
        if args.breakdown:
            parts = kernel_breakdown(layer, lucid_side)
            kernels = parts["fwd"] + parts["d_input"] + parts["d_weight"]
            print("    lucid kernels ms: " + ", ".join(
                f"{k} {v * 1e3:.1f}" for k, v in parts.items())
                + f"; outside the kernels {(parts['full step'] - kernels) * 1e3:.1f} ms")
        del lucid_side, torch_side
        gc.collect()
    print("-" * len(head))
    for label, values in (("fwd", fwd_r), ("fwd+bwd", step_r), ("(best)", best_r),
                          ("peak memory", mem_r)):
        if values:
            worst = max(range(len(values)), key=values.__getitem__)
            print(f"{label:<12} median ratio {statistics.median(values):5.2f}   worst "
                  f"{values[worst]:5.2f} ({layers[worst].name})")
    if not args.no_train_step:
        from train_step import measure

        r = measure()
        print(f"training step (demo classifier, batch 64, Adam): ratio {r['ratio']:.2f} "
              f"(lucid {r['lucid'] * 1e3:.1f} ms, torch {r['torch'] * 1e3:.1f} ms)")


if __name__ == "__main__":
    main()
