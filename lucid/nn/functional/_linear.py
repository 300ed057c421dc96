"""Affine maps: ``F.linear`` (``x @ W.T + b``) and ``F.bilinear`` (``x1 @ A @ x2 + b``).

Both are compositions of differentiable lucid operations (matrix products, reshapes and
broadcasting sums), so their gradients, and the gradients of those gradients, come from the
operations they are built on. Batch dimensions are folded into one matrix dimension first,
so the weight gradient is a single matrix product.
"""

from __future__ import annotations

import math
from typing import Any

from lucid._tensor import Tensor

__all__ = ["bilinear", "linear"]


def _check_tensors(name: str, **tensors: Any) -> None:
    for arg, t in tensors.items():
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not {type(t).__name__}")
    dtypes = {t.dtype for t in tensors.values() if t is not None}
    if len(dtypes) > 1:
        got = ", ".join(f"{k}={t.dtype}" for k, t in tensors.items() if t is not None)
        raise RuntimeError(f"{name}(): expected all arguments to have the same dtype, got {got}")


def _add_bias(out: Tensor, bias: Tensor | None, name: str) -> Tensor:
    if bias is None:
        return out
    if len(bias.shape) > len(out.shape) or any(
        b not in (1, o) for b, o in zip(reversed(bias.shape), reversed(out.shape))
    ):
        raise RuntimeError(
            f"{name}(): bias of shape {tuple(bias.shape)} cannot be broadcast to the output "
            f"shape {tuple(out.shape)}"
        )
    return out + bias


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Apply the affine map ``y = x @ weight.T + bias``.

    Parameters
    ----------
    input : Tensor
        Shape ``(*, in_features)``; ``*`` may be empty (an unbatched vector).
    weight : Tensor
        Shape ``(out_features, in_features)``, or ``(in_features,)`` for a single output
        that is not kept as a dimension.
    bias : Tensor, optional
        Broadcastable to the output, usually ``(out_features,)``.

    Returns
    -------
    Tensor
        Shape ``(*, out_features)`` (``(*)`` for a 1-d weight).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> x = lucid.tensor([[1.0, 2.0]])
    >>> w = lucid.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, -1.0]])
    >>> F.linear(x, w, lucid.tensor([0.5, 0.5, 0.5]))
    tensor([[ 1.5000,  3.5000, -1.5000]])
    """
    _check_tensors("linear", input=input, weight=weight, bias=bias)
    if input.ndim == 0 or weight.ndim == 0:
        raise RuntimeError(
            f"linear(): both arguments to linear need to be at least 1D, but they are "
            f"{input.ndim}D and {weight.ndim}D"
        )
    if weight.ndim > 2:
        raise RuntimeError(f"linear(): weight must be 1-D or 2-D, got shape {tuple(weight.shape)}")
    in_features = weight.shape[-1]
    batch = input.shape[:-1]
    rows = math.prod(batch)
    if input.shape[-1] != in_features:
        wshape = tuple(reversed(weight.shape)) if weight.ndim == 2 else (in_features, 1)
        raise RuntimeError(
            f"linear(): mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
            f"{wshape[0]}x{wshape[1]}): input has {input.shape[-1]} features but weight expects "
            f"{in_features}"
        )
    x2 = input.reshape(rows, in_features)
    if weight.ndim == 1:
        out = (x2 @ weight).reshape(batch)
    else:
        out = (x2 @ weight.t()).reshape(batch + (weight.shape[0],))
    return _add_bias(out, bias, "linear")


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Apply the bilinear map ``y[..., o] = x1 @ weight[o] @ x2 + bias[o]``.

    Parameters
    ----------
    input1 : Tensor
        Shape ``(*, in1_features)``.
    input2 : Tensor
        Shape ``(*, in2_features)`` with the same leading dimensions as ``input1``.
    weight : Tensor
        Shape ``(out_features, in1_features, in2_features)``.
    bias : Tensor, optional
        Shape ``(out_features,)``.

    Returns
    -------
    Tensor
        Shape ``(*, out_features)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> w = lucid.ones(1, 2, 3)
    >>> F.bilinear(lucid.tensor([[1.0, 2.0]]), lucid.tensor([[1.0, 1.0, 1.0]]), w)
    tensor([[9.]])
    """
    _check_tensors("bilinear", input1=input1, input2=input2, weight=weight, bias=bias)
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-D, got shape {tuple(weight.shape)}")
    if input1.ndim != input2.ndim:
        raise RuntimeError(
            f"bilinear(): input dimensions do not match: got {input1.ndim} and {input2.ndim}"
        )
    if input1.ndim == 0:
        raise RuntimeError("bilinear(): inputs must be at least 1-D, got 0-D tensors")
    for d, (a, b) in enumerate(zip(input1.shape[:-1], input2.shape[:-1])):
        if a != b:
            raise RuntimeError(
                f"bilinear(): input batch dimensions do not match at dim {d}: got {a} and {b}"
            )
    out_f, in1, in2 = weight.shape
    for which, x, expected in (("input1", input1, in1), ("input2", input2, in2)):
        if x.shape[-1] != expected:
            raise RuntimeError(
                f"bilinear(): {which} size does not match weight size: got {x.shape[-1]} but "
                f"expected {expected}"
            )
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != out_f):
        raise RuntimeError(
            f"bilinear(): bias size does not match weight size: got {tuple(bias.shape)} but "
            f"expected ({out_f},)"
        )
    batch = input1.shape[:-1]
    rows = math.prod(batch)
    x1 = input1.reshape(rows, in1)
    x2 = input2.reshape(rows, 1, in2)
    # (B, in1) @ (in1, out * in2) -> (B, out, in2), then contract in2 with x2
    left = (x1 @ weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(rows, out_f, in2)
    out = (left * x2).sum(-1).reshape(batch + (out_f,))
    return _add_bias(out, bias, "bilinear")
