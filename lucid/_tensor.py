"""``Tensor``: an n-dimensional array with autograd, backed by a NumPy array.

The class holds data and graph bookkeeping. Its operators and methods are the differentiable
operations defined in :mod:`lucid._ops`, attached when :mod:`lucid` is imported.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any, Callable

import numpy as np

from lucid import _dtype as D
from lucid._backend import CPU, DeviceLike, as_device, device


class _RemovableHandle:
    """Handle returned by ``register_hook``; ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, store: dict[int, Any]) -> None:
        self._store = store
        _RemovableHandle._next_id += 1
        self.id = _RemovableHandle._next_id

    def remove(self) -> None:
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
        Gradient accumulated by :meth:`backward` (leaves only).
    grad_fn : Node or None
        The operation that produced this tensor (``None`` for leaves).
    """

    __slots__ = (
        "_data", "_requires_grad", "grad", "grad_fn", "_output_nr", "_version", "_hooks",
        "_accum", "_retains_grad", "__weakref__", "__dict__",
    )
    __array_priority__ = 1000

    def __init__(
        self,
        data: Any = None,
        dtype: D.DTypeLike = None,
        device: DeviceLike = None,
        requires_grad: bool = False,
    ) -> None:
        as_device(device)
        arr = _to_array(data if data is not None else [], dtype)
        self._init(arr)
        if requires_grad:
            self.requires_grad = True

    def _init(self, arr: np.ndarray) -> None:
        self._data = arr
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._version = 0
        self._hooks = None
        self._accum = None
        self._retains_grad = False

    @classmethod
    def _make(cls, arr: np.ndarray, requires_grad: bool = False) -> Tensor:
        """Wrap an array with no copy and no checks (internal fast path)."""
        t = object.__new__(cls)
        t._data = arr
        t._requires_grad = requires_grad
        t.grad = None
        t.grad_fn = None
        t._output_nr = 0
        t._version = 0
        t._hooks = None
        t._accum = None
        t._retains_grad = False
        return t

    # -- basic attributes ---------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """This tensor's values as a tensor detached from the graph (shares memory)."""
        return Tensor._make(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._data = value._data

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> D.dtype:
        return D._FROM_NP[self._data.dtype]

    @property
    def device(self) -> device:
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def requires_grad(self) -> bool:
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
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:  # noqa: N802
        return self.permute(*range(self.ndim - 1, -1, -1))

    @property
    def mT(self) -> Tensor:  # noqa: N802
        return self.transpose(-2, -1)

    @property
    def real(self) -> Tensor:
        from lucid._ops.elementwise import real

        return real(self)

    @property
    def imag(self) -> Tensor:
        from lucid._ops.elementwise import imag

        return imag(self)

    def size(self, dim: int | None = None) -> Any:
        """The shape, or the size of one dimension."""
        if dim is None:
            return self._data.shape
        return self._data.shape[_norm_dim(dim, self.ndim)]

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    def nelement(self) -> int:
        return int(self._data.size)

    def element_size(self) -> int:
        return self._data.itemsize

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_complex(self) -> bool:
        return self._data.dtype.kind == "c"

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return self._data.reshape(()).item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def numpy(self, force: bool = False) -> np.ndarray:
        """The data as a NumPy array sharing memory (refused when it requires grad)."""
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return self._data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph."""
        return Tensor._make(self._data)

    def detach_(self) -> Tensor:
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
                f"Boolean value of Tensor with {self._data.size} values is ambiguous"
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
        return repr(self)

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (_rebuild, (type(self), self._data, self._requires_grad))

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        if not self.is_leaf:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the "
                "deepcopy protocol at the moment."
            )
        new = type(self).__new__(type(self))
        Tensor._init(new, self._data.copy())
        new._requires_grad = self._requires_grad
        memo[id(self)] = new
        if self.grad is not None:
            new.grad = self.grad.__deepcopy__(memo)
        for k, v in getattr(self, "__dict__", {}).items():
            import copy

            setattr(new, k, copy.deepcopy(v, memo))
        return new

    # -- autograd -------------------------------------------------------------------------
    def _accumulator(self) -> Any:
        if self._accum is None:
            from lucid.autograd.function import AccumulateGrad

            self._accum = AccumulateGrad(self)
        return self._accum

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
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if self.grad_fn is None:
            return
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        node = self.grad_fn
        retained = node.__dict__.setdefault("_retained", {})
        retained[self._output_nr] = weakref.ref(self)
        self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    # -- conversion -----------------------------------------------------------------------
    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """Convert dtype and/or device: ``to(dtype)``, ``to(device)``, ``to(other)``."""
        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        copy = kwargs.pop("copy", False)
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
        if dtype is None or D.as_dtype(dtype) == self.dtype:
            return self.clone() if copy else self
        from lucid._ops.elementwise import cast

        return cast(self, D.as_dtype(dtype))

    def cpu(self) -> Tensor:
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        as_device("cuda")
        return self  # pragma: no cover

    def type(self, dtype: D.DTypeLike = None) -> Any:
        if dtype is None:
            return f"lucid.{_TYPE_NAMES.get(self.dtype.name, self.dtype.name)}"
        return self.to(D.as_dtype(dtype))

    def float(self) -> Tensor:
        return self.to(D.float32)

    def double(self) -> Tensor:
        return self.to(D.float64)

    def half(self) -> Tensor:
        return self.to(D.float16)

    def long(self) -> Tensor:
        return self.to(D.int64)

    def int(self) -> Tensor:
        return self.to(D.int32)

    def bool(self) -> Tensor:
        return self.to(D.bool)

    def cfloat(self) -> Tensor:
        return self.to(D.complex64)

    def cdouble(self) -> Tensor:
        return self.to(D.complex128)


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "int64": "LongTensor",
               "int32": "IntTensor", "bool": "BoolTensor", "float16": "HalfTensor"}


def _rebuild(cls: type, data: np.ndarray, requires_grad: bool) -> Tensor:
    t = cls.__new__(cls)
    Tensor._init(t, data)
    t._requires_grad = requires_grad
    return t


def _norm_dim(dim: int, ndim: int) -> int:
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"dim must be an int, got {dim!r}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return int(dim) % n


def _infer_dtype(data: Any) -> np.dtype:
    """PyTorch's dtype inference for nested Python data."""
    kinds = set()
    stack = [data]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, Tensor):
            kinds.add(("t", v._data.dtype))
        elif isinstance(v, np.ndarray):
            kinds.add(("t", v.dtype))
        elif isinstance(v, bool):
            kinds.add("b")
        elif isinstance(v, int):
            kinds.add("i")
        elif isinstance(v, float):
            kinds.add("f")
        elif isinstance(v, complex):
            kinds.add("c")
        elif isinstance(v, np.generic):
            kinds.add(("t", v.dtype))
        else:
            raise TypeError(f"can't convert an object of type {type(v).__name__} to a tensor")
    if "c" in kinds:
        return D.get_default_dtype().to_complex().np
    if "f" in kinds:
        return D.get_default_dtype().np
    tdt = [k[1] for k in kinds if isinstance(k, tuple)]
    if tdt:
        return np.result_type(*tdt)
    if "i" in kinds:
        return np.dtype(np.int64)
    if "b" in kinds:
        return np.dtype(np.bool_)
    return D.get_default_dtype().np


def _to_array(data: Any, dtype: D.DTypeLike = None, copy: bool = True) -> np.ndarray:
    """Convert user data to a NumPy array with PyTorch's dtype rules."""
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, np.ndarray):
        arr = data
        if dtype is None and arr.dtype not in D._FROM_NP:
            raise TypeError(
                f"can't convert np.ndarray of type {arr.dtype}. The only supported types are: "
                f"{D._names()}."
            )
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(v, Tensor) for v in data):
            data = [v._data if isinstance(v, Tensor) else v for v in data]
        target = D.as_dtype(dtype).np if dtype is not None else _infer_dtype(data)
        try:
            arr = np.array(data, dtype=target)
        except (ValueError, TypeError) as e:
            raise ValueError(f"can't build a tensor from {type(data).__name__}: {e}") from None
        return arr
    if dtype is not None:
        target = D.as_dtype(dtype).np
        if arr.dtype != target:
            return arr.astype(target)
    return arr.copy() if copy else arr
