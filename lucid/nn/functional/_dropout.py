"""Dropout: ``F.dropout`` (element-wise) and ``F.dropout1d/2d/3d`` (whole channels).

In training mode every element (or every channel of every sample) is zeroed with
probability ``p`` and the survivors are scaled by ``1 / (1 - p)``, so the expected value is
unchanged; in evaluation mode the input is returned as it is. The masks are drawn from
lucid's default generator (:func:`lucid.manual_seed` makes them reproducible). The result is
``input * mask``, an ordinary differentiable product.
"""

from __future__ import annotations

import warnings

import numpy as np

from lucid import random
from lucid._ops.inplace import apply_inplace
from lucid._tensor import Tensor

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d"]


def _check(input: object, p: float, name: str) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input._data.dtype.kind not in "fc":
        raise RuntimeError(
            f"{name}(): expected a floating point input, but got a tensor of dtype {input.dtype}"
        )


def _scaled_mask(shape: tuple[int, ...], p: float, dtype: np.dtype) -> np.ndarray:
    """Keep-mask drawn with probability ``1 - p``, pre-multiplied by ``1 / (1 - p)``."""
    if p == 1.0:
        return np.zeros(shape, dtype=dtype)
    keep = random.rng().random(shape) >= p
    return keep.astype(dtype) * dtype.type(1.0 / (1.0 - p))


def _apply_mask(input: Tensor, mask_shape: tuple[int, ...], p: float, inplace: bool) -> Tensor:
    mask = Tensor._make(_scaled_mask(mask_shape, p, input._data.dtype))
    if inplace:
        return apply_inplace(input, lambda t: t * mask)
    return input * mask


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Parameters
    ----------
    input : Tensor
        Floating tensor of any shape.
    p : float, default 0.5
        Probability of an element to be zeroed, in ``[0, 1]``.
    training : bool, default True
        Apply dropout; when False, ``input`` itself is returned.
    inplace : bool, default False
        Overwrite ``input`` with the result.

    Returns
    -------
    Tensor
        Same shape as ``input``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> x = lucid.ones(8)
    >>> F.dropout(x, 0.5, training=False) is x
    True
    >>> y = F.dropout(x, 0.5)
    >>> sorted(set(y.tolist())) in ([0.0, 2.0], [0.0], [2.0])
    True
    """
    _check(input, p, "dropout")
    if not training or p == 0.0 or input.numel() == 0:
        return input
    return _apply_mask(input, input.shape, p, inplace)


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool,
                     batched: bool) -> Tensor:
    """Channel-wise dropout: one draw per ``(n, c)`` of ``(N, C, *)`` (per ``c`` of an
    unbatched ``(C, *)``), shared by all the positions of that channel."""
    if input.ndim < 2 and batched:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if not training or p == 0.0 or input.numel() == 0:
        return input
    lead = 2 if batched else 1
    mask_shape = input.shape[:lead] + (1,) * (input.ndim - lead)
    return _apply_mask(input, mask_shape, p, inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, L)`` (or unbatched ``(C, L)``) inputs.

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, L)`` or ``(C, L)``.
    p : float, default 0.5
        Probability of a channel to be zeroed.
    training : bool, default True
        Apply dropout; when False, ``input`` itself is returned.
    inplace : bool, default False
        Overwrite ``input`` with the result.

    Returns
    -------
    Tensor
        Same shape as ``input``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> y = F.dropout1d(lucid.ones(4, 3, 5), 0.5)
    >>> bool(((y == 0).all(-1) | (y == 2).all(-1)).all())
    True
    """
    _check(input, p, "dropout1d")
    if input.ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that "
            "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial "
            "dimension, a channel dimension, and an optional batch dimension (i.e. 2D or 3D "
            "inputs)."
        )
    return _feature_dropout(input, p, training, inplace, batched=input.ndim == 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, H, W)`` inputs.

    As in PyTorch, a 3-D input is read as ``(N, C, L)`` (1-d channel dropout, with a
    warning), and inputs of other ranks are accepted with a deprecation warning.

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, H, W)`` (or ``(N, C, L)``).
    p : float, default 0.5
        Probability of a channel to be zeroed.
    training : bool, default True
        Apply dropout; when False, ``input`` itself is returned.
    inplace : bool, default False
        Overwrite ``input`` with the result.

    Returns
    -------
    Tensor
        Same shape as ``input``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> y = F.dropout2d(lucid.ones(2, 6, 3, 3), 0.5)
    >>> bool(((y == 0).all((2, 3)) | (y == 2).all((2, 3))).all())
    True
    """
    _check(input, p, "dropout2d")
    if input.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated and "
            "will result in an error in a future release. To retain the behavior and silence "
            "this warning, please use dropout instead. Note that dropout2d exists to provide "
            "channel-wise dropout on inputs with 2 spatial dimensions, a channel dimension, "
            "and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _feature_dropout(input, p, training, inplace, batched=True)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, D, H, W)`` (or unbatched ``(C, D, H, W)``) inputs.

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
    p : float, default 0.5
        Probability of a channel to be zeroed.
    training : bool, default True
        Apply dropout; when False, ``input`` itself is returned.
    inplace : bool, default False
        Overwrite ``input`` with the result.

    Returns
    -------
    Tensor
        Same shape as ``input``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.dropout3d(lucid.ones(2, 3, 2, 2, 2), 0.5).shape
    (2, 3, 2, 2, 2)
    """
    _check(input, p, "dropout3d")
    if input.ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is deprecated and "
            "will result in an error in a future release. To retain the behavior and silence "
            "this warning, please use dropout instead. Note that dropout3d exists to provide "
            "channel-wise dropout on inputs with 3 spatial dimensions, a channel dimension, "
            "and an optional batch dimension (i.e. 4D or 5D inputs).",
            stacklevel=2,
        )
    return _feature_dropout(input, p, training, inplace, batched=input.ndim == 5)
