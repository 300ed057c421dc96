"""Tests of the compiled (numba) depthwise kernels behind :mod:`lucid.kernels.conv`: values
and both gradients against PyTorch, against the NumPy paths for any ``gy`` size, the
routing (which layers take them), non-finite values, and switching them off."""

from __future__ import annotations

import numpy as np
import pytest

from lucid.kernels import _compiled
from lucid.kernels import conv as K

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not _compiled.available(), reason="numba is not installed")
F = torch.nn.functional
TOL = {np.float32: 2e-6, np.float64: 1e-12}


@pytest.fixture
def spy(record_calls):
    """Names of the compiled kernels called."""
    return record_calls(_compiled, "depthwise_forward", "depthwise_weight_grad")


def depthwise_grid():
    rng = np.random.default_rng(77)
    params = []
    for i in range(40):
        nd = 1 + i % 2
        kernel = tuple(int(k) for k in rng.integers(1, 6, size=nd))
        padding = tuple((int(a), int(b)) for a, b in rng.integers(0, 4, size=(nd, 2)))
        spatial = tuple(max(1, k - lo - hi) + int(rng.integers(0, 9))
                        for k, (lo, hi) in zip(kernel, padding))
        N, C = int(rng.integers(1, 4)), int(rng.integers(2, 6))
        dtype = (np.float32, np.float64)[i // 2 % 2]
        params.append(pytest.param(N, C, spatial, kernel, padding, dtype, i % 3 == 0,
                                   id=f"{nd}d-{np.dtype(dtype).name}-{i}"))
    return params


@pytest.mark.parametrize(("N", "C", "spatial", "kernel", "padding", "dtype", "bias"),
                         depthwise_grid())
def test_matches_torch(N, C, spatial, kernel, padding, dtype, bias, spy, assert_close):
    """Forward (with and without bias), input and weight gradient of random depthwise layers
    (kernels 1-5 per dim, asymmetric padding up to 3, outputs down to one position)."""
    rng = np.random.default_rng(len(spatial) * 100 + C)
    nd = len(spatial)
    x = rng.standard_normal((N, C) + spatial).astype(dtype)
    w = rng.standard_normal((C, 1) + kernel).astype(dtype)
    b = rng.standard_normal(C).astype(dtype) if bias else None
    args = ((1,) * nd, padding, (1,) * nd, C)
    y = K.conv_forward(x, w, *args, bias=b)
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx = K.conv_input_grad(gy, w, spatial, *args)
    gw = K.conv_weight_grad(x, gy, kernel, *args)
    # forward, input gradient (the flipped forward), weight gradient (one call per chunk)
    assert spy[:2] == ["depthwise_forward"] * 2 and set(spy[2:]) == {"depthwise_weight_grad"}

    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    flat = tuple(v for lo_hi in reversed(padding) for v in lo_hi)
    conv = getattr(F, f"conv{nd}d")
    ty = conv(F.pad(tx, flat), tw, None if b is None else torch.tensor(b), groups=C)
    tgx, tgw = torch.autograd.grad(ty, (tx, tw), torch.tensor(gy))
    for got, want in ((y, ty), (gx, tgx), (gw, tgw)):
        assert_close(got, want.detach().numpy(), TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("extra", [-2, 0, 3])
def test_any_gy_size_matches_numpy_paths(dtype, extra, monkeypatch, spy, assert_close):
    """The input gradient (= transposed convolution) and the weight gradient accept a ``gy``
    smaller or larger than the forward's output, exactly like the NumPy paths."""
    rng = np.random.default_rng(extra + 10)
    x = rng.standard_normal((3, 5, 9, 8)).astype(dtype)
    w = rng.standard_normal((5, 1, 3, 4)).astype(dtype)
    args = ((1, 1), ((2, 1), (0, 3)), (1, 1), 5)
    out = K.conv_output_shape((9, 8), (3, 4), *args[:3])
    gy = rng.standard_normal((3, 5, out[0] + extra, out[1] + extra)).astype(dtype)
    fast = K.conv_input_grad(gy, w, (9, 8), *args), K.conv_weight_grad(x, gy, (3, 4), *args)
    assert spy[0] == "depthwise_forward" and set(spy[1:]) == {"depthwise_weight_grad"}
    monkeypatch.setattr(_compiled, "available", lambda: False)
    slow = K.conv_input_grad(gy, w, (9, 8), *args), K.conv_weight_grad(x, gy, (3, 4), *args)
    for got, want in zip(fast, slow):
        assert_close(got, want, TOL[dtype])


def test_noncontiguous_and_many_chunks(monkeypatch, spy, assert_close):
    """Strided inputs and a batch spread over many worker chunks give the NumPy results,
    bit-identically for any number of worker threads."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 28, 6, 6)).transpose(0, 1, 3, 2)[:, ::2]  # (7, 14, 6, 6)
    w = rng.standard_normal((14, 1, 3, 3))[::-1]
    gy = rng.standard_normal((7, 14, 6, 6))[..., ::-1]
    args = ((1, 1), ((1, 1), (1, 1)), (1, 1), 14)
    monkeypatch.setattr(K, "_ELEMENTWISE_CHUNK_BYTES", 1)  # one sample per chunk

    def run():
        return (K.conv_forward(x, w, *args), K.conv_input_grad(gy, w, (6, 6), *args),
                K.conv_weight_grad(x, gy, (3, 3), *args))

    threads = K.get_num_threads()
    try:
        fast = run()
        K.set_num_threads(1)
        assert all(a.tobytes() == b.tobytes() for a, b in zip(run(), fast))
    finally:
        K.set_num_threads(threads)
    assert "depthwise_forward" in spy and "depthwise_weight_grad" in spy
    monkeypatch.setattr(_compiled, "available", lambda: False)
    for got, want in zip(fast, run()):
        assert_close(got, want, TOL[np.float64])


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "stride", "dilation", "dtype"),
    [
        ((2, 4, 8, 8), (4, 1, 3, 3), (2, 2), (1, 1), np.float32),  # strided
        ((2, 4, 8, 8), (4, 1, 3, 3), (1, 1), (2, 1), np.float32),  # dilated
        ((2, 4, 5, 5, 5), (4, 1, 3, 3, 3), (1, 1, 1), (1, 1, 1), np.float32),  # 3-d
        ((2, 4, 8, 8), (8, 1, 3, 3), (1, 1), (1, 1), np.float32),  # channel multiplier 2
        ((2, 4, 8, 8), (4, 1, 3, 3), (1, 1), (1, 1), np.complex64),
        ((2, 4, 8, 8), (4, 2, 3, 3), (1, 1), (1, 1), np.float32),  # grouped, not depthwise
    ],
)
def test_other_layers_keep_the_numpy_paths(x_shape, w_shape, stride, dilation, dtype, spy):
    """Only 1-d/2-d, unit-stride, undilated, multiplier-1 real depthwise layers are compiled
    (float16 is computed in float32, so it is compiled too)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    nd = len(stride)
    groups = x_shape[1] // w_shape[1]
    args = (stride, ((1, 1),) * nd, dilation, groups)
    y = K.conv_forward(x, w, *args)
    K.conv_input_grad(y, w, x_shape[2:], *args)
    K.conv_weight_grad(x, y, w_shape[2:], *args)
    assert spy == []


def test_nonfinite_values_match_torch(spy):
    """inf/nan in x reach exactly the outputs whose windows hold them; an inf weight also
    multiplies the padding zeros (nan there, as in PyTorch), and the input gradient with
    non-finite weights takes the NumPy path, which matches PyTorch too. The inf in the last
    column of ``x[0, 1]`` is read by a junk column of the flat weight-gradient reduction
    for the taps ``e = 0`` (which no valid output reads it for), so channel 1 must take the
    exact recomputation to stay finite there."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((3, 1, 3, 3))
    gy = rng.standard_normal((2, 3, 7, 6))
    x_bad, w_bad = x.copy(), w.copy()
    x_bad[0, 1, 2, 5], x_bad[1, 0, 6, 0] = np.inf, np.nan
    w_bad[1, 0, 0, 2] = -np.inf
    args = ((1, 1), ((1, 1), (1, 1)), (1, 1), 3)
    for xx, ww in ((x_bad, w), (x, w_bad), (x_bad, w_bad)):
        tx = torch.tensor(xx, requires_grad=True)
        tw = torch.tensor(ww, requires_grad=True)
        ty = F.conv2d(tx, tw, padding=1, groups=3)
        want = (ty.detach(),) + torch.autograd.grad(ty, (tx, tw), torch.tensor(gy))
        with np.errstate(invalid="ignore", over="ignore"):
            got = (K.conv_forward(xx, ww, *args), K.conv_input_grad(gy, ww, (7, 6), *args),
                   K.conv_weight_grad(xx, gy, (3, 3), *args))
        for g, r in zip(got, (t.numpy() for t in want)):
            np.testing.assert_array_equal(np.isnan(g), np.isnan(r))
            np.testing.assert_array_equal(np.isposinf(g), np.isposinf(r))
            np.testing.assert_array_equal(np.isneginf(g), np.isneginf(r))
            fin = np.isfinite(r)
            np.testing.assert_allclose(g[fin], r[fin], rtol=1e-10, atol=1e-10)
    assert "depthwise_forward" in spy and "depthwise_weight_grad" in spy


def test_disabled_by_environment(monkeypatch):
    """``LUCID_DISABLE_JIT=1`` switches the compiled kernels off (``0`` or empty does not)."""
    for value, expect in (("1", False), ("0", True), ("", True)):
        monkeypatch.setenv("LUCID_DISABLE_JIT", value)
        _compiled._numba.cache_clear()
        try:
            assert _compiled.available() is expect
        finally:
            _compiled._numba.cache_clear()
    monkeypatch.delenv("LUCID_DISABLE_JIT")
    assert _compiled.available()


CROP_STORE = [
    # x shape, w shape, stride, padding, dilation, groups
    ((3, 4, 12, 11), (6, 4, 3, 3), (2, 2), ((1, 1), (1, 0)), (1, 1), 1),  # resnet down
    ((2, 3, 17, 15), (5, 3, 7, 5), (2, 3), ((3, 3), (2, 2)), (1, 1), 1),  # stem-like
    ((2, 6, 9, 10), (6, 2, 3, 2), (2, 1), ((0, 2), (1, 0)), (1, 2), 3),  # grouped, dilated
    ((3, 4, 40), (6, 2, 5), (3,), ((2, 1),), (1,), 2),  # 1-d
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("cfg", CROP_STORE)
def test_crop_store_matches_numpy_store(cfg, bias, dtype, monkeypatch, record_calls):
    """The im2col forward's compiled crop of the extended GEMM result into ``y`` (plus
    bias) gives the NumPy path's bytes, for whole chunks and for blocks of output rows
    (strided ``y`` blocks)."""
    x_shape, w_shape, *args = cfg
    rng = np.random.default_rng(2)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if bias else None
    calls = record_calls(_compiled, "crop_store")
    for target in (None, 300):  # one chunk / blocks of output rows
        if target:
            monkeypatch.setattr(K, "_CHUNK_TARGET_BYTES", target)
        start = len(calls)
        fast = K.conv_forward(x, w, *args, bias=b)
        assert len(calls) > start
        with monkeypatch.context() as m:
            m.setattr(_compiled, "available", lambda: False)
            slow = K.conv_forward(x, w, *args, bias=b)
        assert fast.tobytes() == slow.tobytes()


def test_crop_store_not_for_3d_or_complex(record_calls):
    calls = record_calls(_compiled, "crop_store")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 6, 7, 5))
    w = rng.standard_normal((4, 3, 2, 3, 2))
    K.conv_forward(x, w, (2, 2, 2), ((1, 0),) * 3, (1, 1, 1), 1)
    xc = (x + 1j)[..., 0]
    K.conv_forward(xc, (w + 1j)[..., 0], (2, 2), ((1, 0),) * 2, (1, 1), 1)
    assert calls == []
