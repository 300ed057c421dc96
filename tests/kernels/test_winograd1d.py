"""Tests of the 1-d Winograd F(4, 3) path (:mod:`lucid.kernels.winograd1d` on the compiled
transforms of :mod:`lucid.kernels._compiled`): values and both gradients against PyTorch,
chunking into images and tile blocks, determinism over thread counts, the adjoint
identity of the transforms, the routing rule, and non-finite values."""

from __future__ import annotations

import numpy as np
import pytest

from lucid.kernels import _compiled, winograd1d
from lucid.kernels import conv as K

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not _compiled.available(), reason="numba is not installed")
F = torch.nn.functional
TOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.fixture
def spy(record_calls):
    """Names of the 1-d Winograd entry points called (forward, weight gradient)."""
    return record_calls(K, "_winograd1d_forward", "_winograd1d_weight_grad")


@pytest.fixture
def any_size(monkeypatch):
    """Route small test layers too (the size rule is tested on its own)."""
    monkeypatch.setattr(K, "_WINOGRAD1D_MIN_TILES", 1)
    monkeypatch.setattr(K, "_WINOGRAD1D_MIN_TAPS", 3)
    monkeypatch.setattr(K, "_WINOGRAD1D_MIN_CHANNELS", 1)


def torch_reference(x, w, b, padding, gy):
    """``y, gx, gw`` of a zero-padded stride-1 conv1d in float64."""
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    tw = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    tb = None if b is None else torch.tensor(b, dtype=torch.float64)
    ty = F.conv1d(F.pad(tx, padding[0]), tw, tb)
    tgx, tgw = torch.autograd.grad(ty, (tx, tw), torch.tensor(gy, dtype=torch.float64))
    return ty.detach().numpy(), tgx.numpy(), tgw.numpy()


def layer_grid():
    rng = np.random.default_rng(11)
    params = []
    for i in range(24):
        k = int(rng.integers(3, 16))
        padding = ((int(rng.integers(0, k + 2)), int(rng.integers(0, k + 2))),)
        L = max(1, k - sum(padding[0])) + int(rng.integers(0, 40))
        N, C, Co = int(rng.integers(1, 4)), int(rng.integers(1, 9)), int(rng.integers(1, 11))
        dtype = (np.float32, np.float64)[i % 2]
        params.append(pytest.param(N, C, Co, L, k, padding, dtype, i % 3 == 0,
                                   id=f"{np.dtype(dtype).name}-{i}"))
    return params


def run_layer(x, w, b, padding, gy):
    args = ((1,), padding, (1,), 1)
    y = K.conv_forward(x, w, *args, bias=b)
    gx = K.conv_input_grad(gy, w, x.shape[2:], *args)
    gw = K.conv_weight_grad(x, gy, w.shape[2:], *args)
    return y, gx, gw


@pytest.mark.parametrize(("N", "C", "Co", "L", "k", "padding", "dtype", "bias"), layer_grid())
def test_matches_torch(N, C, Co, L, k, padding, dtype, bias, any_size, spy, assert_close):
    """Forward (with and without bias), input gradient (the flipped forward, where its
    padding is non-negative) and weight gradient of random layers: 3 to 15 taps (groups of
    3 padded with zero taps), asymmetric padding up to past the kernel (tiles of padding
    only), ragged outputs (down to 1, not multiples of 4)."""
    rng = np.random.default_rng(L * 100 + k * 10 + C)
    x = rng.standard_normal((N, C, L)).astype(dtype)
    w = rng.standard_normal((Co, C, k)).astype(dtype)
    b = rng.standard_normal(Co).astype(dtype) if bias else None
    out = K.conv_output_shape((L,), (k,), (1,), padding, (1,))
    gy = rng.standard_normal((N, Co) + out).astype(dtype)
    got = run_layer(x, w, b, padding, gy)
    flipped = padding[0][0] < k and padding[0][1] < k
    assert spy == ["_winograd1d_forward"] * (2 if flipped else 1) + ["_winograd1d_weight_grad"]
    for g, want in zip(got, torch_reference(x, w, b, padding, gy)):
        assert_close(g, want.astype(dtype), TOL[dtype])


def test_audio_layer_float32_accuracy(spy, assert_close):
    """The GUIDE's audio layer (routed by the default rule) within 1e-5 of float64."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((16, 32, 4096)).astype(np.float32)
    w = (rng.standard_normal((64, 32, 9)) / 17).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    gy = rng.standard_normal((16, 64, 4096)).astype(np.float32)
    padding = ((4, 4),)
    got = run_layer(x, w, b, padding, gy)
    assert spy == ["_winograd1d_forward", "_winograd1d_forward", "_winograd1d_weight_grad"]
    for g, want in zip(got, torch_reference(x, w, b, padding, gy)):
        assert_close(g, want.astype(np.float32), 1e-5)


@pytest.mark.parametrize("chunk_bytes", [1, 10**9])
def test_chunks_and_threads(chunk_bytes, monkeypatch, any_size, spy, assert_close):
    """Tile blocks of single images (and whole batches), strided inputs: the same values
    as im2col + GEMM, bit-identical for 1 and 2 worker threads."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 10, 75))[:, ::2]  # (3, 5, 75), not contiguous
    w = rng.standard_normal((8, 5, 9))[::-1]
    b = rng.standard_normal(8)
    gy = rng.standard_normal((3, 8, 75))
    padding = ((4, 4),)
    monkeypatch.setattr(winograd1d, "CHUNK_BYTES", chunk_bytes)
    threads = K.get_num_threads()
    try:
        K.set_num_threads(2)
        fast = run_layer(x, w, b, padding, gy)
        K.set_num_threads(1)
        assert all(a.tobytes() == c.tobytes() for a, c in
                   zip(run_layer(x, w, b, padding, gy), fast))
    finally:
        K.set_num_threads(threads)
    assert spy.count("_winograd1d_weight_grad") == 2
    monkeypatch.setattr(_compiled, "available", lambda: False)
    for got, want in zip(fast, run_layer(x, w, b, padding, gy)):
        assert_close(got, want, TOL[np.float64])


def test_chunk_plan_splits_tiles_of_long_images():
    chunks = K._winograd1d_chunks((1, 64, 50000), 64, 50000, 9, 4)
    assert len(chunks) > 1 and all(c[:2] == (0, 1) for c in chunks)
    assert chunks[0][2] == 0 and chunks[-1][3] == winograd1d.tiles(50000)
    assert all(a[3] == b[2] for a, b in zip(chunks, chunks[1:]))
    assert K._winograd1d_chunks((5, 2, 40), 3, 40, 9, 4) == [(0, 5, 0, 10)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transforms_are_adjoint(dtype):
    """``<output_transform(M), g> == <M, output_adjoint(g)>`` (a ragged last tile and a
    tile block not at the start included), and the input transform of a single unit value
    is column ``B`` of the transform at every shift."""
    rng = np.random.default_rng(1)
    T, Co, nb, t0, Lo = 3, 2, 2, 1, 15  # tiles 1..3 of an output of 15 (4..14)
    M = rng.standard_normal((6, Co, nb * T)).astype(dtype)
    g = rng.standard_normal((nb, Co, Lo)).astype(dtype)
    y = np.zeros((nb, Co, Lo), dtype)
    _compiled.winograd1d_output_transform(M, np.zeros(Co, dtype), y, 0, t0, T)
    assert not y[:, :, :4].any()  # tile 0 is not in the block
    Y = np.empty((6, Co, nb * T), dtype)
    _compiled.winograd1d_output_adjoint(g, Y, 0, t0, T)
    lhs, rhs = float((y * g).sum()), float((M * Y).sum())
    assert abs(lhs - rhs) <= 1e-4 * abs(lhs) + 1e-3

    bt = winograd1d._matrices(4)[0]
    x = np.zeros((1, 1, 12), dtype)
    x[0, 0, 7] = 1.0
    V = np.empty((6, 3, 2), dtype)  # shifts 0, 3, 6 of tiles 0, 1 (inputs 0..5 and 4..9)
    _compiled.winograd1d_input_transform(x, V, 0, 0, 2, 0, 3)
    for a in range(3):
        for t in range(2):
            j = 7 - 4 * t - 3 * a
            want = bt[:, j] if 0 <= j < 6 else np.zeros(6)
            np.testing.assert_allclose(V[:, a, t], want)


def test_kernel_transform_and_finish_are_adjoint():
    """``weight_grad_finish`` is the adjoint of ``kernel_transform`` (taps padded to a
    multiple of 3 and cropped back)."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((4, 3, 7))
    U = winograd1d.kernel_transform(w)
    assert U.shape == (6, 4, 9)
    P = rng.standard_normal((6, 9, 4))
    gw = winograd1d.weight_grad_finish(P, 3, 7)
    assert gw.shape == w.shape
    assert np.isclose((U * P.transpose(0, 2, 1)).sum(), (w * gw).sum())


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "stride", "dilation", "groups", "dtype"),
    [
        ((2, 32, 4096), (64, 32, 9), (2,), (1,), 1, np.float32),  # strided
        ((2, 32, 4096), (64, 32, 9), (1,), (2,), 1, np.float32),  # dilated
        ((2, 32, 4096), (64, 16, 9), (1,), (1,), 2, np.float32),  # grouped
        ((2, 32, 4096), (64, 32, 7), (1,), (1,), 1, np.float32),  # 7 taps
        ((2, 32, 4096), (64, 32, 9), (1,), (1,), 1, np.complex64),
        ((2, 32, 2000), (64, 32, 9), (1,), (1,), 1, np.float32),  # < 512 tiles
        ((2, 8, 4096), (64, 8, 9), (1,), (1,), 1, np.float32),  # 8 input channels
        ((2, 16, 4096), (32, 16, 9), (1,), (1,), 1, np.float32),  # 16 * 32 < 1024
    ],
)
def test_other_layers_keep_their_paths(x_shape, w_shape, stride, dilation, groups, dtype, spy):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    args = (stride, ((4, 4),), dilation, groups)
    y = K.conv_forward(x, w, *args)
    K.conv_weight_grad(x, y, w_shape[2:], *args)
    assert spy == []


def test_size_rule_takes_the_audio_layer_and_its_input_gradient():
    pads, args = ((4, 4),), ((1,), ((4, 4),), (1,), 1)
    x = np.zeros((16, 32, 4096), np.float32)
    gy = np.zeros((16, 64, 4096), np.float32)
    assert K._use_winograd1d(x, (9,), 64, (4096,), *args)
    assert K._use_winograd1d(gy, (9,), 32, (4096,), *args)  # the flipped forward
    assert not K._use_winograd1d(x, (9,), 64, (2044,), (1,), pads, (1,), 1)  # 511 tiles
    assert not K._use_winograd1d(x, (9,), 64, (4096,), (1,), ((-1, 4),), (1,), 1)


def test_nonfinite_values_take_im2col_and_match_torch(any_size, spy):
    """inf/nan in x, w or gy: im2col + GEMM (tiles would spread them), as PyTorch."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 6, 30))
    w = rng.standard_normal((8, 6, 9))
    gy = rng.standard_normal((2, 8, 30))
    padding = ((4, 4),)
    x_bad, w_bad, gy_bad = x.copy(), w.copy(), gy.copy()
    x_bad[0, 1, 17], w_bad[3, 0, 2], gy_bad[1, 2, 29] = np.inf, np.nan, -np.inf
    for xx, ww, gg in ((x_bad, w, gy), (x, w_bad, gy), (x, w, gy_bad)):
        with np.errstate(invalid="ignore", over="ignore"):
            got = run_layer(xx, ww, None, padding, gg)
            want = torch_reference(xx, ww, None, padding, gg)
        for g, r in zip(got, want):
            np.testing.assert_array_equal(np.isnan(g), np.isnan(r))
            np.testing.assert_array_equal(np.isinf(g), np.isinf(r))
            fin = np.isfinite(r)
            np.testing.assert_allclose(g[fin], r[fin], rtol=1e-10, atol=1e-10)
    assert "_winograd1d_forward" in spy  # the finite operand of each pair still took it


@pytest.mark.parametrize("extra", [-2, -1, 0, 3])
def test_input_grad_of_any_size_matches_numpy_paths(
    extra, any_size, spy, monkeypatch, assert_close
):
    """The input gradient (transposed convolution) for ``x`` sizes other than the one the
    forward would map to ``gy``: the flipped Winograd forward where its padding allows,
    equal to the NumPy col2im path."""
    rng = np.random.default_rng(9)
    gy = rng.standard_normal((2, 8, 23))
    w = rng.standard_normal((8, 5, 5))
    args = ((1,), ((1, 1),), (1,), 1)
    spatial = (gy.shape[2] + 2 + extra,)
    fast = K.conv_input_grad(gy, w, spatial, *args)
    assert spy == (["_winograd1d_forward"] if extra >= -2 else [])
    monkeypatch.setattr(_compiled, "available", lambda: False)
    assert_close(fast, K.conv_input_grad(gy, w, spatial, *args), TOL[np.float64])
