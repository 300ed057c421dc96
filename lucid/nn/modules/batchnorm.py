"""Batch normalization: ``BatchNorm1d/2d/3d`` and their lazy forms.

In training mode a batch norm layer normalizes with the statistics of the current batch and
updates its running estimates (``running_mean``, ``running_var``, with the unbiased batch
variance); in evaluation mode it normalizes with the running estimates. With
``momentum=None`` the running estimates are cumulative averages over all batches seen
(``num_batches_tracked`` counts them).
"""

from __future__ import annotations

from typing import Any

from lucid import _dtype as D
from lucid._backend import DeviceLike
from lucid._creation import empty, ones, tensor, zeros
from lucid._tensor import Tensor
from lucid.nn import functional as F
from lucid.nn import init
from lucid.nn.modules.lazy import LazyModuleMixin
from lucid.nn.modules.linear import _param_dtype
from lucid.nn.modules.module import Module
from lucid.nn.parameter import (
    Parameter,
    UninitializedBuffer,
    UninitializedParameter,
    is_lazy,
)

__all__ = [
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
    "LazyBatchNorm3d",
]


class _NormBase(Module):
    """Parameters, buffers and bookkeeping shared by the batch norm layers."""

    _version = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 device: DeviceLike = None, dtype: D.DTypeLike = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        if not isinstance(num_features, int) or isinstance(num_features, bool) \
                or num_features < 0:
            raise ValueError(
                f"{type(self).__name__}: num_features must be a non-negative int, got "
                f"{num_features!r}"
            )
        dt = _param_dtype(type(self).__name__, device, dtype)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(empty(num_features, dtype=dt))
            if bias:
                self.bias = Parameter(empty(num_features, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dt))
            self.register_buffer("running_var", ones(num_features, dtype=dt))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=D.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Reset ``running_mean`` to 0, ``running_var`` to 1 and ``num_batches_tracked``."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset the running statistics, ``weight`` to 1 and ``bias`` to 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input: Tensor) -> None:
        raise NotImplementedError

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        # batch statistics in training, and in eval when there are no running statistics
        use_batch_stats = self.training or (self.running_mean is None
                                            and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            use_batch_stats, factor, self.eps)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              local_metadata: dict[str, Any], strict: bool,
                              missing_keys: list[str], unexpected_keys: list[str],
                              error_msgs: list[str]) -> None:
        # checkpoints older than version 2 have no num_batches_tracked: count from 0
        version = local_metadata.get("version")
        key = prefix + "num_batches_tracked"
        if (version is None or version < 2) and self.track_running_stats \
                and key not in state_dict:
            state_dict[key] = tensor(0, dtype=D.int64)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


def _expect_dims(input: Tensor, dims: tuple[int, ...]) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in dims:
        wanted = " or ".join(f"{d}D" for d in dims)
        raise ValueError(f"expected {wanted} input (got {input.ndim}D input)")


class BatchNorm1d(_NormBase):
    """Batch normalization over ``(N, C)`` or ``(N, C, L)`` inputs.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` per channel, with the batch
    statistics in training mode (then folded into the running estimates) and the running
    estimates in evaluation mode.

    Parameters
    ----------
    num_features : int
        Number of channels ``C``.
    eps : float, default 1e-5
        Added to the variance for numerical stability.
    momentum : float or None, default 0.1
        Weight of each new batch in the running estimates; ``None`` for a cumulative
        average.
    affine : bool, default True
        Learn a per-channel ``weight`` (init 1) and ``bias`` (init 0).
    track_running_stats : bool, default True
        Keep running estimates; without them batch statistics are used in both modes.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        Floating-point dtype of parameters and running statistics.
    bias : bool, default True
        Learn the bias (with ``affine``).

    Attributes
    ----------
    running_mean, running_var : Tensor or None
        Buffers of shape ``(C,)``, initialised to 0 and 1.
    num_batches_tracked : Tensor or None
        int64 buffer counting the training batches seen.

    Shape
    -----
    ``(N, C)`` or ``(N, C, L)``; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.BatchNorm1d(100)
    >>> m(lucid.randn(20, 100)).shape
    (20, 100)
    >>> m
    BatchNorm1d(100, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    >>> int(m.num_batches_tracked)
    1
    """

    def _check_input_dim(self, input: Tensor) -> None:
        _expect_dims(input, (2, 3))


class BatchNorm2d(_NormBase):
    """Batch normalization over ``(N, C, H, W)`` inputs (statistics per channel over the
    batch and both spatial dimensions; see :class:`BatchNorm1d`).

    Parameters
    ----------
    num_features : int
        Number of channels ``C``.
    eps : float, default 1e-5
        Added to the variance for numerical stability.
    momentum : float or None, default 0.1
        Weight of each new batch in the running estimates; ``None`` for a cumulative
        average.
    affine : bool, default True
        Learn a per-channel ``weight`` (init 1) and ``bias`` (init 0).
    track_running_stats : bool, default True
        Keep running estimates; without them batch statistics are used in both modes.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        Floating-point dtype of parameters and running statistics.
    bias : bool, default True
        Learn the bias (with ``affine``).

    Attributes
    ----------
    running_mean, running_var : Tensor or None
        Buffers of shape ``(C,)``, initialised to 0 and 1.
    num_batches_tracked : Tensor or None
        int64 buffer counting the training batches seen.

    Shape
    -----
    ``(N, C, H, W)``; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.BatchNorm2d(3, affine=False)
    >>> y = m(lucid.randn(8, 3, 4, 4) * 5 + 2)
    >>> bool(abs(y.mean()) < 1e-5)
    True
    """

    def _check_input_dim(self, input: Tensor) -> None:
        _expect_dims(input, (4,))


class BatchNorm3d(_NormBase):
    """Batch normalization over ``(N, C, D, H, W)`` inputs (statistics per channel over the
    batch and the three spatial dimensions; see :class:`BatchNorm1d`).

    Parameters
    ----------
    num_features : int
        Number of channels ``C``.
    eps : float, default 1e-5
        Added to the variance for numerical stability.
    momentum : float or None, default 0.1
        Weight of each new batch in the running estimates; ``None`` for a cumulative
        average.
    affine : bool, default True
        Learn a per-channel ``weight`` (init 1) and ``bias`` (init 0).
    track_running_stats : bool, default True
        Keep running estimates; without them batch statistics are used in both modes.
    device : str or lucid.device, optional
        Only the CPU is available.
    dtype : lucid.dtype, optional
        Floating-point dtype of parameters and running statistics.
    bias : bool, default True
        Learn the bias (with ``affine``).

    Attributes
    ----------
    running_mean, running_var : Tensor or None
        Buffers of shape ``(C,)``, initialised to 0 and 1.
    num_batches_tracked : Tensor or None
        int64 buffer counting the training batches seen.

    Shape
    -----
    ``(N, C, D, H, W)``; the output has the input's shape.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.BatchNorm3d(4)(lucid.randn(2, 4, 3, 3, 3)).shape
    (2, 4, 3, 3, 3)
    """

    def _check_input_dim(self, input: Tensor) -> None:
        _expect_dims(input, (5,))


class _LazyNormBase(LazyModuleMixin, _NormBase):
    """Batch norm whose ``num_features`` is inferred from the first input's dimension 1."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: DeviceLike = None,
                 dtype: D.DTypeLike = None, *, bias: bool = True) -> None:
        # built without affine / running stats, then given placeholders for them
        super().__init__(0, eps, momentum, False, False, device, dtype, bias=False)
        dt = _param_dtype(type(self).__name__, device, dtype)
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = UninitializedParameter(dtype=dt)
            if bias:
                self.bias = UninitializedParameter(dtype=dt)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(dtype=dt)
            self.running_var = UninitializedBuffer(dtype=dt)
            self.num_batches_tracked = tensor(0, dtype=D.int64)

    def reset_parameters(self) -> None:
        """Initialise like the eager layer once materialized (a no-op before)."""
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor, *args: Any, **kwargs: Any) -> None:
        """Materialize parameters and running statistics for ``C = input.shape[1]``."""
        if not self.has_uninitialized_params():
            return
        self._check_input_dim(input)
        self.num_features = input.shape[1]
        for name in ("weight", "bias", "running_mean", "running_var"):
            placeholder = getattr(self, name)
            if placeholder is not None:
                placeholder.materialize((self.num_features,))
        self.reset_parameters()

    def _lazy_load_hook(self, state_dict: dict[str, Any], prefix: str,
                        local_metadata: dict[str, Any], strict: bool,
                        missing_keys: list[str], unexpected_keys: list[str],
                        error_msgs: list[str]) -> None:
        """Take ``num_features`` from a checkpoint's per-channel tensors before loading."""
        sizes = set()
        for name in ("weight", "bias", "running_mean", "running_var"):
            value = state_dict.get(prefix + name)
            if isinstance(value, Tensor) and not is_lazy(value):
                sizes.add(tuple(value.shape))
        if len(sizes) > 1 or any(len(s) != 1 for s in sizes):
            error_msgs.append(
                f"size mismatch in {type(self).__name__} at '{prefix}': weight, bias and running "
                f"statistics must be vectors of one length, got shapes {sorted(sizes)}"
            )
            return
        if sizes:
            self.num_features = next(iter(sizes))[0]
        super()._lazy_load_hook(state_dict, prefix, local_metadata, strict, missing_keys,
                                unexpected_keys, error_msgs)


class LazyBatchNorm1d(_LazyNormBase, BatchNorm1d):
    """A :class:`BatchNorm1d` that infers ``num_features`` from ``input.shape[1]`` at the first
    call (or from a loaded ``state_dict``).

    Until then ``weight`` / ``bias`` are :class:`~lucid.nn.UninitializedParameter` and the
    running statistics :class:`~lucid.nn.UninitializedBuffer` placeholders, materialized in
    place; afterwards the module is a :class:`BatchNorm1d`.

    Parameters
    ----------
    eps, momentum, affine, track_running_stats, device, dtype, bias
        As for the eager layer.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.LazyBatchNorm1d()
    >>> m(lucid.randn(4, 3)).shape
    (4, 3)
    >>> type(m).__name__, m.num_features
    ('BatchNorm1d', 3)
    """

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNormBase, BatchNorm2d):
    """A :class:`BatchNorm2d` that infers ``num_features`` from ``input.shape[1]`` at the first
    call (or from a loaded ``state_dict``).

    Until then ``weight`` / ``bias`` are :class:`~lucid.nn.UninitializedParameter` and the
    running statistics :class:`~lucid.nn.UninitializedBuffer` placeholders, materialized in
    place; afterwards the module is a :class:`BatchNorm2d`.

    Parameters
    ----------
    eps, momentum, affine, track_running_stats, device, dtype, bias
        As for the eager layer.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.LazyBatchNorm2d()
    >>> m(lucid.randn(4, 3, 2, 2)).shape
    (4, 3, 2, 2)
    >>> type(m).__name__, m.num_features
    ('BatchNorm2d', 3)
    """

    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyNormBase, BatchNorm3d):
    """A :class:`BatchNorm3d` that infers ``num_features`` from ``input.shape[1]`` at the first
    call (or from a loaded ``state_dict``).

    Until then ``weight`` / ``bias`` are :class:`~lucid.nn.UninitializedParameter` and the
    running statistics :class:`~lucid.nn.UninitializedBuffer` placeholders, materialized in
    place; afterwards the module is a :class:`BatchNorm3d`.

    Parameters
    ----------
    eps, momentum, affine, track_running_stats, device, dtype, bias
        As for the eager layer.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.LazyBatchNorm3d()
    >>> m(lucid.randn(2, 3, 2, 2, 2)).shape
    (2, 3, 2, 2, 2)
    >>> type(m).__name__, m.num_features
    ('BatchNorm3d', 3)
    """

    cls_to_become = BatchNorm3d
