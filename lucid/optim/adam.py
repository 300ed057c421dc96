"""Adam: adaptive moment estimation, with optional AMSGrad and decoupled weight decay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd.grad_mode import no_grad
from lucid.optim.optimizer import Optimizer, _check_flags, _check_lr, _lerp_, _real_view

__all__ = ["Adam"]


class Adam(Optimizer):
    r"""The Adam optimizer (Kingma & Ba, 2014), with PyTorch's exact update.

    Each step, with gradient ``g`` (negated when ``maximize``) and step count ``t``::

        g = g + λ θ                       (weight_decay, unless decoupled)
        θ = θ (1 - lr λ)                  (weight_decay with decoupled_weight_decay)
        m = β1 m + (1 - β1) g
        v = β2 v + (1 - β2) g²
        v̂ = max(v̂, v)                     (amsgrad; v̂ replaces v below)
        θ = θ - lr / (1 - β1^t) · m / (sqrt(v) / sqrt(1 - β2^t) + eps)

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters to optimize, or parameter groups.
    lr : float, default 1e-3
        Learning rate.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates of the running averages of the gradient and its square.
    eps : float, default 1e-8
        Added to the denominator for numerical stability.
    weight_decay : float, default 0
        Weight decay coefficient (an L2 penalty unless ``decoupled_weight_decay``).
    amsgrad : bool, default False
        Use the maximum of past squared-gradient averages (AMSGrad).
    maximize : bool, default False
        Maximize the objective instead of minimizing it.
    decoupled_weight_decay : bool, default False
        Shrink the weights directly (AdamW) instead of adding the decay to the gradient.
    foreach, fused : bool, optional
        Accepted for PyTorch compatibility; lucid has one (vectorized) implementation.
    capturable, differentiable : bool, default False
        Must be False (CUDA graphs and differentiating through steps are not supported).

    Notes
    -----
    The per-parameter state holds ``step`` (a float32 scalar tensor), ``exp_avg``,
    ``exp_avg_sq`` and, with AMSGrad, ``max_exp_avg_sq``. Complex parameters are updated as
    pairs of reals, like PyTorch.

    Examples
    --------
    >>> import lucid
    >>> w = lucid.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = lucid.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not (isinstance(betas[0], float) and isinstance(betas[1], float)):
            raise ValueError(f"betas must be a pair of floats, got {tuple(betas)}")
        _check_flags(type(self).__name__, capturable=capturable, differentiable=differentiable)
        defaults = {
            "lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
            "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
            "capturable": capturable, "differentiable": differentiable, "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _state_for(self, p: Tensor, amsgrad: bool) -> dict[str, Any]:
        state = self.state[p]
        if len(state) == 0:
            state["step"] = Tensor._make(np.zeros((), np.float32))
            state["exp_avg"] = Tensor._make(np.zeros_like(p._data))
            state["exp_avg_sq"] = Tensor._make(np.zeros_like(p._data))
            if amsgrad:
                state["max_exp_avg_sq"] = Tensor._make(np.zeros_like(p._data))
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
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
            decoupled, maximize = group["decoupled_weight_decay"], group["maximize"]
            for p, param, grad in self._params_with_grad(group):
                state = self._state_for(p, amsgrad)
                if maximize:
                    grad = -grad
                step_t = state["step"]._data
                step_t += 1
                step = float(step_t)
                if weight_decay != 0:
                    if decoupled:
                        param *= 1 - lr * weight_decay
                    else:
                        grad = grad + weight_decay * param
                grad, param = _real_view(grad), _real_view(param)
                exp_avg = _real_view(state["exp_avg"]._data)
                exp_avg_sq = _real_view(state["exp_avg_sq"]._data)
                _lerp_(exp_avg, grad, 1 - beta1)
                exp_avg_sq *= beta2
                exp_avg_sq += (1 - beta2) * grad * grad
                bias_correction1 = 1 - beta1**step
                bias_correction2_sqrt = (1 - beta2**step) ** 0.5
                if amsgrad:
                    max_sq = _real_view(state["max_exp_avg_sq"]._data)
                    np.maximum(max_sq, exp_avg_sq, out=max_sq)
                    denom = np.sqrt(max_sq)
                else:
                    denom = np.sqrt(exp_avg_sq)
                denom /= bias_correction2_sqrt
                denom += eps
                update = -(lr / bias_correction1) * exp_avg
                update /= denom
                param += update
        return loss
