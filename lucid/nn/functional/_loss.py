"""Loss functions: regression (MSE, L1, smooth L1) and classification (NLL, cross-entropy, BCE).

Every loss takes ``reduction`` (``'none'``, ``'mean'`` or ``'sum'``) and follows PyTorch's
numbers exactly, including its weighted-mean rule for class weights (the sum of weighted
losses divided by the sum of the weights of the targets that were not ignored).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from lucid import _dtype as D
from lucid._ops._util import result_dtype
from lucid._ops.elementwise import abs as _abs
from lucid._ops.elementwise import clamp, sigmoid, where
from lucid._ops.reduction import log_softmax
from lucid._tensor import Tensor
from lucid.autograd.function import Function

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "l1_loss",
    "mse_loss", "nll_loss", "smooth_l1_loss",
]

_REDUCTIONS = ("none", "mean", "sum")
# PyTorch's floor on x * (1 - x) in the BCE gradient: 1e-12 rounded to float32 (it is held
# as a float even for float64 tensors)
_BCE_EPSILON = float(np.float32(1e-12))
# PyTorch's names of the dtypes, used in the messages it shares with lucid
_TYPE_NAME = {
    "float16": "Half", "float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int",
    "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
    "complex64": "ComplexFloat", "complex128": "ComplexDouble",
}


# --------------------------------------------------------------------------- helpers
def _reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """Resolve the reduction mode, honouring the deprecated ``size_average``/``reduce``."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        mode = ("mean" if size_average else "sum") if reduce else "none"
        warnings.warn(
            f"size_average and reduce args will be deprecated, please use reduction='{mode}' "
            "instead.",
            UserWarning,
            stacklevel=3,
        )
        return mode
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_tensor(fn: str, name: str, value: Any, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' must be Tensor, not {type(value).__name__}")


def _warn_size(input: Tensor, target: Tensor) -> None:
    if input.shape != target.shape:
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            UserWarning,
            stacklevel=4,
        )


def _pointwise_loss(fn: str, input: Any, target: Any, weight: Any, reduction: str,
                    elementwise: Any, floating: bool = False) -> Tensor:
    """Shared body of the regression losses: broadcast, optional weights, reduce."""
    _check_tensor(fn, "input", input)
    _check_tensor(fn, "target", target)
    _check_tensor(fn, "weight", weight, optional=True)
    if floating and not result_dtype(input, target).is_floating_point:
        raise RuntimeError(
            f"{fn}(): expected floating point tensors, got {input.dtype.name} input and "
            f"{target.dtype.name} target"
        )
    _warn_size(input, target)
    if weight is not None and weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = elementwise(input - target)
    if weight is None:
        return _reduce(loss, reduction)
    loss = loss * weight
    if reduction == "mean":
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------- regression
def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """Mean squared error ``(input - target) ** 2``, reduced.

    Parameters
    ----------
    input, target : Tensor
        Predictions and targets; broadcast together (a warning is issued when their shapes
        differ). At least one must be floating point.
    size_average, reduce : bool, optional
        Deprecated; use ``reduction``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        How the element-wise losses are combined.
    weight : Tensor, optional
        Per-element weights of ``input``'s shape; ``'mean'`` then divides by their sum.

    Returns
    -------
    Tensor
        A scalar, or the element-wise losses when ``reduction='none'``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.mse_loss(lucid.tensor([1.0, 2.0, 4.0]), lucid.tensor([1.0, 0.0, 1.0]))
    tensor(4.3333)
    """
    mode = _reduction(size_average, reduce, reduction)
    return _pointwise_loss("mse_loss", input, target, weight, mode, lambda d: d * d,
                           floating=True)


def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """Mean absolute error ``|input - target|``, reduced.

    Parameters
    ----------
    input, target : Tensor
        Predictions and targets; broadcast together (a warning is issued when their shapes
        differ).
    size_average, reduce : bool, optional
        Deprecated; use ``reduction``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        How the element-wise losses are combined.
    weight : Tensor, optional
        Per-element weights of ``input``'s shape; ``'mean'`` then divides by their sum.

    Returns
    -------
    Tensor
        A scalar, or the element-wise losses when ``reduction='none'``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.l1_loss(lucid.tensor([1.0, 2.0, 4.0]), lucid.tensor([1.0, 0.0, 1.0]), reduction="sum")
    tensor(5.)
    """
    mode = _reduction(size_average, reduce, reduction)
    return _pointwise_loss("l1_loss", input, target, weight, mode, _abs)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """Smooth L1 (Huber-like) loss: quadratic below ``beta``, linear above.

    The element-wise loss of ``d = input - target`` is ``0.5 * d**2 / beta`` where
    ``|d| < beta`` and ``|d| - 0.5 * beta`` elsewhere; ``beta=0`` gives the L1 loss.

    Parameters
    ----------
    input, target : Tensor
        Floating-point predictions and targets; broadcast together.
    size_average, reduce : bool, optional
        Deprecated; use ``reduction``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        How the element-wise losses are combined.
    beta : float, default 1.0
        Where the loss switches from quadratic to linear; must be non-negative.

    Returns
    -------
    Tensor
        A scalar, or the element-wise losses when ``reduction='none'``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.smooth_l1_loss(lucid.tensor([0.5, 3.0]), lucid.zeros(2), reduction="none")
    tensor([0.1250, 2.5000])
    """
    mode = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")

    def elementwise(d: Tensor) -> Tensor:
        ad = _abs(d)
        if beta == 0:
            return ad
        return where(ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta)

    return _pointwise_loss("smooth_l1_loss", input, target, None, mode, elementwise,
                           floating=True)


# --------------------------------------------------------------------------- NLL / CE
class _PickNegative(Function):
    """``-weights * input[target]`` along the class dim (the element-wise NLL loss).

    The gradient reaches only the picked entries of kept targets, so an infinite or NaN
    upstream gradient at an ignored target (a mean over zero weight) leaves no trace.
    """

    _array_forward = True

    @staticmethod
    def forward(ctx, x, index, weights, keep, class_dim):
        ctx.shape, ctx.index, ctx.weights = x.shape, index, weights
        ctx.keep, ctx.class_dim = keep, class_dim
        picked = np.take_along_axis(x, index, class_dim)
        return -np.squeeze(picked, class_dim) * weights

    @staticmethod
    def backward(ctx, g):
        d = ctx.class_dim
        coef = np.zeros(ctx.shape, dtype=ctx.weights.dtype)
        np.put_along_axis(coef, ctx.index, -np.expand_dims(ctx.weights, d), d)
        mask = np.zeros(ctx.shape, dtype=bool)
        np.put_along_axis(mask, ctx.index, np.expand_dims(ctx.keep, d), d)
        gx = where(Tensor._make(mask), g.unsqueeze(d) * Tensor._make(coef), 0.0)
        return gx, None, None, None, None


def _class_targets(fn: str, input: Tensor, target: Tensor, weight: Tensor | None,
                   ignore_index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Validate class-index targets.

    Returns the index (targets with the class dim kept, ignored ones set to class 0), the
    per-target weights (zero where ignored), the mask of kept targets and the class dim.
    """
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{fn}(): expected a floating point input, got {input.dtype.name}")
    tgt = target._data
    if tgt.dtype not in (np.int64, np.uint8):
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {_TYPE_NAME[target.dtype.name]}"
        )
    class_dim = 1 if input.ndim >= 2 else 0
    n_classes = input.shape[class_dim]
    if input.ndim == 1:
        if tgt.ndim == 1 and tgt.shape[0] != 1:
            raise ValueError(
                "For 1D input, 1D target must have size 1, but got target size: "
                f"{tgt.shape[0]}"
            )
        if tgt.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        tgt = tgt.reshape(())
    else:
        if tgt.ndim == 0 or input.shape[0] != tgt.shape[0]:
            got = tgt.shape[0] if tgt.ndim else 0
            raise ValueError(
                f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                f"({got})."
            )
        expected = input.shape[:1] + input.shape[2:]
        if tgt.shape != expected:
            if input.ndim == 2:
                raise RuntimeError(
                    "0D or 1D target tensor expected, multi-target not supported"
                )
            raise RuntimeError(
                f"Expected target size {list(expected)}, got {list(tgt.shape)}"
            )
    if weight is not None:
        _check_tensor(fn, "weight", weight)
        if weight.ndim != 1 or weight.shape[0] != n_classes:
            raise RuntimeError(
                f"weight tensor should be defined either for all {n_classes} classes or no "
                f"classes but got weight tensor of shape: {list(weight.shape)}"
            )
        if weight._data.dtype != input._data.dtype:
            raise RuntimeError(
                f"expected scalar type {_TYPE_NAME[input.dtype.name]} but found "
                f"{_TYPE_NAME[weight.dtype.name]}"
            )
    tgt = tgt.astype(np.int64, copy=False)
    keep = tgt != ignore_index
    bad = keep & ((tgt < 0) | (tgt >= n_classes))
    if bad.any():
        raise IndexError(f"Target {int(tgt[bad].reshape(-1)[0])} is out of bounds.")
    safe = np.where(keep, tgt, 0)
    dtype = input._data.dtype
    weights = keep.astype(dtype) if weight is None else np.where(keep, weight._data[safe], 0)
    return (np.expand_dims(safe, class_dim), weights.astype(dtype, copy=False), keep,
            class_dim)


def _nll(input: Tensor, index: np.ndarray, weights: np.ndarray, keep: np.ndarray,
         class_dim: int, reduction: str) -> Tensor:
    losses = _PickNegative.apply(input, index, weights, keep, class_dim)
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return total
    return total / Tensor._make(np.asarray(weights.sum(), dtype=weights.dtype))


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood loss of log-probabilities ``input`` at class indices ``target``.

    Parameters
    ----------
    input : Tensor
        Log-probabilities of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, d2, ...)``.
    target : Tensor
        Class indices (``int64`` or ``uint8``) of shape ``()``, ``(N,)`` or
        ``(N, d1, d2, ...)``, each in ``[0, C)`` or equal to ``ignore_index``.
    weight : Tensor, optional
        A weight per class, shape ``(C,)``, of ``input``'s dtype.
    size_average, reduce : bool, optional
        Deprecated; use ``reduction``.
    ignore_index : int, default -100
        A target value that contributes neither loss nor weight.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        ``'mean'`` divides the sum of weighted losses by the sum of the weights of the
        targets that were not ignored (``nan`` when every target is ignored).

    Returns
    -------
    Tensor
        A scalar, or the per-target losses (``target``'s shape) when ``reduction='none'``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> logp = lucid.tensor([[-0.5, -1.0], [-2.0, -0.1]])
    >>> F.nll_loss(logp, lucid.tensor([0, 1]), reduction="none")
    tensor([0.5000, 0.1000])
    """
    mode = _reduction(size_average, reduce, reduction)
    _check_tensor("nll_loss", "input", input)
    _check_tensor("nll_loss", "target", target)
    index, weights, keep, class_dim = _class_targets("nll_loss", input, target, weight,
                                                     ignore_index)
    return _nll(input, index, weights, keep, class_dim, mode)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between the softmax of logits ``input`` and ``target``.

    ``target`` holds either class indices (an integer tensor with one dimension fewer than
    ``input``) or class probabilities (a floating-point tensor of ``input``'s shape).

    Parameters
    ----------
    input : Tensor
        Unnormalised logits of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, d2, ...)``.
    target : Tensor
        Class indices of shape ``()``, ``(N,)`` or ``(N, d1, ...)`` (``int64``/``uint8``), or
        class probabilities of ``input``'s shape.
    weight : Tensor, optional
        A weight per class, shape ``(C,)``.
    size_average, reduce : bool, optional
        Deprecated; use ``reduction``.
    ignore_index : int, default -100
        A class-index target that contributes nothing (not allowed with probabilities).
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        With class indices ``'mean'`` is the weighted mean over non-ignored targets; with
        probabilities it divides by the number of samples (``N * d1 * ...``).
    label_smoothing : float, default 0.0
        Amount in ``[0, 1]`` of the target mass spread uniformly over the classes.

    Returns
    -------
    Tensor
        A scalar, or one loss per sample when ``reduction='none'``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> logits = lucid.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
    >>> F.cross_entropy(logits, lucid.tensor([0, 2]))
    tensor(0.1755)
    >>> F.cross_entropy(logits, lucid.tensor([0, 2]), label_smoothing=0.1)
    tensor(0.3455)
    """
    mode = _reduction(size_average, reduce, reduction)
    _check_tensor("cross_entropy", "input", input)
    _check_tensor("cross_entropy", "target", target)
    _check_tensor("cross_entropy", "weight", weight, optional=True)
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if input.shape == target.shape:
        return _cross_entropy_probs(input, target, weight, mode, ignore_index, label_smoothing)
    if label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 1 if input.ndim >= 2 else 0
    logp = log_softmax(input, class_dim)
    index, weights, keep, class_dim = _class_targets(
        "cross_entropy", logp, target, weight, ignore_index)
    nll = _nll(logp, index, weights, keep, class_dim, mode)
    if label_smoothing <= 0.0:
        return nll
    wview = _class_view(weight, input.ndim, class_dim)
    smooth = -(logp if wview is None else logp * wview).sum(class_dim)
    smooth = where(Tensor._make(keep), smooth, 0.0)
    if mode == "mean":
        denom = keep.sum() if weight is None else weights.sum()
        smooth = smooth.sum() / Tensor._make(np.asarray(denom, dtype=weights.dtype))
    else:
        smooth = _reduce(smooth, mode)
    n_classes = input.shape[class_dim]
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)


def _class_view(weight: Tensor | None, ndim: int, class_dim: int) -> Tensor | None:
    """``weight`` reshaped to broadcast along the class dim of an ``ndim``-d input."""
    if weight is None:
        return None
    shape = [1] * ndim
    shape[class_dim] = weight.shape[0]
    return weight.detach().reshape(tuple(shape))


def _cross_entropy_probs(input: Tensor, target: Tensor, weight: Tensor | None, reduction: str,
                         ignore_index: int, label_smoothing: float) -> Tensor:
    if target._data.dtype.kind != "f":
        raise RuntimeError(
            "Expected floating point type for target with class probabilities, got "
            f"{_TYPE_NAME[target.dtype.name]}"
        )
    if ignore_index >= 0:
        raise RuntimeError("ignore_index is not supported for floating point target")
    class_dim = 1 if input.ndim >= 2 else 0
    n_classes = input.shape[class_dim]
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != n_classes):
        raise RuntimeError(
            f"cross_entropy: weight tensor should be defined either for all {n_classes} "
            f"classes or no classes but got weight tensor of shape: {list(weight.shape)}"
        )
    logp = log_softmax(input, class_dim)
    if label_smoothing > 0.0:
        if label_smoothing > 1.0:
            raise RuntimeError(
                f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    prod = logp * target
    wview = _class_view(weight, input.ndim, class_dim)
    if wview is not None:
        prod = prod * wview
    if reduction == "none":
        return -prod.sum(class_dim)
    total = -prod.sum()
    if reduction == "sum":
        return total
    if input.numel() == 0:
        return total * float("nan")
    return total / (input.numel() / n_classes)


# --------------------------------------------------------------------------- binary
class _BinaryCrossEntropy(Function):
    """Element-wise BCE of probabilities with PyTorch's log clamp at -100 and its gradient."""

    @staticmethod
    def forward(ctx, x, t):
        ctx.save_for_backward(x, t)
        xa, ta = x._data, t._data
        if not np.all((xa >= 0) & (xa <= 1)):
            raise RuntimeError("all elements of input should be between 0 and 1")
        if not np.all((ta >= 0) & (ta <= 1)):
            raise RuntimeError("all elements of target should be between 0 and 1")
        log_x = np.maximum(np.log(xa), -100)
        log_1mx = np.maximum(np.log1p(-xa), -100)
        return (ta - 1) * log_1mx - ta * log_x

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        nx, nt = ctx.needs_input_grad
        gx = g * (x - t) / clamp((1 - x) * x, min=_BCE_EPSILON) if nx else None
        gt = -g * (x / (1 - x)).log() if nt else None
        return gx, gt


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy between probabilities ``input`` and ``target``.

    The element-wise loss is ``-w * (t * log(x) + (1 - t) * log(1 - x))`` with each log
    clamped to be at least ``-100`` (so the loss stays finite at 0 and 1).

    Parameters
    ----------
    input : Tensor
        Probabilities in ``[0, 1]`` (floating point).
    target : Tensor
        Targets in ``[0, 1]``, same shape and dtype as ``input``.
    weight : Tensor, optional
        Rescaling weights, broadcastable to ``target``'s shape.
    size_average, reduce : bool, optional
        Deprecated; use ``reduction``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        How the element-wise losses are combined.

    Returns
    -------
    Tensor
        A scalar, or the element-wise losses when ``reduction='none'``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.binary_cross_entropy(lucid.tensor([0.9, 0.2, 0.0]), lucid.tensor([1.0, 0.0, 1.0]),
    ...                        reduction="none")
    tensor([  0.1054,   0.2231, 100.0000])
    """
    mode = _reduction(size_average, reduce, reduction)
    _check_tensor("binary_cross_entropy", "input", input)
    _check_tensor("binary_cross_entropy", "target", target)
    _check_tensor("binary_cross_entropy", "weight", weight, optional=True)
    if target.shape != input.shape:
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}) is deprecated. Please ensure they have the same size."
        )
    if input._data.dtype.kind != "f":
        raise RuntimeError(
            f"binary_cross_entropy(): expected a floating point input, got {input.dtype.name}")
    if target._data.dtype != input._data.dtype:
        raise RuntimeError(
            f"Found dtype {_TYPE_NAME[target.dtype.name]} but expected "
            f"{_TYPE_NAME[input.dtype.name]}"
        )
    loss = _BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        _check_weight_shape(weight.shape, target.shape)
        loss = loss * weight.detach()
    return _reduce(loss, mode)


def _check_weight_shape(shape: tuple[int, ...], target: tuple[int, ...]) -> None:
    """Weights broadcast to the loss's shape without enlarging it."""
    try:
        ok = np.broadcast_shapes(shape, target) == target
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(
            f"output with shape {list(target)} doesn't match the broadcast shape of the "
            f"weight {list(shape)}"
        )


def _log_sigmoid(x: Tensor) -> Tensor:
    """``log(sigmoid(x))`` computed stably: ``min(x, 0) - log1p(exp(-|x|))``."""
    return clamp(x, max=0.0) - (-_abs(x)).exp().log1p()


class _BCEWithLogits(Function):
    """Element-wise BCE on logits (PyTorch's formulas for the value and both gradients)."""

    @staticmethod
    def forward(ctx, x, t, weight, pos_weight):
        ctx.save_for_backward(x, t)
        ctx.weight, ctx.pos_weight = weight, pos_weight
        xa, ta = x._data, t._data
        log_sig = np.minimum(xa, 0) - np.log1p(np.exp(-np.abs(xa)))
        if pos_weight is not None:
            log_sig = log_sig * ((pos_weight._data - 1) * ta + 1)
        loss = (1 - ta) * xa - log_sig
        return loss if weight is None else loss * weight._data

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        nx, nt = ctx.needs_input_grad[:2]
        w, pw = ctx.weight, ctx.pos_weight
        gw = g if w is None else g * w
        gx = gt = None
        if nx:
            if pw is None:
                gx = (sigmoid(x) - t) * gw
            else:
                pt = pw * t
                gx = ((pt + 1 - t) * sigmoid(x) - pt) * gw
        if nt:
            if pw is None:
                gt = -x * gw
            else:
                gt = (_log_sigmoid(-x) - _log_sigmoid(x) * pw) * gw
        return gx, gt, None, None


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross-entropy on logits (a sigmoid and BCE fused, numerically stable).

    The element-wise loss is
    ``-w * (p * t * log(sigmoid(x)) + (1 - t) * log(1 - sigmoid(x)))`` with ``p`` the
    ``pos_weight``.

    Parameters
    ----------
    input : Tensor
        Logits (floating point).
    target : Tensor
        Targets in ``[0, 1]`` of ``input``'s shape.
    weight : Tensor, optional
        Rescaling weights, broadcastable to ``input``'s shape.
    size_average, reduce : bool, optional
        Deprecated; use ``reduction``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        How the element-wise losses are combined.
    pos_weight : Tensor, optional
        Weight of the positive term, broadcast along the last dimension (one per class).

    Returns
    -------
    Tensor
        A scalar, or the element-wise losses when ``reduction='none'``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.binary_cross_entropy_with_logits(lucid.tensor([2.0, -1.0]), lucid.tensor([1.0, 0.0]))
    tensor(0.2201)
    """
    mode = _reduction(size_average, reduce, reduction)
    fn = "binary_cross_entropy_with_logits"
    _check_tensor(fn, "input", input)
    _check_tensor(fn, "target", target)
    _check_tensor(fn, "weight", weight, optional=True)
    _check_tensor(fn, "pos_weight", pos_weight, optional=True)
    if target.shape != input.shape:
        raise ValueError(
            f"Target size ({target.shape}) must be the same as input size ({input.shape})"
        )
    if input._data.dtype.kind != "f" or target._data.dtype.kind != "f":
        bad = target if input._data.dtype.kind == "f" else input
        raise RuntimeError(
            f"result type Float can't be cast to the desired output type "
            f"{_TYPE_NAME[bad.dtype.name]}"
        )
    dt = target.dtype
    for w in (weight, pos_weight):
        if w is not None:
            _check_weight_shape(w.shape, input.shape)
    loss = _BCEWithLogits.apply(input.to(dt), target, _detached(weight, dt),
                                _detached(pos_weight, dt))
    return _reduce(loss, mode)


def _detached(w: Tensor | None, dt: D.dtype) -> Tensor | None:
    return None if w is None else w.detach().to(dt)
