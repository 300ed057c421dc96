"""In-place operations with PyTorch's autograd rules.

Outside of autograd (``no_grad``, or no tensor involved requires grad) the result is written
straight into the tensor's array. When autograd is recording, the operation is computed out
of place on a snapshot of the old value and the tensor takes over the new value and graph
node, so gradients flow through the in-place step. In-place ops on a leaf that requires
grad are refused while recording, as in PyTorch.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd.grad_mode import _state


def apply_inplace(x: Tensor, op: Callable[..., Tensor], *args: Any) -> Tensor:
    """Run ``op(x, *args)`` and store the result in ``x``."""
    recording = _state.enabled and (
        x._requires_grad or any(isinstance(a, Tensor) and a._requires_grad for a in args)
    )
    if recording and x.grad_fn is None and x._requires_grad:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )
    if not recording:
        prev = _state.enabled
        _state.enabled = False
        try:
            out = op(Tensor._make(x._data), *args)
        finally:
            _state.enabled = prev
        _store(x, out._data)
        x._version += 1
        return x
    old = Tensor._make(x._data.copy(), x._requires_grad)
    old.grad_fn, old._output_nr = x.grad_fn, x._output_nr
    out = op(old, *args)
    _store(x, out._data)
    x._version += 1
    x.grad_fn, x._output_nr = out.grad_fn, out._output_nr
    x._requires_grad = out._requires_grad
    return x


def _store(x: Tensor, res: np.ndarray) -> None:
    if res.shape != x.shape:
        raise RuntimeError(
            f"output with shape {list(x.shape)} doesn't match the broadcast shape "
            f"{list(res.shape)}"
        )
    if res.dtype != x._data.dtype and not np.can_cast(res.dtype, x._data.dtype, "same_kind"):
        raise RuntimeError(
            f"result type {_tname(res.dtype)} can't be cast to the desired output type "
            f"{_tname(x._data.dtype)}"
        )
    if x._data.flags.writeable:
        np.copyto(x._data, res, casting="unsafe")
    else:
        x._data = np.array(res, dtype=x._data.dtype)


def _tname(dt: np.dtype) -> str:
    return {"f": "Float", "i": "Long", "b": "Bool", "c": "ComplexFloat", "u": "Byte"}[dt.kind]
