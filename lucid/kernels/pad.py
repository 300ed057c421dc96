"""Padding kernels on NumPy arrays: ``constant``, ``reflect``, ``replicate``, ``circular``.

``pads`` is a sequence of ``(lo, hi)`` pairs for the LAST ``len(pads)`` dims of ``x``, in
array order (the first pair applies to dim ``x.ndim - len(pads)``); the caller converts from
``torch.nn.functional.pad``'s last-dim-first flat tuple. Negative pads crop, exactly as in
PyTorch:

* ``constant``, ``reflect``, ``replicate``: the result is the padded array *as if* the pad
  were applied to the full input, cropped by the negative amounts (e.g. ``reflect`` with
  ``(-1, 2)`` on ``[0, 1, 2, 3, 4]`` gives ``[1, 2, 3, 4, 3, 2]``);
* ``circular``: the input is cropped first and the wrap-around reads the cropped input
  (``(2, -1)`` on ``[0, 1, 2, 3, 4]`` gives ``[2, 3, 0, 1, 2, 3]``).

Algorithm: a non-constant pad is separable, so it is applied one dim at a time. For each
dim, the source index of every output position is a piecewise-linear map whose pieces are
*runs* with step ``+1`` (copied region, circular wrap), ``-1`` (reflection) or ``0``
(replicated edge). Each run is one slice assignment in the forward pass and one slice-add
(or a sum for step-0 runs) in the backward pass, which is the exact adjoint, so no
``np.take`` / ``np.add.at`` with index arrays is needed.

:func:`check_pad` mirrors PyTorch's limits and raises with messages naming the mode, the pad
and the size; the pad kernels themselves assume valid arguments.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["PAD_MODES", "check_pad", "pad_backward", "pad_forward"]

PAD_MODES = ("constant", "reflect", "replicate", "circular")
"""Supported padding modes."""

Pads = Sequence[tuple[int, int]]


def _norm_pads(pads: Pads) -> list[tuple[int, int]]:
    return [(int(lo), int(hi)) for lo, hi in pads]


def check_pad(x_shape: Sequence[int], pads: Pads, mode: str) -> None:
    """Validate a padding against PyTorch's limits.

    Parameters
    ----------
    x_shape : sequence of int
        Shape of the input.
    pads : sequence of (int, int)
        ``(lo, hi)`` per padded trailing dim, in array order.
    mode : str
        One of :data:`PAD_MODES`.

    Raises
    ------
    ValueError
        Unknown ``mode``.
    RuntimeError
        More pad pairs than dims; a negative output size (``constant``, ``circular``); an
        empty output (``reflect``, ``replicate``); a ``reflect`` pad not smaller than its
        dim; a ``circular`` pad wrapping around more than once; an empty non-batch dim
        (``reflect``, ``replicate``).

    Examples
    --------
    >>> check_pad((1, 1, 5), [(4, 4)], "reflect")
    >>> check_pad((1, 1, 5), [(5, 0)], "reflect")
    Traceback (most recent call last):
        ...
    RuntimeError: reflect padding: padding (5, 0) must be less than the size 5 of dimension 2 \
of input [1, 1, 5]
    """
    if mode not in PAD_MODES:
        raise ValueError(f"padding mode must be one of {', '.join(PAD_MODES)}, but got {mode!r}")
    shape = [int(s) for s in x_shape]
    pads = _norm_pads(pads)
    ndim, npad = len(shape), len(pads)
    if npad > ndim:
        raise RuntimeError(
            f"{mode} padding: {npad} (lo, hi) pairs given for an input with only {ndim} "
            f"dimensions (size {shape})"
        )
    if mode in ("reflect", "replicate"):
        first = max(0, ndim - npad - 1)  # a leading batch dim may be empty
        if any(s == 0 for s in shape[first:]):
            raise RuntimeError(
                f"{mode} padding: expected an input with possibly 0 batch size and other "
                f"non-zero dimensions, but got size {shape}"
            )
    for i, (lo, hi) in enumerate(pads):
        dim = ndim - npad + i
        L = shape[dim]
        size = L + lo + hi
        where = f"dimension {dim} of input {shape}"
        if mode == "reflect" and (lo >= L or hi >= L):
            raise RuntimeError(
                f"reflect padding: padding ({lo}, {hi}) must be less than the size {L} of {where}"
            )
        cropped = L - max(0, -lo) - max(0, -hi)
        if mode == "circular":
            if lo > L or hi > L:
                raise RuntimeError(
                    f"circular padding: padding ({lo}, {hi}) wraps around more than once: it "
                    f"must be at most the size {L} of {where}"
                )
            if size > 0 and max(lo, hi) > cropped:
                raise RuntimeError(
                    f"circular padding: padding ({lo}, {hi}) wraps around more than once: it "
                    f"must be at most the cropped size {cropped} of {where}"
                )
        if mode in ("constant", "circular") and cropped < 0:
            raise RuntimeError(
                f"{mode} padding: negative padding ({lo}, {hi}) removes more than the size "
                f"{L} of {where}"
            )
        if mode in ("reflect", "replicate") and size <= 0:
            raise RuntimeError(
                f"{mode} padding: padding ({lo}, {hi}) makes {where} too small (size {L} -> {size})"
            )
        if size < 0:
            raise RuntimeError(
                f"{mode} padding: padding ({lo}, {hi}) makes {where} negative (size {L} -> {size})"
            )


def _source_index(L: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """Source index in ``[0, L)`` of every output position of one padded dim."""
    j = np.arange(L + lo + hi)
    if mode == "circular":
        c0 = max(0, -lo)
        cropped = L - c0 - max(0, -hi)
        return c0 + np.mod(j - max(0, lo), cropped)
    t = j - lo
    if mode == "replicate":
        return np.clip(t, 0, L - 1)
    # reflect (without repeating the edge)
    return np.where(t < 0, -t, np.where(t >= L, 2 * (L - 1) - t, t))


def _runs(idx: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Split an index map into runs ``(j0, j1, src0, step)`` with ``step`` in {-1, 0, 1}."""
    runs = []
    j0, n = 0, len(idx)
    while j0 < n:
        step = int(idx[j0 + 1] - idx[j0]) if j0 + 1 < n else 1
        if step not in (-1, 0, 1):
            step = 1
            j1 = j0 + 1
        else:
            j1 = j0 + 1
            while j1 < n and idx[j1] - idx[j1 - 1] == step:
                j1 += 1
        runs.append((j0, j1, int(idx[j0]), step))
        j0 = j1
    return runs


def _src_slice(src0: int, step: int, count: int) -> slice:
    """Slice of the source dim read by a run (``step`` 0 reads one element, kept as a dim)."""
    if step == 1:
        return slice(src0, src0 + count)
    if step == -1:
        return slice(src0, src0 - count if src0 - count >= 0 else None, -1)
    return slice(src0, src0 + 1)


def _constant_slices(shape, pads) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """``(x_slices, y_slices)`` of the region shared by input and constant-padded output."""
    lead = (slice(None),) * (len(shape) - len(pads))
    xs, ys = [], []
    for L, (lo, hi) in zip(shape[len(shape) - len(pads) :], pads):
        x0, y0 = max(0, -lo), max(0, lo)
        cnt = max(0, L - x0 - max(0, -hi))
        xs.append(slice(x0, x0 + cnt))
        ys.append(slice(y0, y0 + cnt))
    return lead + tuple(xs), lead + tuple(ys)


def pad_forward(x: np.ndarray, pads: Pads, mode: str, value: float = 0.0) -> np.ndarray:
    """Pad the last ``len(pads)`` dims of ``x``.

    Parameters
    ----------
    x : ndarray
        Input of any dtype.
    pads : sequence of (int, int)
        ``(lo, hi)`` per padded trailing dim, in array order; negative values crop.
    mode : str
        ``'constant'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
    value : scalar, optional
        Fill value of ``'constant'`` mode.

    Returns
    -------
    ndarray
        New array of the same dtype, dim ``i`` of size ``L + lo + hi``.

    Examples
    --------
    >>> x = np.arange(5.0)
    >>> pad_forward(x, [(2, 2)], "reflect")
    array([2., 1., 0., 1., 2., 3., 4., 3., 2.])
    >>> pad_forward(x, [(2, -1)], "circular")
    array([2., 3., 0., 1., 2., 3.])
    >>> pad_forward(x, [(1, 2)], "constant", value=-1.0)
    array([-1.,  0.,  1.,  2.,  3.,  4., -1., -1.])
    """
    x = np.asarray(x)
    pads = _norm_pads(pads)
    first = x.ndim - len(pads)
    if mode == "constant":
        shape = x.shape[:first] + tuple(L + lo + hi for L, (lo, hi) in zip(x.shape[first:], pads))
        y = np.zeros(shape, dtype=x.dtype) if value == 0 else np.full(shape, value, x.dtype)
        xs, ys = _constant_slices(x.shape, pads)
        y[ys] = x[xs]
        return y
    if mode not in PAD_MODES:
        raise ValueError(f"padding mode must be one of {', '.join(PAD_MODES)}, but got {mode!r}")
    y = x
    for i, (lo, hi) in enumerate(pads):
        if lo == 0 and hi == 0:
            continue
        dim = first + i
        L = y.shape[dim]
        lead = (slice(None),) * dim
        out = np.empty(y.shape[:dim] + (L + lo + hi,) + y.shape[dim + 1 :], dtype=x.dtype)
        for j0, j1, src0, step in _runs(_source_index(L, lo, hi, mode)):
            out[lead + (slice(j0, j1),)] = y[lead + (_src_slice(src0, step, j1 - j0),)]
        y = out
    return y if y is not x else x.copy()


def pad_backward(gy: np.ndarray, pads: Pads, mode: str, x_shape: Sequence[int]) -> np.ndarray:
    """Adjoint of :func:`pad_forward` with respect to ``x``.

    Parameters
    ----------
    gy : ndarray
        Gradient of the padded output.
    pads, mode
        As in :func:`pad_forward`.
    x_shape : sequence of int
        Shape of the input ``x``.

    Returns
    -------
    ndarray, shape ``x_shape``
        ``constant``: the cropped ``gy`` (zeros where the forward cropped ``x``); other
        modes: ``gy`` accumulated onto the source positions of every output position.

    Examples
    --------
    >>> pad_backward(np.ones(9), [(2, 2)], "reflect", (5,))
    array([1., 2., 3., 2., 1.])
    >>> pad_backward(np.arange(8.0), [(1, 2)], "replicate", (5,))
    array([ 1.,  2.,  3.,  4., 18.])
    """
    gy = np.asarray(gy)
    pads = _norm_pads(pads)
    x_shape = tuple(int(s) for s in x_shape)
    first = len(x_shape) - len(pads)
    if mode == "constant":
        gx = np.zeros(x_shape, dtype=gy.dtype)
        xs, ys = _constant_slices(x_shape, pads)
        gx[xs] = gy[ys]
        return gx
    if mode not in PAD_MODES:
        raise ValueError(f"padding mode must be one of {', '.join(PAD_MODES)}, but got {mode!r}")
    g = gy
    for i in reversed(range(len(pads))):
        lo, hi = pads[i]
        if lo == 0 and hi == 0:
            continue
        dim = first + i
        L = x_shape[dim]
        lead = (slice(None),) * dim
        acc = np.zeros(g.shape[:dim] + (L,) + g.shape[dim + 1 :], dtype=gy.dtype)
        for j0, j1, src0, step in _runs(_source_index(L, lo, hi, mode)):
            part = g[lead + (slice(j0, j1),)]
            if step == 0:
                part = part.sum(axis=dim, keepdims=True)
            acc[lead + (_src_slice(src0, step, j1 - j0),)] += part
        g = acc
    return g if g is not gy else gy.copy()
