"""Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lucid._tensor import Tensor
from lucid.autograd.grad_mode import no_grad
from lucid.optim.optimizer import Optimizer, _check_flags, _check_lr

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum).

    With gradient :math:`g_t` (negated when ``maximize``), weight decay :math:`\lambda`,
    momentum :math:`\mu` and dampening :math:`\tau`, each step does::

        g = g + λ θ                                   (weight_decay != 0)
        b = g  (first step)  or  b = μ b + (1 - τ) g  (momentum != 0)
        g = g + μ b  (nesterov)  or  g = b
        θ = θ - lr g

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters to optimize, or parameter groups.
    lr : float, default 1e-3
        Learning rate.
    momentum : float, default 0
        Momentum factor.
    dampening : float, default 0
        Dampening of the momentum.
    weight_decay : float, default 0
        L2 penalty coefficient.
    nesterov : bool, default False
        Use Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
    maximize : bool, default False
        Maximize the objective instead of minimizing it.
    foreach, fused : bool, optional
        Accepted for PyTorch compatibility; lucid has one (vectorized) implementation.
    differentiable : bool, default False
        Must be False: lucid does not differentiate through optimizer steps.

    Examples
    --------
    >>> import lucid
    >>> w = lucid.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = lucid.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_flags("SGD", differentiable=differentiable)
        defaults = {
            "lr": lr, "momentum": momentum, "dampening": dampening,
            "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
            "foreach": foreach, "differentiable": differentiable, "fused": fused,
        }
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step; returns the closure's loss if one is given.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss (run with gradients enabled).
        """
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            maximize = group["maximize"]
            for p, param, grad in self._params_with_grad(group):
                if maximize:
                    grad = -grad
                if weight_decay != 0:
                    grad = grad + weight_decay * param
                if momentum != 0:
                    state = self.state[p]
                    buf_t = state.get("momentum_buffer")
                    if buf_t is None:
                        buf = grad.copy()
                        state["momentum_buffer"] = Tensor._make(buf)
                    else:
                        buf = buf_t._data
                        buf *= momentum
                        buf += (1 - dampening) * grad
                    grad = grad + momentum * buf if nesterov else buf
                param += -lr * grad
        return loss
