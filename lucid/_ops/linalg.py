"""Matrix products."""

from __future__ import annotations

import numpy as np

from lucid._ops._util import conj, promote, unbroadcast
from lucid._tensor import Tensor
from lucid.autograd.function import Function


class MatMul(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        from lucid._ops.elementwise import _as_t

        a, b = _as_t(ctx.a, ctx, 0), _as_t(ctx.b, ctx, 1)
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        out_shape = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (
            a2.shape[-2], b2.shape[-1])
        g2 = g.reshape(out_shape)
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            ga = unbroadcast(g2 @ conj(b2).mT, a2.shape).reshape(a.shape)
        if nb:
            gb = unbroadcast(conj(a2).mT @ g2, b2.shape).reshape(b.shape)
        return ga, gb


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with NumPy/PyTorch rules for 1-d operands and batch broadcasting."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul(): both arguments must be Tensors")
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and "
            f"{b.ndim}D"
        )
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        sa = f"{a.shape[-2] if a.ndim > 1 else 1}x{ka}"
        sb = f"{kb}x{b.shape[-1] if b.ndim > 1 else 1}"
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({sa} and {sb}); shapes "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise RuntimeError(
            f"matmul: batch dimensions of shapes {tuple(a.shape)} and {tuple(b.shape)} cannot "
            "be broadcast"
        ) from None
    a, b = promote(a, b)
    return MatMul.apply(a, b)


def mm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm(): expected 2-D tensors, got {a.ndim}-D and {b.ndim}-D")
    return matmul(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 3 or b.ndim != 3:
        raise RuntimeError(f"bmm(): expected 3-D tensors, got {a.ndim}-D and {b.ndim}-D")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm(): batch sizes differ: {a.shape[0]} and {b.shape[0]}")
    return matmul(a, b)


def dot(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    return matmul(a, b)


def outer(a: Tensor, b: Tensor) -> Tensor:
    return a.reshape(-1, 1) * b.reshape(1, -1)
