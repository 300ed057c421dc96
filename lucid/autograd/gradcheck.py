"""Finite-difference checks of analytical gradients (use float64 inputs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lucid._tensor import Tensor


def _flat_outputs(out: Any) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    return [o for o in out if isinstance(o, Tensor)]


def _numerical_jacobian(fn: Callable[..., Any], inputs: list[Any], i: int, eps: float,
                        out_sizes: list[int]) -> list[np.ndarray]:
    x = inputs[i]
    data = x._data
    flat = data.reshape(-1)
    jac = [np.zeros((data.size, n), dtype=np.float64) for n in out_sizes]
    from lucid.autograd.grad_mode import no_grad

    with no_grad():
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            plus = [o._data.astype(np.float64).ravel() for o in _flat_outputs(fn(*inputs))]
            flat[k] = orig - eps
            minus = [o._data.astype(np.float64).ravel() for o in _flat_outputs(fn(*inputs))]
            flat[k] = orig
            for j in range(len(jac)):
                jac[j][k] = (plus[j] - minus[j]) / (2 * eps)
    return jac


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
        Arguments; the floating tensors with ``requires_grad=True`` are checked
        (double precision is strongly recommended).
    eps, atol, rtol : float
        Perturbation and tolerances.
    raise_exception : bool, default True
        Raise ``RuntimeError`` on a mismatch instead of returning ``False``.

    Returns
    -------
    bool
        True when every Jacobian entry matches.
    """
    from lucid.autograd import grad

    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    outs = _flat_outputs(func(*ins))
    sizes = [o.numel() for o in outs]
    check = [i for i, t in enumerate(ins) if isinstance(t, Tensor) and t.requires_grad]
    for i in check:
        num = _numerical_jacobian(func, ins, i, eps, sizes)
        for j, out in enumerate(outs):
            ana = np.zeros((ins[i].numel(), sizes[j]), dtype=np.float64)
            if out.requires_grad:
                for k in range(sizes[j]):
                    go = np.zeros(sizes[j], dtype=out._data.dtype)
                    go[k] = 1
                    outs2 = _flat_outputs(func(*ins))
                    (g,) = grad(outs2[j], ins[i], Tensor._make(go.reshape(out.shape)),
                                allow_unused=True)
                    if g is not None:
                        ana[:, k] = g._data.astype(np.float64).ravel()
            if not np.allclose(ana, num[j], atol=atol, rtol=rtol):
                if raise_exception:
                    err = np.abs(ana - num[j]).max()
                    raise RuntimeError(
                        f"Jacobian mismatch for output {j} with respect to input {i}: max "
                        f"abs difference {err:.3g}\nnumerical:\n{num[j]}\nanalytical:\n{ana}"
                    )
                return False
    return True


def gradgradcheck(func: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Check second derivatives: gradcheck of the first gradient (with random ``grad_outputs``)."""
    from lucid.autograd import grad

    ins = list(inputs)
    diff = [t for t in ins if isinstance(t, Tensor) and t.requires_grad]
    rng = np.random.default_rng(0)
    outs = _flat_outputs(func(*ins))
    gos = [Tensor._make(rng.standard_normal(o.shape).astype(o._data.dtype)) for o in outs]

    def first(*args: Any) -> tuple[Tensor, ...]:
        o = _flat_outputs(func(*args))
        d = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
        gs = grad(o, d, gos, create_graph=True, allow_unused=True, materialize_grads=True)
        return tuple(gs)

    del diff
    return gradcheck(first, ins, eps=eps, atol=atol, rtol=rtol)
