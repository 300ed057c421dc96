"""Data types and PyTorch's type-promotion rules."""

from __future__ import annotations

from typing import Any, Union

import numpy as np


class dtype:  # noqa: N801 - mirrors torch.dtype
    """A tensor element type (``lucid.float32`` and friends).

    Attributes
    ----------
    is_floating_point : bool
        True for float16/32/64.
    is_complex : bool
        True for complex64/128.
    itemsize : int
        Bytes per element.
    """

    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize", "_cat")

    def __init__(self, name: str, np_dtype: Any, category: int) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self._cat = category
        self.is_floating_point = category == 2
        self.is_complex = category == 3
        self.is_signed = self.np.kind in "ifc"
        self.itemsize = self.np.itemsize

    def __repr__(self) -> str:
        return f"lucid.{self.name}"

    def __reduce__(self) -> str:
        return self.name

    def to_complex(self) -> dtype:
        return complex128 if self is float64 else complex64

    def to_real(self) -> dtype:
        return {complex64: float32, complex128: float64}.get(self, self)


# category: 0 bool, 1 integer, 2 floating, 3 complex
bool = dtype("bool", np.bool_, 0)  # noqa: A001
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
float16 = dtype("float16", np.float16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)
complex64 = dtype("complex64", np.complex64, 3)
complex128 = dtype("complex128", np.complex128, 3)

half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001
cfloat, cdouble = complex64, complex128

ALL = (bool, uint8, int8, int16, int32, int64, float16, float32, float64, complex64, complex128)
_FROM_NP = {d.np: d for d in ALL}

DTypeLike = Union[dtype, str, type, np.dtype, None]

_default_float = float32


def get_default_dtype() -> dtype:
    """The dtype of tensors made from Python floats (``float32`` unless changed)."""
    return _default_float


def set_default_dtype(d: dtype) -> None:
    """Set the default floating dtype (``float32`` or ``float64``; ``float16`` allowed)."""
    global _default_float
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float = d


def from_numpy_dtype(npd: Any) -> dtype:
    """The lucid dtype of a NumPy dtype (raises ``TypeError`` for unsupported ones)."""
    try:
        return _FROM_NP[np.dtype(npd)]
    except (KeyError, TypeError):
        raise TypeError(f"can't convert NumPy dtype {npd!r}: lucid supports {_names()}") from None


def _names() -> str:
    return ", ".join(d.name for d in ALL)


def as_dtype(d: DTypeLike) -> dtype:
    """Resolve a user-given dtype (lucid dtype, name, Python type or NumPy dtype)."""
    if isinstance(d, dtype):
        return d
    if d is builtins_float:
        return _default_float
    if d is builtins_int:
        return int64
    if d is builtins_bool:
        return bool
    if d is builtins_complex:
        return _default_float.to_complex()
    if isinstance(d, str):
        name = d.removeprefix("lucid.").removeprefix("torch.")
        for cand in ALL:
            if cand.name == name:
                return cand
        alias = {"half": float16, "float": float32, "double": float64, "long": int64,
                 "int": int32, "short": int16, "cfloat": complex64, "cdouble": complex128}
        if name in alias:
            return alias[name]
        raise TypeError(f"unknown dtype {d!r}; expected one of {_names()}")
    try:
        return from_numpy_dtype(d)
    except TypeError:
        raise TypeError(f"dtype must be a lucid dtype, got {d!r}") from None


import builtins  # noqa: E402

builtins_float, builtins_int = builtins.float, builtins.int
builtins_bool, builtins_complex = builtins.bool, builtins.complex


def _promote_pair(a: dtype, b: dtype) -> dtype:
    if a is b:
        return a
    if a._cat != b._cat:
        hi, lo = (a, b) if a._cat > b._cat else (b, a)
        if hi.is_complex and lo is float64:
            return complex128
        return hi
    return _FROM_NP[np.promote_types(a.np, b.np)]


def promote_types(a: dtype, b: dtype) -> dtype:
    """PyTorch's ``promote_types``: the smallest dtype both ``a`` and ``b`` convert to."""
    return _promote_pair(as_dtype(a), as_dtype(b))


def scalar_dtype(v: Any) -> dtype:
    """The dtype a bare Python scalar would get as a tensor."""
    if isinstance(v, builtins_bool):
        return bool
    if isinstance(v, builtins_int):
        return int64
    if isinstance(v, builtins_float):
        return _default_float
    if isinstance(v, builtins_complex):
        return _default_float.to_complex()
    if isinstance(v, np.generic):
        return from_numpy_dtype(v.dtype)
    raise TypeError(f"expected a number, got {type(v).__name__}")


def _scalar_cat(v: Any) -> builtins_int:
    if isinstance(v, np.generic):
        return {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}[v.dtype.kind]
    if isinstance(v, builtins_bool):
        return 0
    if isinstance(v, builtins_int):
        return 1
    if isinstance(v, builtins_float):
        return 2
    return 3


def result_type(dims: list[dtype], zerodims: list[dtype], scalars: list[Any]) -> dtype:
    """PyTorch's result type: dimensioned tensors, then 0-d tensors, then Python scalars.

    A lower-priority group only matters when its category (bool < int < float < complex) is
    higher than everything before it.
    """
    out: dtype | None = None
    for d in dims:
        out = d if out is None else _promote_pair(out, d)
    zd: dtype | None = None
    for d in zerodims:
        zd = d if zd is None else _promote_pair(zd, d)
    if zd is not None:
        out = zd if out is None else (_promote_pair(out, zd) if zd._cat > out._cat else out)
    if scalars:
        cat = max(_scalar_cat(s) for s in scalars)
        if out is None:
            out = scalar_dtype(next(s for s in scalars if _scalar_cat(s) == cat))
            if out.np.kind == "f" and out is not _default_float and not isinstance(
                    next(s for s in scalars if _scalar_cat(s) == cat), np.generic):
                out = _default_float
        elif cat > out._cat:
            if cat == 3:
                out = out.to_complex() if out.is_floating_point else _default_float.to_complex()
            elif cat == 2:
                out = _default_float
            else:
                out = int64
    assert out is not None
    return out
