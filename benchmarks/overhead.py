"""Per-operation overhead of lucid against PyTorch, timed in the same process.

Run ``python benchmarks/overhead.py`` (add ``--profile`` for a cProfile listing of lucid's
hot path). Each case is timed A/B interleaved with ``_timing.compare``: one batch of lucid
calls, then one of torch, repeated; the table shows the median time per call of each and
the median of the per-pair ratios (lucid / torch).

Cases
-----
- ``a + b``: two 1x1 float32 tensors, without and with ``requires_grad``.
- ``chain fwd``: a 100-op chain (mul, add, tanh, sub repeated) on a 1x1 tensor that
  requires grad, forward only (graph recording included).
- ``chain fwd+bwd``: the same chain followed by ``backward()``: one training-style step.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import compare, limit_threads  # noqa: E402

import lucid  # noqa: E402

limit_threads(2)

CHAIN_BLOCKS = 25  # four ops per block: 100 ops


def _chain(x: Any, a: Any, b: Any) -> Any:
    y = x
    for _ in range(CHAIN_BLOCKS):
        y = y * a
        y = y + b
        y = y.tanh()
        y = y - b
    return y


def _cases(lib: Any) -> dict[str, Callable[[], Any]]:
    """The timed callables of one library (``lucid`` or ``torch``)."""
    lib.manual_seed(0)
    a, b = lib.rand(1, 1), lib.rand(1, 1)
    ag, bg = lib.rand(1, 1, requires_grad=True), lib.rand(1, 1, requires_grad=True)
    x = lib.rand(1, 1, requires_grad=True)
    w, c = lib.rand(1, 1), lib.rand(1, 1)

    def step() -> None:
        _chain(x, w, c).sum().backward()
        x.grad = None

    return {
        "a + b (1x1 f32)": lambda: a + b,
        "a + b (requires_grad)": lambda: ag + bg,
        "chain fwd (100 ops)": lambda: _chain(x, w, c),
        "chain fwd+bwd (100 ops)": step,
    }


def run(rounds: int) -> list[tuple[str, float, float, float]]:
    """Time every case; returns rows ``(name, lucid_s, torch_s, median ratio)``."""
    lc, tc = _cases(lucid), _cases(torch)
    rows = []
    for name in lc:
        r = compare(lc[name], tc[name], repeats=rounds, min_time=0.02)
        rows.append((name, r["lucid"], r["torch"], r["ratio"]))
    return rows


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e6:10.1f} us"


def print_table(rows: list[tuple[str, float, float, float]]) -> None:
    print(f"{'case':<26}{'lucid':>14}{'torch':>14}{'lucid/torch':>13}")
    for name, tl, tt, r in rows:
        print(f"{name:<26}{_fmt(tl):>14}{_fmt(tt):>14}{r:>12.2f}x")


def profile(top: int) -> None:
    """cProfile of lucid's small-op and chain cases, sorted by internal time."""
    cases = _cases(lucid)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(2000):
        cases["a + b (requires_grad)"]()
    for _ in range(100):
        cases["chain fwd+bwd (100 ops)"]()
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="A/B pairs per case")
    parser.add_argument("--profile", action="store_true", help="print a cProfile listing")
    parser.add_argument("--top", type=int, default=25, help="rows of the profile to print")
    args = parser.parse_args()
    print(f"lucid {lucid.__version__}, torch {torch.__version__}, "
          f"torch threads {torch.get_num_threads()}, {args.rounds} A/B rounds (medians)")
    print_table(run(args.rounds))
    if args.profile:
        profile(args.top)


if __name__ == "__main__":
    main()
