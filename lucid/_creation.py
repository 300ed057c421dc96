"""Tensor creation functions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lucid import _dtype as D
from lucid._backend import DeviceLike, as_device
from lucid._ops.shape import _sizes
from lucid._tensor import Tensor, to_array
from lucid.random import Generator, rng


def _finish(arr: np.ndarray, requires_grad: bool, device: DeviceLike) -> Tensor:
    as_device(device)
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad = True
    return t


def _float_dtype(dtype: D.DTypeLike) -> np.dtype:
    return D.as_dtype(dtype).np if dtype is not None else D.get_default_dtype().np


def _sample_dtype(dtype: D.DTypeLike, fn: str) -> np.dtype:
    dt = _float_dtype(dtype)
    if dt.kind not in "fc":
        raise RuntimeError(f"{fn}(): expected a floating point or complex dtype, got "
                           f"{D.as_dtype(dtype)}")
    return dt


def tensor(data: Any, dtype: D.DTypeLike = None, device: DeviceLike = None,
           requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``.

    Parameters
    ----------
    data : array_like
        Nested lists/tuples of numbers, a NumPy array, a number or a tensor.
    dtype : lucid.dtype, optional
        Inferred like PyTorch when omitted.
    device : str, optional
        Only ``"cpu"``.
    requires_grad : bool, default False
        Record operations for autograd.

    Examples
    --------
    >>> import lucid
    >>> lucid.tensor([[1, 2], [3, 4]])
    tensor([[1, 2],
            [3, 4]])
    >>> lucid.tensor([1.5, 2.0], requires_grad=True)
    tensor([1.5000, 2.0000], requires_grad=True)
    """
    return _finish(to_array(data, dtype, copy=True), requires_grad, device)


def as_tensor(data: Any, dtype: D.DTypeLike = None, device: DeviceLike = None) -> Tensor:
    """Like :func:`tensor` but shares memory with a tensor or NumPy array when possible."""
    if isinstance(data, Tensor) and (dtype is None or D.as_dtype(dtype) == data.dtype):
        return data
    return _finish(to_array(data, dtype, copy=False), False, device)


def from_numpy(arr: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    D.from_numpy_dtype(arr.dtype)
    return Tensor._make(arr)


def _filled(size: tuple[Any, ...], value: Any, dtype: D.DTypeLike, device: DeviceLike,
            requires_grad: bool, default: np.dtype | None = None) -> Tensor:
    shape = _sizes(size)
    for s in shape:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{list(shape)}")
    dt = D.as_dtype(dtype).np if dtype is not None else (
        default if default is not None else D.get_default_dtype().np)
    return _finish(np.full(shape, value, dtype=dt), requires_grad, device)


def zeros(*size: Any, dtype: D.DTypeLike = None, device: DeviceLike = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (``zeros(2, 3)`` or ``zeros((2, 3))``)."""
    return _filled(size, 0, dtype, device, requires_grad)


def ones(*size: Any, dtype: D.DTypeLike = None, device: DeviceLike = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return _filled(size, 1, dtype, device, requires_grad)


def empty(*size: Any, dtype: D.DTypeLike = None, device: DeviceLike = None,
          requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor (lucid fills it with zeros)."""
    return _filled(size, 0, dtype, device, requires_grad)


def full(size: Any, fill_value: Any, dtype: D.DTypeLike = None, device: DeviceLike = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value`` (dtype inferred from the value when omitted)."""
    default = D.scalar_dtype(fill_value).np if dtype is None else None
    return _filled((size,) if isinstance(size, int) else tuple(size), fill_value, dtype, device,
                   requires_grad, default)


def _like(x: Tensor, dtype: D.DTypeLike) -> tuple[tuple[int, ...], Any]:
    return x.shape, dtype if dtype is not None else x.dtype


def zeros_like(x: Tensor, dtype: D.DTypeLike = None, device: DeviceLike = None,
               requires_grad: bool = False) -> Tensor:
    """Zeros with ``x``'s shape (and dtype unless given)."""
    shape, dt = _like(x, dtype)
    return zeros(shape, dtype=dt, device=device, requires_grad=requires_grad)


def ones_like(x: Tensor, dtype: D.DTypeLike = None, device: DeviceLike = None,
              requires_grad: bool = False) -> Tensor:
    """Ones with ``x``'s shape (and dtype unless given)."""
    shape, dt = _like(x, dtype)
    return ones(shape, dtype=dt, device=device, requires_grad=requires_grad)


def empty_like(x: Tensor, dtype: D.DTypeLike = None, device: DeviceLike = None,
               requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor with ``x``'s shape (lucid fills it with zeros)."""
    return zeros_like(x, dtype, device, requires_grad)


def full_like(x: Tensor, fill_value: Any, dtype: D.DTypeLike = None, device: DeviceLike = None,
              requires_grad: bool = False) -> Tensor:
    """A tensor of ``x``'s shape filled with ``fill_value``."""
    shape, dt = _like(x, dtype)
    return full(shape, fill_value, dtype=dt, device=device, requires_grad=requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: D.DTypeLike = None,
           device: DeviceLike = None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange(): step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(
            f"arange(): upper bound and larger bound inconsistent with step sign "
            f"(start={start}, end={end}, step={step})"
        )
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dt = np.dtype(np.int64) if is_int else D.get_default_dtype().np
    else:
        dt = D.as_dtype(dtype).np
    n = max(0, math.ceil((end - start) / step))
    arr = (start + np.arange(n, dtype=np.float64 if dt.kind == "f" else np.int64) * step)
    return _finish(arr.astype(dt), requires_grad, device)


def linspace(start: float, end: float, steps: int, dtype: D.DTypeLike = None,
             device: DeviceLike = None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise RuntimeError(f"linspace(): number of steps must be non-negative, got {steps}")
    arr = np.linspace(start, end, steps).astype(_float_dtype(dtype))
    return _finish(arr, requires_grad, device)


def logspace(start: float, end: float, steps: int, base: float = 10.0,
             dtype: D.DTypeLike = None, device: DeviceLike = None) -> Tensor:
    """``steps`` values ``base ** linspace(start, end, steps)``."""
    arr = (base ** np.linspace(start, end, steps)).astype(_float_dtype(dtype))
    return _finish(arr, False, device)


def eye(n: int, m: int | None = None, dtype: D.DTypeLike = None, device: DeviceLike = None,
        requires_grad: bool = False) -> Tensor:
    """The identity matrix (``n x m``)."""
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"eye(): n and m must be non-negative, got n={n}, m={m}")
    return _finish(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad, device)


def rand(*size: Any, generator: Generator | None = None, dtype: D.DTypeLike = None,
         device: DeviceLike = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on ``[0, 1)``."""
    dt = _sample_dtype(dtype, "rand")
    arr = rng(generator).random(_sizes(size))
    arr = (arr + 1j * rng(generator).random(arr.shape) if dt.kind == "c" else arr).astype(dt)
    return _finish(arr, requires_grad, device)


def randn(*size: Any, generator: Generator | None = None, dtype: D.DTypeLike = None,
          device: DeviceLike = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    shape = _sizes(size)
    dt = _sample_dtype(dtype, "randn")
    g = rng(generator)
    if dt.kind == "c":
        real = g.standard_normal(shape) / np.sqrt(2)
        arr = (real + 1j * g.standard_normal(shape) / np.sqrt(2)).astype(dt)
    else:
        arr = g.standard_normal(shape).astype(dt)
    return _finish(arr, requires_grad, device)


def randint(low: int, high: int | None = None, size: Any = None,
            generator: Generator | None = None, dtype: D.DTypeLike = None,
            device: DeviceLike = None, requires_grad: bool = False) -> Tensor:
    """Random integers in ``[low, high)`` (``randint(high, size)`` also accepted)."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if high <= low:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )
    shape = _sizes((size,) if isinstance(size, int) else tuple(size))
    dt = D.as_dtype(dtype).np if dtype is not None else np.dtype(np.int64)
    arr = rng(generator).integers(low, high, size=shape).astype(dt)
    return _finish(arr, requires_grad, device)


def rand_like(x: Tensor, dtype: D.DTypeLike = None, **kw: Any) -> Tensor:
    """Uniform samples on ``[0, 1)`` with ``x``'s shape and dtype."""
    return rand(x.shape, dtype=dtype if dtype is not None else x.dtype, **kw)


def randn_like(x: Tensor, dtype: D.DTypeLike = None, **kw: Any) -> Tensor:
    """Standard normal samples with ``x``'s shape and dtype."""
    return randn(x.shape, dtype=dtype if dtype is not None else x.dtype, **kw)


def randint_like(x: Tensor, low: int, high: int | None = None, **kw: Any) -> Tensor:
    """Random integers in ``[low, high)`` with ``x``'s shape and dtype."""
    return randint(low, high, x.shape, dtype=kw.pop("dtype", x.dtype), **kw)


def randperm(n: int, generator: Generator | None = None, dtype: D.DTypeLike = None,
             device: DeviceLike = None) -> Tensor:
    """A random permutation of ``0..n-1``."""
    dt = D.as_dtype(dtype).np if dtype is not None else np.dtype(np.int64)
    return _finish(rng(generator).permutation(n).astype(dt), False, device)


def normal(mean: float, std: float, size: Any, generator: Generator | None = None,
           dtype: D.DTypeLike = None, device: DeviceLike = None,
           requires_grad: bool = False) -> Tensor:
    """Samples from ``N(mean, std**2)`` of the given size."""
    arr = rng(generator).normal(mean, std, _sizes((size,) if isinstance(size, int) else size))
    return _finish(arr.astype(_float_dtype(dtype)), requires_grad, device)


def bernoulli(p: Tensor, generator: Generator | None = None) -> Tensor:
    """Samples 1 with probability ``p`` element-wise."""
    draw = rng(generator).random(p.shape)
    return Tensor._make((draw < p._data).astype(p._data.dtype))


def multinomial(probs: Tensor, num_samples: int, replacement: bool = False,
                generator: Generator | None = None) -> Tensor:
    """``num_samples`` indices drawn from each row of the (unnormalised) ``probs``."""
    g = rng(generator)
    p = probs._data.astype(np.float64)
    rows = p.reshape(-1, p.shape[-1])
    out = np.stack([g.choice(rows.shape[1], num_samples, replace=replacement, p=r / r.sum())
                    for r in rows])
    return Tensor._make(out.reshape(p.shape[:-1] + (num_samples,)).astype(np.int64))
