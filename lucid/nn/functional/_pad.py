"""``F.pad``: constant, reflect, replicate and circular padding with autograd."""

from __future__ import annotations

from collections.abc import Sequence

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


def _pairs(pad: Sequence[int], ndim: int) -> tuple[tuple[int, int], ...]:
    """Convert PyTorch's flat last-dim-first pad to ``(lo, hi)`` pairs in array order."""
    if not isinstance(pad, (tuple, list)) or not all(
        isinstance(p, int) and not isinstance(p, bool) for p in pad
    ):
        raise TypeError(f"pad(): argument 'pad' must be a tuple of ints, but got {pad!r}")
    if len(pad) % 2:
        raise ValueError(f"Padding length must be divisible by 2, but got pad={tuple(pad)}")
    if len(pad) // 2 > ndim:
        raise ValueError(
            f"Padding length too large: pad={tuple(pad)} pads {len(pad) // 2} dims but the input "
            f"has only {ndim}"
        )
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)]
    return tuple(reversed(pairs))


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
    if mode not in K.PAD_MODES:
        raise ValueError(
            f"Unrecognised padding mode {mode!r}: expected one of {', '.join(K.PAD_MODES)}"
        )
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
    K.check_pad(input.shape, pairs, mode)
    return _Pad.apply(input, pairs, mode, 0 if value is None else value)
