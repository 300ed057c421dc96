"""In-place operations with PyTorch's autograd rules.

Outside of autograd (``no_grad``, or no tensor involved requires grad) the result is written
straight into the tensor's memory. When autograd is recording, the operation is computed
out of place on a snapshot of the old value, the result is written into the tensor's
memory, and the tensor takes over the new graph node, so gradients flow through the
in-place step.

Through a view the change is also recorded on the view's root (PyTorch's ``CopySlices``):
the root becomes "old root with the view's region replaced", and the view is re-derived
from the new root. As in PyTorch, in-place changes are refused on a leaf that requires
grad (or a view of one) while recording, and on expanded tensors whose elements share
memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lucid._ops._util import unbroadcast
from lucid._tensor import Tensor, bump_version, refresh_view, replay_view
from lucid.autograd.function import Function
from lucid.autograd.grad_mode import _state


def check_writable(x: Tensor) -> None:
    """Refuse to write into memory that several elements share, or read-only memory."""
    arr = x._data
    if arr.flags.writeable:
        return
    if any(st == 0 and n > 1 for st, n in zip(arr.strides, arr.shape)):
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to "
            "a single memory location. Please clone() the tensor before performing the "
            "operation."
        )
    raise RuntimeError("cannot modify a tensor in place: its memory is read-only (for "
                       "example a NumPy array marked read-only); clone() it first")


def apply_inplace(x: Tensor, op: Callable[..., Tensor], *args: Any) -> Tensor:
    """Run ``op(x, *args)`` (an out-of-place operation) and store the result in ``x``."""
    check_writable(x)
    recording = _state.enabled and (
        x._requires_grad or any(isinstance(a, Tensor) and a._requires_grad for a in args)
    )
    if not recording:
        prev = _state.enabled
        _state.enabled = False
        try:
            out = op(Tensor._make(x._data), *args)
        finally:
            _state.enabled = prev
        _check_result(x, out)
        np.copyto(x._data, out._data, casting="unsafe")
        bump_version(x)
        return x
    if x._view_of is not None:
        return _inplace_on_view(x, op, args)
    if x.grad_fn is None and x._requires_grad:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )
    out = _as_result(x, op(_snapshot(x), *args))
    np.copyto(x._data, out._data)
    x.grad_fn, x._output_nr, x._requires_grad = out.grad_fn, out._output_nr, out._requires_grad
    bump_version(x)
    return x


def _inplace_on_view(v: Tensor, op: Callable[..., Tensor], args: tuple[Any, ...]) -> Tensor:
    root, chain = v._view_of
    if root.grad_fn is None and root._requires_grad:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place "
            "operation."
        )
    refresh_view(v)
    out = _as_result(v, op(_snapshot(v), *args))
    new_root = ViewScatter.apply(root, out, chain)
    np.copyto(v._data, out._data)
    root.grad_fn, root._output_nr, root._requires_grad = new_root.grad_fn, 0, True
    bump_version(v)
    refresh_view(v)
    return v


def _snapshot(x: Tensor) -> Tensor:
    """A copy of ``x``'s current value standing at ``x``'s place in the graph."""
    old = Tensor._make(x._data.copy())
    old._requires_grad, old.grad_fn, old._output_nr = x._requires_grad, x.grad_fn, x._output_nr
    return old


def _check_result(x: Tensor, out: Tensor) -> None:
    if out.shape != x.shape:
        raise RuntimeError(
            f"output with shape {list(x.shape)} doesn't match the broadcast shape "
            f"{list(out.shape)}"
        )
    src, dst = out._data.dtype, x._data.dtype
    if src != dst and not np.can_cast(src, dst, "same_kind"):
        raise RuntimeError(
            f"result type {_type_name(src)} can't be cast to the desired output type "
            f"{_type_name(dst)}"
        )


def _as_result(x: Tensor, out: Tensor) -> Tensor:
    """``out`` checked against ``x``'s shape and converted to ``x``'s dtype."""
    _check_result(x, out)
    return out.to(x.dtype)


def _type_name(dt: np.dtype) -> str:
    return {"f": "Float", "i": "Long", "u": "Byte", "b": "Bool", "c": "ComplexFloat"}[dt.kind]


def _view_positions(shape: tuple[int, ...], chain: tuple[Any, ...]) -> np.ndarray:
    """Flat positions in a root of ``shape`` of the elements of the view ``chain`` makes."""
    prev = _state.enabled
    _state.enabled = False
    try:
        index = Tensor._make(np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape))
        return replay_view(index, chain)._data
    finally:
        _state.enabled = prev


class ViewScatter(Function):
    """``base`` with the region a view chain selects replaced by ``value`` (out of place)."""

    _array_forward = True

    @staticmethod
    def forward(ctx, base, value, chain):
        ctx.chain, ctx.vshape = chain, np.shape(value)
        ctx.node_name = "CopySlices"
        pos = _view_positions(base.shape, chain)
        out = np.array(base, order="C")
        out.reshape(-1)[pos.reshape(-1)] = np.broadcast_to(value, pos.shape).reshape(-1)
        return out

    @staticmethod
    def backward(ctx, g):
        nb, nv = ctx.needs_input_grad[:2]
        gb = gv = None
        if nb:
            zeros = np.zeros(ctx.vshape, dtype=g._data.dtype)
            gb = ViewScatter.apply(g, zeros, ctx.chain)
        if nv:
            gv = replay_view(g, ctx.chain)
            gv = unbroadcast(gv, ctx.vshape)
        return gb, gv, None


class Fill(Function):
    """A tensor of ``t``'s shape filled with ``value`` (the old values get zero gradient)."""

    _array_forward = True

    @staticmethod
    def forward(ctx, t, value):
        ctx.shape = t.shape
        return np.full(t.shape, value, dtype=t.dtype)

    @staticmethod
    def backward(ctx, g):
        nt, nv = ctx.needs_input_grad
        return (Tensor._make(np.zeros_like(g._data)) if nt else None,
                g.sum() if nv else None)


def fill_(x: Tensor, value: Any) -> Tensor:
    """Fill ``x`` with ``value`` (a number or a 0-d tensor) in place."""
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(
            "fill_ only supports 0-dimension value tensor but got tensor with "
            f"{value.ndim} dimensions."
        )
    return apply_inplace(x, Fill.apply, value)


def zero_(x: Tensor) -> Tensor:
    """Fill ``x`` with zeros in place."""
    return fill_(x, 0)


def copy_(x: Tensor, src: Any) -> Tensor:
    """Copy ``src`` (broadcast to ``x``'s shape, cast to its dtype) into ``x`` in place."""
    from lucid._ops.elementwise import cast
    from lucid._ops.shape import clone

    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    return apply_inplace(x, lambda t, s: clone(cast(s, t.dtype).expand(*t.shape)), src)
