"""Graph nodes and ``Function``: the unit every differentiable operation is built from.

A ``Function`` subclass defines ``forward(ctx, *args)`` and ``backward(ctx, *grads)``. Calling
``Fn.apply(*args)`` runs ``forward`` and, when gradients are being recorded, returns outputs
whose ``grad_fn`` is the ``ctx`` object itself: each call's context *is* its graph node.
``backward`` is written with differentiable lucid operations, so running it with gradient
recording on (``create_graph=True``) builds the graph of the gradient and higher-order
derivatives need no extra code.

Internal operations set ``_array_forward = True``: their ``forward`` receives and returns
NumPy arrays (fast; no tensor wrappers), while ``backward`` still works on tensors. Such a
forward may pass arrays to ``ctx.save_for_backward``: an array that is one of the inputs
comes back from ``ctx.saved_tensors`` as that input tensor (so second derivatives reach
it), an output array as the output tensor, anything else as a constant.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from lucid._tensor import Tensor, VersionCounter, refresh_view
from lucid.autograd.grad_mode import _state

_sequence = itertools.count(1)

_FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)

# kinds of saved entries (see FunctionCtx.saved_tensors)
_INPUT, _OUTPUT, _CONST = 0, 1, 2


class Node:
    """A recorded operation: the edges to its inputs' nodes plus what backward needs.

    Attributes
    ----------
    next_edges : tuple
        One ``(node, output_nr)`` per forward argument, ``None`` where no gradient flows.
    needs_input_grad : tuple of bool
        Which forward arguments require a gradient.
    """

    # set on every recorded node (slots keep them fast and out of ``__dict__``, which then
    # holds only what the operation itself stored)
    __slots__ = ("next_edges", "needs_input_grad", "_out_meta", "_seq", "__dict__",
                 "__weakref__")
    next_edges: tuple[tuple[Node, int] | None, ...]
    needs_input_grad: tuple[bool, ...]
    _out_meta: tuple[tuple[tuple[int, ...], np.dtype] | None, ...]
    _seq: int

    _pre_hooks: dict[int, dict[int, Callable[[Tensor], Tensor | None]]] | None = None
    _retained: dict[int, Any] | None = None
    _saved: tuple[Any, ...] | None = None
    _freed = False
    _materialize = True
    node_name: str | None = None  # overrides the class-derived name (set per call)

    def name(self) -> str:
        """The node's name as shown in ``grad_fn=<...>``."""
        return self.node_name or type(self).__name__

    @property
    def next_functions(self) -> tuple[tuple[Node | None, int], ...]:
        """``(node, output_nr)`` for every input, ``(None, 0)`` where none (like PyTorch)."""
        return tuple(e if e is not None else (None, 0) for e in self.next_edges)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"

    def _apply_backward(self, grads: tuple[Tensor, ...]) -> tuple[Tensor | None, ...]:
        raise NotImplementedError

    def _release(self) -> None:
        """Drop the data kept for backward (after a pass with ``retain_graph=False``).

        Metadata (shapes, dims) is kept, so a second pass through a node that saved no
        data works, as in PyTorch; a node that did save data raises on its next use.
        """
        d = self.__dict__
        saved = d.pop("_saved", None)
        held = saved is not None and any(e is not None for e in saved)
        for k in [k for k, v in d.items() if _holds_data(v)]:
            del d[k]
            held = True
        if held:
            self._freed = True


_DATA = (Tensor, np.ndarray)


def _holds_data(v: Any) -> bool:
    """Whether an attribute of a node holds arrays (directly or in a tuple or list)."""
    if isinstance(v, _DATA):
        return True
    if type(v) is tuple or type(v) is list:
        for e in v:
            if isinstance(e, _DATA):
                return True
    return False


class AccumulateGrad(Node):
    """The node behind a leaf tensor: sums incoming gradients into ``.grad``."""

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable
        self.next_edges = self._out_meta = ()
        self._seq = 0

    def _release(self) -> None:
        pass


class FunctionCtx(Node):
    """Context helpers available to ``forward``/``backward`` as ``ctx``."""

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep values for ``backward`` (checked for in-place changes when read back).

        Call it at most once per forward. Tensors (or, in an array forward, arrays) that are
        inputs or outputs come back from :attr:`saved_tensors` as those graph tensors.
        """
        if not type(self)._array_forward:
            for i, t in enumerate(tensors):
                if t is not None and not isinstance(t, Tensor):
                    raise TypeError(
                        "save_for_backward can only save variables, but argument "
                        f"{i} is of type {type(t).__name__}"
                    )
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """The values given to :meth:`save_for_backward`, as tensors.

        Raises ``RuntimeError`` after the graph was freed, or when a saved tensor was
        modified in place since it was saved.
        """
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        return tuple(self._unpack(e) for e in self._saved or ())

    def _unpack(self, entry: Any) -> Any:
        if entry is None:
            return None
        kind = entry[0]
        if kind == _INPUT:
            t, version = entry[1], entry[2]
            _check_version(t._version, version, t, "an input")
            return t
        if kind == _OUTPUT:
            nr, arr, vc, version = entry[1:]
            out = Tensor._make(arr)
            _check_version(vc.value, version, out, f"output {nr} of {self.name()}")
            out._vc = vc
            if _state.enabled:
                out._requires_grad, out.grad_fn, out._output_nr = True, self, nr
            return out
        value = entry[1]
        return Tensor._make(value) if isinstance(value, np.ndarray) else value

    def _pack_saved(self, args: tuple[Any, ...], raw: tuple[Any, ...],
                    outs: list[Tensor | None]) -> None:
        """Turn the raw saved values into entries that know inputs and outputs."""
        entries = []
        for v in self._saved:
            entries.append(None if v is None else _pack_one(v, args, raw, outs))
        self._saved = tuple(entries)

    def mark_non_differentiable(self, *outputs: Any) -> None:
        """Declare outputs (e.g. indices) that never carry gradients."""
        self._non_diff_ids = {id(o) for o in outputs}

    def mark_dirty(self, *tensors: Tensor) -> None:
        """Accepted for API compatibility; lucid does not track in-place forwards."""

    def set_materialize_grads(self, value: bool) -> None:
        """Whether ``backward`` receives zeros (default) or ``None`` for unused outputs."""
        self._materialize = bool(value)


def _pack_one(v: Any, args: tuple[Any, ...], raw: tuple[Any, ...],
              outs: list[Tensor | None]) -> tuple[Any, ...]:
    for a in args:
        if isinstance(a, Tensor) and (a is v or a._data is v):
            return (_INPUT, a, a._version)
    for i, r in enumerate(raw):
        if r is v and outs[i] is not None and outs[i]._requires_grad:
            o = outs[i]
            if o._vc is None:
                o._vc = VersionCounter()
            return (_OUTPUT, i, o._data, o._vc, o._vc.value)
    return (_CONST, v._data if isinstance(v, Tensor) else v)


def _check_version(current: int, saved: int, t: Tensor, what: str) -> None:
    if current != saved:
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{t.dtype.name} {list(t.shape)}], which is {what}, is at "
            f"version {current}; expected version {saved} instead."
        )


class Function(FunctionCtx):
    """Base class for user-defined differentiable operations.

    Subclasses implement two static methods::

        @staticmethod
        def forward(ctx, *args): ...        # tensors in, tensor(s) out (runs under no_grad)

        @staticmethod
        def backward(ctx, *grad_outputs): ...  # one gradient (or None) per forward input

    and are called through ``Fn.apply(*args)``. ``backward`` written with lucid operations
    is itself differentiable, so higher-order gradients work.

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
    >>> y = Cube.apply(x)
    >>> y
    tensor(8., grad_fn=<CubeBackward>)
    >>> y.backward()
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
        """The node's name as shown in ``grad_fn=<...>``."""
        if self.node_name:
            return self.node_name
        return type(self).__name__ + ("Backward0" if self._array_forward else "Backward")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` on ``args`` and record the call when gradients are needed."""
        ctx = object.__new__(cls)
        record = False
        if _state.enabled:
            needs = tuple([isinstance(a, Tensor) and a._requires_grad for a in args])
            record = True in needs
        ctx.needs_input_grad = needs if record else (False,) * len(args)
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
        if type(raw) is np.ndarray:
            return _wrap_one(ctx, args, raw) if record else Tensor._make(raw)
        return _wrap_outputs(ctx, args, raw, record)

    def _apply_backward(self, grads: tuple[Tensor, ...]) -> tuple[Tensor | None, ...]:
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        out = type(self).backward(self, *grads)
        if not isinstance(out, tuple):
            out = (out,)
        n = len(self.next_edges)
        if len(out) != n:
            if len(out) > n and all(g is None for g in out[n:]):
                return out[:n]
            raise RuntimeError(
                f"function {self.name()} returned an incorrect number of gradients "
                f"(expected {n}, got {len(out)})"
            )
        return out


def _edge(a: Any) -> tuple[Node, int] | None:
    """The graph edge of an argument: its node and output number, or None."""
    if not isinstance(a, Tensor) or not a._requires_grad:
        return None
    if a._view_of is not None:
        refresh_view(a)
    if a.grad_fn is not None:
        return (a.grad_fn, a._output_nr)
    acc = a._accum
    if acc is None:
        acc = a._accum = AccumulateGrad(a)
    return (acc, 0)


def _wrap_one(ctx: Function, args: tuple[Any, ...], raw: np.ndarray) -> Tensor:
    """Fast path of :func:`_wrap_outputs`: one array output while recording."""
    out = Tensor._make(raw)
    if raw.dtype.kind in "fc":
        out._requires_grad = True
        out.grad_fn = ctx
    ctx.next_edges = tuple([_edge(a) for a in args])
    ctx._out_meta = ((raw.shape, raw.dtype),)
    ctx._seq = next(_sequence)
    if ctx._saved:
        ctx._pack_saved(args, (raw,), [out])
    return out


def _wrap_outputs(ctx: Function, args: tuple[Any, ...], raw: Any, record: bool) -> Any:
    single = not isinstance(raw, tuple)
    raws = (raw,) if single else raw
    non_diff = ctx.__dict__.get("_non_diff_ids", ())
    result: list[Tensor | None] = []
    meta = []
    for i, o in enumerate(raws):
        if o is None:
            result.append(None)
            meta.append(None)
            continue
        arr = o._data if isinstance(o, Tensor) else np.asarray(o)
        t = Tensor._make(arr)
        if record and id(o) not in non_diff and arr.dtype.kind in "fc":
            t._requires_grad = True
            t.grad_fn = ctx
            t._output_nr = i
        result.append(t)
        meta.append((arr.shape, arr.dtype))
    if record:
        ctx.next_edges = tuple([_edge(a) for a in args])
        ctx._out_meta = tuple(meta)
        ctx._seq = next(_sequence)
        if ctx._saved:
            ctx._pack_saved(args, raws, result)
    return result[0] if single else tuple(result)


class once_differentiable:  # noqa: N801 - mirrors torch.autograd.function.once_differentiable
    """Decorator for ``backward``: run it without recording, like PyTorch's.

    A gradient computed by such a backward cannot be differentiated again.
    """

    def __new__(cls, fn: Callable[..., Any]) -> Callable[..., Any]:  # type: ignore[misc]
        import functools

        @functools.wraps(fn)
        def wrapper(ctx: Any, *grads: Any) -> Any:
            prev = _state.enabled
            _state.enabled = False
            try:
                return fn(ctx, *grads)
            finally:
                _state.enabled = prev

        return wrapper
