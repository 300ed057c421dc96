"""Graph nodes and ``Function``: the unit every differentiable operation is built from.

A ``Function`` subclass defines ``forward(ctx, *args)`` and ``backward(ctx, *grads)``. Calling
``Fn.apply(*args)`` runs ``forward`` and, when gradients are being recorded, returns outputs
whose ``grad_fn`` is the ``ctx`` object itself: each call's context *is* its graph node.
``backward`` is written with differentiable lucid operations, so running it with gradient
recording on (``create_graph=True``) builds the graph of the gradient and higher-order
derivatives need no extra code.

Internal operations set ``_array_forward = True``: their ``forward`` receives and returns
NumPy arrays (fast; no tensor wrappers), while ``backward`` still works on tensors.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd.grad_mode import _state


class Node:
    """A recorded operation: the edges to its inputs' nodes plus what backward needs."""

    _engine_fields = frozenset(
        {"next_edges", "needs_input_grad", "_out_meta", "_pre_hooks", "_freed", "_seq",
         "_non_diff", "_saved", "_retained"}
    )
    _seq_counter = 0

    next_edges: tuple[tuple[Node, int] | None, ...] = ()
    needs_input_grad: tuple[bool, ...] = ()
    _out_meta: tuple[tuple[tuple[int, ...], Any], ...] = ()
    _pre_hooks: dict[int, list[Callable[[Tensor], Tensor | None]]] | None = None
    _freed = False
    _saved: tuple[tuple[Tensor, int], ...] = ()
    _non_diff: frozenset[int] = frozenset()

    def name(self) -> str:
        return type(self).__name__

    @property
    def next_functions(self) -> tuple[tuple[Node | None, int], ...]:
        return tuple(e if e is not None else (None, 0) for e in self.next_edges)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"

    def register_hook(self, hook: Callable[..., Any]) -> None:  # pragma: no cover - rare
        raise NotImplementedError("Node.register_hook is not supported; use Tensor.register_hook")

    # -- engine interface -------------------------------------------------------------
    def _apply_backward(self, grads: tuple[Tensor, ...]) -> tuple[Tensor | None, ...]:
        raise NotImplementedError

    def _release(self) -> None:
        """Drop what backward needed (``retain_graph=False``)."""
        d = self.__dict__
        held = False
        for k in list(d):
            if k in Node._engine_fields and k != "_saved":
                continue
            v = d.pop(k)
            if isinstance(v, (Tensor, np.ndarray)) or (k == "_saved" and v):
                held = True
            elif isinstance(v, (tuple, list)) and any(
                isinstance(e, (Tensor, np.ndarray)) for e in v
            ):
                held = True
        if held:
            self._freed = True


class AccumulateGrad(Node):
    """The node behind a leaf tensor: sums incoming gradients into ``.grad``."""

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable
        self.next_edges = ()

    def _release(self) -> None:
        pass


class FunctionCtx(Node):
    """Context helpers available to ``forward``/``backward`` as ``ctx``."""

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep tensors for ``backward`` (checked for in-place changes when read back)."""
        self._saved = tuple((t, t._version if t is not None else 0) for t in tensors)

    @property
    def saved_tensors(self) -> tuple[Tensor | None, ...]:
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        out = []
        for t, ver in self._saved:
            if t is not None and t._version != ver:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: [{t.dtype.name} {list(t.shape)}] is at version "
                    f"{t._version}; expected version {ver} instead."
                )
            out.append(t)
        return tuple(out)

    def mark_non_differentiable(self, *outputs: Tensor) -> None:
        """Declare outputs (e.g. indices) that never carry gradients."""
        self._non_diff_ids = {id(o) for o in outputs}

    def mark_dirty(self, *tensors: Tensor) -> None:  # accepted for API compatibility
        pass

    def set_materialize_grads(self, value: bool) -> None:
        self._materialize = bool(value)


_FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


class Function(FunctionCtx):
    """Base class for user-defined differentiable operations.

    Subclasses implement two static methods::

        @staticmethod
        def forward(ctx, *args): ...        # tensors in, tensor(s) out (runs under no_grad)

        @staticmethod
        def backward(ctx, *grad_outputs): ...  # one gradient (or None) per forward input

    and are called through ``Fn.apply(*args)``.

    Examples
    --------
    >>> import lucid
    >>> class Cube(lucid.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x ** 2 * g
    >>> x = lucid.tensor(2.0, requires_grad=True)
    >>> Cube.apply(x).backward()
    >>> x.grad
    tensor(12.)
    """

    _array_forward = False

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("Function subclasses must implement forward")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError("Function subclasses must implement backward")

    def name(self) -> str:
        cls = type(self).__name__
        return cls + ("Backward0" if self._array_forward else "Backward")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        ctx = cls.__new__(cls)
        record = False
        if _state.enabled:
            for a in args:
                if isinstance(a, Tensor) and a._requires_grad:
                    record = True
                    break
        if record:
            ctx.needs_input_grad = tuple(
                isinstance(a, Tensor) and a._requires_grad for a in args
            )
        else:
            ctx.needs_input_grad = (False,) * len(args)
        if cls._array_forward:
            raw = cls.forward(
                ctx, *[a._data if isinstance(a, Tensor) else a for a in args], **kwargs
            )
        else:
            prev = _state.enabled
            _state.enabled = False
            try:
                raw = cls.forward(ctx, *args, **kwargs)
            finally:
                _state.enabled = prev
        return _wrap_outputs(ctx, args, raw, record)

    def _apply_backward(self, grads: tuple[Tensor, ...]) -> tuple[Tensor | None, ...]:
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        out = type(self).backward(self, *grads)
        if not isinstance(out, tuple):
            out = (out,)
        n = len(self.next_edges)
        if len(out) < n:
            if len(out) == 1 and n > 1 and all(e is None for e in self.next_edges[1:]):
                out = out + (None,) * (n - 1)
            else:
                raise RuntimeError(
                    f"function {self.name()} returned an incorrect number of gradients "
                    f"(expected {n}, got {len(out)})"
                )
        return out[:n] if len(out) > n and all(g is None for g in out[n:]) else out


def _edge(a: Any) -> tuple[Node, int] | None:
    if not isinstance(a, Tensor) or not a._requires_grad:
        return None
    if a.grad_fn is not None:
        return (a.grad_fn, a._output_nr)
    return (a._accumulator(), 0)


def _wrap_outputs(ctx: Function, args: tuple[Any, ...], raw: Any, record: bool) -> Any:
    single = not isinstance(raw, tuple)
    outs = (raw,) if single else raw
    non_diff = getattr(ctx, "_non_diff_ids", None)
    result = []
    meta = []
    for i, o in enumerate(outs):
        if isinstance(o, Tensor):
            arr = o._data
            nd = non_diff is not None and id(o) in non_diff
        elif isinstance(o, np.ndarray):
            arr = o
            nd = False
        elif o is None:
            result.append(None)
            meta.append(((), None))
            continue
        else:
            arr = np.asarray(o)
            nd = False
        t = Tensor._make(arr)
        if record and not nd and arr.dtype.kind in "fc":
            t._requires_grad = True
            t.grad_fn = ctx
            t._output_nr = i
        result.append(t)
        meta.append((arr.shape, arr.dtype))
    if record:
        ctx.next_edges = tuple(_edge(a) for a in args)
        ctx._out_meta = tuple(meta)
        Node._seq_counter += 1
        ctx._seq = Node._seq_counter
    return result[0] if single else tuple(result)


class once_differentiable:  # noqa: N801 - mirrors torch.autograd.function.once_differentiable
    """Decorator accepted for API compatibility; lucid backward functions run as written."""

    def __new__(cls, fn: Callable[..., Any]) -> Callable[..., Any]:  # type: ignore[misc]
        return fn
