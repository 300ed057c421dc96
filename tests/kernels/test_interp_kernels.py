"""Resampling kernels (lucid.kernels.interp) against torch.nn.functional.interpolate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lucid.kernels import interp

torch = pytest.importorskip("torch")
F = torch.nn.functional

DTYPES = [np.float32, np.float64]
TOL = {np.float32: {"rtol": 2e-5, "atol": 2e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}
LINEAR_MODE = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _torch_interp(x, gy, **kwargs):
    """Forward and input gradient of ``F.interpolate`` on a copy of ``x``."""
    xt = torch.tensor(x, requires_grad=True)
    y = F.interpolate(xt, **kwargs)
    y.backward(torch.tensor(gy))
    return y.detach().numpy(), xt.grad.numpy()


def _random_case(rng, nd):
    """Random input shape, plus either an output size or per-dim scale factors."""
    sizes = tuple(int(v) for v in rng.integers(1, 9 if nd < 3 else 6, nd))
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), *sizes)
    if rng.random() < 0.5:
        out = tuple(int(v) for v in rng.integers(1, 13 if nd < 3 else 8, nd))
        return shape, out, None
    while True:
        # Mix of "nice" and arbitrary factors, up- and down-sampling.
        choices = [0.5, 1.5, 2.0, 3.0, 1 / 3, 0.7, 1.1, 2.5]
        scales = tuple(
            float(rng.choice(choices)) if rng.random() < 0.5 else float(rng.uniform(0.3, 3.5))
            for _ in range(nd)
        )
        out = tuple(math.floor(L * sf) for L, sf in zip(sizes, scales))
        if min(out) > 0:
            return shape, out, scales


def _check(x, out, mode, align_corners, scales, dtype, rng):
    kwargs = {"mode": mode}
    if mode in LINEAR_MODE.values():
        kwargs["align_corners"] = align_corners
    if scales is None:
        kwargs["size"] = out
    else:
        kwargs["scale_factor"] = scales
    y = interp.interpolate_forward(x, out, mode, align_corners, scales)
    gy = rng.standard_normal(y.shape).astype(dtype)
    y_ref, gx_ref = _torch_interp(x, gy, **kwargs)
    ctx = f"shape={x.shape} out={out} mode={mode} ac={align_corners} scales={scales}"
    assert y.shape == y_ref.shape and y.dtype == dtype, ctx
    if mode.startswith("nearest"):
        np.testing.assert_array_equal(y, y_ref, err_msg=ctx)
    else:
        np.testing.assert_allclose(y, y_ref, **TOL[dtype], err_msg=ctx)
    gx = interp.interpolate_backward(gy, x.shape, mode, align_corners, scales)
    assert gx.shape == x.shape and gx.dtype == dtype, ctx
    if _torch_backward_uses_shortcut(x.shape, out, mode, scales):
        _assert_adjoint(x, gy, y, gx)  # torch's own gradient is not the adjoint here
    else:
        np.testing.assert_allclose(gx, gx_ref, **TOL[dtype], err_msg=ctx)


def _torch_backward_uses_shortcut(x_shape, out, mode, scales):
    """torch 2.13's 1-d and 3-d nearest *backward* (not their forward) copies when
    out == in and halves indices when out == 2 * in, even when a scale factor says
    otherwise; its 2-d forward and backward both do."""
    if mode != "nearest" or scales is None or len(out) == 2:
        return False
    return any(o in (L, 2 * L) for L, o in zip(x_shape[2:], out))


def _assert_adjoint(x, gy, y, gx):
    """<gy, A x> == <A^T gy, x> for the linear map A (y = A x, gx = A^T gy)."""
    lhs = np.vdot(gy.astype(np.float64), y.astype(np.float64))
    rhs = np.vdot(gx.astype(np.float64), x.astype(np.float64))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_matches_torch(mode, nd, dtype):
    rng = np.random.default_rng(10 * nd + (dtype == np.float64) + 100 * (mode == "nearest"))
    for _ in range(30):
        shape, out, scales = _random_case(rng, nd)
        x = rng.standard_normal(shape).astype(dtype)
        _check(x, out, mode, None, scales, dtype, rng)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("align_corners", [False, True])
def test_linear_modes_match_torch(align_corners, nd, dtype):
    rng = np.random.default_rng(1000 + 10 * nd + (dtype == np.float64) + 2 * align_corners)
    for _ in range(30):
        shape, out, scales = _random_case(rng, nd)
        x = rng.standard_normal(shape).astype(dtype)
        _check(x, out, LINEAR_MODE[nd], align_corners, scales, dtype, rng)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_user_scale_factor_is_used_for_coordinates(mode):
    # floor(5 * 1.7) = 8, but torch maps with 1 / 1.7 rather than 5 / 8 ...
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 5))
    ac = False if mode == "linear" else None
    with_scales = interp.interpolate_forward(x, (8,), mode, ac, (1.7,))
    with_size = interp.interpolate_forward(x, (8,), mode, ac)
    assert not np.allclose(with_scales, with_size)
    kwargs = {"align_corners": False} if mode == "linear" else {}
    ref = F.interpolate(torch.tensor(x), scale_factor=1.7, mode=mode, **kwargs).numpy()
    np.testing.assert_allclose(with_scales, ref, rtol=1e-12)
    # ... unless recompute_scale_factor=True, which amounts to passing no scales.
    ref = F.interpolate(
        torch.tensor(x), scale_factor=1.7, mode=mode, recompute_scale_factor=True, **kwargs
    ).numpy()
    np.testing.assert_allclose(with_size, ref, rtol=1e-12)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_equal_size_with_scale(mode):
    # floor(4 * 1.1) = 4: linear modes copy; nearest still maps with 1 / 1.1.
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    ac = False if mode == "linear" else None
    y = interp.interpolate_forward(x, (4,), mode, ac, (1.1,))
    kwargs = {"align_corners": False} if mode == "linear" else {}
    ref = F.interpolate(torch.tensor(x), scale_factor=1.1, mode=mode, **kwargs).numpy()
    np.testing.assert_array_equal(y, ref)
    if mode == "linear":
        np.testing.assert_array_equal(y, x)
    else:
        np.testing.assert_array_equal(y, x[..., [0, 0, 1, 2]])


def test_nearest_backward_is_adjoint_where_torch_is_not():
    # torch 2.13: forward maps with floor(i / 1.1) = [0, 0, 1, 2, 3], but its
    # backward copies (out == in). lucid's backward is the adjoint of the forward.
    x = np.arange(5.0).reshape(1, 1, 5)
    y = interp.interpolate_forward(x, (5,), "nearest", None, (1.1,))
    np.testing.assert_array_equal(y, [[[0.0, 0.0, 1.0, 2.0, 3.0]]])
    gy = 10.0 ** np.arange(5).reshape(1, 1, 5)
    gx = interp.interpolate_backward(gy, x.shape, "nearest", None, (1.1,))
    np.testing.assert_array_equal(gx, [[[11.0, 100.0, 1000.0, 10000.0, 0.0]]])
    _, gx_torch = _torch_interp(x, gy, scale_factor=1.1, mode="nearest")
    np.testing.assert_array_equal(gx_torch, gy)  # torch's (non-adjoint) gradient
    # Same for out == 2 * in: the forward uses floor(i / 2.2), torch's backward i >> 1.
    x = np.arange(3.0).reshape(1, 1, 3)
    y = interp.interpolate_forward(x, (6,), "nearest", None, (2.2,))
    np.testing.assert_array_equal(y, [[[0.0, 0.0, 0.0, 1.0, 1.0, 2.0]]])
    gy = 10.0 ** np.arange(6).reshape(1, 1, 6)
    gx = interp.interpolate_backward(gy, x.shape, "nearest", None, (2.2,))
    np.testing.assert_array_equal(gx, [[[111.0, 11000.0, 100000.0]]])


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_backward_is_adjoint(mode, align_corners):
    rng = np.random.default_rng(4)
    for _ in range(20):
        shape, out, scales = _random_case(rng, 1)
        x = rng.standard_normal(shape)
        y = interp.interpolate_forward(x, out, mode, align_corners, scales)
        gy = rng.standard_normal(y.shape)
        gx = interp.interpolate_backward(gy, x.shape, mode, align_corners, scales)
        _assert_adjoint(x, gy, y, gx)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear"])
@pytest.mark.parametrize(("size", "factor"), [(5, 1.1), (3, 2.2), (4, 2.1)])
def test_scale_factor_with_equal_or_doubled_size(nd, mode, size, factor):
    # The sizes where torch's shortcuts (copy, index >> 1) can disagree with
    # floor(i / factor): forward must match torch for every rank.
    rng = np.random.default_rng(size)
    mode = LINEAR_MODE[nd] if mode == "linear" else mode
    ac = False if mode in LINEAR_MODE.values() else None
    x = rng.standard_normal((2, 2) + (size,) * nd)
    out = (math.floor(size * factor),) * nd
    _check(x, out, mode, ac, (factor,) * nd, np.float64, rng)


def test_float32_index_arithmetic():
    # Output positions whose float32 source coordinate rounds across an integer.
    rng = np.random.default_rng(2)
    for L, out in [(3, 5), (7, 10), (10, 7), (6, 9), (9, 13), (11, 3), (5, 3), (13, 29)]:
        x = rng.standard_normal((1, 1, L)).astype(np.float32)
        for mode in ("nearest", "nearest-exact"):
            y = interp.interpolate_forward(x, (out,), mode, None)
            ref = F.interpolate(torch.tensor(x), size=out, mode=mode).numpy()
            np.testing.assert_array_equal(y, ref)
    for sf in (1 / 3, 2 / 3, 0.1, 0.3, 2.9, 1.3):
        x = rng.standard_normal((1, 1, 30)).astype(np.float32)
        for mode in ("nearest", "nearest-exact"):
            y = interp.interpolate_forward(x, (math.floor(30 * sf),), mode, None, (sf,))
            ref = F.interpolate(torch.tensor(x), scale_factor=sf, mode=mode).numpy()
            np.testing.assert_array_equal(y, ref)


def test_single_output_with_align_corners():
    x = np.random.default_rng(3).standard_normal((1, 2, 4, 5))
    y = interp.interpolate_forward(x, (1, 1), "bilinear", True)
    np.testing.assert_array_equal(y, x[..., :1, :1])
    gx = interp.interpolate_backward(np.ones((1, 2, 1, 1)), x.shape, "bilinear", True)
    assert gx[..., 0, 0].sum() == 2 and gx.sum() == 2


def test_invalid_arguments():
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError, match="Got 4D input, but linear mode needs 3D input"):
        interp.interpolate_forward(x, (8, 8), "linear", False)
    with pytest.raises(ValueError, match="unsupported interpolation mode"):
        interp.interpolate_forward(x, (8, 8), "bicubic", False)
    with pytest.raises(ValueError, match="out_size"):
        interp.interpolate_forward(x, (8,), "nearest", None)
    with pytest.raises(RuntimeError, match="Input and output sizes should be greater than 0"):
        interp.interpolate_forward(x, (0, 8), "nearest", None)
