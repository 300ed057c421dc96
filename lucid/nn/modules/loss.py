"""Loss modules: thin stateful wrappers around :mod:`lucid.nn.functional`'s losses.

Each module stores its options (``reduction`` and friends) and, for the weighted losses,
registers the weights as buffers so they travel with the module's ``state_dict``.
"""

from __future__ import annotations

from lucid._tensor import Tensor
from lucid.nn.functional import _loss as F
from lucid.nn.modules.module import Module

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "L1Loss", "MSELoss", "NLLLoss",
    "SmoothL1Loss",
]


class _Loss(Module):
    """Base of the losses: resolves the deprecated ``size_average``/``reduce`` arguments."""

    reduction: str

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            self.reduction = F._reduction(size_average, reduce, reduction)
        else:
            self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with optional per-class ``weight``, kept as a buffer."""

    weight: Tensor | None

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """Mean squared error between ``input`` and ``target`` (see :func:`F.mse_loss`).

    Parameters
    ----------
    size_average, reduce : bool, optional
        Deprecated; use ``reduction``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        How the element-wise losses are combined.

    Shape
    -----
    - Input: ``(*)``, any shape.
    - Target: ``(*)``, the input's shape.
    - Output: a scalar, or ``(*)`` with ``reduction='none'``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.MSELoss()(lucid.tensor([1.0, 3.0]), lucid.tensor([0.0, 0.0]))
    tensor(5.)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error between ``input`` and ``target`` (see :func:`F.l1_loss`).

    Parameters
    ----------
    size_average, reduce : bool, optional
        Deprecated; use ``reduction``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        How the element-wise losses are combined.

    Shape
    -----
    - Input: ``(*)``, any shape.
    - Target: ``(*)``, the input's shape.
    - Output: a scalar, or ``(*)`` with ``reduction='none'``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.L1Loss(reduction="none")(lucid.tensor([1.0, -3.0]), lucid.tensor([0.0, 0.0]))
    tensor([1., 3.])
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Smooth L1 loss: quadratic for errors below ``beta``, linear above.

    See :func:`lucid.nn.functional.smooth_l1_loss`.

    Parameters
    ----------
    size_average, reduce : bool, optional
        Deprecated; use ``reduction``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        How the element-wise losses are combined.
    beta : float, default 1.0
        The threshold between the quadratic and the linear part (non-negative).

    Shape
    -----
    - Input: ``(*)``, any shape.
    - Target: ``(*)``, the input's shape.
    - Output: a scalar, or ``(*)`` with ``reduction='none'``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.SmoothL1Loss(beta=0.5)(lucid.tensor([0.2, 2.0]), lucid.zeros(2))
    tensor(0.8950)
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities at class-index targets.

    See :func:`lucid.nn.functional.nll_loss`.

    Parameters
    ----------
    weight : Tensor, optional
        A weight per class, shape ``(C,)`` (registered as the buffer ``weight``).
    size_average, reduce : bool, optional
        Deprecated; use ``reduction``.
    ignore_index : int, default -100
        A target value that contributes neither loss nor weight.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        ``'mean'`` is the weighted mean over the targets that are not ignored.

    Shape
    -----
    - Input: ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``, log-probabilities.
    - Target: ``()``, ``(N,)`` or ``(N, d1, ...)``, class indices.
    - Output: a scalar, or the target's shape with ``reduction='none'``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> logp = lucid.tensor([[-0.5, -1.0], [-2.0, -0.1]])
    >>> nn.NLLLoss(weight=lucid.tensor([1.0, 3.0]))(logp, lucid.tensor([0, 1]))
    tensor(0.2000)
    """

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy between the softmax of logits and class indices or probabilities.

    See :func:`lucid.nn.functional.cross_entropy`.

    Parameters
    ----------
    weight : Tensor, optional
        A weight per class, shape ``(C,)`` (registered as the buffer ``weight``).
    size_average, reduce : bool, optional
        Deprecated; use ``reduction``.
    ignore_index : int, default -100
        A class-index target that contributes nothing.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        How the per-sample losses are combined.
    label_smoothing : float, default 0.0
        Amount in ``[0, 1]`` of the target mass spread uniformly over the classes.

    Shape
    -----
    - Input: ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``, logits.
    - Target: class indices of shape ``()``, ``(N,)`` or ``(N, d1, ...)``, or class
      probabilities of the input's shape.
    - Output: a scalar, or one loss per sample with ``reduction='none'``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> loss = nn.CrossEntropyLoss()
    >>> loss(lucid.tensor([[2.0, 0.0], [0.0, 2.0]]), lucid.tensor([0, 0]))
    tensor(1.1269)
    """

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight,
                               ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy between probabilities and targets (logs clamped at -100).

    See :func:`lucid.nn.functional.binary_cross_entropy`.

    Parameters
    ----------
    weight : Tensor, optional
        Rescaling weights broadcastable to the input (registered as the buffer ``weight``).
    size_average, reduce : bool, optional
        Deprecated; use ``reduction``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        How the element-wise losses are combined.

    Shape
    -----
    - Input: ``(*)``, probabilities in ``[0, 1]``.
    - Target: ``(*)``, the input's shape, values in ``[0, 1]``.
    - Output: a scalar, or ``(*)`` with ``reduction='none'``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.BCELoss()(lucid.tensor([0.8, 0.4]), lucid.tensor([1.0, 0.0]))
    tensor(0.3670)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """A sigmoid and binary cross-entropy in one numerically stable loss.

    See :func:`lucid.nn.functional.binary_cross_entropy_with_logits`.

    Parameters
    ----------
    weight : Tensor, optional
        Rescaling weights broadcastable to the input (buffer ``weight``).
    size_average, reduce : bool, optional
        Deprecated; use ``reduction``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        How the element-wise losses are combined.
    pos_weight : Tensor, optional
        Weight of positive examples, broadcast along the last dimension (buffer
        ``pos_weight``).

    Shape
    -----
    - Input: ``(*)``, logits.
    - Target: ``(*)``, the input's shape, values in ``[0, 1]``.
    - Output: a scalar, or ``(*)`` with ``reduction='none'``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> loss = nn.BCEWithLogitsLoss(pos_weight=lucid.tensor([2.0]))
    >>> loss(lucid.tensor([0.0, 1.0]), lucid.tensor([1.0, 0.0]))
    tensor(1.3498)
    """

    weight: Tensor | None
    pos_weight: Tensor | None

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean",
                 pos_weight: Tensor | None = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
