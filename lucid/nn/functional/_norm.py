"""Normalization: ``F.batch_norm``, ``F.layer_norm`` and ``F.group_norm``.

All three standardize ``x`` over some axes, ``(x - mean) / sqrt(var + eps)`` with the biased
variance, then apply an optional per-channel (or per-element) affine map. The standardization
is one :class:`~lucid.autograd.Function` with the closed-form backward
``invstd * (g - mean(g) - xhat * mean(g * xhat))``; the affine map is ordinary lucid
arithmetic. Statistics are accumulated in float64 (PyTorch accumulates in double on the CPU).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lucid._tensor import Tensor
from lucid.autograd.function import Function
from lucid.autograd.grad_mode import is_grad_enabled, no_grad

__all__ = ["batch_norm", "group_norm", "layer_norm"]


# --------------------------------------------------------------------------- core
class _Standardize(Function):
    """``xhat = (x - mean) / sqrt(var + eps)`` with the statistics of ``x`` over ``axes``.

    Returns ``xhat`` and the batch ``mean`` and biased ``var`` (float64, kept dims; they
    carry no gradient). Backward uses the closed form; when a graph of the gradient is being
    recorded it recomputes the statistics as differentiable functions of ``x`` instead.
    """

    _array_forward = True

    @staticmethod
    def forward(ctx, x, axes, eps):
        dt = x.dtype
        mean = np.mean(x, axis=axes, dtype=np.float64, keepdims=True)
        xhat = x - mean.astype(dt)
        var = np.mean(np.square(xhat), axis=axes, dtype=np.float64, keepdims=True)
        invstd = (1 / np.sqrt(var + eps)).astype(dt)
        xhat *= invstd
        ctx.save_for_backward(x)
        ctx.axes, ctx.eps, ctx.mean, ctx.invstd = axes, eps, mean.astype(dt), invstd
        stats = Tensor._make(mean), Tensor._make(var)
        ctx.mark_non_differentiable(*stats)
        return Tensor._make(xhat), *stats

    @staticmethod
    def backward(ctx, g, _g_mean, _g_var):
        (x,) = ctx.saved_tensors
        if not is_grad_enabled():
            return Tensor._make(_standardize_grad(x._data, g._data, ctx)), None, None
        axes = ctx.axes
        centered = x - x.mean(axes, keepdim=True)
        invstd = ((centered * centered).mean(axes, keepdim=True) + ctx.eps).rsqrt()
        xhat = centered * invstd
        mean_g = g.mean(axes, keepdim=True)
        mean_gx = (g * xhat).mean(axes, keepdim=True)
        return invstd * (g - mean_g - xhat * mean_gx), None, None


def _standardize_grad(x: np.ndarray, g: np.ndarray, ctx: Any) -> np.ndarray:
    """``invstd * (g - mean(g) - xhat * mean(g * xhat))`` on arrays (first order)."""
    dt, axes = x.dtype, ctx.axes
    xhat = (x - ctx.mean) * ctx.invstd
    mean_g = np.mean(g, axis=axes, dtype=np.float64, keepdims=True).astype(dt)
    mean_gx = np.mean(g * xhat, axis=axes, dtype=np.float64, keepdims=True).astype(dt)
    xhat *= mean_gx
    gx = g - mean_g
    gx -= xhat
    gx *= ctx.invstd
    return gx


def _standardize(x: Tensor, axes: tuple[int, ...], eps: float) -> Tensor:
    return _Standardize.apply(x, axes, eps)[0]


def _check_args(name: str, input: Any, **tensors: Any) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input._data.dtype.kind != "f":
        raise NotImplementedError(
            f"{name}(): expected a floating point input, but got a tensor of dtype {input.dtype}"
        )
    for arg, t in tensors.items():
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not {type(t).__name__}")
        if t.dtype != input.dtype:
            raise RuntimeError(
                f"{name}(): expected {arg} to have the input's dtype {input.dtype}, but got "
                f"{t.dtype}"
            )


def _channel_shape(ndim: int, channels: int) -> tuple[int, ...]:
    """``(1, C, 1, ...)``: a per-channel vector broadcast against ``(N, C, *)``."""
    return (1, channels) + (1,) * (ndim - 2)


def _affine(x: Tensor, weight: Tensor | None, bias: Tensor | None,
            shape: tuple[int, ...]) -> Tensor:
    if weight is not None:
        x = x * weight.reshape(shape)
    if bias is not None:
        x = x + bias.reshape(shape)
    return x


def _verify_batch_size(size: Sequence[int]) -> None:
    values_per_channel = size[0] * math.prod(size[2:])
    if values_per_channel == 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size {list(size)}"
        )


# --------------------------------------------------------------------------- batch norm
def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization over every dimension but the channel dimension 1.

    In training mode the batch statistics normalize ``input`` and, when given, the running
    statistics are updated in place:
    ``running = (1 - momentum) * running + momentum * batch_stat``, with the unbiased batch
    variance for ``running_var``. In evaluation mode the running statistics normalize.

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, *)``.
    running_mean, running_var : Tensor or None
        Shape ``(C,)``; required in evaluation mode, optional (both or neither) in training.
    weight, bias : Tensor, optional
        Per-channel scale and shift, shape ``(C,)``.
    training : bool, default False
        Use (and record) batch statistics.
    momentum : float, default 0.1
        Weight of the new batch statistics in the running averages.
    eps : float, default 1e-5
        Added to the variance for numerical stability.

    Returns
    -------
    Tensor
        Same shape as ``input``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> x = lucid.tensor([[1.0], [3.0]])
    >>> mean, var = lucid.zeros(1), lucid.ones(1)
    >>> F.batch_norm(x, mean, var, training=True)
    tensor([[-1.0000],
            [ 1.0000]])
    >>> mean, var
    (tensor([0.2000]), tensor([1.1000]))
    """
    _check_args("batch_norm", input, running_mean=running_mean, running_var=running_var,
                weight=weight, bias=bias)
    if input.ndim < 2:
        raise ValueError(
            f"batch_norm(): expected an input of shape (N, C, *), got shape {tuple(input.shape)}"
        )
    channels = input.shape[1]
    for arg, t in (("running_mean", running_mean), ("running_var", running_var),
                   ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != channels:
            raise RuntimeError(f"batch_norm(): {arg} should contain {channels} elements not "
                               f"{t.numel()}")
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must either both be None or neither be None")
    if training:
        _verify_batch_size(input.shape)
        if eps <= 0.0:
            raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    else:
        if eps < 0.0:
            raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
        if running_mean is None:
            raise RuntimeError("batch_norm(): running_mean must be defined in evaluation mode")
    shape = _channel_shape(input.ndim, channels)
    if not training:
        return _batch_norm_eval(input, running_mean, running_var, weight, bias, eps, shape)
    axes = (0,) + tuple(range(2, input.ndim))
    if input.numel() == 0:
        return _affine(input * 1, weight, bias, shape)
    xhat, mean, var = _Standardize.apply(input, axes, eps)
    if running_mean is not None:
        _update_running_stats(running_mean, running_var, mean._data, var._data, momentum,
                              input.numel() // channels)
    return _affine(xhat, weight, bias, shape)


def _update_running_stats(running_mean: Tensor, running_var: Tensor, mean: np.ndarray,
                          var: np.ndarray, momentum: float, n: int) -> None:
    unbiased = var.reshape(-1) * (n / (n - 1))
    new_mean = momentum * mean.reshape(-1) + (1 - momentum) * running_mean._data.reshape(-1)
    new_var = momentum * unbiased + (1 - momentum) * running_var._data.reshape(-1)
    with no_grad():
        running_mean.copy_(Tensor._make(new_mean.reshape(running_mean.shape)))
        running_var.copy_(Tensor._make(new_var.reshape(running_var.shape)))


def _batch_norm_eval(input: Tensor, running_mean: Tensor, running_var: Tensor,
                     weight: Tensor | None, bias: Tensor | None, eps: float,
                     shape: tuple[int, ...]) -> Tensor:
    # PyTorch's form: y = x * alpha + beta, alpha = weight / sqrt(var + eps),
    # beta = bias - mean * alpha
    invstd = 1 / np.sqrt(running_var._data.reshape(-1).astype(np.float64) + eps)
    alpha = Tensor._make(invstd.astype(input._data.dtype))
    if weight is not None:
        alpha = alpha * weight.reshape(-1)
    beta = -Tensor._make(running_mean._data.reshape(-1)) * alpha
    if bias is not None:
        beta = beta + bias.reshape(-1)
    return input * alpha.reshape(shape) + beta.reshape(shape)


# --------------------------------------------------------------------------- layer norm
def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalization over the trailing ``normalized_shape`` dimensions.

    Parameters
    ----------
    input : Tensor
        Shape ``(*, *normalized_shape)``.
    normalized_shape : int or sequence of int
        The trailing dimensions to normalize over (at least one).
    weight, bias : Tensor, optional
        Element-wise scale and shift of shape ``normalized_shape``.
    eps : float, default 1e-5
        Added to the variance for numerical stability.

    Returns
    -------
    Tensor
        Same shape as ``input``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.layer_norm(lucid.tensor([[1.0, 3.0], [2.0, 6.0]]), (2,))
    tensor([[-1.0000,  1.0000],
            [-1.0000,  1.0000]])
    """
    _check_args("layer_norm", input, weight=weight, bias=bias)
    norm_shape = _as_shape(normalized_shape)
    k = len(norm_shape)
    if input.shape[input.ndim - k:] != norm_shape or input.ndim < k:
        raise RuntimeError(
            f"Given normalized_shape={list(norm_shape)}, expected input with shape "
            f"[*, {', '.join(map(str, norm_shape))}], but got input of size {list(input.shape)}"
        )
    for arg, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != norm_shape:
            raise RuntimeError(
                f"Expected {arg} to be of same shape as normalized_shape, but got {arg} of shape "
                f"{list(t.shape)} and normalized_shape = {list(norm_shape)}"
            )
    xhat = _standardize(input, tuple(range(input.ndim - k, input.ndim)), eps)
    return _affine(xhat, weight, bias, norm_shape)


def _as_shape(normalized_shape: Any) -> tuple[int, ...]:
    if isinstance(normalized_shape, (int, np.integer)) and not isinstance(normalized_shape, bool):
        return (int(normalized_shape),)
    try:
        shape = tuple(normalized_shape)
    except TypeError:
        raise TypeError(
            f"layer_norm(): normalized_shape must be an int or a sequence of ints, got "
            f"{normalized_shape!r}"
        ) from None
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape):
        raise TypeError(
            f"layer_norm(): normalized_shape must contain ints, got {normalized_shape!r}"
        )
    if not shape:
        raise RuntimeError(
            "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least "
            "one element, but got normalized_shape = []"
        )
    return tuple(int(s) for s in shape)


# --------------------------------------------------------------------------- group norm
def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Group normalization: channels split into ``num_groups`` groups, each normalized with
    its own statistics over its channels and all spatial positions.

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, *)`` with ``C`` divisible by ``num_groups``.
    num_groups : int
        Number of channel groups.
    weight, bias : Tensor, optional
        Per-channel scale and shift, shape ``(C,)``.
    eps : float, default 1e-5
        Added to the variance for numerical stability.

    Returns
    -------
    Tensor
        Same shape as ``input``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.group_norm(lucid.tensor([[1.0, 3.0, 5.0, 9.0]]), 2)
    tensor([[-1.0000,  1.0000, -1.0000,  1.0000]])
    """
    _check_args("group_norm", input, weight=weight, bias=bias)
    if input.ndim < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.ndim}"
        )
    if not isinstance(num_groups, (int, np.integer)) or num_groups <= 0:
        raise ValueError(f"group_norm(): num_groups must be a positive int, got {num_groups!r}")
    n, channels = input.shape[:2]
    if channels % num_groups:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {list(input.shape)} and num_groups={num_groups}"
        )
    for arg, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.shape[0] != channels):
            raise RuntimeError(
                f"Expected {arg} to be a vector of size equal to the number of channels in "
                f"input, but got {arg} of shape {list(t.shape)} and input of shape "
                f"{list(input.shape)}"
            )
    _verify_batch_size([n * channels // num_groups, num_groups, *input.shape[2:]])
    group_size = channels // num_groups * math.prod(input.shape[2:])
    grouped = input.reshape(n, num_groups, group_size)
    xhat = _standardize(grouped, (2,), eps).reshape(input.shape)
    return _affine(xhat, weight, bias, _channel_shape(input.ndim, channels))
