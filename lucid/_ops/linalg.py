"""Matrix products."""

from __future__ import annotations

import numpy as np

from lucid._ops._util import promote, unbroadcast
from lucid._ops.elementwise import conj
from lucid._tensor import Tensor
from lucid.autograd.function import Function

_NAMES = {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (2, 2): "MmBackward0"}


class MatMul(Function):
    """Matrix product with broadcasting batch dims."""

    _array_forward = True

    @staticmethod
    def forward(ctx, a, b):
        na, nb = ctx.needs_input_grad
        ctx.node_name = _NAMES.get((a.ndim, b.ndim), "UnsafeViewBackward0")
        ctx.save_for_backward(a if nb else None, b if na else None)
        ctx.shapes = (a.shape, b.shape)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        sa, sb = ctx.shapes
        # 1-d operands as matrices: a (k,) is a row (1, k); b (k,) a column (k, 1)
        sa2 = (1,) + sa if len(sa) == 1 else sa
        sb2 = sb + (1,) if len(sb) == 1 else sb
        out2 = np.broadcast_shapes(sa2[:-2], sb2[:-2]) + (sa2[-2], sb2[-1])
        g2 = g.reshape(out2)
        ga = gb = None
        if b is not None:
            ga = unbroadcast(g2 @ conj(b.reshape(sb2)).mT, sa2).reshape(sa)
        if a is not None:
            gb = unbroadcast(conj(a.reshape(sa2)).mT @ g2, sb2).reshape(sb)
        return ga, gb


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with PyTorch's rules for 1-d operands and batch broadcasting.

    Examples
    --------
    >>> import lucid
    >>> a, b = lucid.ones(2, 3), lucid.ones(3)
    >>> (a @ b).shape, (lucid.ones(5, 2, 3) @ lucid.ones(3, 4)).shape
    ((2,), (5, 2, 4))
    """
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul(): both arguments must be Tensors, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and "
            f"{b.ndim}D"
        )
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        ra = a.shape[-2] if a.ndim > 1 else 1
        cb = b.shape[-1] if b.ndim > 1 else 1
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({ra}x{ka} and {kb}x{cb}): shapes "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise RuntimeError(
            f"matmul: the batch dimensions of shapes {tuple(a.shape)} and {tuple(b.shape)} "
            "cannot be broadcast together"
        ) from None
    a, b = promote(a, b)
    if a._data.dtype == np.bool_:
        raise RuntimeError('"addmm_impl_cpu_" not implemented for \'Bool\'')
    return MatMul.apply(a, b)


def mm(a: Tensor, b: Tensor) -> Tensor:
    """Product of two matrices."""
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm(): expected 2-D tensors, got {a.ndim}-D and {b.ndim}-D "
                           f"(shapes {tuple(a.shape)} and {tuple(b.shape)})")
    return matmul(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """Batched product of two 3-d tensors with the same batch size."""
    if a.ndim != 3 or b.ndim != 3:
        raise RuntimeError(f"bmm(): expected 3-D tensors, got {a.ndim}-D and {b.ndim}-D "
                           f"(shapes {tuple(a.shape)} and {tuple(b.shape)})")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm(): batch sizes differ: shapes {tuple(a.shape)} and "
                           f"{tuple(b.shape)}")
    return matmul(a, b)


def dot(a: Tensor, b: Tensor) -> Tensor:
    """Inner product of two 1-d tensors."""
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    return matmul(a, b)


def outer(a: Tensor, b: Tensor) -> Tensor:
    """Outer product of two 1-d tensors."""
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"outer(): expected 1-D tensors, got {a.ndim}-D and {b.ndim}-D")
    return a.reshape(-1, 1) * b.reshape(1, -1)
