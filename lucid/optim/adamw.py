"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2017)."""

from __future__ import annotations

from typing import Any

from lucid.optim.adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""Adam with decoupled weight decay: the weights shrink by ``lr * weight_decay`` each
    step instead of the decay being added to the gradient.

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
    weight_decay : float, default 1e-2
        Decoupled weight decay coefficient.
    amsgrad : bool, default False
        Use the maximum of past squared-gradient averages (AMSGrad).
    maximize : bool, default False
        Maximize the objective instead of minimizing it.
    foreach, fused : bool, optional
        Accepted for PyTorch compatibility; lucid has one (vectorized) implementation.
    capturable, differentiable : bool, default False
        Must be False.

    Examples
    --------
    >>> import lucid
    >>> w = lucid.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = lucid.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.8500, -1.8000], requires_grad=True)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
            capturable=capturable, differentiable=differentiable, fused=fused,
            decoupled_weight_decay=True,
        )
