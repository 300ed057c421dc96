"""Tests of :func:`lucid.kernels.conv.conv_forward_weight_grad`: the forward and the weight
gradient of one ``x`` from one set of columns (the backward of a transposed convolution).

It must give what the two separate calls give -- bit for bit on the im2col route -- and
take the shared route only where both calls would build the same columns."""

from __future__ import annotations

import numpy as np
import pytest

from lucid.kernels import conv as K

torch = pytest.importorskip("torch")
F = torch.nn.functional
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
TOL = {np.float32: 1e-5, np.float64: 1e-12}

# x shape, w shape, stride, padding, dilation, groups
IM2COL = {
    "dcgan k4 s2": ((2, 6, 8, 8), (5, 6, 4, 4), (2, 2), ((1, 1), (1, 1)), (1, 1), 1),
    "1-d groups": ((3, 4, 11), (6, 2, 3), (2,), ((1, 0),), (1,), 2),
    "3-d dilated strided": ((2, 3, 6, 7, 5), (4, 3, 2, 2, 2), (2, 1, 2),
                            ((1, 0), (0, 1), (1, 1)), (1, 2, 1), 1),
    "2-d mixed, groups 3": ((2, 6, 9, 10), (6, 2, 3, 2), (2, 3), ((0, 2), (1, 0)), (1, 2), 3),
    "unit stride, groups": ((2, 4, 7, 7), (4, 2, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 2),
}
# windows that tile x (stride == kernel): at least _SHARED_PATCH_MIN_OUT outputs per sample
PATCH = {
    "unet k2": ((3, 4, 16, 16), (6, 4, 2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1), 1),
    "1-d k4": ((2, 3, 300), (5, 3, 4), (4,), ((0, 0),), (1,), 1),
    "3-d k2 groups": ((2, 4, 8, 8, 10), (6, 2, 2, 2, 2), (2, 2, 2), ((0, 0),) * 3, (1,) * 3, 2),
    "ragged end": ((2, 3, 17, 18), (4, 3, 2, 2), (2, 2), ((0, 0), (0, 1)), (1, 1), 1),
}


def arrays(cfg, dtype, seed=0):
    x_shape, w_shape, stride, padding, dilation, groups = cfg
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    out = K.conv_output_shape(x_shape[2:], w_shape[2:], stride, padding, dilation)
    gy = rng.standard_normal((x_shape[0], w_shape[0]) + out).astype(dtype)
    return x, w, gy, (stride, padding, dilation, groups)


def two_calls(x, w, gy, args):
    return K.conv_forward(x, w, *args), K.conv_weight_grad(x, gy, w.shape[2:], *args)


def torch_pair(x, w, gy, args):
    stride, padding, dilation, groups = args
    tx = torch.tensor(x)
    tw = torch.tensor(w, requires_grad=True)
    flat = tuple(v for lo_hi in reversed(padding) for v in lo_hi)
    ty = CONV[x.ndim - 2](F.pad(tx, flat), tw, stride=stride, dilation=dilation, groups=groups)
    (gw,) = torch.autograd.grad(ty, tw, torch.tensor(gy))
    return ty.detach().numpy(), gw.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(IM2COL))
def test_im2col_route_is_bit_identical(name, dtype, record_calls, assert_close):
    """Forward and weight gradient equal the two separate calls bit for bit, build the
    columns once per block (half the im2col copies), and match PyTorch."""
    x, w, gy, args = arrays(IM2COL[name], dtype)
    assert K._shared_columns_route(x, w, gy, *args) == "im2col"
    calls = record_calls(K._FlatPlan, "im2col")
    y, gw = K.conv_forward_weight_grad(x, w, gy, *args)
    shared = len(calls)
    ref = two_calls(x, w, gy, args)
    assert 2 * shared == len(calls) - shared
    for got, want in zip((y, gw), ref):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()
    for got, want in zip((y, gw), torch_pair(x, w, gy, args)):
        assert_close(got, want, TOL[dtype])


def test_im2col_route_chunks_and_row_blocks(monkeypatch):
    """Many batch chunks, and samples split into blocks of output rows: still the two
    calls' results, bit for bit."""
    x, w, gy, args = arrays(IM2COL["dcgan k4 s2"], np.float64, seed=3)
    for target in (4000, 20000):  # row blocks of one sample / chunks of a few samples
        monkeypatch.setattr(K, "_CHUNK_TARGET_BYTES", target)
        for got, want in zip(K.conv_forward_weight_grad(x, w, gy, *args),
                             two_calls(x, w, gy, args)):
            assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(PATCH))
def test_patch_route(name, dtype, monkeypatch, assert_close):
    """Non-overlapping windows: the weight gradient is summed per sample (another rounding)
    and still matches PyTorch; strided operands and many chunks too."""
    x, w, gy, args = arrays(PATCH[name], dtype)
    assert K._shared_columns_route(x, w, gy, *args) == "patch"
    want = torch_pair(x, w, gy, args)
    for got, ref in zip(K.conv_forward_weight_grad(x, w, gy, *args), want):
        assert_close(got, ref, TOL[dtype])
    monkeypatch.setattr(K, "_CHUNK_TARGET_BYTES", 1)  # one sample per chunk
    xs = np.repeat(x, 2, axis=1)[:, ::2]  # same values, strided
    gys = np.ascontiguousarray(np.swapaxes(gy, -1, -2)).swapaxes(-1, -2)
    for got, ref in zip(K.conv_forward_weight_grad(xs, w, gys, *args), want):
        assert_close(got, ref, TOL[dtype])


OTHER_LAYERS = {  # where the route must be None: the result is the two calls'
    "winograd 3x3": ((2, 16, 12, 12), (16, 16, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    "pointwise": ((2, 4, 5, 5), (6, 4, 1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    "depthwise": ((2, 4, 8, 8), (4, 1, 3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), 4),
    "split forward": ((2, 3, 9, 9), (4, 3, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    "small windows": ((2, 3, 8, 8), (4, 3, 2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1), 1),
}


@pytest.mark.parametrize("name", list(OTHER_LAYERS))
def test_other_layers_make_the_two_calls(name, record_calls):
    x, w, gy, args = arrays(OTHER_LAYERS[name], np.float64)
    assert K._shared_columns_route(x, w, gy, *args) is None
    calls = record_calls(K, "conv_forward", "conv_weight_grad")
    got = K.conv_forward_weight_grad(x, w, gy, *args)
    assert calls == ["conv_forward", "conv_weight_grad"]
    for a, b in zip(got, two_calls(x, w, gy, args)):
        assert a.tobytes() == b.tobytes()


def test_other_operands_make_the_two_calls(record_calls):
    """Complex, float16 or mixed dtypes and a ``gy`` larger than the output take the two
    calls (with their dtype rules and their checks)."""
    x, w, gy, args = arrays(IM2COL["dcgan k4 s2"], np.float32)
    cases = [
        (x.astype(np.complex64), w.astype(np.complex64), gy.astype(np.complex64)),
        (x.astype(np.float16), w.astype(np.float16), gy.astype(np.float16)),
        (x, w.astype(np.float64), gy),
        (x, w, np.pad(gy, ((0, 0), (0, 0), (0, 1), (0, 0)))),
    ]
    calls = record_calls(K, "conv_forward", "conv_weight_grad")
    for xx, ww, gg in cases:
        assert K._shared_columns_route(xx, ww, gg, *args) is None
        start = len(calls)
        got = K.conv_forward_weight_grad(xx, ww, gg, *args)
        assert calls[start:] == ["conv_forward", "conv_weight_grad"]
        want = (K.conv_forward(xx, ww, *args),
                K.conv_weight_grad(xx, gg, ww.shape[2:], *args))
        for a, b in zip(got, want):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes()


def test_too_small_input_raises_like_conv_forward():
    x = np.zeros((1, 2, 2, 2), np.float32)
    w = np.zeros((3, 2, 4, 4), np.float32)
    gy = np.zeros((1, 3, 1, 1), np.float32)
    with pytest.raises(ValueError, match="too small"):
        K.conv_forward_weight_grad(x, w, gy, (1, 1), ((0, 0), (0, 0)), (1, 1), 1)


@pytest.mark.parametrize("route", ["im2col", "patch"])
def test_nonfinite_values_like_the_two_calls(route, record_calls):
    """An inf in the last column of ``x`` (read by junk columns of the im2col route) and a
    nan in ``gy``: the same inf/nan pattern and finite values as the two calls, which match
    PyTorch (tests of test_conv_kernels); the im2col weight gradient is computed again with
    its junk columns zeroed."""
    cfg = IM2COL["dcgan k4 s2"] if route == "im2col" else PATCH["unet k2"]
    x, w, gy, args = arrays(cfg, np.float64, seed=5)
    x[0, 1, 3, -1] = np.inf
    gy[1, 2, 0, 0] = np.nan
    calls = record_calls(K, "_im2col_weight_grad")
    with np.errstate(invalid="ignore", over="ignore"):
        got = K.conv_forward_weight_grad(x, w, gy, *args)
        assert calls == (["_im2col_weight_grad"] if route == "im2col" else [])
        want = two_calls(x, w, gy, args)
    for g, r in zip(got, want):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(r))
        np.testing.assert_array_equal(np.isposinf(g), np.isposinf(r))
        np.testing.assert_array_equal(np.isneginf(g), np.isneginf(r))
        fin = np.isfinite(r)
        np.testing.assert_allclose(g[fin], r[fin], rtol=1e-12, atol=1e-12)
