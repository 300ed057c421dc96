"""``F.pad``: constant, reflect, replicate and circular padding with autograd."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd.function import Function
from lucid.kernels import pad as K

__all__ = ["pad"]


class _Pad(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, pairs, mode, value):
        ctx.pairs, ctx.mode, ctx.shape = pairs, mode, x.shape
        return K.pad_forward(x, pairs, mode, value)

    @staticmethod
    def backward(ctx, g):
        return _PadAdjoint.apply(g, ctx.pairs, ctx.mode, ctx.shape), None, None, None


class _PadAdjoint(Function):
    """The adjoint of padding (sums reflected/wrapped entries back); linear in ``g``."""

    _array_forward = True

    @staticmethod
    def forward(ctx, g, pairs, mode, shape):
        ctx.pairs, ctx.mode = pairs, mode
        return K.pad_backward(g, pairs, mode, shape)

    @staticmethod
    def backward(ctx, gg):
        return _Pad.apply(gg, ctx.pairs, ctx.mode, 0), None, None, None


def _index(p: Any) -> int:
    """``p`` as an int (ints, NumPy integers and 0-d integer tensors; never bools)."""
    if isinstance(p, (bool, np.bool_)):
        raise TypeError
    return operator.index(p)


def _pairs(pad: Sequence[int], ndim: int) -> tuple[tuple[int, int], ...]:
    """Convert PyTorch's flat last-dim-first pad to ``(lo, hi)`` pairs in array order."""
    try:
        if not isinstance(pad, (tuple, list)):
            raise TypeError
        flat = [_index(p) for p in pad]
    except TypeError:
        raise TypeError(f"pad(): argument 'pad' must be a tuple of ints, but got {pad!r}") from None
    if len(flat) % 2:
        raise RuntimeError(f"Padding length must be divisible by 2, but got pad={tuple(flat)}")
    if len(flat) // 2 > ndim:
        raise RuntimeError(
            f"Padding length too large: pad={tuple(flat)} pads {len(flat) // 2} dims but the "
            f"input has only {ndim}"
        )
    pairs = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
    return tuple(reversed(pairs))


def _empty_output(shape: Sequence[int], pairs: tuple[tuple[int, int], ...],
                  mode: str) -> tuple[tuple[int, int], ...] | None:
    """Constant-mode pairs giving the (all-zero) result of a non-constant pad whose output
    has a zero-size padded dim, or ``None`` when the output is not empty that way.

    PyTorch returns such an empty tensor instead of raising unless one of its own checks
    fails (a ``reflect`` pad not smaller than its dim, a ``circular`` pad larger than its
    dim, or -- for ``reflect``/``replicate`` -- every padded dim empty, or a single one).
    The padding kernels refuse empty outputs, so this case is resolved here.
    """
    spatial = shape[len(shape) - len(pairs):]
    sizes = [L + lo + hi for L, (lo, hi) in zip(spatial, pairs)]
    batch = 1 if len(shape) == len(pairs) + 2 else 0
    if 0 not in sizes or min(sizes) < 0 or 0 in shape[batch:]:
        return None
    big = [(lo, hi, L) for L, (lo, hi) in zip(spatial, pairs)
           if (mode == "reflect" and max(lo, hi) >= L) or (mode == "circular" and max(lo, hi) > L)]
    if big:
        lo, hi, L = big[0]
        raise RuntimeError(f"{mode} padding: padding ({lo}, {hi}) is too large for a dimension "
                           f"of size {L} (input size {list(shape)})")
    if mode != "circular" and max(sizes) < 1:
        raise RuntimeError(f"{mode} padding: input of size {list(shape)} is too small: padding "
                           f"{[list(p) for p in pairs]} gives an empty output of size {sizes}")
    return tuple((-L, n) for L, n in zip(spatial, sizes))


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant",
        value: float | None = None) -> Tensor:
    """Pad a tensor (PyTorch's ``torch.nn.functional.pad``).

    Parameters
    ----------
    input : Tensor
        The tensor to pad.
    pad : tuple of int
        ``(left, right)`` for the last dim, then ``(top, bottom)`` for the one before, and so
        on. Negative values crop.
    mode : {'constant', 'reflect', 'replicate', 'circular'}, default 'constant'
        How to fill the border. The non-constant modes pad the trailing 1-3 dims of a batched
        or unbatched input, as in PyTorch.
    value : float, optional
        Fill value for ``'constant'`` (default 0).

    Returns
    -------
    Tensor
        The padded tensor.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.pad(lucid.arange(4.0).reshape(1, 4), (2, 1), mode="reflect")
    tensor([[2., 1., 0., 1., 2., 3., 2.]])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad(): argument 'input' must be Tensor, not {type(input).__name__}")
    if not isinstance(mode, str):
        raise TypeError(f"pad(): argument 'mode' must be str, not {type(mode).__name__}")
    if mode not in K.PAD_MODES:
        raise NotImplementedError(
            f"Unrecognised padding mode {mode!r}: expected one of {', '.join(K.PAD_MODES)}"
        )
    if value is not None and (not isinstance(value, (int, float, np.integer, np.floating))
                              or isinstance(value, np.bool_)):
        raise TypeError(f"pad(): argument 'value' must be float, not {type(value).__name__}")
    pairs = _pairs(pad, input.ndim)
    if mode != "constant":
        if value is not None and value != 0:
            raise ValueError(f'Padding mode "{mode}" doesn\'t take in value argument')
        n = len(pairs)
        if n == 0 or n > 3 or input.ndim not in (n + 1, n + 2):
            raise NotImplementedError(
                f"Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now: "
                f"mode={mode!r} with pad={tuple(pad)} needs a {n + 1}D or {n + 2}D input, but "
                f"got a {input.ndim}D input of shape {tuple(input.shape)}"
            )
        empty = _empty_output(input.shape, pairs, mode)
        if empty is not None:
            return _Pad.apply(input, empty, "constant", 0)
    K.check_pad(input.shape, pairs, mode)
    return _Pad.apply(input, pairs, mode, 0 if value is None else value)
