"""Upsampling layers: ``Upsample`` and the fixed-mode ``UpsamplingNearest2d`` /
``UpsamplingBilinear2d``."""

from __future__ import annotations

from collections.abc import Sequence

from lucid._tensor import Tensor
from lucid.nn import functional as F
from lucid.nn.modules.module import Module

__all__ = ["Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]


class Upsample(Module):
    """Resample spatial dimensions to ``size`` or by ``scale_factor``
    (see :func:`lucid.nn.functional.interpolate`).

    Parameters
    ----------
    size : int or tuple of int, optional
        Output spatial size (exactly one of ``size`` / ``scale_factor``).
    scale_factor : float or tuple of float, optional
        Multiplier of the spatial size.
    mode : {'nearest', 'nearest-exact', 'linear', 'bilinear', 'trilinear', 'area'}
        Interpolation mode, default ``'nearest'``.
    align_corners : bool, optional
        Linear modes only (see :func:`~lucid.nn.functional.interpolate`).
    recompute_scale_factor : bool, optional
        Map coordinates with the computed sizes rather than ``scale_factor``.

    Shape
    -----
    - Input: ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
    - Output: the same with resized spatial dimensions,
      ``floor(size * scale_factor)`` when scaling.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> m = nn.Upsample(scale_factor=2, mode="nearest")
    >>> m
    Upsample(scale_factor=2.0, mode='nearest')
    >>> m(lucid.tensor([[[1.0, 2.0]]]))
    tensor([[[1., 1., 2., 2.]]])
    """

    def __init__(self, size: int | Sequence[int] | None = None,
                 scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor: float | tuple[float, ...] | None = tuple(
                float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of ``(N, C, H, W)`` inputs.

    Parameters
    ----------
    size : int or tuple of int, optional
        Output spatial size.
    scale_factor : float or tuple of float, optional
        Multiplier of the spatial size.

    Shape
    -----
    ``(N, C, H, W) -> (N, C, H_out, W_out)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.UpsamplingNearest2d(scale_factor=2)(lucid.ones(1, 1, 2, 2)).shape
    (1, 1, 4, 4)
    """

    def __init__(self, size: int | Sequence[int] | None = None,
                 scale_factor: float | Sequence[float] | None = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling of ``(N, C, H, W)`` inputs with ``align_corners=True``.

    Parameters
    ----------
    size : int or tuple of int, optional
        Output spatial size.
    scale_factor : float or tuple of float, optional
        Multiplier of the spatial size.

    Shape
    -----
    ``(N, C, H, W) -> (N, C, H_out, W_out)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> nn.UpsamplingBilinear2d(size=3)(lucid.tensor([[[[0.0, 2.0], [2.0, 4.0]]]]))
    tensor([[[[0., 1., 2.],
              [1., 2., 3.],
              [2., 3., 4.]]]])
    """

    def __init__(self, size: int | Sequence[int] | None = None,
                 scale_factor: float | Sequence[float] | None = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
