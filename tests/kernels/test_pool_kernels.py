"""Pooling kernels (lucid.kernels.pool) against PyTorch's CPU implementation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lucid.kernels import pool

torch = pytest.importorskip("torch")
F = torch.nn.functional

DTYPES = [np.float32, np.float64]
KINDS = ["normal", "ties", "special"]
TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}

MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
ADAPTIVE_AVG = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
ADAPTIVE_MAX = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}


# --------------------------------------------------------------------------- helpers


def _random_input(rng, shape, dtype, kind="normal"):
    """Random values: 'normal', 'ties' (few distinct values) or 'special' (nan/inf)."""
    if kind == "ties":
        return rng.integers(-1, 2, size=shape).astype(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    if kind == "special":
        u = rng.random(shape)
        x[u < 0.1] = np.nan
        x[(u >= 0.1) & (u < 0.2)] = -np.inf
        x[(u >= 0.2) & (u < 0.25)] = np.inf
    return x


def _torch_grad(fn, x, gy):
    """Run ``fn`` on a leaf copy of ``x`` and back-propagate ``gy``."""
    xt = torch.tensor(x, requires_grad=True)
    out = fn(xt)
    y = out[0] if isinstance(out, tuple) else out
    y.backward(torch.tensor(gy))
    return out, xt.grad.numpy()


def _valid_config(x_shape, k, s, p, d, ceil_mode, check_input_size=False):
    try:
        pool.check_pool_args(x_shape, k, s, p, d, ceil_mode, check_input_size=check_input_size)
    except RuntimeError:
        return False
    return True


def _has_empty_window(x_shape, k, s, p, d, ceil_mode):
    """Whether some dilated window has no in-bounds tap (torch's backward then writes
    out of the plane, which is not reproduced; see test_window_without_input)."""
    for L, kv, sv, pv, dv in zip(x_shape[2:], k, s, p, d):
        for o in range(pool.pool_output_size(L, kv, sv, pv, dv, ceil_mode)):
            taps = o * sv - pv + dv * np.arange(kv)
            if not np.any((taps >= 0) & (taps < L)):
                return True
    return False


def _random_pool_configs(rng, nd, count, dilation=True, check_input_size=False):
    """Random valid (shape, kernel, stride, padding, dilation, ceil_mode) tuples."""
    configs = []
    while len(configs) < count:
        max_k = 4 if nd < 3 else 3
        k = tuple(int(v) for v in rng.integers(1, max_k + 1, nd))
        s = tuple(int(v) for v in rng.integers(1, 4, nd))
        d = tuple(int(v) for v in rng.integers(1, 3, nd)) if dilation else (1,) * nd
        p = tuple(int(rng.integers(0, kv // 2 + 1)) for kv in k)
        sizes = tuple(int(v) for v in rng.integers(1, 10 if nd < 3 else 7, nd))
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *sizes)
        ceil_mode = bool(rng.integers(0, 2))
        if _valid_config(shape, k, s, p, d, ceil_mode, check_input_size) and not _has_empty_window(
            shape, k, s, p, d, ceil_mode
        ):
            configs.append((shape, k, s, p, d, ceil_mode))
    return configs


# --------------------------------------------------------------------------- output size


def test_pool_output_size_matches_torch():
    checked = 0
    for L, k, s, d in itertools.product(range(1, 9), range(1, 5), range(1, 4), range(1, 3)):
        for p in range(0, k // 2 + 1):
            for ceil_mode in (False, True):
                ours = pool.pool_output_size(L, k, s, p, d, ceil_mode)
                x = torch.zeros(1, 1, L)
                try:
                    ref = F.max_pool1d(x, k, s, p, d, ceil_mode=ceil_mode).shape[-1]
                except RuntimeError:
                    assert ours <= 0
                    continue
                assert ours == ref, (L, k, s, p, d, ceil_mode)
                checked += 1
    assert checked > 500


def test_ceil_mode_drops_window_starting_in_padding():
    # 4th window of ceil_mode would start at position 5 >= L + p = 5: dropped.
    assert pool.pool_output_size(4, 2, 2, 1, 1, True) == 3
    assert pool.pool_output_size(5, 2, 2, 1, 1, True) == 3
    assert pool.pool_output_size(5, 3, 2, 1, 1, True) == 3
    assert pool.pool_output_size(6, 3, 3, 1, 1, True) == 3


# --------------------------------------------------------------------------- max pooling


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_max_pool_matches_torch(nd, dtype, kind):
    rng = np.random.default_rng(100 * nd + (dtype == np.float64) + 2 * KINDS.index(kind))
    for shape, k, s, p, d, ceil_mode in _random_pool_configs(rng, nd, 25):
        x = _random_input(rng, shape, dtype, kind)
        y, idx = pool.max_pool_forward(x, k, s, p, d, ceil_mode)

        def fn(t, k=k, s=s, p=p, d=d, ceil_mode=ceil_mode):
            return MAX_POOL[nd](t, k, s, p, d, ceil_mode=ceil_mode, return_indices=True)

        gy = rng.standard_normal(y.shape).astype(dtype)
        (yt, it), gx_ref = _torch_grad(fn, x, gy)
        ctx = (shape, k, s, p, d, ceil_mode)
        assert y.dtype == dtype and idx.dtype == np.int64
        np.testing.assert_array_equal(y, yt.detach().numpy(), err_msg=str(ctx))
        np.testing.assert_array_equal(idx, it.numpy(), err_msg=str(ctx))
        gx = pool.max_pool_backward(gy, idx, x.shape)
        assert gx.shape == x.shape and gx.dtype == dtype
        np.testing.assert_allclose(gx, gx_ref, **TOL[dtype], err_msg=str(ctx))


def test_max_pool_tie_and_nan_rules():
    x = np.array([[[1.0, 3.0, 3.0, 2.0, 3.0]]])
    y, idx = pool.max_pool_forward(x, (5,), (1,), (0,), (1,), False)
    assert idx.item() == 1  # first maximum

    x = np.array([[[1.0, np.nan, 3.0, np.nan, 2.0]]])
    y, idx = pool.max_pool_forward(x, (5,), (1,), (0,), (1,), False)
    assert np.isnan(y.item()) and idx.item() == 3  # last NaN, like torch

    # Signed zeros tie: the first one is kept, sign included.
    x = np.array([[[-0.0, 0.0, 0.0, -0.0]]], dtype=np.float32)
    y, idx = pool.max_pool_forward(x, (2,), (2,), (0,), (1,), False)
    yt, it = F.max_pool1d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(np.signbit(y), np.signbit(yt.numpy()))
    np.testing.assert_array_equal(idx, it.numpy())

    # All -inf: the index is the window's first in-bounds element (torch's init).
    x = np.full((1, 1, 3, 3), -np.inf)
    _, idx = pool.max_pool_forward(x, (3, 3), (1, 1), (1, 1), (1, 1), False)
    _, ref = F.max_pool2d(torch.tensor(x), 3, 1, 1, return_indices=True)
    np.testing.assert_array_equal(idx, ref.numpy())
    _, idx = pool.max_pool_forward(x, (2, 2), (2, 2), (1, 1), (2, 2), False)
    _, ref = F.max_pool2d(torch.tensor(x), 2, 2, 1, 2, return_indices=True)
    np.testing.assert_array_equal(idx, ref.numpy())


def test_window_without_input():
    # k=2, d=2, p=1 on L=1: the only window's taps (-1, 1) are both out of bounds.
    x = np.random.default_rng(2).standard_normal((2, 1, 1, 3))
    y, idx = pool.max_pool_forward(x, (2, 1), (1, 1), (1, 0), (2, 1), False)
    yt, it = F.max_pool2d(torch.tensor(x), (2, 1), 1, (1, 0), (2, 1), return_indices=True)
    np.testing.assert_array_equal(y, yt.numpy())
    np.testing.assert_array_equal(idx, it.numpy())
    assert np.all(y == -np.inf) and np.all(idx >= x.shape[2] * x.shape[3])
    # Such outputs depend on no input: their gradient is dropped (torch writes it
    # past the end of the plane).
    gx = pool.max_pool_backward(np.ones_like(y), idx, x.shape)
    np.testing.assert_array_equal(gx, np.zeros_like(x))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_pool_ceil_mode_edges(nd):
    rng = np.random.default_rng(7 + nd)
    cases = [(5, 2, 2, 1), (4, 2, 2, 1), (6, 3, 3, 1), (5, 3, 2, 1), (7, 3, 3, 0), (5, 4, 3, 2)]
    for L, k, s, p in cases:
        shape = (2, 2) + (L,) * nd
        x = _random_input(rng, shape, np.float64)
        y, idx = pool.max_pool_forward(x, (k,) * nd, (s,) * nd, (p,) * nd, (1,) * nd, True)
        yt, it = MAX_POOL[nd](torch.tensor(x), k, s, p, ceil_mode=True, return_indices=True)
        np.testing.assert_array_equal(y, yt.numpy())
        np.testing.assert_array_equal(idx, it.numpy())


def test_max_pool_integer_input():
    x = np.random.default_rng(3).integers(-5, 5, size=(2, 3, 7, 6)).astype(np.int32)
    y, idx = pool.max_pool_forward(x, (3, 2), (2, 2), (1, 1), (1, 1), True)
    ref_y, ref_i = pool.max_pool_forward(x.astype(np.float64), (3, 2), (2, 2), (1, 1), (1, 1), True)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, ref_y)
    np.testing.assert_array_equal(idx, ref_i)


# --------------------------------------------------------------------------- avg pooling


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_avg_pool_matches_torch(nd, dtype):
    rng = np.random.default_rng(200 + 10 * nd + (dtype == np.float64))
    # avg_pool3d also requires input >= kernel in torch.
    configs = _random_pool_configs(rng, nd, 40, dilation=False, check_input_size=nd == 3)
    for i, (shape, k, s, p, _, ceil_mode) in enumerate(configs):
        count_include_pad = bool(i % 2)
        divisor_override = None if nd == 1 or i % 3 else int(rng.integers(1, 7))
        x = _random_input(rng, shape, dtype)
        args = (k, s, p, ceil_mode, count_include_pad, divisor_override)
        y = pool.avg_pool_forward(x, *args)

        def fn(t, k=k, s=s, p=p, ceil_mode=ceil_mode, cip=count_include_pad, dv=divisor_override):
            kwargs = {} if nd == 1 else {"divisor_override": dv}
            return AVG_POOL[nd](t, k, s, p, ceil_mode, cip, **kwargs)

        gy = rng.standard_normal(y.shape).astype(dtype)
        yt, gx_ref = _torch_grad(fn, x, gy)
        ctx = (shape, *args)
        assert y.dtype == dtype
        np.testing.assert_allclose(y, yt.detach().numpy(), **TOL[dtype], err_msg=str(ctx))
        gx = pool.avg_pool_backward(gy, x.shape, *args)
        assert gx.shape == x.shape and gx.dtype == dtype
        np.testing.assert_allclose(gx, gx_ref, **TOL[dtype], err_msg=str(ctx))


@pytest.mark.parametrize("count_include_pad", [False, True])
def test_avg_pool_divisor_clipped_at_padded_boundary(count_include_pad):
    # ceil_mode windows run past L + p; torch clips the divisor window there.
    x = np.arange(1.0, 6.0).reshape(1, 1, 5)
    for k, s, p in [(3, 2, 1), (2, 2, 1), (4, 3, 2), (3, 3, 0), (2, 3, 0)]:
        y = pool.avg_pool_forward(x, (k,), (s,), (p,), True, count_include_pad)
        ref = F.avg_pool1d(torch.tensor(x), k, s, p, True, count_include_pad).numpy()
        np.testing.assert_allclose(y, ref, rtol=1e-14)
        gy = np.random.default_rng(k).standard_normal(y.shape)
        _, gx_ref = _torch_grad(
            lambda t, k=k, s=s, p=p: F.avg_pool1d(t, k, s, p, True, count_include_pad), x, gy
        )
        gx = pool.avg_pool_backward(gy, x.shape, (k,), (s,), (p,), True, count_include_pad)
        np.testing.assert_allclose(gx, gx_ref, rtol=1e-14)


# --------------------------------------------------------------------------- adaptive


def _adaptive_configs(rng, nd, count):
    configs = []
    for i in range(count):
        sizes = tuple(int(v) for v in rng.integers(1, 11 if nd < 3 else 7, nd))
        out = [int(v) for v in rng.integers(1, 13 if nd < 3 else 8, nd)]
        if nd > 1 and i % 5 == 4:  # None keeps the input size along that dim
            out[int(rng.integers(0, nd))] = None
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *sizes)
        configs.append((shape, tuple(out)))
    configs.append(((2, 3) + (1,) * nd, (5,) * nd))  # pure up-sampling
    configs.append(((1, 2) + (6,) * nd, (1,) * nd))  # global pooling
    return configs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_adaptive_avg_pool_matches_torch(nd, dtype):
    rng = np.random.default_rng(300 + 10 * nd + (dtype == np.float64))
    for shape, out in _adaptive_configs(rng, nd, 25):
        x = _random_input(rng, shape, dtype)
        y = pool.adaptive_avg_pool_forward(x, out)
        gy = rng.standard_normal(y.shape).astype(dtype)
        yt, gx_ref = _torch_grad(lambda t, out=out: ADAPTIVE_AVG[nd](t, out), x, gy)
        ctx = (shape, out)
        assert y.dtype == dtype
        np.testing.assert_allclose(y, yt.detach().numpy(), **TOL[dtype], err_msg=str(ctx))
        gx = pool.adaptive_avg_pool_backward(gy, x.shape)
        assert gx.shape == x.shape and gx.dtype == dtype
        np.testing.assert_allclose(gx, gx_ref, **TOL[dtype], err_msg=str(ctx))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_adaptive_max_pool_matches_torch(nd, dtype, kind):
    rng = np.random.default_rng(400 + 10 * nd + (dtype == np.float64) + 2 * KINDS.index(kind))
    for shape, out in _adaptive_configs(rng, nd, 20):
        x = _random_input(rng, shape, dtype, kind)
        y, idx = pool.adaptive_max_pool_forward(x, out)
        gy = rng.standard_normal(y.shape).astype(dtype)
        fn = lambda t, out=out: ADAPTIVE_MAX[nd](t, out, return_indices=True)  # noqa: E731
        (yt, it), gx_ref = _torch_grad(fn, x, gy)
        ctx = (shape, out)
        assert y.dtype == dtype and idx.dtype == np.int64
        np.testing.assert_array_equal(y, yt.detach().numpy(), err_msg=str(ctx))
        np.testing.assert_array_equal(idx, it.numpy(), err_msg=str(ctx))
        gx = pool.max_pool_backward(gy, idx, x.shape)
        np.testing.assert_allclose(gx, gx_ref, **TOL[dtype], err_msg=str(ctx))


# --------------------------------------------------------------------------- errors


def _torch_error(fn):
    with pytest.raises(RuntimeError) as info:
        fn()
    return str(info.value).splitlines()[0]


@pytest.mark.parametrize(
    ("nd", "k", "s", "p", "d", "size"),
    [
        (2, 2, 2, 2, 1, 5),  # pad > effective kernel // 2
        (2, 3, 1, 3, 2, 5),  # pad > effective kernel // 2 with dilation
        (2, 3, 1, 2, 2, 5),  # pad > kernel // 2 (but <= effective // 2)
        (3, 3, 1, 2, 2, 5),
        (1, 3, 1, 2, 2, 5),
        (2, 7, 1, 0, 1, 5),  # output size too small
        (3, 7, 1, 0, 1, 5),
        (1, 7, 1, 0, 1, 5),
        (2, 0, 1, 0, 1, 5),  # non-positive kernel
        (3, 0, 1, 0, 1, 5),
        (1, 0, 1, 0, 1, 5),
        (2, 2, -1, 0, 1, 5),  # negative stride
        (1, 2, -1, 0, 1, 5),
        (2, 2, 0, 0, 1, 5),  # zero stride
        (2, 2, 1, 0, 0, 5),  # non-positive dilation
        (3, 2, 1, 0, -1, 5),
        (2, 2, 1, -1, 1, 5),  # negative padding
    ],
)
def test_check_pool_args_matches_torch_messages(nd, k, s, p, d, size):
    x = torch.zeros((2, 3) + (size,) * nd)
    expected = _torch_error(lambda: MAX_POOL[nd](x, k, s, p, d, return_indices=True))
    t = lambda v: (v,) * nd  # noqa: E731
    with pytest.raises(RuntimeError) as info:
        pool.check_pool_args(tuple(x.shape), t(k), t(s), t(p), t(d))
    assert str(info.value) == expected
    with pytest.raises(RuntimeError):
        pool.max_pool_forward(x.numpy(), t(k), t(s), t(p), t(d), False)
    if d == 1:
        with pytest.raises(RuntimeError):
            pool.avg_pool_forward(x.numpy(), t(k), t(s), t(p), False, True)


def test_avg_pool_errors():
    x = np.zeros((1, 1, 5, 5))
    expected = _torch_error(lambda: F.avg_pool2d(torch.tensor(x), 2, 1, divisor_override=0))
    with pytest.raises(RuntimeError, match=expected):
        pool.avg_pool_forward(x, (2, 2), (1, 1), (0, 0), False, True, divisor_override=0)
    expected = _torch_error(lambda: F.avg_pool2d(torch.tensor(x), 3, 1, padding=(0, 2)))
    with pytest.raises(RuntimeError) as info:
        pool.avg_pool_forward(x, (3, 3), (1, 1), (0, 2), False, True)
    assert str(info.value) == expected


def test_ceil_mode_can_make_output_size_valid():
    x = np.random.default_rng(5).standard_normal((1, 2, 5, 5))
    with pytest.raises(RuntimeError, match="Output size is too small"):
        pool.check_pool_args(x.shape, (6, 5), (2, 2), (0, 0), (1, 1), ceil_mode=False)
    y, idx = pool.max_pool_forward(x, (6, 5), (2, 2), (0, 0), (1, 1), True)
    yt, it = F.max_pool2d(torch.tensor(x), (6, 5), 2, ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(y, yt.numpy())
    np.testing.assert_array_equal(idx, it.numpy())
    y = pool.avg_pool_forward(x, (6, 5), (2, 2), (0, 0), True, True)
    np.testing.assert_allclose(y, F.avg_pool2d(torch.tensor(x), (6, 5), 2, ceil_mode=True))


def test_int_parameters_are_broadcast():
    x = np.random.default_rng(9).standard_normal((1, 2, 6, 6))
    y1, i1 = pool.max_pool_forward(x, 2, 2, 0, 1, False)
    y2, i2 = pool.max_pool_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(i1, i2)
