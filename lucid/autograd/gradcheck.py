"""Finite-difference checks of analytical gradients (use float64 inputs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd.grad_mode import enable_grad, no_grad


def _tensors(out: Any) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    return [o for o in out if isinstance(o, Tensor)]


def _flat(outs: list[Tensor]) -> np.ndarray:
    return np.concatenate([o._data.astype(np.complex128 if o.is_complex() else np.float64)
                           .reshape(-1) for o in outs]) if outs else np.zeros(0)


def _numerical(func: Callable[..., Any], inputs: list[Any], x: Tensor, eps: float
               ) -> np.ndarray:
    """d(all outputs, flattened) / d(x), by central differences (rows: elements of x)."""
    data = x._data
    rows = []
    with no_grad():
        for idx in np.ndindex(data.shape):
            orig = data[idx].copy()
            data[idx] = orig + eps
            plus = _flat(_tensors(func(*inputs)))
            data[idx] = orig - eps
            minus = _flat(_tensors(func(*inputs)))
            data[idx] = orig
            rows.append((plus - minus) / (2 * eps))
    return np.array(rows).reshape(data.size, -1)


def _analytical(outs: list[Tensor], checked: list[Tensor]) -> list[np.ndarray]:
    """One Jacobian per checked input (rows: its elements; columns: all output elements)."""
    from lucid.autograd import grad

    cols: list[list[np.ndarray]] = [[] for _ in checked]
    for out in outs:
        for k in range(out.numel()):
            if not out.requires_grad:
                got: tuple[Any, ...] = (None,) * len(checked)
            else:
                onehot = np.zeros(out.numel(), dtype=out._data.dtype)
                onehot[k] = 1
                got = grad(out, checked, Tensor._make(onehot.reshape(out.shape)),
                           retain_graph=True, allow_unused=True)
            for c, (t, g) in zip(cols, zip(checked, got)):
                c.append(np.zeros(t.numel()) if g is None else g._data.reshape(-1))
    return [np.stack(c, axis=1) if c else np.zeros((t.numel(), 0))
            for c, t in zip(cols, checked)]


def gradcheck(
    func: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compare ``func``'s analytical gradients with central finite differences.

    Parameters
    ----------
    func : callable
        Takes ``inputs`` and returns a tensor or a tuple of tensors.
    inputs : Tensor or sequence
        Arguments; the tensors with ``requires_grad=True`` are checked (use float64).
    eps, atol, rtol : float
        Perturbation and tolerances.
    raise_exception : bool, default True
        Raise ``RuntimeError`` on a mismatch instead of returning ``False``.

    Returns
    -------
    bool
        True when every Jacobian entry matches.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.randn(3, dtype=lucid.float64, requires_grad=True)
    >>> lucid.autograd.gradcheck(lambda t: (t * t).sin(), x)
    True
    """
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    checked = [t for t in ins if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, "
                         "but none of them have requires_grad=True.")
    analytical = _analytical(_tensors(func(*ins)), checked)
    for i, (t, ana) in enumerate(zip(checked, analytical)):
        num = _numerical(func, ins, t, eps)
        if not np.allclose(ana, num, atol=atol, rtol=rtol):
            if not raise_exception:
                return False
            err = np.abs(ana - num).max()
            raise RuntimeError(
                f"Jacobian mismatch for input {i} (shape {tuple(t.shape)}): max abs difference "
                f"{err:.3g}\nnumerical:\n{num}\nanalytical:\n{ana}"
            )
    return True


def gradgradcheck(func: Callable[..., Any], inputs: Tensor | Sequence[Any], eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check second derivatives: :func:`gradcheck` of the first gradients (contracted with
    fixed random output gradients) with respect to the inputs.

    Parameters are those of :func:`gradcheck`.
    """
    from lucid.autograd import grad

    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    rng = np.random.default_rng(0)
    go = [Tensor._make(rng.standard_normal(o.shape).astype(o._data.dtype))
          for o in _tensors(func(*ins)) if o.requires_grad]

    def first_gradients(*args: Any) -> tuple[Tensor, ...]:
        with enable_grad():  # also while gradcheck evaluates finite differences
            outs = [o for o in _tensors(func(*args)) if o.requires_grad]
            diff = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
            return grad(outs, diff, go, create_graph=True, materialize_grads=True)

    return gradcheck(first_gradients, ins, eps, atol, rtol, raise_exception)
