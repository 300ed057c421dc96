"""Shared timing helpers: alternate lucid and PyTorch (A B A B) and report medians of ratios."""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any


def limit_threads(n: int = 2) -> None:
    """Give both frameworks the same number of threads (torch, BLAS, lucid's conv kernels)."""
    import torch

    from lucid.kernels import conv

    torch.set_num_threads(n)
    conv.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:  # pragma: no cover - threadpoolctl is a test dependency
        pass


def _once(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def compare(lucid_fn: Callable[[], Any], torch_fn: Callable[[], Any], repeats: int = 7,
            warmup: int = 1, min_time: float = 0.05, settle: float = 0.0) -> dict[str, float]:
    """Time two callables alternately; each sample runs enough calls to last ``min_time``.

    ``settle`` seconds of sleep before every sample let the other library's worker threads
    go idle first: OpenBLAS (NumPy) and OpenMP (torch) threads busy-wait for a while after
    a parallel region, and on a machine with few cores that spinning would slow down the
    next sample of the other library.

    Returns the medians of each side's per-call time and of the per-pair ratios
    (``lucid``, ``torch``, ``ratio``), and the ratio of the two best times (``best_ratio``,
    less sensitive to load from other processes).
    """
    for _ in range(warmup):
        lucid_fn()
        torch_fn()
    calls = max(1, int(min_time / max(_once(torch_fn), 1e-7)))
    calls_l = max(1, int(min_time / max(_once(lucid_fn), 1e-7)))

    def sample(fn: Callable[[], Any], n: int) -> float:
        if settle:
            time.sleep(settle)
        t0 = time.perf_counter()  # one clock pair per batch: fair for microsecond calls
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n

    lt, tt, ratios = [], [], []
    for _ in range(repeats):
        a = sample(lucid_fn, calls_l)
        b = sample(torch_fn, calls)
        lt.append(a)
        tt.append(b)
        ratios.append(a / b)
    return {"lucid": statistics.median(lt), "torch": statistics.median(tt),
            "ratio": statistics.median(ratios), "best_ratio": min(lt) / min(tt)}


def peak_numpy_bytes(fn: Callable[[], Any]) -> int:
    """Peak bytes allocated by Python/NumPy during ``fn`` (tracemalloc traces NumPy buffers)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def peak_torch_bytes(fn: Callable[[], Any]) -> int:
    """Peak CPU bytes allocated by PyTorch during ``fn`` (above what was live before).

    The profiler (``profile_memory=True``) records one ``[memory]`` event per allocation
    (+bytes) and free (-bytes) of c10's CPU allocator; their running sum in time order is
    the live-bytes curve. (The per-op ``cpu_memory_usage`` totals of ``prof.events()``
    include nested ops, so summing them would double count.)
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    records = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                     if e.name() == "[memory]")
    cur = peak = 0
    for _, nbytes in records:
        cur += nbytes
        peak = max(peak, cur)
    return peak
