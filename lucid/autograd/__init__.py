"""Reverse-mode automatic differentiation: ``backward``, ``grad``, ``Function``, grad modes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd.engine import accumulate_grad, run_backward
from lucid.autograd.function import Function, FunctionCtx, Node, once_differentiable
from lucid.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = [
    "Function", "FunctionCtx", "Node", "backward", "grad", "gradcheck", "gradgradcheck",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "once_differentiable",
]


def _as_seq(x: Any) -> list[Any]:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _make_grads(outputs: list[Tensor], grads: list[Any]) -> list[Tensor]:
    if len(grads) == 0:
        grads = [None] * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(
            f"Mismatch in number of gradients: got {len(grads)} gradients for "
            f"{len(outputs)} outputs"
        )
    res = []
    for out, g in zip(outputs, grads):
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(
                    "grad can be implicitly created only for scalar outputs "
                    f"(output has shape {tuple(out.shape)})"
                )
            g = Tensor._make(np.ones(out.shape, dtype=out._data.dtype))
        elif not isinstance(g, Tensor):
            raise TypeError(
                f"gradients can be either Tensors or None, but got {type(g).__name__}"
            )
        elif g.shape != out.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output has a shape of {tuple(g.shape)} and output "
                f"has a shape of {tuple(out.shape)}."
            )
        elif g.is_complex() != out.is_complex():
            raise RuntimeError(
                f"For complex Tensors, both grad_output and output are required to have the "
                f"same dtype. Mismatch in dtype: grad_output has dtype {g.dtype} and output "
                f"has dtype {out.dtype}"
            )
        res.append(g)
    return res


def _check_outputs(outputs: list[Tensor]) -> None:
    if not outputs:
        raise RuntimeError("backward/grad needs at least one output tensor")
    for i, o in enumerate(outputs):
        if not isinstance(o, Tensor):
            raise TypeError(f"outputs must be Tensors, got {type(o).__name__}")
        if not o.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )


def _check_inputs(inputs: list[Tensor]) -> None:
    if not inputs:
        raise RuntimeError("grad requires at least one input tensor")
    for t in inputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"inputs must be Tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Tensor | Sequence[Tensor | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Tensor | Sequence[Tensor] | None = None,
) -> None:
    """Accumulate gradients of ``tensors`` w.r.t. the leaves into their ``.grad``.

    Parameters
    ----------
    tensors : Tensor or sequence of Tensor
        Outputs to differentiate.
    grad_tensors : Tensor or sequence, optional
        Gradients w.r.t. each output (``None`` allowed for single-element outputs).
    retain_graph : bool, optional
        Keep the graph after the pass; defaults to ``create_graph``.
    create_graph : bool, default False
        Record the pass for higher-order derivatives.
    inputs : Tensor or sequence of Tensor, optional
        Only these leaves receive gradients.
    """
    outs = _as_seq(tensors)
    _check_outputs(outs)
    grads = _make_grads(outs, _as_seq(grad_tensors))
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is None:
        run_backward(outs, grads, retain_graph, create_graph)
        return
    ins = _as_seq(inputs)
    _check_inputs(ins)
    got = run_backward(outs, grads, retain_graph, create_graph, inputs=ins, accumulate=False)
    for t, g in zip(ins, got):
        if g is not None:
            accumulate_grad(t, g, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """Return the gradients of ``outputs`` w.r.t. ``inputs`` (nothing goes into ``.grad``).

    Parameters
    ----------
    outputs, inputs : Tensor or sequence of Tensor
        What to differentiate, and with respect to what.
    grad_outputs : Tensor or sequence, optional
        Gradients w.r.t. each output (``None`` allowed for single-element outputs).
    retain_graph : bool, optional
        Keep the graph; defaults to ``create_graph``.
    create_graph : bool, default False
        Record the computation so the result can be differentiated again.
    allow_unused : bool, optional
        Return ``None`` for inputs the outputs do not depend on instead of raising.
    materialize_grads : bool, default False
        Return zeros instead of ``None`` for unused inputs.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.tensor(3.0, requires_grad=True)
    >>> (g,) = lucid.autograd.grad(x ** 3, x, create_graph=True)
    >>> g
    tensor(27., grad_fn=<MulBackward0>)
    >>> lucid.autograd.grad(g, x)
    (tensor(18.),)
    """
    outs = _as_seq(outputs)
    ins = _as_seq(inputs)
    _check_outputs(outs)
    _check_inputs(ins)
    if allow_unused is None:
        allow_unused = materialize_grads
    grads = _make_grads(outs, _as_seq(grad_outputs))
    if retain_graph is None:
        retain_graph = create_graph
    res = run_backward(outs, grads, retain_graph, create_graph, inputs=ins, accumulate=False)
    out: list[Tensor | None] = []
    for t, g in zip(ins, res):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior."
                )
            if materialize_grads:
                g = Tensor._make(np.zeros_like(t._data))
        elif not create_graph:
            g = g.detach()
        out.append(g)
    return tuple(out)


from lucid.autograd.gradcheck import gradcheck, gradgradcheck  # noqa: E402
