"""Tensors with a role in a module: ``Parameter``, ``Buffer`` and their uninitialized forms.

Assigning a :class:`Parameter` (or a :class:`Buffer`) as an attribute of a
:class:`lucid.nn.Module` registers it, so it shows up in ``parameters()`` / ``buffers()`` and
in the ``state_dict``. The *uninitialized* forms are placeholders used by lazy modules: they
have a dtype but no shape and no data until :meth:`UninitializedTensorMixin.materialize`
turns the very same object into a regular parameter or tensor.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from lucid import _dtype as D
from lucid._backend import CPU, DeviceLike, as_device
from lucid._backend import device as _device
from lucid._creation import zeros
from lucid._format import tensor_repr
from lucid._tensor import _INTERNAL_ATTRS, Tensor

__all__ = [
    "Buffer",
    "Parameter",
    "UninitializedBuffer",
    "UninitializedParameter",
    "UninitializedTensorMixin",
    "is_lazy",
]


def _as_tensor_data(data: Any) -> Tensor:
    if data is None:
        return Tensor._make(np.empty((0,), dtype=D.get_default_dtype().np))
    if not isinstance(data, Tensor):
        raise TypeError(f"expected a lucid.Tensor as data, got {type(data).__name__}")
    return data


class Parameter(Tensor):
    """A tensor that is a learnable parameter of a module.

    Assigning a ``Parameter`` as a module attribute registers it: it appears in
    ``module.parameters()`` and in the ``state_dict``. A plain tensor assigned the same way
    does not. The parameter shares memory with ``data`` and is a graph leaf.

    Parameters
    ----------
    data : Tensor, optional
        The initial values (an empty 1-d tensor when omitted).
    requires_grad : bool, default True
        Whether the parameter requires gradient (even inside ``lucid.no_grad()``).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> p = nn.Parameter(lucid.tensor([1.0, 2.0]))
    >>> p
    Parameter containing:
    tensor([1., 2.], requires_grad=True)
    >>> p.is_leaf, p.requires_grad
    (True, True)
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        t = cls._make(_as_tensor_data(data)._data)
        if requires_grad:
            t.requires_grad = True
        return t

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        # Everything is done in ``__new__``; this only stops ``Tensor.__init__`` from running.
        pass

    def __repr__(self) -> str:
        return "Parameter containing:\n" + tensor_repr(self)


class _BufferMeta(type):
    """``isinstance(t, Buffer)`` is true for any tensor created through ``Buffer(...)``."""

    def __instancecheck__(cls, instance: Any) -> bool:
        if cls is Buffer:
            return isinstance(instance, Tensor) and bool(
                instance.__dict__.get("_is_buffer", False)
            )
        return super().__instancecheck__(instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    """Marks a tensor as a module buffer (state that is not a learnable parameter).

    Assigning ``Buffer(t)`` as a module attribute registers it as a buffer, like
    ``module.register_buffer(name, t, persistent)``. The result is a plain tensor sharing
    memory with ``t``, detached from its graph, with two marker attributes.

    Parameters
    ----------
    data : Tensor, optional
        The buffer's values (an empty 1-d tensor when omitted).
    persistent : bool, default True
        Whether the buffer is part of the module's ``state_dict``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.Module()
    >>> m.running_mean = nn.Buffer(lucid.zeros(3))
    >>> [name for name, _ in m.named_buffers()]
    ['running_mean']
    """

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True) -> Tensor:  # type: ignore[misc]
        src = _as_tensor_data(data)
        t = src.detach()
        t._requires_grad = src._requires_grad
        t.persistent = persistent
        t._is_buffer = True
        return t


_UNINIT_MSG = (
    "Attempted to use an uninitialized parameter or buffer ({cls}): it has no shape and no "
    "data yet. This error happens when a lazy module (or an explicitly created "
    "{cls}) is used before it is materialized; call the module's forward with a real "
    "batch (or load a state_dict, or call materialize()) first."
)


class UninitializedTensorMixin:
    """Shared behaviour of :class:`UninitializedParameter` and :class:`UninitializedBuffer`.

    An uninitialized tensor knows its dtype (and device) but has no shape and no data. The
    only things that work before :meth:`materialize` are changing its dtype (``to``,
    ``float``, ``double``, ``half``), ``requires_grad``, ``repr``, copying and pickling;
    everything else (any operation, ``.shape``, ``.numpy()``...) raises a ``RuntimeError``.
    """

    __slots__ = ()
    cls_to_become: type

    def _init_uninitialized(self, requires_grad: bool, device: DeviceLike,
                            dtype: D.DTypeLike) -> None:
        as_device(device)
        t: Any = self
        t._requires_grad = bool(requires_grad)
        t.grad = None
        t.grad_fn = None
        t._output_nr = 0
        t.__dict__["_dtype"] = D.as_dtype(dtype) if dtype is not None else D.get_default_dtype()

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: for ``_data`` that means "not materialized".
        if name == "_data":
            raise RuntimeError(_UNINIT_MSG.format(cls=type(self).__name__))
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def materialize(self, shape: Any, device: DeviceLike = None,
                    dtype: D.DTypeLike = None) -> None:
        """Allocate the data (zero-filled) and turn this object into its ``cls_to_become``.

        The object keeps its identity, so references held elsewhere (an optimizer's
        parameter list, for instance) see the materialized tensor.

        Parameters
        ----------
        shape : tuple of int
            Shape of the materialized tensor.
        device : str or lucid.device, optional
            Defaults to this placeholder's device (the CPU).
        dtype : lucid.dtype, optional
            Defaults to this placeholder's dtype.
        """
        dt = D.as_dtype(dtype) if dtype is not None else self.__dict__["_dtype"]
        if isinstance(shape, (int, np.integer)):
            shape = (shape,)
        dims = tuple(int(s) for s in shape)
        if any(s < 0 for s in dims):
            raise RuntimeError(f"materialize(): negative dimension in shape {dims}")
        t: Any = self
        t._data = zeros(dims, dtype=dt, device=device)._data
        del t.__dict__["_dtype"]
        t.__class__ = self.cls_to_become

    # -- the few things an uninitialized tensor can do ------------------------------------
    @property
    def shape(self) -> Any:
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error "
            "usually happens in `load_state_dict` when trying to load an uninitialized "
            "parameter into an initialized one. Call `forward` to initialize the parameters "
            "before accessing their attributes."
        )

    @property
    def dtype(self) -> D.dtype:
        return self.__dict__["_dtype"]

    @property
    def device(self) -> _device:
        return CPU

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad  # type: ignore[attr-defined]

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and not (self.dtype.is_floating_point or self.dtype.is_complex):
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients, "
                f"got {self.dtype}"
            )
        t: Any = self
        t._requires_grad = bool(value)

    @property
    def data(self) -> Any:
        raise RuntimeError(_UNINIT_MSG.format(cls=type(self).__name__))

    @data.setter
    def data(self, value: Any) -> None:
        if not is_lazy(value):
            raise RuntimeError(
                f"can't assign data to an {type(self).__name__}; call materialize(shape) "
                "first"
            )
        self.__dict__["_dtype"] = value.dtype

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def is_complex(self) -> bool:
        return self.dtype.is_complex

    def to(self, *args: Any, **kwargs: Any) -> Any:
        """A placeholder of the same kind with the requested dtype (``self`` if unchanged)."""
        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("copy", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, (str, _device)):
                dev = a
            elif isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, bool):
                continue
            else:
                dtype = a
        as_device(dev)
        if dtype is None or D.as_dtype(dtype) == self.dtype:
            return self
        return self._with_dtype(D.as_dtype(dtype))

    def _with_dtype(self, dtype: D.dtype) -> Any:
        new = copy.copy(self)
        new.__dict__["_dtype"] = dtype
        return new

    def cpu(self) -> Any:
        return self

    def numel(self) -> int:
        raise RuntimeError(_UNINIT_MSG.format(cls=type(self).__name__))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        if id(self) in memo:
            return memo[id(self)]
        result = copy.copy(self)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol: Any) -> Any:
        state = {k: v for k, v in self.__dict__.items()
                 if k != "_dtype" and k not in _INTERNAL_ATTRS}
        return (_rebuild_uninitialized,
                (type(self), self._requires_grad, self.dtype.name, state))  # type: ignore[attr-defined]


def _rebuild_uninitialized(cls: type, requires_grad: bool, dtype: str,
                           state: dict[str, Any]) -> Any:
    t = cls(requires_grad=requires_grad, dtype=dtype)
    t.__dict__.update(state)
    return t


def is_lazy(param: Any) -> bool:
    """Whether ``param`` is an :class:`UninitializedParameter` or :class:`UninitializedBuffer`.

    Parameters
    ----------
    param : object
        Anything.

    Returns
    -------
    bool
    """
    return isinstance(param, UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A parameter whose shape is not known yet (the placeholder of lazy modules).

    It holds no data: reading its shape or using it in any operation raises a
    ``RuntimeError``. :meth:`materialize` allocates the data and turns this very object
    into a regular :class:`Parameter`.

    Parameters
    ----------
    requires_grad : bool, default True
        Whether the materialized parameter requires gradient.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        dtype of the materialized data (the default float dtype when omitted).

    Examples
    --------
    >>> import lucid.nn as nn
    >>> p = nn.UninitializedParameter()
    >>> p
    <UninitializedParameter>
    >>> p.materialize((2, 3))
    >>> type(p).__name__, p.shape
    ('Parameter', (2, 3))
    """

    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device: DeviceLike = None,
                dtype: D.DTypeLike = None) -> UninitializedParameter:
        t = object.__new__(cls)
        t._init_uninitialized(requires_grad, device, dtype)
        return t

    def __init__(self, requires_grad: bool = True, device: DeviceLike = None,
                 dtype: D.DTypeLike = None) -> None:
        pass


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer whose shape is not known yet (the placeholder of lazy modules).

    Assigning one as a module attribute registers it as a buffer. :meth:`materialize`
    allocates the data and turns this very object into a plain :class:`lucid.Tensor`.

    Parameters
    ----------
    requires_grad : bool, default False
        Whether the materialized buffer requires gradient.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        dtype of the materialized data (the default float dtype when omitted).
    persistent : bool, default True
        Whether the buffer is part of the module's ``state_dict``.
    """

    cls_to_become = Tensor

    def __new__(cls, requires_grad: bool = False, device: DeviceLike = None,
                dtype: D.DTypeLike = None, persistent: bool = True) -> UninitializedBuffer:
        t = object.__new__(cls)
        t._init_uninitialized(requires_grad, device, dtype)
        t.persistent = persistent
        t._is_buffer = True
        return t

    def __init__(self, requires_grad: bool = False, device: DeviceLike = None,
                 dtype: D.DTypeLike = None, persistent: bool = True) -> None:
        pass
