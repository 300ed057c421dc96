"""Tests of the 3-d Winograd F(4x4, 3x3) path (:mod:`lucid.kernels.winograd3d` on the
compiled transforms of :mod:`lucid.kernels._compiled`): values and both gradients against
PyTorch, chunking into images, plane blocks and slabs, determinism over thread counts,
the adjoint identities of the transforms, the routing rule, and non-finite values."""

from __future__ import annotations

import numpy as np
import pytest

from lucid.kernels import _compiled, winograd3d
from lucid.kernels import conv as K

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not _compiled.available(), reason="numba is not installed")
F = torch.nn.functional
TOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.fixture
def spy(record_calls):
    """Names of the 3-d Winograd entry points called (forward, weight gradient)."""
    return record_calls(K, "_winograd3d_forward", "_winograd3d_weight_grad")


@pytest.fixture
def any_size(monkeypatch):
    """Route small test layers too (the size rule is tested on its own)."""
    monkeypatch.setattr(K, "_WINOGRAD3D_MIN_TILES", 1)


def torch_reference(x, w, b, padding, gy):
    """``y, gx, gw`` of a zero-padded stride-1 conv3d in float64."""
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    tw = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    flat = tuple(v for lo_hi in reversed(padding) for v in lo_hi)
    tb = None if b is None else torch.tensor(b, dtype=torch.float64)
    ty = F.conv3d(F.pad(tx, flat), tw, tb)
    tgx, tgw = torch.autograd.grad(ty, (tx, tw), torch.tensor(gy, dtype=torch.float64))
    return ty.detach().numpy(), tgx.numpy(), tgw.numpy()


def layer_grid():
    rng = np.random.default_rng(33)
    params = []
    for i in range(24):
        kd = int(rng.integers(1, 4))
        padding = tuple((int(a), int(b)) for a, b in rng.integers(0, 3 + i // 2 % 2, size=(3, 2)))
        spatial = (max(1, kd - sum(padding[0])) + int(rng.integers(0, 4)),) + tuple(
            max(1, 3 - lo - hi) + int(rng.integers(0, 11)) for lo, hi in padding[1:])
        N, C, Co = int(rng.integers(1, 4)), int(rng.integers(4, 9)), int(rng.integers(8, 11))
        dtype = (np.float32, np.float64)[i % 2]
        params.append(pytest.param(N, C, Co, spatial, kd, padding, dtype, i % 3 == 0,
                                   id=f"{np.dtype(dtype).name}-{i}"))
    return params


def run_layer(x, w, b, padding, gy):
    nd = 3
    args = ((1,) * nd, padding, (1,) * nd, 1)
    y = K.conv_forward(x, w, *args, bias=b)
    gx = K.conv_input_grad(gy, w, x.shape[2:], *args)
    gw = K.conv_weight_grad(x, gy, w.shape[2:], *args)
    return y, gx, gw


@pytest.mark.parametrize(("N", "C", "Co", "spatial", "kd", "padding", "dtype", "bias"),
                         layer_grid())
def test_matches_torch(N, C, Co, spatial, kd, padding, dtype, bias, any_size, spy, assert_close):
    """Forward (with and without bias), input gradient (the flipped forward, where its
    padding is non-negative) and weight gradient of random layers: depth kernels 1-3,
    asymmetric padding 0-2 (0-3 in every other layer: tiles of padding only), ragged planes
    (outputs down to 1x1, not multiples of 4)."""
    rng = np.random.default_rng(sum(spatial) * 10 + C)
    x = rng.standard_normal((N, C) + spatial).astype(dtype)
    w = rng.standard_normal((Co, C, kd, 3, 3)).astype(dtype)
    b = rng.standard_normal(Co).astype(dtype) if bias else None
    out = K.conv_output_shape(spatial, w.shape[2:], (1, 1, 1), padding, (1, 1, 1))
    gy = rng.standard_normal((N, Co) + out).astype(dtype)
    got = run_layer(x, w, b, padding, gy)
    flipped = all(lo < k and hi < k for k, (lo, hi) in zip(w.shape[2:], padding))
    assert spy == ["_winograd3d_forward"] * (2 if flipped else 1) + ["_winograd3d_weight_grad"]
    for g, want in zip(got, torch_reference(x, w, b, padding, gy)):
        assert_close(g, want.astype(dtype), TOL[dtype])


def test_video_layer_float32_accuracy(spy, assert_close):
    """The GUIDE's video layer (routed by the default rule) within 1e-5 of float64."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 16, 8, 32, 32)).astype(np.float32)
    w = (rng.standard_normal((32, 16, 3, 3, 3)) / 12).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    gy = rng.standard_normal((4, 32, 8, 32, 32)).astype(np.float32)
    padding = ((1, 1),) * 3
    got = run_layer(x, w, b, padding, gy)
    assert spy == ["_winograd3d_forward", "_winograd3d_forward", "_winograd3d_weight_grad"]
    for g, want in zip(got, torch_reference(x, w, b, padding, gy)):
        assert_close(g, want.astype(np.float32), 1e-5)


@pytest.mark.parametrize("chunk_bytes", [1, 10**9])
def test_chunks_slabs_and_threads(chunk_bytes, monkeypatch, spy, assert_close):
    """Plane blocks of single images (and whole batches), one-plane slabs, strided inputs:
    the same values as im2col + GEMM, bit-identical for 1 and 2 worker threads."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 10, 7, 17, 18)).transpose(0, 1, 2, 4, 3)[:, ::2]  # (3,5,7,18,17)
    w = rng.standard_normal((8, 5, 3, 3, 3))[::-1]
    b = rng.standard_normal(8)
    gy = rng.standard_normal((3, 8, 7, 18, 17))
    padding = ((1, 1),) * 3
    monkeypatch.setattr(winograd3d, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(winograd3d, "SLAB_BYTES", 1)
    threads = K.get_num_threads()
    try:
        K.set_num_threads(2)
        fast = run_layer(x, w, b, padding, gy)
        K.set_num_threads(1)
        assert all(a.tobytes() == c.tobytes() for a, c in
                   zip(run_layer(x, w, b, padding, gy), fast))
    finally:
        K.set_num_threads(threads)
    assert spy.count("_winograd3d_weight_grad") == 2
    monkeypatch.setattr(_compiled, "available", lambda: False)
    for got, want in zip(fast, run_layer(x, w, b, padding, gy)):
        assert_close(got, want, TOL[np.float64])


def test_chunk_plan_splits_planes_of_large_images():
    out = (7, 40, 40)
    chunks = K._winograd3d_chunks((1, 64) + out, out, 3, 4)
    assert len(chunks) > 1 and all(c[:2] == (0, 1) for c in chunks)
    assert [c[2] for c in chunks][0] == 0 and chunks[-1][3] == 7
    assert all(a[3] == b[2] for a, b in zip(chunks, chunks[1:]))
    assert K._winograd3d_chunks((5, 2, 4, 8, 8), (4, 8, 8), 3, 4) == [(0, 5, 0, 4)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transforms_are_adjoint(dtype):
    """``<output_transform(M), g> == <M, output_adjoint(g)>`` (ragged tiles included), and
    the input transform of a single unit value is column ``B`` of the transform."""
    rng = np.random.default_rng(1)
    th, tw, Co, Dd, nb = 3, 2, 2, 2, 2
    y_shape = (nb, Co, Dd, 4 * th - 1, 4 * tw - 3)
    M = rng.standard_normal((36, Dd, Co, nb * th * tw)).astype(dtype)
    g = rng.standard_normal(y_shape).astype(dtype)
    y = np.empty(y_shape, dtype)
    _compiled.winograd_output_transform(M, np.zeros(Co, dtype), y, 0, 0, (th, tw))
    Y = np.empty((36, Co, Dd, nb * th * tw), dtype)
    _compiled.winograd_output_adjoint(g, Y, 0, 0, (th, tw))
    lhs, rhs = float((y * g).sum()), float((M * Y.transpose(0, 2, 1, 3)).sum())
    assert abs(lhs - rhs) <= 1e-4 * abs(lhs) + 1e-3

    bt = winograd3d._matrices(4)[0]
    x = np.zeros((1, 1, 1, 6, 6), dtype)
    x[0, 0, 0, 2, 5] = 1.0
    V = np.empty((36, 1, 1, 1), dtype)
    _compiled.winograd_input_transform(x, V, 0, 0, (0, 0), (1, 1))
    np.testing.assert_allclose(V[:, 0, 0, 0].reshape(6, 6), np.outer(bt[:, 2], bt[:, 5]))


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "stride", "dilation", "groups", "dtype"),
    [
        ((2, 8, 4, 16, 16), (8, 8, 3, 3, 3), (1, 2, 1), (1, 1, 1), 1, np.float32),  # strided
        ((2, 8, 4, 16, 16), (8, 8, 3, 3, 3), (1, 1, 1), (1, 2, 2), 1, np.float32),  # dilated
        ((2, 8, 4, 16, 16), (8, 4, 3, 3, 3), (1, 1, 1), (1, 1, 1), 2, np.float32),  # grouped
        ((2, 8, 4, 16, 16), (8, 8, 3, 3, 2), (1, 1, 1), (1, 1, 1), 1, np.float32),  # 3x2
        ((2, 8, 4, 16, 16), (8, 8, 3, 5, 5), (1, 1, 1), (1, 1, 1), 1, np.float32),  # 5x5
        ((2, 8, 4, 16, 16), (8, 8, 3, 3, 3), (1, 1, 1), (1, 1, 1), 1, np.complex64),
        ((2, 8, 4, 8, 8), (8, 8, 3, 3, 3), (1, 1, 1), (1, 1, 1), 1, np.float32),  # 2x2 tiles
        ((2, 4, 4, 16, 16), (4, 4, 3, 3, 3), (1, 1, 1), (1, 1, 1), 1, np.float32),  # 16 < 32
        ((2, 16, 4, 16, 16), (3, 16, 3, 3, 3), (1, 1, 1), (1, 1, 1), 1, np.float32),  # Co 3
    ],
)
def test_other_layers_keep_their_paths(x_shape, w_shape, stride, dilation, groups, dtype, spy):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    args = (stride, ((1, 1),) * 3, dilation, groups)
    y = K.conv_forward(x, w, *args)
    K.conv_weight_grad(x, y, w_shape[2:], *args)
    assert spy == []


def test_size_rule_takes_the_video_layer_and_its_input_gradient():
    out, pads = (8, 32, 32), ((1, 1),) * 3
    x = np.zeros((4, 16) + out, np.float32)
    gy = np.zeros((4, 32) + out, np.float32)
    args = ((1, 1, 1), pads, (1, 1, 1), 1)
    assert K._use_winograd3d(x, (3, 3, 3), 32, out, *args)
    assert K._use_winograd3d(gy, (3, 3, 3), 16, out, *args)  # the flipped forward
    assert not K._use_winograd3d(x, (3, 3, 3), 32, (8, 12, 12), *args)  # 9 tiles
    huge = np.broadcast_to(np.float32(0), (1, 64, 3, 512, 512))  # 604 MB per output plane
    assert not K._use_winograd3d(huge, (3, 3, 3), 64, (3, 512, 512), *args)


def test_nonfinite_values_take_im2col_and_match_torch(any_size, spy):
    """inf/nan in x, w or gy: im2col + GEMM (tiles would spread them), as PyTorch."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 6, 3, 6, 7))
    w = rng.standard_normal((8, 6, 3, 3, 3))
    gy = rng.standard_normal((2, 8, 3, 6, 7))
    padding = ((1, 1),) * 3
    x_bad, w_bad, gy_bad = x.copy(), w.copy(), gy.copy()
    x_bad[0, 1, 2, 5, 0], w_bad[3, 0, 0, 2, 1], gy_bad[1, 2, 0, 0, 6] = np.inf, np.nan, -np.inf
    for xx, ww, gg in ((x_bad, w, gy), (x, w_bad, gy), (x, w, gy_bad)):
        with np.errstate(invalid="ignore", over="ignore"):
            got = run_layer(xx, ww, None, padding, gg)
            want = torch_reference(xx, ww, None, padding, gg)
        for g, r in zip(got, want):
            np.testing.assert_array_equal(np.isnan(g), np.isnan(r))
            np.testing.assert_array_equal(np.isinf(g), np.isinf(r))
            fin = np.isfinite(r)
            np.testing.assert_allclose(g[fin], r[fin], rtol=1e-10, atol=1e-10)
    # the finite operand of each pair still took Winograd where it could
    assert "_winograd3d_forward" in spy


@pytest.mark.parametrize("extra", [-2, -1, 0, 2])
def test_input_grad_of_any_size_matches_numpy_paths(
    extra, any_size, spy, monkeypatch, assert_close
):
    """The input gradient (transposed convolution) for ``x`` sizes other than the one the
    forward would map to ``gy``: the flipped Winograd forward where its padding allows
    (high padding ``extra + 1 >= 0``), equal to the NumPy col2im path."""
    rng = np.random.default_rng(9)
    gy = rng.standard_normal((2, 8, 4, 7, 6))
    w = rng.standard_normal((8, 5, 3, 3, 3))
    args = ((1, 1, 1), ((1, 1),) * 3, (1, 1, 1), 1)
    spatial = tuple(s + extra for s in gy.shape[2:])
    fast = K.conv_input_grad(gy, w, spatial, *args)
    assert spy == (["_winograd3d_forward"] if extra >= -1 else [])
    monkeypatch.setattr(_compiled, "available", lambda: False)
    assert_close(fast, K.conv_input_grad(gy, w, spatial, *args), TOL[np.float64])
