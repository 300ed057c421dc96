"""Data types and PyTorch's type-promotion rules.

Promotion follows PyTorch exactly: operands fall into three priority groups — tensors with
at least one dimension, zero-dimensional tensors, and Python (or NumPy) scalars. Each group
is promoted on its own, and a lower-priority group only changes the result when its
category (bool < integer < floating < complex) is higher.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3


class dtype:  # noqa: N801 - mirrors torch.dtype
    """A tensor element type (``lucid.float32`` and friends).

    Attributes
    ----------
    is_floating_point : bool
        True for float16/32/64.
    is_complex : bool
        True for complex64/128.
    is_signed : bool
        True unless the type is ``bool`` or ``uint8``.
    itemsize : int
        Bytes per element.

    Examples
    --------
    >>> import lucid
    >>> lucid.float32, lucid.float32.itemsize, lucid.int64.is_floating_point
    (lucid.float32, 4, False)
    """

    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize", "_cat")

    def __init__(self, name: str, np_dtype: Any, category: int) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self._cat = category
        self.is_floating_point = category == _FLOAT
        self.is_complex = category == _COMPLEX
        self.is_signed = self.np.kind in "ifc"
        self.itemsize = self.np.itemsize

    def __repr__(self) -> str:
        return f"lucid.{self.name}"

    def __reduce__(self) -> str:
        return self.name

    def to_complex(self) -> dtype:
        """The complex type with this type's precision (``float16`` gives ``complex64``:
        lucid has no ``complex32``)."""
        return complex128 if self is float64 or self is complex128 else complex64

    def to_real(self) -> dtype:
        """The real type of a complex type (other types are returned unchanged)."""
        return {complex64: float32, complex128: float64}.get(self, self)


bool = dtype("bool", np.bool_, _BOOL)  # noqa: A001
uint8 = dtype("uint8", np.uint8, _INT)
int8 = dtype("int8", np.int8, _INT)
int16 = dtype("int16", np.int16, _INT)
int32 = dtype("int32", np.int32, _INT)
int64 = dtype("int64", np.int64, _INT)
float16 = dtype("float16", np.float16, _FLOAT)
float32 = dtype("float32", np.float32, _FLOAT)
float64 = dtype("float64", np.float64, _FLOAT)
complex64 = dtype("complex64", np.complex64, _COMPLEX)
complex128 = dtype("complex128", np.complex128, _COMPLEX)

half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001
cfloat, cdouble = complex64, complex128

ALL = (bool, uint8, int8, int16, int32, int64, float16, float32, float64, complex64, complex128)
_FROM_NP = {d.np: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL} | {
    "half": float16, "float": float32, "double": float64, "short": int16, "int": int32,
    "long": int64, "cfloat": complex64, "cdouble": complex128,
}

DTypeLike = dtype | str | type | np.dtype | None

_default_float = float32


def get_default_dtype() -> dtype:
    """The dtype of tensors made from Python floats (``float32`` unless changed).

    Examples
    --------
    >>> import lucid
    >>> lucid.get_default_dtype()
    lucid.float32
    """
    return _default_float


def set_default_dtype(d: dtype) -> None:
    """Set the default floating dtype (``float32``, ``float64`` or ``float16``).

    Python floats then become tensors of this type, and Python complex numbers tensors of
    the matching complex type.

    Parameters
    ----------
    d : lucid.dtype
        A floating-point dtype; anything else raises ``TypeError``.
    """
    global _default_float
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float = d


def from_numpy_dtype(npd: Any) -> dtype:
    """The lucid dtype of a NumPy dtype (``TypeError`` for unsupported ones)."""
    try:
        return _FROM_NP[np.dtype(npd)]
    except (KeyError, TypeError):
        raise TypeError(
            f"can't convert NumPy dtype {npd!r}: lucid supports {names()}"
        ) from None


def names() -> str:
    """The names of all supported dtypes, for error messages."""
    return ", ".join(d.name for d in ALL)


def as_dtype(d: DTypeLike) -> dtype:
    """Resolve a user-given dtype: a lucid dtype, a name, a Python type or a NumPy dtype."""
    if isinstance(d, dtype):
        return d
    if d is builtins.float:
        return _default_float
    if d is builtins.int:
        return int64
    if d is builtins.bool:
        return bool
    if d is builtins.complex:
        return _default_float.to_complex()
    if isinstance(d, str):
        found = _BY_NAME.get(d.removeprefix("lucid.").removeprefix("torch."))
        if found is None:
            raise TypeError(f"unknown dtype {d!r}; expected one of {names()}")
        return found
    try:
        return from_numpy_dtype(d)
    except TypeError:
        raise TypeError(f"dtype must be a lucid dtype, got {d!r}") from None


def promote_types(a: DTypeLike, b: DTypeLike) -> dtype:
    """The smallest dtype both ``a`` and ``b`` convert to without losing their category.

    Examples
    --------
    >>> import lucid
    >>> lucid.promote_types(lucid.uint8, lucid.int8)
    lucid.int16
    """
    return _promote_pair(as_dtype(a), as_dtype(b))


def _promote_pair(a: dtype, b: dtype) -> dtype:
    if a is b:
        return a
    if a._cat != b._cat:
        hi, lo = (a, b) if a._cat > b._cat else (b, a)
        if hi.is_complex and lo is float64:
            return complex128
        return hi
    return _FROM_NP[np.promote_types(a.np, b.np)]


def _scalar_category(v: Any) -> builtins.int:
    """Category of a Python or NumPy scalar (NumPy scalars count as plain numbers)."""
    if isinstance(v, (builtins.bool, np.bool_)):
        return _BOOL
    if isinstance(v, (builtins.int, np.integer)):
        return _INT
    if isinstance(v, (builtins.float, np.floating)):
        return _FLOAT
    if isinstance(v, (builtins.complex, np.complexfloating)):
        return _COMPLEX
    raise TypeError(f"expected a number, got {type(v).__name__}")


def scalar_dtype(v: Any) -> dtype:
    """The dtype a Python number takes as a tensor operand: bool, int64, or the default
    float/complex dtype."""
    cat = _scalar_category(v)
    if cat == _FLOAT:
        return _default_float
    if cat == _COMPLEX:
        return _default_float.to_complex()
    return bool if cat == _BOOL else int64


def _combine(higher: dtype | None, lower: dtype | None) -> dtype | None:
    """PyTorch's ``combine_categories``: a lower-priority group only adds a new category."""
    if higher is None:
        return lower
    if lower is None or higher.is_complex:
        return higher
    if lower.is_complex:
        return higher.to_complex() if higher.is_floating_point else lower
    if higher.is_floating_point:
        return higher
    if higher is bool or lower.is_floating_point:
        return _promote_pair(higher, lower)
    return higher


def _fold(dtypes: list[dtype]) -> dtype | None:
    out = None
    for d in dtypes:
        out = d if out is None else _promote_pair(out, d)
    return out


def result_type(dims: list[dtype], zerodims: list[dtype], scalars: list[Any]) -> dtype:
    """The result dtype of an operation on tensors and numbers, as PyTorch computes it.

    Parameters
    ----------
    dims : list of dtype
        Dtypes of the operands with at least one dimension.
    zerodims : list of dtype
        Dtypes of the zero-dimensional tensor operands.
    scalars : list of numbers
        Python (or NumPy) scalar operands.
    """
    wrapped = _fold([scalar_dtype(s) for s in scalars])
    out = _combine(_fold(dims), _combine(_fold(zerodims), wrapped))
    if out is None:
        raise TypeError("result_type needs at least one operand")
    return out
