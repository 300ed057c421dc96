"""RMSprop: scale each step by a running root mean square of the gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd.grad_mode import no_grad
from lucid.optim.optimizer import Optimizer, _check_flags, _check_lr, _lerp_, _real_view

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""The RMSprop optimizer (Hinton), with PyTorch's exact update.

    Each step, with gradient ``g`` (negated when ``maximize``)::

        g = g + λ θ                             (weight_decay != 0)
        v = α v + (1 - α) g²
        d = sqrt(v - ḡ²) + eps  with ḡ = α ḡ + (1 - α) g   (centered)
        d = sqrt(v) + eps                       (otherwise)
        b = μ b + g / d;  θ = θ - lr b          (momentum > 0)
        θ = θ - lr g / d                        (otherwise)

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters to optimize, or parameter groups.
    lr : float, default 1e-2
        Learning rate.
    alpha : float, default 0.99
        Smoothing constant of the squared-gradient average.
    eps : float, default 1e-8
        Added to the denominator for numerical stability.
    weight_decay : float, default 0
        L2 penalty coefficient.
    momentum : float, default 0
        Momentum factor.
    centered : bool, default False
        Normalize by an estimate of the gradient's variance instead of its second moment.
    capturable, differentiable : bool, default False
        Must be False.
    foreach : bool, optional
        Accepted for PyTorch compatibility; lucid has one (vectorized) implementation.
    maximize : bool, default False
        Maximize the objective instead of minimizing it.

    Notes
    -----
    The per-parameter state holds ``step`` (a float32 scalar tensor), ``square_avg`` and,
    when used, ``momentum_buffer`` and ``grad_avg``.

    Examples
    --------
    >>> import lucid
    >>> w = lucid.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = lucid.optim.RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        _check_flags("RMSprop", capturable=capturable, differentiable=differentiable)
        defaults = {
            "lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
            "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach,
            "maximize": maximize, "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _state_for(self, p: Tensor, momentum: float, centered: bool) -> dict[str, Any]:
        state = self.state[p]
        if len(state) == 0:
            state["step"] = Tensor._make(np.zeros((), np.float32))
            state["square_avg"] = Tensor._make(np.zeros_like(p._data))
            if momentum > 0:
                state["momentum_buffer"] = Tensor._make(np.zeros_like(p._data))
            if centered:
                state["grad_avg"] = Tensor._make(np.zeros_like(p._data))
        return state

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
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            weight_decay, momentum = group["weight_decay"], group["momentum"]
            centered, maximize = group["centered"], group["maximize"]
            for p, param, grad in self._params_with_grad(group):
                state = self._state_for(p, momentum, centered)
                if maximize:
                    grad = -grad
                state["step"]._data += 1
                if weight_decay != 0:
                    grad = grad + weight_decay * param
                grad, param = _real_view(grad), _real_view(param)
                square_avg = _real_view(state["square_avg"]._data)
                square_avg *= alpha
                square_avg += (1 - alpha) * grad * grad
                if centered:
                    grad_avg = _real_view(state["grad_avg"]._data)
                    _lerp_(grad_avg, grad, 1 - alpha)
                    avg = square_avg - grad_avg * grad_avg
                    np.sqrt(avg, out=avg)
                else:
                    avg = np.sqrt(square_avg)
                avg += eps
                if momentum > 0:
                    buf = _real_view(state["momentum_buffer"]._data)
                    buf *= momentum
                    buf += grad / avg
                    param += -lr * buf
                else:
                    param += (-lr * grad) / avg
        return loss
