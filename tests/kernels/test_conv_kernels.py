"""Tests of :mod:`lucid.kernels.conv` against PyTorch (forward, input/weight gradients,
transposed convolution), the exact adjoint identity, special paths, chunking, dtypes,
non-finite propagation and determinism."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from lucid.kernels import _compiled
from lucid.kernels import conv as K

torch = pytest.importorskip("torch")
F = torch.nn.functional


CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
TOL = {np.float32: 1e-5, np.float64: 1e-10, np.complex64: 1e-5, np.complex128: 1e-10}


def assert_close(actual: np.ndarray, expected: np.ndarray, tol: float) -> None:
    """Max abs error relative to the max abs value of ``expected``."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if expected.size == 0:
        return
    scale = max(float(np.abs(expected).max()), 1e-30)
    err = float(np.abs(actual.astype(np.complex128) - expected).max()) / scale
    assert err <= tol, f"relative error {err:.3g} > {tol:.3g}"


def randn(rng, shape, dtype) -> np.ndarray:
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def torch_conv(x, w, stride, padding, dilation, groups, gy=None):
    """Reference ``(y, gx, gw)`` from PyTorch; asymmetric padding through ``F.pad``.

    Our kernels are bilinear without conjugation, while PyTorch's complex autograd returns
    conjugated gradients, hence ``conj(grad(y, conj(gy)))``.
    """
    nd = x.ndim - 2
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    flat = tuple(v for lo_hi in reversed(padding) for v in lo_hi)
    ty = CONV[nd](F.pad(tx, flat), tw, None, tuple(stride), 0, tuple(dilation), groups)
    if gy is None:
        return ty.detach().numpy(), None, None
    cplx = np.iscomplexobj(gy)
    g = torch.tensor(np.conj(gy) if cplx else gy)
    gx, gw = torch.autograd.grad(ty, (tx, tw), g)
    gx, gw = gx.numpy(), gw.numpy()
    if cplx:
        gx, gw = np.conj(gx), np.conj(gw)
    return ty.detach().numpy(), gx, gw


def random_config(rng, nd: int, kind: str):
    """Random small conv: ``(x_shape, w_shape, stride, padding, dilation, groups)``."""
    if kind == "depthwise":
        groups = int(rng.integers(2, 5))
        Cg, Cog = 1, int(rng.integers(1, 4))
    elif kind == "grouped":
        groups = int(rng.integers(2, 4))
        Cg, Cog = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    else:
        groups = 1
        Cg, Cog = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    kmax = {1: 5, 2: 4, 3: 3}[nd]
    kernel = tuple(int(v) for v in rng.integers(1, kmax + 1, size=nd))
    stride = tuple(int(v) for v in rng.integers(1, 4, size=nd))
    dilation = tuple(int(v) for v in rng.integers(1, 3, size=nd))
    padding = tuple((int(a), int(b)) for a, b in rng.integers(0, 3, size=(nd, 2)))
    extra = {1: 9, 2: 6, 3: 3}[nd]
    spatial = tuple(
        max(1, d * (k - 1) + 1 - lo - hi) + int(rng.integers(0, extra))
        for k, d, (lo, hi) in zip(kernel, dilation, padding)
    )
    N = int(rng.integers(1, 4))
    x_shape = (N, Cg * groups) + spatial
    w_shape = (Cog * groups, Cg) + kernel
    return x_shape, w_shape, stride, padding, dilation, groups


def config_grid():
    rng = np.random.default_rng(1234)
    params = []
    kinds = ("general", "grouped", "depthwise")
    dtypes = (np.float64, np.float64, np.float32, np.complex128)
    for i in range(72):
        nd = 1 + i % 3
        kind = kinds[(i // 3) % 3]
        dtype = dtypes[(i // 9) % 4]
        cfg = random_config(rng, nd, kind)
        params.append(pytest.param(cfg, dtype, id=f"{nd}d-{kind}-{np.dtype(dtype).name}-{i}"))
    return params


@pytest.mark.parametrize(("cfg", "dtype"), config_grid())
def test_matches_torch(cfg, dtype):
    x_shape, w_shape, stride, padding, dilation, groups = cfg
    rng = np.random.default_rng(abs(hash((x_shape, w_shape))) % 2**32)
    x, w = randn(rng, x_shape, dtype), randn(rng, w_shape, dtype)
    y = K.conv_forward(x, w, stride, padding, dilation, groups)
    expected_shape = K.conv_output_shape(x_shape[2:], w_shape[2:], stride, padding, dilation)
    assert y.shape == (x_shape[0], w_shape[0]) + expected_shape
    assert y.dtype == dtype
    gy = randn(rng, y.shape, dtype)
    ty, tgx, tgw = torch_conv(x, w, stride, padding, dilation, groups, gy)
    tol = TOL[dtype]
    assert_close(y, ty, tol)
    gx = K.conv_input_grad(gy, w, x_shape[2:], stride, padding, dilation, groups)
    gw = K.conv_weight_grad(x, gy, w_shape[2:], stride, padding, dilation, groups)
    assert gx.dtype == dtype and gw.dtype == dtype
    assert_close(gx, tgx, tol)
    assert_close(gw, tgw, tol)


def transpose_out_size(size, kernel, stride, pad, out_pad, dilation):
    return tuple(
        (i - 1) * s - 2 * p + d * (k - 1) + op + 1
        for i, k, s, p, op, d in zip(size, kernel, stride, pad, out_pad, dilation)
    )


def transpose_grid():
    rng = np.random.default_rng(99)
    params = []
    while len(params) < 24:
        nd = 1 + len(params) % 3
        groups = int(rng.integers(1, 3))
        Cin_t, Cout_t = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
        kernel = tuple(int(v) for v in rng.integers(1, 4, size=nd))
        stride = tuple(int(v) for v in rng.integers(1, 4, size=nd))
        dilation = tuple(int(v) for v in rng.integers(1, 3, size=nd))
        pad = tuple(int(v) for v in rng.integers(0, 3, size=nd))
        out_pad = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
        size = tuple(int(v) for v in rng.integers(1, {1: 8, 2: 5, 3: 3}[nd] + 1, size=nd))
        if min(transpose_out_size(size, kernel, stride, pad, out_pad, dilation)) < 1:
            continue
        cfg = (
            int(rng.integers(1, 3)),
            Cin_t,
            Cout_t,
            size,
            kernel,
            stride,
            pad,
            out_pad,
            dilation,
            groups,
        )
        params.append(pytest.param(cfg, id=f"{nd}d-{len(params)}"))
    return params


@pytest.mark.parametrize("cfg", transpose_grid())
def test_conv_transpose_matches_torch(cfg):
    """``conv_input_grad`` is the forward of a transposed convolution (with output_padding)."""
    N, Cin_t, Cout_t, size, kernel, stride, pad, out_pad, dilation, groups = cfg
    nd = len(size)
    rng = np.random.default_rng(len(size) * 1000 + sum(size))
    inp = rng.standard_normal((N, Cin_t) + size)
    w = rng.standard_normal((Cin_t, Cout_t // groups) + kernel)
    out_size = transpose_out_size(size, kernel, stride, pad, out_pad, dilation)
    ref = CONV_T[nd](
        torch.from_numpy(inp), torch.from_numpy(w), None, stride, pad, out_pad, groups, dilation
    ).numpy()
    got = K.conv_input_grad(inp, w, out_size, stride, tuple((p, p) for p in pad), dilation, groups)
    assert_close(got, ref, 1e-10)


def adjoint_grid():
    rng = np.random.default_rng(7)
    params = []
    for i in range(30):
        nd = 1 + i % 3
        kind = ("general", "grouped", "depthwise")[(i // 3) % 3]
        cfg = random_config(rng, nd, kind)
        extra_out = tuple(int(v) for v in rng.integers(0, 3, size=nd))  # gy larger than formula
        params.append(pytest.param(cfg, extra_out, id=f"{nd}d-{kind}-{i}"))
    return params


@pytest.mark.parametrize(("cfg", "extra_out"), adjoint_grid())
def test_adjoint_identity(cfg, extra_out):
    """<C(x, w), y> == <x, T(y, w)> == <w, G(x, y)>, also for gy larger than the formula.

    A larger ``gy`` corresponds to a forward with more high-side padding (T and G do not
    depend on ``hi``), which PyTorch also checks.
    """
    x_shape, w_shape, stride, padding, dilation, groups = cfg
    rng = np.random.default_rng(sum(x_shape) * 31 + sum(w_shape))
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    kernel = w_shape[2:]
    out = K.conv_output_shape(x_shape[2:], kernel, stride, padding, dilation)
    out_ext = tuple(o + e for o, e in zip(out, extra_out))
    padding_ext = tuple((lo, hi + e * s) for (lo, hi), e, s in zip(padding, extra_out, stride))
    assert K.conv_output_shape(x_shape[2:], kernel, stride, padding_ext, dilation) == out_ext
    y = rng.standard_normal((x_shape[0], w_shape[0]) + out_ext)
    cx = K.conv_forward(x, w, stride, padding_ext, dilation, groups)
    tx = K.conv_input_grad(y, w, x_shape[2:], stride, padding, dilation, groups)
    gw = K.conv_weight_grad(x, y, kernel, stride, padding, dilation, groups)
    a, b, c = np.vdot(cx, y), np.vdot(x, tx), np.vdot(w, gw)
    scale = np.abs(cx).sum() * np.abs(y).max() + 1e-300
    assert abs(a - b) <= 1e-12 * scale and abs(a - c) <= 1e-12 * scale
    # and the gradients agree with PyTorch on the extended padding
    _, tgx, tgw = torch_conv(x, w, stride, padding_ext, dilation, groups, y)
    assert_close(tx, tgx, 1e-10)
    assert_close(gw, tgw, 1e-10)


def test_input_grad_smaller_gy_than_x():
    """A gy covering only part of x (conv_transpose-like): unreached positions stay 0."""
    rng = np.random.default_rng(0)
    gy = rng.standard_normal((2, 4, 5, 3))
    w = rng.standard_normal((4, 3, 3, 2))
    args = ((2, 1), ((2, 0), (1, 1)), (1, 2), 1)
    gx = K.conv_input_grad(gy, w, (20, 9), *args)
    # last reached row: 4*2 - 2 + 2 = 8, last reached col: 2 - 1 + 2 = 3
    assert np.all(gx[:, :, 9:] == 0) and np.all(gx[:, :, :, 4:] == 0)
    # adjoint of the forward restricted to those 5x3 outputs (negative hi padding crops)
    pads = ((2, -10), (1, -5))
    assert K.conv_output_shape((20, 9), (3, 2), (2, 1), pads, (1, 2)) == (5, 3)
    x = rng.standard_normal((2, 3, 20, 9))
    y = K.conv_forward(x, w, (2, 1), pads, (1, 2), 1)
    np.testing.assert_allclose(np.vdot(y, gy), np.vdot(x, gx), rtol=1e-12)
    gw = K.conv_weight_grad(x, gy, (3, 2), *args)
    np.testing.assert_allclose(np.vdot(y, gy), np.vdot(w, gw), rtol=1e-12)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_special_paths(nd):
    """1x1 pointwise (with groups), depthwise with multiplier, strided/dilated depthwise."""
    rng = np.random.default_rng(nd)
    S = {1: (11,), 2: (7, 6), 3: (7, 6, 5)}[nd]
    cases = [
        # (C, Co, kernel, stride, padding, dilation, groups)
        (6, 4, (1,) * nd, (1,) * nd, ((0, 0),) * nd, (1,) * nd, 2),  # pointwise grouped
        (6, 6, (1,) * nd, (2,) * nd, ((0, 0),) * nd, (1,) * nd, 1),  # strided 1x1 (general)
        (4, 4, (3,) * nd, (1,) * nd, ((1, 1),) * nd, (1,) * nd, 4),  # depthwise
        (4, 12, (3,) * nd, (2,) * nd, ((1, 0),) * nd, (2,) * nd, 4),  # depthwise x3, s2, d2
        (1, 3, (2,) * nd, (1,) * nd, ((0, 1),) * nd, (1,) * nd, 1),  # single channel
    ]
    for C, Co, kernel, stride, padding, dilation, groups in cases:
        x = rng.standard_normal((3, C) + S)
        w = rng.standard_normal((Co, C // groups) + kernel)
        y = K.conv_forward(x, w, stride, padding, dilation, groups)
        gy = rng.standard_normal(y.shape)
        ty, tgx, tgw = torch_conv(x, w, stride, padding, dilation, groups, gy)
        assert_close(y, ty, 1e-10)
        assert_close(K.conv_input_grad(gy, w, S, stride, padding, dilation, groups), tgx, 1e-10)
        assert_close(
            K.conv_weight_grad(x, gy, kernel, stride, padding, dilation, groups), tgw, 1e-10
        )


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_patchify_paths(nd, dtype):
    """Non-overlapping windows (stride == kernel, no low padding) take the transpose-copy
    paths of the forward and weight gradient: sizes that are not a multiple of the kernel,
    high padding, groups, a kernel of 1 along some dims, chunking, gy smaller than x."""
    rng = np.random.default_rng(100 + nd)
    S = {1: (13,), 2: (7, 8), 3: (6, 5, 4)}[nd]
    hi1 = ((0, 1),) + ((0, 0),) * (nd - 1)  # high padding that no window reaches
    cases = [
        # (C, Co, kernel, padding, dilation, groups)
        (4, 6, (2,) * nd, ((0, 0),) * nd, (1,) * nd, 1),  # exact tiling or a dropped border
        (6, 4, (3,) + (1,) * (nd - 1), hi1, (1,) + (3,) * (nd - 1), 2),  # groups
        (2, 3, (1,) * nd, ((0, 0),) * nd, (2,) * nd, 1),  # 1x1 with dilation (pointwise)
    ]
    tol = TOL[dtype] * 10
    for C, Co, kernel, padding, dilation, groups in cases:
        stride = kernel
        x = randn(rng, (3, C) + S, dtype)
        w = randn(rng, (Co, C // groups) + kernel, dtype)
        y = K.conv_forward(x, w, stride, padding, dilation, groups)
        gy = randn(rng, y.shape, dtype)
        ty, tgx, tgw = torch_conv(x, w, stride, padding, dilation, groups, gy)
        assert_close(y, ty, tol)
        assert_close(K.conv_input_grad(gy, w, S, stride, padding, dilation, groups), tgx, tol)
        assert_close(
            K.conv_weight_grad(x, gy, kernel, stride, padding, dilation, groups), tgw, tol
        )
        # gy smaller than the formula's output: only the leading windows contribute
        g_small = gy[(slice(None),) * 2 + tuple(slice(0, max(1, o - 1)) for o in y.shape[2:])]
        g_pad = np.zeros_like(gy)
        g_pad[(slice(None),) * 2 + tuple(slice(0, n) for n in g_small.shape[2:])] = g_small
        expect = K.conv_weight_grad(x, g_pad, kernel, stride, padding, dilation, groups)
        got = K.conv_weight_grad(x, g_small, kernel, stride, padding, dilation, groups)
        assert_close(got, expect, tol)


@pytest.mark.parametrize("S", [(8, 6), (8, 7), (9, 6)])
def test_patchify_input_grad_writes_every_position(S, monkeypatch):
    """Where the windows tile ``x`` exactly the input gradient starts from uninitialised
    memory (here nan-filled), elsewhere from zeros for the uncovered border."""
    empty = np.empty

    def nan_empty(*args, **kwargs):
        a = empty(*args, **kwargs)
        if a.dtype.kind in "fc":
            a.fill(np.nan)
        return a

    monkeypatch.setattr(np, "empty", nan_empty)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4) + S)
    w = rng.standard_normal((6, 4, 2, 2))
    args = ((2, 2), ((0, 0), (0, 0)), (1, 1), 1)
    gy = rng.standard_normal((3, 6, S[0] // 2, S[1] // 2))
    tgx = torch_conv(x, w, *args, gy)[1]
    assert_close(K.conv_input_grad(gy, w, S, *args), tgx, 1e-10)


COL2IM_COPY_FIRST = [
    # (x spatial, C, Co, kernel, stride, padding, dilation, groups, first_taps used)
    ((9, 8), 4, 6, (4, 4), (2, 2), ((1, 1), (1, 1)), (1, 1), 1, True),  # dcgan k4 s2 p1
    ((10, 9), 4, 6, (3, 3), (2, 2), ((1, 1), (1, 0)), (1, 1), 2, True),  # resnet down
    ((23,), 3, 4, (5,), (3,), ((2, 1),), (1,), 1, True),
    ((7, 6, 8), 2, 3, (3, 2, 3), (2, 2, 3), ((1, 1), (0, 0), (1, 2)), (1, 1, 1), 1, True),
    ((13, 12), 2, 4, (3, 3), (2, 2), ((1, 1), (1, 1)), (3, 1), 1, False),  # a phase at a != 0
]


@pytest.mark.parametrize("cfg", COL2IM_COPY_FIRST)
def test_col2im_copies_first_taps_into_unzeroed_buffer(cfg, monkeypatch, record_calls):
    """With one block of whole grids, the col2im input gradient copies each phase's first
    tap into a buffer it did not zero (here nan-filled scratch) and adds the others; the
    other taps' spill into the tail must meet zeros. Row blocks and phases whose first tap
    is shifted keep the zeroed buffer."""
    S, C, Co, kernel, stride, padding, dilation, groups, copies = cfg
    scratch = K._scratch

    def nan_scratch(slot, shape, dtype, zero=False):
        a = scratch(slot, shape, dtype, zero=False)
        a.fill(np.nan)
        return a.fill(0) or a if zero else a

    monkeypatch.setattr(K, "_scratch", nan_scratch)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, C) + S)
    w = rng.standard_normal((Co, C // groups) + kernel)
    args = (stride, padding, dilation, groups)
    out = K.conv_output_shape(S, kernel, stride, padding, dilation)
    gy = rng.standard_normal((3, Co) + out)
    plan = K._flat_plan(out, kernel, stride, dilation)
    assert (plan.first_taps is not None) == copies
    tgx = torch_conv(x, w, *args, gy)[1]
    calls = record_calls(K._FlatPlan, "gather")
    assert_close(K.conv_input_grad(gy, w, S, *args), tgx, 1e-10)
    assert calls
    monkeypatch.setattr(K, "_CHUNK_TARGET_BYTES", 200)  # blocks of output rows
    assert_close(K.conv_input_grad(gy, w, S, *args), tgx, 1e-10)


INPUT_GRAD_VIA_FORWARD = [
    # (C, Co, kernel, padding, dilation, groups, extra gy size per dim)
    (5, 6, (3, 3), ((1, 1), (1, 1)), (1, 1), 1, (0, 0)),
    (4, 6, (3, 2), ((2, 0), (0, 1)), (2, 1), 2, (1, 0)),  # asymmetric, dilated, grouped
    (4, 4, (3, 3), ((1, 1), (1, 1)), (1, 1), 4, (0, 2)),  # depthwise: depthwise forward
    (3, 6, (3, 3), ((1, 1), (1, 1)), (1, 1), 3, (0, 0)),  # depthwise x2: grouped forward
    (3, 2, (2, 3), ((0, 0), (0, 0)), (1, 1), 1, (-1, -2)),  # gy smaller than the formula
    (3, 2, (3, 3), ((3, 0), (0, 0)), (1, 1), 1, (0, 0)),  # pad > d*(K-1): general path
]


@pytest.mark.parametrize("cfg", INPUT_GRAD_VIA_FORWARD)
def test_input_grad_via_forward(cfg, monkeypatch):
    """Unit-stride 2-d input gradients run as a forward convolution with the flipped kernel;
    they match PyTorch and the general GEMM + col2im path for any ``gy`` size."""
    C, Co, kernel, padding, dilation, groups, extra = cfg
    rng = np.random.default_rng(sum(kernel) + 10 * groups)
    S, stride = (7, 6), (1, 1)
    x = rng.standard_normal((2, C) + S)
    w = rng.standard_normal((Co, C // groups) + kernel)
    y = K.conv_forward(x, w, stride, padding, dilation, groups)
    gy = rng.standard_normal(y.shape)
    _, tgx, _ = torch_conv(x, w, stride, padding, dilation, groups, gy)
    assert_close(K.conv_input_grad(gy, w, S, stride, padding, dilation, groups), tgx, 1e-10)
    g2 = rng.standard_normal(y.shape[:2] + tuple(o + e for o, e in zip(y.shape[2:], extra)))
    fast = K.conv_input_grad(g2, w, S, stride, padding, dilation, groups)
    for dt in (np.float16, np.float32, np.complex64):  # the result keeps the input dtype
        got = K.conv_input_grad(g2.astype(dt), w.astype(dt), S, stride, padding, dilation,
                                groups)
        assert got.dtype == dt
        assert_close(got, fast, 1e-2 if dt == np.float16 else 1e-5)
    monkeypatch.setattr(K, "_flipped_padding", lambda *args: None)
    assert_close(fast, K.conv_input_grad(g2, w, S, stride, padding, dilation, groups), 1e-12)


def test_patchify_chunking_and_nonfinite(monkeypatch):
    """Batch chunks of the patchify paths sum in order; inf/nan reach only their window."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((5, 4, 8, 6))
    w = rng.standard_normal((6, 4, 2, 2))
    args = ((2, 2), ((0, 0), (0, 0)), (1, 1), 1)
    gy = rng.standard_normal((5, 6, 4, 3))
    ref = (K.conv_forward(x, w, *args), K.conv_weight_grad(x, gy, (2, 2), *args))
    monkeypatch.setattr(K, "_CHUNK_TARGET_BYTES", 1)  # one sample per chunk
    got = (K.conv_forward(x, w, *args), K.conv_weight_grad(x, gy, (2, 2), *args))
    for a, b in zip(got, ref):
        assert_close(a, b, 1e-12)
    x[1, 2, 3, 4] = np.inf
    x[3, 0, 0, 0] = np.nan
    _, tgx, tgw = torch_conv(x, w, *args, gy)
    ty = torch_conv(x, w, *args)[0]
    y = K.conv_forward(x, w, *args)
    gw = K.conv_weight_grad(x, gy, (2, 2), *args)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ty))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(ty))
    np.testing.assert_array_equal(np.isnan(gw), np.isnan(tgw))
    np.testing.assert_array_equal(np.isinf(gw), np.isinf(tgw))


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_empty_batch(groups):
    x = np.zeros((0, 4, 6, 5), dtype=np.float32)
    w = np.ones((8, 4 // groups, 3, 3), dtype=np.float32)
    args = ((1, 2), ((1, 1), (0, 2)), (1, 1), groups)
    y = K.conv_forward(x, w, *args)
    assert y.shape == (0, 8, 6, 3) and y.dtype == np.float32
    gx = K.conv_input_grad(y, w, (6, 5), *args)
    assert gx.shape == (0, 4, 6, 5) and gx.dtype == np.float32
    gw = K.conv_weight_grad(x, y, (3, 3), *args)
    assert gw.shape == w.shape and gw.dtype == np.float32 and not gw.any()


def test_float16_and_complex64():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 2, 3, 3)) * 0.3
    args = ((2, 1), ((1, 1), (1, 1)), (1, 1), 2)
    gy = rng.standard_normal(K.conv_forward(x, w, *args).shape)
    ref = (
        K.conv_forward(x, w, *args),
        K.conv_input_grad(gy, w, (9, 8), *args),
        K.conv_weight_grad(x, gy, (3, 3), *args),
    )
    for dt, tol in ((np.float16, 5e-3), (np.complex64, 1e-5)):
        x_, w_, gy_ = x.astype(dt), w.astype(dt), gy.astype(dt)
        got = (
            K.conv_forward(x_, w_, *args),
            K.conv_input_grad(gy_, w_, (9, 8), *args),
            K.conv_weight_grad(x_, gy_, (3, 3), *args),
        )
        for g, r in zip(got, ref):
            assert g.dtype == dt
            # the inputs were rounded too: compare to the float64 result on rounded inputs
            assert_close(g.astype(np.complex128), r, tol if dt != np.float16 else 5e-3)


def test_noncontiguous_inputs():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 7, 4, 3)).transpose(2, 3, 1, 0)[:, :, ::2]  # (4, 3, 4, 5)
    w = rng.standard_normal((3, 3, 2, 2)).transpose(1, 0, 3, 2)
    args = ((1, 2), ((1, 0), (0, 1)), (2, 1), 1)
    y = K.conv_forward(x, w, *args)
    gy = rng.standard_normal(y.shape[::-1]).T  # non-contiguous gradient
    ty, tgx, tgw = torch_conv(
        np.ascontiguousarray(x), np.ascontiguousarray(w), *args, np.ascontiguousarray(gy)
    )
    assert_close(y, ty, 1e-10)
    assert_close(K.conv_input_grad(gy, w, x.shape[2:], *args), tgx, 1e-10)
    assert_close(K.conv_weight_grad(x, gy, (2, 2), *args), tgw, 1e-10)


@pytest.mark.parametrize("groups", [1, 3, 6])
def test_chunking_and_row_blocks(monkeypatch, groups):
    """Tiny budgets force many batch chunks and row blocks; results must not change."""
    rng = np.random.default_rng(groups)
    x = rng.standard_normal((5, 6, 13, 11))
    w = rng.standard_normal((6, 6 // groups, 3, 2))
    args = ((2, 1), ((1, 2), (0, 1)), (1, 2), groups)
    y0 = K.conv_forward(x, w, *args)
    gy = rng.standard_normal(y0.shape)
    gx0 = K.conv_input_grad(gy, w, (13, 11), *args)
    gw0 = K.conv_weight_grad(x, gy, (3, 2), *args)
    monkeypatch.setattr(K, "WORKSPACE_BYTES", 2048)
    monkeypatch.setattr(K, "_CHUNK_TARGET_BYTES", 1024)
    monkeypatch.setattr(K, "_ELEMENTWISE_CHUNK_BYTES", 1024)
    np.testing.assert_allclose(K.conv_forward(x, w, *args), y0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(K.conv_input_grad(gy, w, (13, 11), *args), gx0, atol=1e-12)
    np.testing.assert_allclose(K.conv_weight_grad(x, gy, (3, 2), *args), gw0, atol=1e-11)


DEPTHWISE_ROWS = [
    # (kernel, padding, dilation, N, chunk budget)
    ((3, 3), ((1, 1), (1, 1)), (1, 1), 3, None),
    ((5, 5), ((2, 2), (2, 2)), (1, 1), 2, None),
    ((3, 3), ((2, 2), (2, 2)), (2, 2), 2, None),  # dilated
    ((1, 3), ((0, 0), (1, 1)), (1, 1), 2, None),  # one kernel row: a copy, no adds
    ((3, 1), ((1, 1), (0, 0)), (1, 1), 2, None),  # one kernel column
    ((2, 4), ((1, 0), (0, 3)), (2, 1), 4, 1024),  # asymmetric padding, many chunks
    ((3, 2), ((0, 0), (0, 0)), (1, 2), 3, 4096),  # no padding, several samples per chunk
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("cfg", DEPTHWISE_ROWS)
def test_depthwise_rows_forward(cfg, dtype, monkeypatch):
    """The 2-d unit-stride depthwise forward (kernel-row split) matches PyTorch, with both
    gradients (the input gradient runs the same path with the flipped kernel), and the
    generic depthwise forward."""
    kernel, padding, dilation, N, budget = cfg
    monkeypatch.setattr(_compiled, "available", lambda: False)  # the NumPy depthwise paths
    if budget is not None:
        monkeypatch.setattr(K, "_ELEMENTWISE_CHUNK_BYTES", budget)
    rng = np.random.default_rng(sum(kernel) + N)
    C, S, stride = 5, (9, 8), (1, 1)
    x, w = randn(rng, (N, C) + S, dtype), randn(rng, (C, 1) + kernel, dtype)
    args = (stride, padding, dilation, C)
    y = K.conv_forward(x, w, *args)
    gy = randn(rng, y.shape, dtype)
    ty, tgx, tgw = torch_conv(x, w, stride, padding, dilation, C, gy)
    tol = TOL[dtype]
    assert y.dtype == dtype
    assert_close(y, ty, tol)
    assert_close(K.conv_input_grad(gy, w, S, *args), tgx, tol)
    assert_close(K.conv_weight_grad(x, gy, kernel, *args), tgw, tol)
    plan = K._flat_plan(y.shape[2:], kernel, stride, dilation)
    generic = np.empty_like(y)
    K._depthwise_forward(x, w, generic, plan, tuple(lo for lo, _ in padding), None)
    assert_close(y, generic, tol)


SPLIT = [
    # (x shape, w shape, padding, dilation, one sample per chunk): unit stride, no groups,
    # few output channels per input value, so the first kernel dim is split out of im2col
    ((3, 8, 9, 7), (3, 8, 3, 3), ((1, 1), (1, 1)), (1, 1), False),
    ((2, 8, 9, 10), (2, 8, 2, 4), ((1, 0), (0, 3)), (2, 1), False),  # asymmetric, dilated
    ((4, 8, 11), (2, 8, 3), ((2, 1),), (2,), False),  # 1-d
    ((2, 6, 5, 6, 7), (4, 6, 3, 3, 3), ((1, 1),) * 3, (1, 1, 1), False),  # 3-d
    ((3, 6, 7, 6, 5), (4, 6, 3, 2, 2), ((0, 2), (1, 0), (0, 0)), (2, 1, 2), True),
    ((3, 8, 12, 7), (3, 8, 3, 3), ((1, 1), (1, 1)), (1, 1), True),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("cfg", SPLIT)
def test_split_forward(cfg, dtype, monkeypatch, record_calls):
    """The first-kernel-dim split forward is chosen for these shapes and matches PyTorch
    (with and without bias, with chunks and row blocks); both gradients still match (the
    2-d input gradient runs it with the flipped kernel when its shape qualifies)."""
    xs, ws, padding, dilation, small_chunks = cfg
    if small_chunks:  # the smallest budget that still takes the split: a sample per chunk
        plan = K._flat_plan(K.conv_output_shape(xs[2:], ws[2:], (1,) * len(dilation), padding,
                                                dilation), ws[2:], (1,) * len(dilation), dilation)
        budget = 2**20
        item = np.dtype(dtype).itemsize
        while budget > 1 and K._use_split_forward(plan, xs[1], ws[0], 1, ws[2], item):
            budget //= 2
            monkeypatch.setattr(K, "_CHUNK_TARGET_BYTES", budget)
        monkeypatch.setattr(K, "_CHUNK_TARGET_BYTES", budget * 2)
    calls = record_calls(K, "_split_forward")
    rng = np.random.default_rng(sum(xs))
    x, w, b = randn(rng, xs, dtype), randn(rng, ws, dtype), randn(rng, ws[:1], dtype)
    stride = (1,) * len(dilation)
    args = (stride, padding, dilation, 1)
    y = K.conv_forward(x, w, *args)
    assert calls, "the split path was not taken"
    gy = randn(rng, y.shape, dtype)
    ty, tgx, tgw = torch_conv(x, w, stride, padding, dilation, 1, gy)
    tol = TOL[dtype]
    assert y.dtype == dtype
    assert_close(y, ty, tol)
    assert_close(K.conv_forward(x, w, *args, b), ty + b.reshape((-1,) + (1,) * len(stride)), tol)
    assert_close(K.conv_input_grad(gy, w, xs[2:], *args), tgx, tol)
    assert_close(K.conv_weight_grad(x, gy, ws[2:], *args), tgw, tol)


def test_split_forward_choice():
    """Chosen only with unit stride, no groups and a first kernel dim > 1, when it moves
    less data than im2col + GEMM and one sample fits the chunk budget."""
    plan = K._flat_plan((8, 8), (3, 3), (1, 1), (1, 1))
    assert K._use_split_forward(plan, 64, 64, 1, 3, 4)
    assert not K._use_split_forward(plan, 64, 64, 2, 3, 4)  # groups
    assert not K._use_split_forward(plan, 3, 64, 1, 3, 4)  # many outputs per input value
    strided = K._flat_plan((8, 8), (3, 3), (2, 2), (1, 1))
    assert not K._use_split_forward(strided, 64, 64, 1, 3, 4)
    row = K._flat_plan((8, 8), (1, 3), (1, 1), (1, 1))
    assert not K._use_split_forward(row, 64, 8, 1, 1, 4)
    audio = K._flat_plan((64,), (9,), (1,), (1,))
    assert not K._use_split_forward(audio, 32, 64, 1, 9, 4)
    video = K._flat_plan((8, 32, 32), (3, 3, 3), (1, 1, 1), (1, 1, 1))
    assert not K._use_split_forward(video, 16, 32, 1, 3, 4)  # a sample exceeds the budget
    assert K._use_split_forward(video, 16, 32, 1, 3, 1)  # (it fits at 1 byte per value)


def test_split_forward_nonfinite():
    """inf/nan in x reach exactly the outputs whose windows hold them (junk cells of the
    shifted partial sums are never read)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 8, 6, 7))
    w = rng.standard_normal((3, 8, 3, 3))
    x[0, 2, 5, 6] = np.inf
    x[1, 0, 0, 3] = np.nan
    args = ((1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    ty = torch_conv(x, w, *args)[0]
    with np.errstate(invalid="ignore", over="ignore"):
        y = K.conv_forward(x, w, *args)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ty))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(ty))
    fin = np.isfinite(ty)
    np.testing.assert_allclose(y[fin], ty[fin], rtol=1e-9, atol=1e-9)


BIAS_PATHS = {  # name: (x shape, w shape, stride, padding, dilation, groups)
    "pointwise": ((2, 4, 5, 3), (6, 4, 1, 1), (1, 1), ((0, 0),) * 2, (1, 1), 1),
    "patchify": ((2, 4, 6, 4), (6, 2, 2, 2), (2, 2), ((0, 0),) * 2, (1, 1), 2),
    "depthwise rows": ((3, 5, 9, 8), (5, 1, 3, 2), (1, 1), ((1, 1), (0, 2)), (1, 1), 5),
    "depthwise rows 1xk": ((3, 5, 9, 8), (5, 1, 1, 3), (1, 1), ((0, 0), (1, 1)), (1, 1), 5),
    "depthwise strided": ((3, 5, 9, 8), (5, 1, 3, 3), (2, 1), ((1, 1),) * 2, (1, 1), 5),
    "depthwise 1-d": ((3, 5, 9), (5, 1, 3), (1,), ((1, 1),), (1,), 5),
    "gemm 3-d": ((2, 3, 4, 5, 3), (4, 3, 2, 2, 2), (1, 2, 1), ((1, 0),) * 3, (1, 1, 2), 1),
    "gemm grouped": ((2, 4, 7, 6), (6, 2, 3, 3), (1, 1), ((1, 1),) * 2, (2, 1), 2),
    "empty batch": ((0, 4, 5, 5), (6, 4, 3, 3), (1, 1), ((0, 0),) * 2, (1, 1), 1),
    "empty reduction": ((2, 0, 5, 5), (6, 0, 3, 3), (1, 1), ((0, 0),) * 2, (1, 1), 1),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("path", list(BIAS_PATHS))
def test_forward_bias_is_fused_on_every_path(path, dtype, monkeypatch):
    """``conv_forward(..., bias)`` equals PyTorch's biased conv on every algorithm path
    (small chunks so the depthwise paths run several chunks)."""
    monkeypatch.setattr(K, "_ELEMENTWISE_CHUNK_BYTES", 512)
    xs, ws, stride, padding, dilation, groups = BIAS_PATHS[path]
    rng = np.random.default_rng(len(path))
    x, w, b = randn(rng, xs, dtype), randn(rng, ws, dtype), randn(rng, (ws[0],), dtype)
    y = K.conv_forward(x, w, stride, padding, dilation, groups, b)
    assert y.dtype == dtype
    nd = len(stride)
    if xs[1] == 0:  # no input channels: the bias alone (PyTorch gives an empty result here)
        out = K.conv_output_shape(xs[2:], ws[2:], stride, padding, dilation)
        np.testing.assert_array_equal(y, np.broadcast_to(b[:, None, None], (xs[0], ws[0]) + out))
        return
    tx, tw, tb = (torch.from_numpy(np.ascontiguousarray(a)) for a in (x, w, b))
    pad_args = [p for lo_hi in reversed(padding) for p in lo_hi]
    tconv = getattr(torch.nn.functional, f"conv{nd}d")
    ty = tconv(torch.nn.functional.pad(tx, pad_args), tw, tb, stride, 0, dilation, groups)
    assert_close(y, ty.numpy(), TOL[dtype])


def _use_compiled(jit: bool, monkeypatch) -> None:
    """Run the test on the compiled depthwise kernels (skipped without numba) or without."""
    if not jit:
        monkeypatch.setattr(_compiled, "available", lambda: False)
    elif not _compiled.available():
        pytest.skip("numba is not installed")


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("groups", [1, 4])
def test_nonfinite_propagation_matches_torch(groups, jit, monkeypatch):
    """Junk positions of the flat layout never turn finite results into inf/nan."""
    _use_compiled(jit, monkeypatch)
    rng = np.random.default_rng(groups)
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((4, 4 // groups, 3, 3))
    args = ((1, 1), ((1, 1), (1, 1)), (1, 1), groups)
    x_bad = x.copy()
    x_bad[0, 1, 2, 5] = np.inf
    x_bad[1, 0, 6, 0] = np.nan
    w_bad = w.copy()
    w_bad[1, 0, 0, 2] = -np.inf
    gy = rng.standard_normal((2, 4, 7, 6))
    for xx, ww in ((x_bad, w), (x, w_bad), (x_bad, w_bad)):
        ty, tgx, tgw = torch_conv(xx, ww, *args, gy)
        with np.errstate(invalid="ignore", over="ignore"):
            got = (
                K.conv_forward(xx, ww, *args),
                K.conv_input_grad(gy, ww, (7, 6), *args),
                K.conv_weight_grad(xx, gy, (3, 3), *args),
            )
        for g, r in zip(got, (ty, tgx, tgw)):
            np.testing.assert_array_equal(np.isnan(g), np.isnan(r))
            np.testing.assert_array_equal(np.isposinf(g), np.isposinf(r))
            np.testing.assert_array_equal(np.isneginf(g), np.isneginf(r))
            fin = np.isfinite(r)
            np.testing.assert_allclose(g[fin], r[fin], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("groups", [1, 8])
def test_deterministic(groups, jit, monkeypatch):
    """Same inputs -> bit-identical outputs, run to run and for any worker-thread count."""
    _use_compiled(jit, monkeypatch)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((9, 8, 15, 14)).astype(np.float32)
    w = rng.standard_normal((8, 8 // groups, 3, 3)).astype(np.float32)
    args = ((1, 1), ((1, 1), (1, 1)), (1, 1), groups)
    gy = rng.standard_normal((9, 8, 15, 14)).astype(np.float32)

    def run():
        return (
            K.conv_forward(x, w, *args).tobytes(),
            K.conv_input_grad(gy, w, (15, 14), *args).tobytes(),
            K.conv_weight_grad(x, gy, (3, 3), *args).tobytes(),
        )

    threads = K.get_num_threads()
    try:
        first = run()
        assert run() == first
        K.set_num_threads(1)
        assert run() == first
        K.set_num_threads(3)
        assert run() == first
    finally:
        K.set_num_threads(threads)


def test_output_shape_formula():
    assert K.conv_output_shape((10,), (3,), (2,), ((1, 2),), (2,)) == (5,)
    assert K.conv_output_shape((5, 5), (1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1)) == (5, 5)
    assert K.conv_output_shape((7, 7, 7), (3, 3, 3), (2, 2, 2), ((1, 1),) * 3, (1, 1, 1)) == (
        4,
        4,
        4,
    )


def test_set_num_threads_validation():
    with pytest.raises(ValueError):
        K.set_num_threads(0)


WINOGRAD = [
    # (x shape, w shape, padding): stride-1 3x3 shapes that winograd_recommended accepts
    # (the second and third also the weight-gradient rule)
    ((2, 64, 12, 10), (64, 64, 3, 3), ((1, 1), (1, 1))),
    ((8, 32, 9, 11), (48, 32, 3, 3), ((0, 2), (1, 0))),  # asymmetric ('same'-like) padding
    ((8, 64, 6, 5), (64, 64, 3, 3), ((0, 0), (0, 0))),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", WINOGRAD)
def test_winograd_route(cfg, dtype, record_calls):
    """Stride-1 3x3 layers with enough channels run Winograd, for the forward (with bias)
    and the input gradient (forward with the flipped kernel); values match PyTorch."""
    from lucid.kernels import winograd as W

    calls = record_calls(K, "winograd_conv2d", "winograd_weight_grad")
    xs, ws, padding = cfg
    rng = np.random.default_rng(xs[1])
    x, w, b = randn(rng, xs, dtype), randn(rng, ws, dtype), randn(rng, ws[:1], dtype)
    args = ((1, 1), padding, (1, 1), 1)
    y = K.conv_forward(x, w, *args, b)
    assert calls.count("winograd_conv2d") == 1 and y.dtype == dtype
    gy = randn(rng, y.shape, dtype)
    ty, tgx, tgw = torch_conv(x, w, (1, 1), padding, (1, 1), 1, gy)
    tol = TOL[dtype]
    assert_close(y, ty + b[:, None, None], tol)
    gx = K.conv_input_grad(gy, w, xs[2:], *args)
    assert_close(gx, tgx, tol)
    recommended = W.winograd_recommended(xs[0], ws[0], xs[1], *xs[2:])
    assert calls.count("winograd_conv2d") == 2 or not recommended
    assert_close(K.conv_weight_grad(x, gy, (3, 3), *args), tgw, tol)
    wcalls = calls.count("winograd_weight_grad")
    assert wcalls == W.winograd_weight_grad_recommended(xs[0], xs[1], ws[0], *y.shape[2:])
    assert wcalls or xs[0] < 8


def test_winograd_not_for_nonfinite_or_other_shapes(monkeypatch, record_calls):
    """Non-finite data, strides, dilations, groups, other kernels, few channels and other
    dtypes take the other paths (non-finite values then propagate exactly as in PyTorch);
    the weight gradient tries Winograd on non-finite data, finds its result non-finite and
    computes it again by im2col."""
    monkeypatch.setattr(K, "winograd_conv2d", None)  # any call would raise
    calls = record_calls(K, "winograd_weight_grad", "_im2col_weight_grad")
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 64, 10, 10)), rng.standard_normal((64, 64, 3, 3))
    pad = ((1, 1), (1, 1))
    x_bad = x.copy()
    x_bad[1, 5, 4, 4] = np.inf
    with np.errstate(invalid="ignore", over="ignore"):
        y = K.conv_forward(x_bad, w, (1, 1), pad, (1, 1), 1)
    ty = torch_conv(x_bad, w, (1, 1), pad, (1, 1), 1)[0]
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ty))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(ty))
    w_bad = w.copy()
    w_bad[3, 2, 1, 1] = np.nan
    with np.errstate(invalid="ignore"):
        assert np.isnan(K.conv_forward(x, w_bad, (1, 1), pad, (1, 1), 1)[:, 3]).all()
    K.conv_forward(x, w, (2, 2), pad, (1, 1), 1)
    K.conv_forward(x, w, (1, 1), pad, (2, 2), 1)
    K.conv_forward(x, w[:, :32], (1, 1), pad, (1, 1), 2)
    K.conv_forward(x, w[:, :, :2], (1, 1), pad, (1, 1), 1)
    K.conv_forward(x[:, :8], w[:, :8], (1, 1), pad, (1, 1), 1)
    K.conv_forward(x.astype(np.complex128), w, (1, 1), pad, (1, 1), 1)
    xb, gyb = rng.standard_normal((8, 64, 10, 10)), rng.standard_normal((8, 64, 10, 10))
    assert K._use_winograd_weight_grad(xb, gyb, (3, 3), (1, 1), pad, (1, 1), 1)
    gy_bad = gyb.copy()
    gy_bad[2, 7, 0, 0] = np.nan
    xb_bad = xb.copy()
    xb_bad[3, 1, 9, 9] = -np.inf
    for xx, gg in ((xb_bad, gyb), (xb, gy_bad)):
        calls.clear()
        with np.errstate(invalid="ignore", over="ignore"):
            gw = K.conv_weight_grad(xx, gg, (3, 3), (1, 1), pad, (1, 1), 1)
        tgw = torch_conv(xx, rng.standard_normal((64, 64, 3, 3)), (1, 1), pad, (1, 1), 1, gg)[2]
        assert calls[0] == "winograd_weight_grad" and "_im2col_weight_grad" in calls
        assert np.isfinite(tgw).any() and not np.isfinite(tgw).all()
        np.testing.assert_array_equal(np.isnan(gw), np.isnan(tgw))
        np.testing.assert_array_equal(np.isinf(gw), np.isinf(tgw))
        fin = np.isfinite(tgw)
        np.testing.assert_allclose(gw[fin], tgw[fin], rtol=1e-9, atol=1e-9)
    calls.clear()
    big_gy = rng.standard_normal((8, 64, 11, 10))  # larger than the output: other path
    K.conv_weight_grad(xb, big_gy, (3, 3), (1, 1), pad, (1, 1), 1)
    K.conv_weight_grad(xb, gyb[:, :, ::2, ::2], (3, 3), (2, 2), pad, (1, 1), 1)
    assert calls == ["_im2col_weight_grad"] * 2  # finite: one im2col pass each


def _blas_threads() -> list[int]:
    """Thread counts of NumPy's BLAS (others, e.g. SciPy's that numba loads, are not ours)."""
    from threadpoolctl import threadpool_info

    return [
        i["num_threads"]
        for i in threadpool_info()
        if i["user_api"] == "blas" and "numpy" in i["filepath"]
    ]


def test_worker_chunks_run_with_single_threaded_blas():
    """BLAS is limited to one thread while chunks run (on workers or not), re-entrantly and
    from several threads at once, and the previous limit is restored afterwards."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(2, user_api="blas"):
        seen = []
        K._map_chunks(lambda c: seen.append(_blas_threads()), [(0, 1), (1, 2), (2, 3)])
        assert seen and all(s == [1] * len(s) for s in seen)
        with K._single_threaded_blas():
            with K._single_threaded_blas():
                assert set(_blas_threads()) <= {1}
            assert set(_blas_threads()) <= {1}
        assert set(_blas_threads()) <= {2}
        errors = []

        def user_thread():
            try:
                for _ in range(20):
                    K._map_chunks(lambda c: None, [(0, 1), (1, 2)])
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=user_thread) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors and set(_blas_threads()) <= {2}


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.complex128])
def test_channel_sum(dtype):
    """Per-channel sums of contiguous, transposed and empty arrays equal NumPy's."""
    rng = np.random.default_rng(0)
    g = randn(rng, (3, 4, 5, 6), dtype)
    want = g.astype(np.complex128).sum(axis=(0, 2, 3))
    for a in (g, g.transpose(0, 1, 3, 2), g[:, :, ::2]):
        ref = a.astype(np.complex128).sum(axis=(0, 2, 3))
        tol = 1e-2 if dtype == np.float16 else 1e-5
        np.testing.assert_allclose(K.channel_sum(a), ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(K.channel_sum(g), want, rtol=1e-2 if dtype == np.float16 else 1e-5)
    assert K.channel_sum(np.zeros((0, 4, 3), dtype)).shape == (4,)


WINOGRAD_DILATED = [
    # (x shape, w shape, padding, dilation): the dilation divides the size and the pads
    ((4, 64, 12, 10), (64, 64, 3, 3), ((2, 2), (2, 2)), (2, 2)),
    ((2, 64, 12, 10), (48, 64, 3, 3), ((2, 0), (0, 1)), (2, 1)),  # asymmetric, mixed
    ((2, 64, 9, 12), (64, 64, 3, 3), ((3, 3), (0, 6)), (3, 3)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", WINOGRAD_DILATED)
def test_winograd_dilated_route(cfg, dtype, record_calls):
    """Dilated stride-1 3x3 layers run Winograd on the ``d0*d1`` input phases (forward
    with bias, and the input gradient through the flipped kernel; one call for all
    phases); values match PyTorch."""
    calls = record_calls(K, "winograd_conv2d")
    xs, ws, padding, dilation = cfg
    rng = np.random.default_rng(sum(xs))
    x, w, b = randn(rng, xs, dtype), randn(rng, ws, dtype), randn(rng, ws[:1], dtype)
    args = ((1, 1), padding, dilation, 1)
    y = K.conv_forward(x, w, *args, b)
    assert calls == ["winograd_conv2d"] and y.dtype == dtype
    gy = randn(rng, y.shape, dtype)
    ty, tgx, tgw = torch_conv(x, w, (1, 1), padding, dilation, 1, gy)
    tol = TOL[dtype]
    assert_close(y, ty + b[:, None, None], tol)
    assert_close(K.conv_input_grad(gy, w, xs[2:], *args), tgx, tol)
    assert_close(K.conv_weight_grad(x, gy, (3, 3), *args), tgw, tol)


def test_winograd_dilated_needs_divisible_sizes(monkeypatch):
    """A dilation that does not divide the input size or a pad takes im2col."""
    monkeypatch.setattr(K, "winograd_conv2d", None)  # any call would raise
    rng = np.random.default_rng(5)
    w = rng.standard_normal((64, 64, 3, 3))
    for xs, pad in (((2, 64, 11, 10), ((2, 2), (2, 2))), ((2, 64, 12, 10), ((1, 3), (2, 2)))):
        x = rng.standard_normal(xs)
        y = K.conv_forward(x, w, (1, 1), pad, (2, 2), 1)
        assert_close(y, torch_conv(x, w, (1, 1), pad, (2, 2), 1)[0], 1e-10)


def test_all_finite_checks_every_block(monkeypatch):
    """The blockwise finiteness check finds a bad value in any block, in strided and complex
    arrays too; integer arrays are always finite."""
    monkeypatch.setattr(K, "_FINITE_CHECK_BLOCK", 7)
    a = np.zeros((5, 9), np.float32)
    assert K._all_finite(a) and K._all_finite(a[:0]) and K._all_finite(np.arange(5))
    for pos, bad in (((0, 0), np.nan), ((2, 3), np.inf), ((4, 8), -np.inf)):
        b = a.copy()
        b[pos] = bad
        assert not K._all_finite(b) and not K._all_finite(b.T)
    c = np.zeros(20, np.complex64)
    c[19] = complex(0, np.inf)
    assert not K._all_finite(c)
