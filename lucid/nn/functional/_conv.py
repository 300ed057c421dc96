"""Convolutions: one N-d engine behind ``conv1d/2d/3d`` and ``conv_transpose1d/2d/3d``;
plus ``unfold``/``fold`` (im2col / col2im as PyTorch exposes them).

Three bilinear maps share one configuration (stride, per-side padding, dilation, groups):

* ``C(x, w)``   the convolution (cross-correlation) — :class:`_Conv`;
* ``T(y, w)``   its adjoint in ``x``, i.e. the transposed convolution — :class:`_ConvTranspose`;
* ``G(x, y)``   its adjoint in ``w``, the weight gradient — :class:`_ConvWeight`.

Because ``<C(x, w), y> = <x, T(y, w)> = <w, G(x, y)>``, the derivative of each map is made of
the other two, so every backward below is a call of a differentiable lucid op and double
backward (e.g. a gradient penalty through a convolution) needs no extra code. For complex
tensors the gradients use conjugates (PyTorch's convention: ``grad_x = A^H g``). When
nothing is recorded (no ``create_graph``), the backward of ``T`` computes both of its
gradients in one kernel call that builds the columns of ``g`` once
(:func:`lucid.kernels.conv.conv_forward_weight_grad`). ``C`` and
``T`` also take the bias: ``C`` hands it to the kernel, which adds it in the pass that
writes the output, ``T`` adds it in place to the fresh kernel result (no second
output-sized array either way); its gradient is ``g`` summed over batch and spatial dims
(:class:`_ChannelSum`). The array math lives in :mod:`lucid.kernels.conv`.

``unfold`` and ``fold`` are another adjoint pair (:class:`_Unfold`, :class:`_Fold`): plain
copies / sums of strided windows (no multiplication, so ``inf``/``nan`` stay in place).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product
from typing import Any, NamedTuple

import numpy as np

from lucid._ops.elementwise import conj
from lucid._tensor import Tensor
from lucid.autograd.function import Function
from lucid.autograd.grad_mode import is_grad_enabled
from lucid.kernels import conv as K

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "fold", "unfold",
]


class _Config(NamedTuple):
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]
    groups: int


def _fit_padding(cfg: _Config, x_spatial: Sequence[int], kernel: Sequence[int],
                 out_spatial: Sequence[int]) -> tuple[tuple[tuple[int, int], ...], tuple]:
    """High-side padding (and input crop) so the convolution yields exactly ``out_spatial``."""
    pads, crop = [], []
    for L, k, s, d, (lo, _), n in zip(x_spatial, kernel, cfg.stride, cfg.dilation, cfg.padding,
                                       out_spatial):
        hi = (n - 1) * s + d * (k - 1) + 1 - L - lo
        crop.append(slice(0, L + min(hi, 0)))
        pads.append((lo, max(hi, 0)))
    return tuple(pads), tuple(crop)


def _conv_arrays(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, cfg: _Config,
                 out_spatial: tuple[int, ...] | None) -> np.ndarray:
    if out_spatial is None:
        return K.conv_forward(x, w, cfg.stride, cfg.padding, cfg.dilation, cfg.groups, b)
    pads, crop = _fit_padding(cfg, x.shape[2:], w.shape[2:], out_spatial)
    x = x[(slice(None), slice(None)) + crop]
    return K.conv_forward(x, w, cfg.stride, pads, cfg.dilation, cfg.groups, b)


def _with_bias(y: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """Add the per-channel bias in place (``y`` is a fresh kernel result)."""
    if b is not None:
        y += b.reshape((-1,) + (1,) * (y.ndim - 2))
    return y


class _ChannelSum(Function):
    """``g (N, C, *S) -> (C,)`` summed over batch and spatial dims (a bias gradient;
    :func:`lucid.kernels.conv.channel_sum`)."""

    _array_forward = True

    @staticmethod
    def forward(ctx, g):
        ctx.shape = g.shape
        return K.channel_sum(g)

    @staticmethod
    def backward(ctx, gb):
        return gb.reshape((1, -1) + (1,) * (len(ctx.shape) - 2)).expand(ctx.shape)


def _bias_grad(g: Tensor) -> Tensor:
    """Gradient of a per-channel bias: ``g`` summed over batch and spatial dims."""
    return _ChannelSum.apply(g)


class _Conv(Function):
    """``C(x, w) + b``; ``out_spatial`` forces the output size (used as an adjoint)."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, w, b, cfg, out_spatial):
        ctx.save_for_backward(x, w)
        ctx.cfg = cfg
        return _conv_arrays(x, w, b, cfg, out_spatial)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad[:3]
        gx = _ConvTranspose.apply(g, conj(w), None, ctx.cfg, x.shape[2:]) if nx else None
        gw = _ConvWeight.apply(conj(x), g, ctx.cfg, w.shape[2:]) if nw else None
        return gx, gw, _bias_grad(g) if nb else None, None, None


class _ConvTranspose(Function):
    """``T(y, w) + b``: scatter ``y`` through ``w`` into an input-shaped result."""

    _array_forward = True

    @staticmethod
    def forward(ctx, y, w, b, cfg, x_spatial):
        ctx.save_for_backward(y, w)
        ctx.cfg = cfg
        return _with_bias(K.conv_input_grad(y, w, x_spatial, cfg.stride, cfg.padding,
                                            cfg.dilation, cfg.groups), b)

    @staticmethod
    def backward(ctx, g):
        y, w = ctx.saved_tensors
        ny, nw, nb = ctx.needs_input_grad[:3]
        gb = _bias_grad(g) if nb else None
        if ny and nw and not (is_grad_enabled() and (g.requires_grad or w.requires_grad
                                                     or y.requires_grad)):
            # nothing to record: one kernel call builds the columns of g once for both
            gy, gw = _shared_backward(g._data, w._data, y._data, ctx.cfg)
            if gy is not None:
                return Tensor._make(gy), Tensor._make(gw), gb, None, None
        gy = _Conv.apply(g, conj(w), None, ctx.cfg, y.shape[2:]) if ny else None
        gw = _ConvWeight.apply(g, conj(y), ctx.cfg, w.shape[2:]) if nw else None
        return gy, gw, gb, None, None


def _shared_backward(g: np.ndarray, w: np.ndarray, y: np.ndarray,
                     cfg: _Config) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Both gradients of ``T(y, w)`` from :func:`lucid.kernels.conv.conv_forward_weight_grad`
    (the arrays :class:`_Conv` and :class:`_ConvWeight` would compute), or ``(None, None)``
    for complex data (their conjugates)."""
    if g.dtype.kind == "c" or w.dtype.kind == "c" or y.dtype.kind == "c":
        return None, None
    pads, crop = _fit_padding(cfg, g.shape[2:], w.shape[2:], y.shape[2:])
    return K.conv_forward_weight_grad(g[(slice(None), slice(None)) + crop], w, y, cfg.stride,
                                      pads, cfg.dilation, cfg.groups)


class _ConvWeight(Function):
    """``G(x, y)``: correlate an input with an output-shaped tensor into a weight shape."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, y, cfg, kernel):
        ctx.save_for_backward(x, y)
        ctx.cfg = cfg
        return K.conv_weight_grad(x, y, kernel, cfg.stride, cfg.padding, cfg.dilation,
                                  cfg.groups)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        nx, ny = ctx.needs_input_grad[:2]
        gx = _ConvTranspose.apply(conj(y), g, None, ctx.cfg, x.shape[2:]) if nx else None
        gy = _Conv.apply(conj(x), g, None, ctx.cfg, y.shape[2:]) if ny else None
        return gx, gy, None, None


# --------------------------------------------------------------------------- argument checks
def _tuple(value: Any, n: int, name: str, fn: str) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * n
    if isinstance(value, (tuple, list)) and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        if len(value) == 1:
            return (int(value[0]),) * n
        if len(value) == n:
            return tuple(int(v) for v in value)
        raise RuntimeError(
            f"{fn}: expected {name} to be a single integer value or a list of {n} values to "
            f"match the convolution dimensions, but got {name}={list(value)}"
        )
    raise TypeError(f"{fn}: {name} must be an int or a tuple of {n} ints, but got {value!r}")


def _check_tensors(fn: str, n: int, input: Any, weight: Any, bias: Any) -> bool:
    """Validate types and ranks; returns whether the input is batched."""
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}(): argument '{name}' must be Tensor, not {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{fn}(): argument 'bias' must be Tensor or None, not "
                        f"{type(bias).__name__}")
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(
            f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {fn}, but got input "
            f"of size: {list(input.shape)}"
        )
    if weight.ndim != n + 2:
        raise RuntimeError(
            f"{fn}: expected weight to be {n + 2}-dimensional, but got weight of size "
            f"{list(weight.shape)}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != input.dtype:
            raise RuntimeError(
                f"{fn}: input type ({input.dtype.name}) and {name} type ({t.dtype.name}) should "
                "be the same"
            )
    kind = input._data.dtype.kind
    # like torch's CPU kernels: convolutions take any non-bool dtype, transposed ones
    # floating point, complex and int64 only
    if kind == "b" or (fn.startswith("conv_transpose") and kind in "iu"
                       and input.dtype.name != "int64"):
        raise RuntimeError(f"{fn}: not implemented for input and weight of type "
                           f"{input.dtype.name}")
    return input.ndim == n + 2


def _check_common(fn: str, stride: tuple[int, ...], dilation: tuple[int, ...], groups: Any,
                  padding: Sequence[int]) -> None:
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool):
        raise TypeError(f"{fn}: groups must be an int, but got {groups!r}")
    if groups <= 0:
        raise RuntimeError(f"{fn}: non-positive groups is not supported (groups={groups})")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{fn}: non-positive stride is not supported (stride={list(stride)})")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(
            f"{fn}: dilation should be greater than zero (dilation={list(dilation)})"
        )
    if any(p < 0 for p in padding):
        raise RuntimeError(f"{fn}: negative padding is not supported (padding={list(padding)})")


def _check_empty(fn: str, x: Tensor, weight: Tensor, transposed: bool) -> None:
    """Refuse what torch refuses among empty sizes (an empty batch or channel dim is fine)."""
    if any(k == 0 for k in weight.shape[2:]):
        raise RuntimeError(f"{fn}: kernel size should be greater than zero, but got weight of "
                           f"size {list(weight.shape)}")
    if weight.shape[0] == 0 or (transposed and weight.shape[1] == 0):
        raise RuntimeError(f"{fn}: expected a non-empty weight, but got weight of size "
                           f"{list(weight.shape)}")
    if x.shape[0] and x.shape[1] and 0 in x.shape[2:]:
        raise RuntimeError(f"{fn}: only zero batch or zero channel inputs are supported, but "
                           f"got input of size {list(x.shape)}")


def _check_bias(fn: str, bias: Tensor | None, weight: Tensor, out_channels: int) -> None:
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != out_channels):
        raise RuntimeError(
            f"{fn}: given weight of size {list(weight.shape)}, expected bias to be 1-dimensional "
            f"with {out_channels} elements, but got bias of size {list(bias.shape)} instead"
        )


def _resolve_padding(fn: str, padding: Any, n: int, stride: tuple[int, ...],
                     dilation: tuple[int, ...], kernel: tuple[int, ...]) -> tuple:
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(
                    f"{fn}: padding='same' is not supported for strided convolutions "
                    f"(stride={list(stride)})"
                )
            pairs = []
            for d, k in zip(dilation, kernel):
                total = d * (k - 1)
                pairs.append((total // 2, total - total // 2))
            return tuple(pairs)
        raise ValueError(
            f"{fn}: invalid padding string {padding!r}, should be one of {{'valid', 'same'}}"
        )
    p = _tuple(padding, n, "padding", fn)
    return tuple((v, v) for v in p)


# --------------------------------------------------------------------------- convolution
def _conv(n: int, input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any,
          padding: Any, dilation: Any, groups: int) -> Tensor:
    fn = f"conv{n}d"
    batched = _check_tensors(fn, n, input, weight, bias)
    st = _tuple(stride, n, "stride", fn)
    dil = _tuple(dilation, n, "dilation", fn)
    kernel = weight.shape[2:]
    pairs = _resolve_padding(fn, padding, n, st, dil, kernel)
    _check_common(fn, st, dil, groups, [p[0] for p in pairs])
    x = input if batched else input.unsqueeze(0)
    c_out, c_per_group = weight.shape[:2]
    if c_out % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
            f"but got weight of size {list(weight.shape)} instead"
        )
    if x.shape[1] != c_per_group * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected "
            f"input{list(x.shape)} to have {c_per_group * groups} channels, but got "
            f"{x.shape[1]} channels instead"
        )
    _check_empty(fn, x, weight, False)
    _check_bias(fn, bias, weight, c_out)
    padded = tuple(L + lo + hi for L, (lo, hi) in zip(x.shape[2:], pairs))
    eff = tuple(d * (k - 1) + 1 for d, k in zip(dil, kernel))
    if any(p < e for p, e in zip(padded, eff)):
        raise RuntimeError(
            f"{fn}: calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
            f"Kernel size: ({' x '.join(map(str, eff))}). Kernel size can't be greater than "
            "actual input size"
        )
    cfg = _Config(st, pairs, dil, int(groups))
    out = _Conv.apply(x, weight, bias, cfg, None)
    return out if batched else out.squeeze(0)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-d convolution (cross-correlation) over ``(N, C_in, L)`` or ``(C_in, L)`` input.

    See :func:`conv2d` for the arguments; tuples have one entry.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.conv1d(lucid.ones(1, 2, 5), lucid.ones(3, 2, 3), padding=1).shape
    (1, 3, 5)
    """
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-d convolution (cross-correlation), PyTorch's ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    input : Tensor
        ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``; float16/32/64 or complex.
    weight : Tensor
        ``(C_out, C_in / groups, kH, kW)``, same dtype as ``input``.
    bias : Tensor, optional
        ``(C_out,)``.
    stride : int or tuple of int, default 1
        Step of the sliding window.
    padding : int, tuple of int, 'valid' or 'same', default 0
        Zero padding on both sides; ``'same'`` keeps the input size (stride 1 only; with an
        even effective kernel the extra pad goes on the right/bottom).
    dilation : int or tuple of int, default 1
        Spacing between kernel taps.
    groups : int, default 1
        Split channels into ``groups`` independent convolutions.

    Returns
    -------
    Tensor
        ``(N, C_out, H_out, W_out)`` with
        ``H_out = floor((H + 2p - d(k - 1) - 1) / s + 1)`` (likewise ``W_out``).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> x = lucid.ones(1, 1, 4, 4)
    >>> F.conv2d(x, lucid.ones(1, 1, 3, 3))
    tensor([[[[9., 9.],
              [9., 9.]]]])
    """
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """3-d convolution over ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)`` input.

    See :func:`conv2d` for the arguments; tuples have three entries.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.conv3d(lucid.ones(2, 4, 8, 8, 8), lucid.ones(6, 4, 3, 3, 3), stride=2).shape
    (2, 6, 3, 3, 3)
    """
    return _conv(3, input, weight, bias, stride, padding, dilation, groups)


# --------------------------------------------------------------------------- transposed
def _transpose_output_shape(in_spatial: Sequence[int], kernel: Sequence[int],
                            stride: Sequence[int], padding: Sequence[int],
                            output_padding: Sequence[int],
                            dilation: Sequence[int]) -> tuple[int, ...]:
    """``(in - 1) * s - 2p + d(k - 1) + output_padding + 1`` per spatial dim."""
    return tuple(
        (L - 1) * s - 2 * p + d * (k - 1) + op + 1
        for L, k, s, p, op, d in zip(in_spatial, kernel, stride, padding, output_padding,
                                     dilation)
    )


def _conv_transpose(n: int, input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any,
                    padding: Any, output_padding: Any, groups: int, dilation: Any) -> Tensor:
    fn = f"conv_transpose{n}d"
    batched = _check_tensors(fn, n, input, weight, bias)
    if isinstance(padding, str):
        raise ValueError(f"{fn}: padding must be an int or a tuple of ints (string padding "
                         f"{padding!r} is not supported for transposed convolutions)")
    st = _tuple(stride, n, "stride", fn)
    dil = _tuple(dilation, n, "dilation", fn)
    pad = _tuple(padding, n, "padding", fn)
    opad = _tuple(output_padding, n, "output_padding", fn)
    _check_common(fn, st, dil, groups, pad)
    if any(o < 0 for o in opad):
        raise RuntimeError(f"{fn}: negative output_padding is not supported "
                           f"(output_padding={list(opad)})")
    for o, s, d in zip(opad, st, dil):
        if o >= s and o >= d:
            raise RuntimeError(
                f"{fn}: output padding must be smaller than either stride or dilation, but got "
                f"output_padding={list(opad)}, stride={list(st)}, dilation={list(dil)}"
            )
    x = input if batched else input.unsqueeze(0)
    c_in, c_out_per_group = weight.shape[:2]
    if c_in % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
            f"but got weight of size {list(weight.shape)} instead"
        )
    if x.shape[1] != c_in:
        raise RuntimeError(
            f"Given transposed=1, weight of size {list(weight.shape)}, expected "
            f"input{list(x.shape)} to have {c_in} channels, but got {x.shape[1]} channels "
            "instead"
        )
    c_out = c_out_per_group * groups
    _check_empty(fn, x, weight, True)
    _check_bias(fn, bias, weight, c_out)
    kernel = weight.shape[2:]
    out_spatial = _transpose_output_shape(x.shape[2:], kernel, st, pad, opad, dil)
    if any(o <= 0 for o in out_spatial):
        raise RuntimeError(
            f"{fn}: given input size per channel: ({' x '.join(map(str, x.shape[2:]))}), the "
            f"calculated output size per channel: ({' x '.join(map(str, out_spatial))}) is too "
            "small"
        )
    cfg = _Config(st, tuple((p, p) for p in pad), dil, int(groups))
    out = _ConvTranspose.apply(x, weight, bias, cfg, out_spatial)
    return out if batched else out.squeeze(0)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """1-d transposed convolution over ``(N, C_in, L)`` or ``(C_in, L)`` input.

    See :func:`conv_transpose2d`.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.conv_transpose1d(lucid.ones(1, 3), lucid.ones(1, 1, 2), stride=2)
    tensor([[1., 1., 1., 1., 1., 1.]])
    """
    return _conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """2-d transposed convolution (the adjoint of :func:`conv2d` in its input).

    Parameters
    ----------
    input : Tensor
        ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
    weight : Tensor
        ``(C_in, C_out / groups, kH, kW)``.
    bias : Tensor, optional
        ``(C_out,)``.
    stride, padding, dilation : int or tuple of int
        As for the convolution this transposes; ``padding`` removes
        ``dilation * (kernel_size - 1) - padding`` zero padding worth of border.
    output_padding : int or tuple of int, default 0
        Extra size added to one side of the output; must be smaller than stride or dilation.
    groups : int, default 1
        Channel groups.

    Returns
    -------
    Tensor
        ``(N, C_out, H_out, W_out)`` with
        ``H_out = (H - 1) * s - 2p + d(k - 1) + output_padding + 1``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.conv_transpose2d(lucid.ones(1, 4, 8, 8), lucid.ones(4, 2, 4, 4), stride=2,
    ...                    padding=1).shape
    (1, 2, 16, 16)
    """
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """3-d transposed convolution over ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)`` input.

    See :func:`conv_transpose2d`.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.conv_transpose3d(lucid.ones(2, 4, 3, 3, 3), lucid.ones(4, 6, 2, 2, 2), stride=2,
    ...                    output_padding=1).shape
    (2, 6, 7, 7, 7)
    """
    return _conv_transpose(3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def _output_padding(input_shape: Sequence[int], output_size: Sequence[int] | None,
                    stride: Sequence[int], padding: Sequence[int], kernel_size: Sequence[int],
                    dilation: Sequence[int], num_spatial_dims: int,
                    output_padding: Sequence[int] | None = None) -> tuple[int, ...]:
    """The ``output_padding`` that makes a transposed convolution produce ``output_size``.

    Mirrors ``torch.nn.modules.conv._ConvTransposeNd._output_padding``: ``output_size`` may
    include the batch/channel dims; each spatial size must lie between the minimum output
    size and that plus ``stride - 1``. With ``output_size=None`` returns ``output_padding``.
    """
    n = num_spatial_dims
    if output_size is None:
        return tuple(output_padding) if output_padding is not None else (0,) * n
    has_batch = len(input_shape) == n + 2
    non_spatial = 2 if has_batch else 1
    size = [int(s) for s in output_size]
    if len(size) == non_spatial + n:
        size = size[non_spatial:]
    if len(size) != n:
        raise ValueError(
            f"ConvTranspose{n}D: for {len(input_shape)}D input, output_size must have {n} or "
            f"{non_spatial + n} elements (got {len(size)})"
        )
    spatial = list(input_shape)[non_spatial:]
    min_sizes = [
        (spatial[d] - 1) * stride[d] - 2 * padding[d] + dilation[d] * (kernel_size[d] - 1) + 1
        for d in range(n)
    ]
    max_sizes = [min_sizes[d] + stride[d] - 1 for d in range(n)]
    for d in range(n):
        if not min_sizes[d] <= size[d] <= max_sizes[d]:
            raise ValueError(
                f"requested an output size of {size}, but valid sizes range from {min_sizes} to "
                f"{max_sizes} (for an input of {spatial})"
            )
    return tuple(size[d] - min_sizes[d] for d in range(n))


# --------------------------------------------------------------------------- unfold / fold
class _Blocks(NamedTuple):
    """Geometry of the sliding blocks of :func:`unfold` / :func:`fold` (2 spatial dims)."""

    kernel: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[int, ...]
    stride: tuple[int, ...]
    blocks: tuple[int, ...]  # number of block positions per spatial dim
    size: tuple[int, ...]  # spatial size of the (unpadded) image

    def taps(self) -> list[tuple[tuple[int, ...], tuple[slice, ...]]]:
        """Per kernel tap: its index and the padded-image slices of all its block positions."""
        return [(k, tuple(slice(kk * d, kk * d + (b - 1) * s + 1, s)
                          for kk, d, b, s in zip(k, self.dilation, self.blocks, self.stride)))
                for k in product(*(range(kk) for kk in self.kernel))]


def _im2col(x: np.ndarray, geo: _Blocks) -> np.ndarray:
    """``(N, C, *S)`` image -> ``(N, C * prod(kernel), prod(blocks))`` columns (copies only)."""
    n, c = x.shape[:2]
    xp = np.zeros((n, c) + tuple(s + 2 * p for s, p in zip(geo.size, geo.padding)), x.dtype)
    xp[(slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in
                                          zip(geo.padding, geo.size))] = x
    cols = np.empty((n, c) + geo.kernel + geo.blocks, x.dtype)
    for k, window in geo.taps():
        cols[(slice(None), slice(None)) + k] = xp[(slice(None), slice(None)) + window]
    return cols.reshape(n, c * int(np.prod(geo.kernel)), int(np.prod(geo.blocks)))


def _col2im(cols: np.ndarray, geo: _Blocks) -> np.ndarray:
    """The adjoint of :func:`_im2col`: columns summed back into an ``(N, C, *S)`` image."""
    n = cols.shape[0]
    c = cols.shape[1] // int(np.prod(geo.kernel))
    cols = cols.reshape((n, c) + geo.kernel + geo.blocks)
    xp = np.zeros((n, c) + tuple(s + 2 * p for s, p in zip(geo.size, geo.padding)), cols.dtype)
    for k, window in geo.taps():
        xp[(slice(None), slice(None)) + window] += cols[(slice(None), slice(None)) + k]
    crop = tuple(slice(p, p + s) for p, s in zip(geo.padding, geo.size))
    return np.ascontiguousarray(xp[(slice(None), slice(None)) + crop])


class _Unfold(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, geo):
        ctx.geo = geo
        return _im2col(x, geo)

    @staticmethod
    def backward(ctx, g):
        return _Fold.apply(g, ctx.geo), None


class _Fold(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, cols, geo):
        ctx.geo = geo
        return _col2im(cols, geo)

    @staticmethod
    def backward(ctx, g):
        return _Unfold.apply(g, ctx.geo), None


def _block_args(fn: str, kernel_size: Any, dilation: Any, padding: Any,
                stride: Any) -> tuple[tuple[int, ...], ...]:
    k, d, p, s = (_tuple(v, 2, name, fn) for v, name in (
        (kernel_size, "kernel_size"), (dilation, "dilation"), (padding, "padding"),
        (stride, "stride")))
    for name, values, low in (("kernel_size", k, 1), ("dilation", d, 1), ("stride", s, 1),
                              ("padding", p, 0)):
        if any(v < low for v in values):
            need = "greater than zero" if low else "non-negative"
            raise RuntimeError(f"{fn}: {name} should be {need}, but got {name}={list(values)}")
    return k, d, p, s


def _check_block_input(fn: str, input: Any, ranks: tuple[int, int]) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.ndim not in ranks or 0 in input.shape[1:] or (
            input.ndim == ranks[0] and 0 in input.shape):
        raise RuntimeError(
            f"{fn}: expected a {ranks[0]}D or {ranks[1]}D (batch mode) input with possibly 0 "
            f"batch size and other non-zero dimensions, but got input of size "
            f"{list(input.shape)}"
        )
    if input._data.dtype.kind in "iu":
        raise RuntimeError(f"{fn}: not implemented for input of type {input.dtype.name}")


def _num_blocks(size, kernel, dilation, padding, stride) -> tuple[int, ...]:
    return tuple((L + 2 * p - d * (k - 1) - 1) // s + 1
                 for L, k, d, p, s in zip(size, kernel, dilation, padding, stride))


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
           stride: Any = 1) -> Tensor:
    """Extract sliding local blocks (im2col), PyTorch's ``torch.nn.functional.unfold``.

    Parameters
    ----------
    input : Tensor
        ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
    kernel_size, dilation, padding, stride : int or tuple of 2 ints
        Block size, spacing of its elements, implicit zero padding on both sides, and the
        step between blocks.

    Returns
    -------
    Tensor
        ``(N, C * kH * kW, L)`` (``(C * kH * kW, L)`` unbatched): column ``l`` holds block
        ``l`` (row-major over the ``L = L_H * L_W`` block positions), channel-major then
        kernel position; ``L_H = floor((H + 2p - d(kH - 1) - 1) / s) + 1``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.unfold(lucid.arange(9.0).reshape(1, 1, 3, 3), 2)
    tensor([[[0., 1., 3., 4.],
             [1., 2., 4., 5.],
             [3., 4., 6., 7.],
             [4., 5., 7., 8.]]])
    """
    _check_block_input("unfold", input, (3, 4))
    k, d, p, s = _block_args("unfold", kernel_size, dilation, padding, stride)
    size = tuple(input.shape[-2:])
    blocks = _num_blocks(size, k, d, p, s)
    if any(b < 1 for b in blocks):
        raise RuntimeError(
            f"unfold: given input with spatial size {size}, kernel_size={k}, dilation={d}, "
            f"padding={p}, the calculated shape of the array of sliding blocks is {blocks}, "
            "but its components must be at least one"
        )
    x = input if input.ndim == 4 else input.unsqueeze(0)
    out = _Unfold.apply(x, _Blocks(k, d, p, s, blocks, size))
    return out if input.ndim == 4 else out.squeeze(0)


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1,
         padding: Any = 0, stride: Any = 1) -> Tensor:
    """Sum sliding local blocks into an image (col2im), PyTorch's ``torch.nn.functional.fold``.

    The adjoint of :func:`unfold`: overlapping block entries are added.

    Parameters
    ----------
    input : Tensor
        ``(N, C * kH * kW, L)`` or unbatched ``(C * kH * kW, L)``, ``L`` the number of
        blocks that fit in ``output_size``.
    output_size : int or tuple of 2 ints
        Spatial size ``(H, W)`` of the result.
    kernel_size, dilation, padding, stride : int or tuple of 2 ints
        As in :func:`unfold`.

    Returns
    -------
    Tensor
        ``(N, C, H, W)`` or ``(C, H, W)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> F.fold(lucid.ones(1, 4, 4), (3, 3), 2)
    tensor([[[[1., 2., 1.],
              [2., 4., 2.],
              [1., 2., 1.]]]])
    """
    _check_block_input("fold", input, (2, 3))
    size = _tuple(output_size, 2, "output_size", "fold")
    k, d, p, s = _block_args("fold", kernel_size, dilation, padding, stride)
    kk = k[0] * k[1]
    if input.shape[-2] % kk:
        raise RuntimeError(
            f"fold: expected size of input's dimension {input.ndim - 2} to be divisible by the "
            f"product of kernel_size, but got input.size({input.ndim - 2})={input.shape[-2]} "
            f"and kernel_size={k}"
        )
    blocks = _num_blocks(size, k, d, p, s)
    if blocks[0] * blocks[1] != input.shape[-1] or min(blocks) < 1:
        raise RuntimeError(
            f"fold: given output_size={size}, kernel_size={k}, dilation={d}, padding={p}, "
            f"stride={s}, expected size of input's dimension {input.ndim - 1} to match the "
            f"calculated number of sliding blocks {blocks[0]} * {blocks[1]} = "
            f"{blocks[0] * blocks[1]}, but got input.size({input.ndim - 1})={input.shape[-1]}"
        )
    x = input if input.ndim == 3 else input.unsqueeze(0)
    out = _Fold.apply(x, _Blocks(k, d, p, s, blocks, size))
    return out if input.ndim == 3 else out.squeeze(0)
