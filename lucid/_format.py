"""PyTorch-style printing of tensors."""

from __future__ import annotations

from typing import Any

import numpy as np

from lucid import _dtype as D

_PRINT = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80}


def set_printoptions(precision: int | None = None, threshold: int | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None) -> None:
    """Set how tensors print (digits after the point, summarising threshold, width)."""
    for k, v in (("precision", precision), ("threshold", threshold),
                 ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if v is not None:
            _PRINT[k] = v


def _float_formatter(arr: np.ndarray) -> Any:
    p = _PRINT["precision"]
    finite = arr[np.isfinite(arr)] if arr.size else arr
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.{p}f}"
    absf = np.abs(finite.astype(np.float64))
    nz = absf[absf > 0]
    is_int = np.all(finite == np.round(finite))
    sci = nz.size and (nz.max() / nz.min() > 1000.0 or nz.max() > 1e8 or nz.min() < 1e-4)
    if is_int and not (nz.size and nz.max() > 1e8):
        return lambda v: _special(v) or f"{v:.0f}."
    if sci:
        return lambda v: _special(v) or f"{v:.{p}e}"
    return lambda v: _special(v) or f"{v:.{p}f}"


def _special(v: float) -> str | None:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _formatter(arr: np.ndarray) -> dict[str, Any]:
    kind = arr.dtype.kind
    if kind == "f":
        f = _float_formatter(arr)
        width = max((len(f(v)) for v in _sample(arr)), default=0)
        return {"float_kind": lambda v: f(v).rjust(width)}
    if kind == "c":
        fr = _float_formatter(arr.real)
        fi = _float_formatter(np.abs(arr.imag))
        s = _sample(arr)
        wr = max((len(fr(v.real)) for v in s), default=0)
        wi = max((len(fi(abs(v.imag))) for v in s), default=0)

        def cf(v: complex) -> str:
            sign = "-" if v.imag < 0 or (v.imag == 0 and np.signbit(v.imag)) else "+"
            return f"{fr(v.real).rjust(wr)}{sign}{fi(abs(v.imag)).ljust(wi)}j"

        return {"complex_kind": cf}
    if kind == "b":
        return {"bool": lambda v: str(bool(v)).rjust(5 if arr.size > 1 and not arr.all() and
                                                      arr.any() else 0)}
    if kind in "iu":
        width = max((len(str(v)) for v in _sample(arr)), default=0)
        return {"int": lambda v: str(v).rjust(width)}
    return {}


def _sample(arr: np.ndarray) -> np.ndarray:
    """The values that will be printed (edges only for summarised tensors)."""
    if arr.size <= _PRINT["threshold"]:
        return arr.ravel()
    e = _PRINT["edgeitems"]
    sl = arr
    for ax in range(arr.ndim):
        if sl.shape[ax] > 2 * e:
            idx = np.r_[0:e, sl.shape[ax] - e:sl.shape[ax]]
            sl = np.take(sl, idx, axis=ax)
    return sl.ravel()


def format_array(arr: np.ndarray, prefix: str) -> str:
    if arr.ndim == 0:
        fmt = _formatter(arr)
        v = arr.item()
        for f in fmt.values():
            return f(v).strip()
        return str(v)
    return np.array2string(
        arr, separator=", ", prefix=prefix, formatter=_formatter(arr),
        threshold=_PRINT["threshold"], edgeitems=_PRINT["edgeitems"],
        max_line_width=_PRINT["linewidth"],
    )


def tensor_repr(t: Any, prefix: str = "tensor(") -> str:
    arr = t._data
    suffixes = []
    if arr.size == 0 and arr.ndim != 1:
        body = "[]"
        suffixes.append(f"size={tuple(arr.shape)}")
    elif arr.size == 0:
        body = "[]"
    else:
        body = format_array(arr, prefix)
    dt = t.dtype
    default_float = D.get_default_dtype()
    implicit = {default_float, D.int64, D.bool, default_float.to_complex()}
    if dt not in implicit or (arr.size == 0 and dt is not default_float):
        suffixes.append(f"dtype=lucid.{dt.name}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    s = prefix + body
    for suf in suffixes:
        s += ", " + suf
    return s + ")"
