"""PyTorch-style printing of tensors (a port of ``torch/_tensor_str.py``).

One formatter per tensor decides, from the non-zero finite values, between integer style
(``1.``), fixed point (``1.0000``) and scientific notation (``1.0000e+05``) and pads every
value to a common width; rows wrap at ``linewidth`` and tensors with more than
``threshold`` elements are summarised with ``...``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lucid import _dtype as D


@dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrintOptions()


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set how tensors print, like ``torch.set_printoptions``.

    Parameters
    ----------
    precision : int, optional
        Digits after the decimal point (default 4).
    threshold : float, optional
        Element count above which tensors are summarised (default 1000).
    edgeitems : int, optional
        Items shown at each end of a summarised dimension (default 3).
    linewidth : int, optional
        Characters per line (default 80).
    profile : {'default', 'short', 'full'}, optional
        A preset applied before the other arguments.
    sci_mode : bool, optional
        Force (True) or forbid (False) scientific notation; ``None`` chooses automatically.

    Examples
    --------
    >>> import lucid
    >>> lucid.set_printoptions(precision=2)
    >>> lucid.tensor([1.12345])
    tensor([1.12])
    >>> lucid.set_printoptions(profile="default")
    """
    presets = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80),
               "full": (4, math.inf, 3, 80)}
    if profile is not None:
        if profile not in presets:
            raise ValueError(f"profile must be one of {sorted(presets)}, got {profile!r}")
        (PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems,
         PRINT_OPTS.linewidth) = presets[profile]
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            setattr(PRINT_OPTS, name, value)
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    """The current print options as a dict (accepted by :func:`set_printoptions`)."""
    return asdict(PRINT_OPTS)


class _Formatter:
    """Chooses one style and width for all values of a (summarised) array."""

    def __init__(self, values: np.ndarray) -> None:
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        nonzero = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if nonzero.size == 0:
            return
        absval = np.abs(nonzero)
        lo, hi = absval.min(), absval.max()
        self.int_mode = bool(np.all(nonzero == np.ceil(nonzero)))
        if PRINT_OPTS.sci_mode is None:
            self.sci_mode = bool(hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4)
        else:
            self.sci_mode = PRINT_OPTS.sci_mode
        p = PRINT_OPTS.precision
        for v in nonzero.tolist():
            if self.sci_mode:
                width = len(f"{v:.{p}e}")
            elif self.int_mode:
                width = len(f"{v:.0f}") + 1
            else:
                width = len(f"{v:.{p}f}")
            self.max_width = max(self.max_width, width)

    def format(self, value: Any) -> str:
        """One value, right-aligned to the common width."""
        if self.floating:
            p = PRINT_OPTS.precision
            if self.sci_mode:
                ret = f"{value:{self.max_width}.{p}e}"
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{value:.{p}f}"
        else:
            ret = str(value)
        return (self.max_width - len(ret)) * " " + ret


def _summarized(arr: np.ndarray) -> np.ndarray:
    """The values a summarised print shows (``edgeitems`` at both ends of each dim)."""
    e = PRINT_OPTS.edgeitems
    for ax in range(arr.ndim):
        if arr.shape[ax] > 2 * e:
            arr = np.take(arr, np.r_[0:e, arr.shape[ax] - e:arr.shape[ax]], axis=ax)
    return arr


def _value_str(v: Any, f1: _Formatter, f2: _Formatter | None) -> str:
    if f2 is None:
        return f1.format(v)
    real = f1.format(v.real)
    imag = (f2.format(v.imag) + "j").lstrip()
    return real + imag if imag[0] in "+-" else real + "+" + imag


def _vector_str(arr: np.ndarray, indent: int, summarize: bool, f1: _Formatter,
                f2: _Formatter | None) -> str:
    element_length = f1.max_width + 2 + (f2.max_width + 1 if f2 is not None else 0)
    per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / element_length))
    e = PRINT_OPTS.edgeitems
    if summarize and arr.shape[0] > 2 * e:
        data = ([_value_str(v, f1, f2) for v in arr[:e].tolist()] + [" ..."]
                + [_value_str(v, f1, f2) for v in arr[-e:].tolist()])
    else:
        data = [_value_str(v, f1, f2) for v in arr.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str(arr: np.ndarray, indent: int, summarize: bool, f1: _Formatter,
                f2: _Formatter | None) -> str:
    if arr.ndim == 0:
        return _value_str(arr.item(), f1, f2)
    if arr.ndim == 1:
        return _vector_str(arr, indent, summarize, f1, f2)
    e = PRINT_OPTS.edgeitems
    n = arr.shape[0]
    rows = list(range(e)) + [None] + list(range(n - e, n)) if summarize and n > 2 * e \
        else list(range(n))
    slices = ["..." if i is None else _tensor_str(arr[i], indent + 1, summarize, f1, f2)
              for i in rows]
    return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def format_values(arr: np.ndarray, indent: int) -> str:
    """The bracketed values of an array, as PyTorch prints them."""
    if arr.size == 0:
        return "[]"
    summarize = arr.size > PRINT_OPTS.threshold
    shown = _summarized(arr) if summarize else arr
    if arr.dtype.kind == "c":
        return _tensor_str(arr, indent, summarize, _Formatter(shown.real),
                           _Formatter(shown.imag))
    return _tensor_str(arr, indent, summarize, _Formatter(shown), None)


def _add_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(t: Any) -> str:
    """``repr`` of a tensor: ``tensor(values, dtype=..., grad_fn=<...>)``.

    The dtype is shown unless it is the default float dtype, its complex counterpart,
    ``int64`` or ``bool``; subclasses other than ``Parameter`` print their class name.
    """
    name = type(t).__name__
    prefix = "tensor(" if name in ("Tensor", "Parameter") else f"{name}("
    indent = len(prefix)
    arr = t._data
    default = D.get_default_dtype()
    suffixes = []
    if arr.size == 0:
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
        if t.dtype is not default:
            suffixes.append(f"dtype={t.dtype!r}")
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(f"size={tuple(arr.shape)}")
        if t.dtype not in (default, default.to_complex(), D.int64, D.bool):
            suffixes.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + format_values(arr, indent), suffixes, indent)
