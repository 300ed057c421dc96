"""``Tensor``: an n-dimensional array with autograd, backed by a NumPy array.

The class holds data and graph bookkeeping. Its operators and methods are the differentiable
operations defined in :mod:`lucid._ops`, attached when :mod:`lucid` is imported.

Views and versions
------------------
Tensors that share memory share one :class:`VersionCounter`, bumped by every in-place
operation; autograd compares it with the value saved at forward time to refuse gradients
computed from overwritten data, as PyTorch does. A tensor made by a view operation
(``reshape``, basic indexing, ``permute``, ``expand``...) also remembers its root tensor and
the chain of view operations leading to it, so an in-place change through the view can be
recorded on the root, and a view whose root changed is re-derived before its next use.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from lucid import _dtype as D
from lucid._backend import CPU, DeviceLike, as_device, device


class VersionCounter:
    """How many in-place changes the memory shared by a group of tensors has seen."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class _RemovableHandle:
    """Handle returned by ``register_hook``; ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, store: dict[int, Any]) -> None:
        self._store = store
        _RemovableHandle._next_id += 1
        self.id = _RemovableHandle._next_id

    def remove(self) -> None:
        """Unregister the hook."""
        self._store.pop(self.id, None)

    def __enter__(self) -> _RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class Tensor:
    """A multi-dimensional array that records operations for automatic differentiation.

    Create tensors with :func:`lucid.tensor`, :func:`lucid.zeros`, :func:`lucid.randn` and
    friends rather than this constructor.

    Parameters
    ----------
    data : array_like
        Values (nested lists, NumPy arrays, numbers or another tensor).
    dtype : lucid.dtype, optional
        Element type; inferred like PyTorch when omitted (Python floats give the default
        dtype, Python ints ``int64``).
    device : str or lucid.device, optional
        Only ``"cpu"`` is available.
    requires_grad : bool, default False
        Record operations on this tensor for autograd.

    Attributes
    ----------
    shape : tuple of int
        The size of each dimension (a plain tuple).
    grad : Tensor or None
        Gradient accumulated by :meth:`backward` (leaves, and tensors that
        :meth:`retain_grad`).
    grad_fn : Node or None
        The operation that produced this tensor (``None`` for leaves).

    Examples
    --------
    >>> import lucid
    >>> x = lucid.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> x.shape, x.dtype, x.is_leaf
    ((2, 2), lucid.float32, True)
    >>> y = (x * x).sum()
    >>> y
    tensor(30., grad_fn=<SumBackward0>)
    >>> y.backward()
    >>> x.grad
    tensor([[2., 4.],
            [6., 8.]])
    """

    __slots__ = ("_data", "_requires_grad", "grad", "grad_fn", "_output_nr", "__dict__",
                 "__weakref__")
    __array_priority__ = 1000

    # rarely set: live in the instance __dict__ only when used
    _vc: VersionCounter | None = None
    _view_of: tuple[Tensor, tuple[Any, ...]] | None = None
    _view_version = 0
    _hooks: dict[int, Callable[[Tensor], Tensor | None]] | None = None
    _accum: Any = None
    _retains_grad = False

    def __init__(
        self,
        data: Any = None,
        dtype: D.DTypeLike = None,
        device: DeviceLike = None,
        requires_grad: bool = False,
    ) -> None:
        as_device(device)
        self._data = to_array(data if data is not None else [], dtype)
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._output_nr = 0
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _make(cls, arr: np.ndarray) -> Tensor:
        """Wrap an array with no copy and no checks (internal fast path)."""
        t = object.__new__(cls)
        t._data = arr
        t._requires_grad = False
        t.grad = None
        t.grad_fn = None
        t._output_nr = 0
        return t

    # -- basic attributes ---------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """This tensor's values as a tensor cut from the graph (shares memory, but not the
        version counter: changes made through it are invisible to autograd)."""
        return Tensor._make(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._data = value._data

    @property
    def shape(self) -> tuple[int, ...]:
        """The size of each dimension, as a plain tuple."""
        return self._data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    @property
    def dtype(self) -> D.dtype:
        """The element type."""
        return D._FROM_NP[self._data.dtype]

    @property
    def device(self) -> device:
        """Where the data lives (always the CPU in this build)."""
        return CPU

    @property
    def is_cuda(self) -> bool:
        """Always False: lucid runs on the CPU."""
        return False

    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor are recorded for autograd."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self.grad_fn is not None:
            if not value:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want "
                    "to use a computed variable in a subgraph that doesn't require "
                    "differentiation use var_no_grad = var.detach()."
                )
            return
        if value and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients, "
                f"got {self.dtype}"
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return ``self``."""
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded operation."""
        return self.grad_fn is None

    @property
    def _version(self) -> int:
        """How many in-place operations changed this tensor's memory (shared by views)."""
        vc = self._vc
        return vc.value if vc is not None else 0

    @_version.setter
    def _version(self, value: int) -> None:
        shared_version(self).value = value

    @property
    def _base(self) -> Tensor | None:
        """The tensor this one is a view of (``None`` unless made by a view operation)."""
        return self._view_of[0] if self._view_of is not None else None

    @property
    def T(self) -> Tensor:  # noqa: N802
        """All dimensions reversed."""
        return self.permute(*range(self.ndim - 1, -1, -1))

    @property
    def mT(self) -> Tensor:  # noqa: N802
        """The last two dimensions swapped (batched matrix transpose)."""
        return self.transpose(-2, -1)

    @property
    def real(self) -> Tensor:
        """The real part (``self`` for real tensors)."""
        from lucid._ops.elementwise import real

        return real(self)

    @property
    def imag(self) -> Tensor:
        """The imaginary part of a complex tensor."""
        from lucid._ops.elementwise import imag

        return imag(self)

    def size(self, dim: int | None = None) -> Any:
        """The shape, or the size of dimension ``dim``."""
        if dim is None:
            return self._data.shape
        return self._data.shape[norm_dim(dim, self.ndim)]

    def dim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    def numel(self) -> int:
        """The number of elements."""
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        """Bytes per element."""
        return self._data.itemsize

    def is_floating_point(self) -> bool:
        """Whether the dtype is a floating-point type."""
        return self._data.dtype.kind == "f"

    def is_complex(self) -> bool:
        """Whether the dtype is a complex type."""
        return self._data.dtype.kind == "c"

    def is_contiguous(self) -> bool:
        """Whether the data is laid out C-contiguously in memory."""
        return bool(self._data.flags.c_contiguous)

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return self._data.reshape(()).item()

    def tolist(self) -> Any:
        """The values as (nested lists of) Python numbers."""
        return self._data.tolist()

    def numpy(self, force: bool = False) -> np.ndarray:
        """The data as a NumPy array sharing memory (refused when it requires grad)."""
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return self._data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    def detach(self) -> Tensor:
        """A tensor sharing this one's data (and version counter), cut from the graph."""
        t = Tensor._make(self._data)
        t._vc = shared_version(self)
        return t

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place."""
        self.grad_fn = None
        self._requires_grad = False
        return self

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous "
                f"(it has {self._data.size} values)"
            )
        return bool(self._data.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        from lucid._format import tensor_repr

        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __reduce_ex__(self, protocol: Any) -> Any:
        state = {k: v for k, v in self.__dict__.items() if k not in _INTERNAL_ATTRS}
        return (_rebuild, (type(self), self._data, self._requires_grad, state))

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        if not self.is_leaf:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the "
                "deepcopy protocol at the moment."
            )
        new = object.__new__(type(self))
        memo[id(self)] = new
        new._data = self._data.copy()
        new._requires_grad = self._requires_grad
        new.grad = None if self.grad is None else copy.deepcopy(self.grad, memo)
        new.grad_fn = None
        new._output_nr = 0
        for k, v in self.__dict__.items():
            if k not in _INTERNAL_ATTRS:
                setattr(new, k, copy.deepcopy(v, memo))
        return new

    # -- autograd -------------------------------------------------------------------------
    def backward(
        self,
        gradient: Tensor | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Any = None,
    ) -> None:
        """Compute the gradient of this tensor w.r.t. graph leaves into their ``.grad``.

        Parameters
        ----------
        gradient : Tensor, optional
            The gradient w.r.t. this tensor; required unless it has a single element.
        retain_graph : bool, optional
            Keep the graph for another backward (defaults to ``create_graph``).
        create_graph : bool, default False
            Record the backward pass so higher-order gradients can be taken.
        inputs : sequence of Tensor, optional
            Accumulate only into these tensors.
        """
        from lucid.autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> _RemovableHandle:
        """Register ``hook(grad)`` to run when this tensor's gradient is computed.

        The hook may return a replacement gradient. Returns a handle with ``remove()``.

        Examples
        --------
        >>> import lucid
        >>> x = lucid.tensor([1.0, 2.0], requires_grad=True)
        >>> h = x.register_hook(lambda g: g * 10)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([20., 40.])
        >>> h.remove()
        """
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = {}
            store = self._hooks
        else:
            node = self.grad_fn
            if node._pre_hooks is None:
                node._pre_hooks = {}
            store = node._pre_hooks.setdefault(self._output_nr, {})
        handle = _RemovableHandle(store)
        store[handle.id] = hook
        return handle

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (a no-op on leaves)."""
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        import weakref

        node = self.grad_fn
        if node._retained is None:
            node._retained = {}
        node._retained[self._output_nr] = weakref.ref(self)
        self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        """Whether :meth:`retain_grad` was called on this non-leaf tensor."""
        return self._retains_grad

    # -- conversion -----------------------------------------------------------------------
    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """Convert dtype and/or device: ``to(dtype)``, ``to(device)``, ``to(other)``.

        Returns ``self`` when nothing changes (unless ``copy=True``).
        """
        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        copy_ = kwargs.pop("copy", False)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (D.dtype, np.dtype)) or a in (float, int, bool, complex):
                dtype = a
            elif isinstance(a, (str, device)):
                dev = a
            else:
                raise TypeError(f"to() received an invalid argument {a!r}")
        as_device(dev)
        if dtype is None or D.as_dtype(dtype) is self.dtype:
            return self.clone() if copy_ else self
        from lucid._ops.elementwise import cast

        return cast(self, D.as_dtype(dtype))

    def cpu(self) -> Tensor:
        """``self``: the data already lives on the CPU."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        """Always raises: this build of lucid has no GPU backend."""
        as_device("cuda")
        return self  # pragma: no cover - as_device raises

    def type(self, dtype: D.DTypeLike = None) -> Any:
        """The type name (``'lucid.FloatTensor'``), or a copy converted to ``dtype``."""
        if dtype is None:
            return f"lucid.{_TYPE_NAMES[self.dtype.name]}"
        return self.to(D.as_dtype(dtype))

    def float(self) -> Tensor:
        """``self`` as float32."""
        return self.to(D.float32)

    def double(self) -> Tensor:
        """``self`` as float64."""
        return self.to(D.float64)

    def half(self) -> Tensor:
        """``self`` as float16."""
        return self.to(D.float16)

    def long(self) -> Tensor:
        """``self`` as int64."""
        return self.to(D.int64)

    def int(self) -> Tensor:
        """``self`` as int32."""
        return self.to(D.int32)

    def short(self) -> Tensor:
        """``self`` as int16."""
        return self.to(D.int16)

    def byte(self) -> Tensor:
        """``self`` as uint8."""
        return self.to(D.uint8)

    def bool(self) -> Tensor:
        """``self`` as bool."""
        return self.to(D.bool)

    def cfloat(self) -> Tensor:
        """``self`` as complex64."""
        return self.to(D.complex64)

    def cdouble(self) -> Tensor:
        """``self`` as complex128."""
        return self.to(D.complex128)


_TYPE_NAMES = {
    "float16": "HalfTensor", "float32": "FloatTensor", "float64": "DoubleTensor",
    "complex64": "ComplexFloatTensor", "complex128": "ComplexDoubleTensor",
    "uint8": "ByteTensor", "int8": "CharTensor", "int16": "ShortTensor", "int32": "IntTensor",
    "int64": "LongTensor", "bool": "BoolTensor",
}
_INTERNAL_ATTRS = frozenset({"_vc", "_view_of", "_view_version", "_hooks", "_accum",
                             "_retains_grad"})


def _rebuild(cls: type, data: np.ndarray, requires_grad: bool, state: dict[str, Any]) -> Tensor:
    t = cls._make(data)
    t._requires_grad = requires_grad
    t.__dict__.update(state)
    return t


# -- versions and views ---------------------------------------------------------------------
def shared_version(t: Tensor) -> VersionCounter:
    """``t``'s version counter, created on first use so that new views can share it."""
    vc = t._vc
    if vc is None:
        vc = t._vc = VersionCounter()
    return vc


def bump_version(t: Tensor) -> None:
    """Record an in-place change of ``t``'s memory."""
    shared_version(t).value += 1


def link_view(out: Tensor, src: Tensor, fn: Any, extra: tuple[Any, ...]) -> None:
    """Mark ``out`` (made from ``src`` by the view Function ``fn``) as a view."""
    vc = shared_version(src)
    out._vc = vc
    if src._view_of is not None:
        root, chain = src._view_of
        out._view_of = (root, chain + ((fn, extra),))
    else:
        out._view_of = (src, ((fn, extra),))
    out._view_version = vc.value


def replay_view(t: Tensor, chain: tuple[Any, ...]) -> Tensor:
    """Apply a chain of view Functions to ``t`` (recording them when autograd is on)."""
    for fn, extra in chain:
        t = fn.apply(t, *extra)
    return t


def refresh_view(v: Tensor) -> None:
    """Re-derive a view's graph position after its root changed in place."""
    root, chain = v._view_of
    current = root._version
    if v._view_version == current:
        return
    fresh = replay_view(root, chain)
    v.grad_fn, v._output_nr = fresh.grad_fn, fresh._output_nr
    if root._requires_grad:
        v._requires_grad = True
    v._view_version = current


# -- helpers --------------------------------------------------------------------------------
def norm_dim(dim: Any, ndim: int) -> int:
    """Normalise a possibly negative dimension index (``IndexError`` when out of range)."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"dim must be an int, got {dim!r}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return int(dim) % n


def _infer_dtype(data: Any) -> D.dtype:
    """PyTorch's dtype inference for nested Python data: promote every element's type
    (Python floats count as the default dtype, ints as int64, NumPy values as their own)."""
    found: D.dtype | None = None
    stack = [data]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(v)
            continue
        if isinstance(v, Tensor):
            if v._data.size != 1 and v._data.ndim:
                raise ValueError("only one element tensors can be converted to Python scalars")
            d = v.dtype
        elif isinstance(v, (np.ndarray, np.generic)):
            d = D.from_numpy_dtype(v.dtype)
        elif isinstance(v, (bool, int, float, complex)):
            d = D.scalar_dtype(v)
        else:
            raise TypeError(
                f"Could not infer dtype of {type(v).__name__}: tensors hold numbers only"
            )
        found = d if found is None else D.promote_types(found, d)
    return found if found is not None else D.get_default_dtype()


def to_array(data: Any, dtype: D.DTypeLike = None, copy: bool = True) -> np.ndarray:
    """Convert user data to a NumPy array with PyTorch's dtype rules."""
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, np.ndarray):
        arr = data
        if arr.dtype not in D._FROM_NP:
            raise TypeError(
                f"can't convert np.ndarray of type {arr.dtype}. The only supported types are: "
                f"{D.names()}."
            )
    else:
        target = D.as_dtype(dtype) if dtype is not None else _infer_dtype(data)
        if isinstance(data, (list, tuple)):
            data = _unwrap(data)
        try:
            return np.array(data, dtype=target.np)
        except OverflowError:
            raise RuntimeError(f"value cannot be converted to type {target.name} without "
                               "overflow") from None
        except ValueError as e:
            raise ValueError(f"can't build a tensor from this {type(data).__name__}: nested "
                             f"sequences must be rectangular ({e})") from None
    if dtype is not None:
        target = D.as_dtype(dtype).np
        if arr.dtype != target:
            return arr.astype(target)
    return arr.copy() if copy else arr


def _unwrap(data: Any) -> Any:
    """Nested lists with tensors replaced by their arrays."""
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (list, tuple)):
        return [_unwrap(v) for v in data]
    return data
