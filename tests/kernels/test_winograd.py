"""Tests of :mod:`lucid.kernels.winograd` against PyTorch: a seeded random grid (tile sizes,
ragged edges, tiny inputs, asymmetric padding, non-contiguous inputs, bias, float64),
block / chunk splits, float32 accuracy, determinism, non-finite values and errors."""

from __future__ import annotations

import numpy as np
import pytest

from lucid.kernels import winograd as K

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOL = {np.float32: 1e-4, np.float64: 1e-10}


def torch_conv(x, w, padding, bias=None) -> np.ndarray:
    """Reference 3x3 stride-1 cross-correlation (asymmetric padding through ``F.pad``)."""
    (top, bottom), (left, right) = padding
    xt = F.pad(torch.from_numpy(np.ascontiguousarray(x)), (left, right, top, bottom))
    bt = None if bias is None else torch.from_numpy(bias)
    return F.conv2d(xt, torch.from_numpy(np.ascontiguousarray(w)), bt).numpy()


def rel_err(actual: np.ndarray, expected: np.ndarray) -> float:
    """Max abs error relative to the max abs value of ``expected``."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if expected.size == 0:
        return 0.0
    scale = max(float(np.abs(expected).max()), 1e-30)
    return float(np.abs(actual.astype(np.float64) - expected).max()) / scale


def _layout(rng, a: np.ndarray, kind: str) -> np.ndarray:
    """The same values as ``a`` in a non-contiguous layout."""
    if kind == "transposed":  # channels-last storage viewed as NCHW
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    if kind == "sliced":  # every other element of a larger array
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        big[..., ::2] = a
        return big[..., ::2]
    return a


def _random_config(rng):
    dtype = np.float64 if rng.random() < 0.25 else np.float32
    N = int(rng.integers(1, 4))
    C, Co = (int(v) for v in rng.choice([1, 3, 8, 17], 2))
    pads = [int(v) for v in rng.integers(0, 3, 4)]
    if rng.random() < 0.4:  # symmetric
        pads[1], pads[3] = pads[0], pads[2]
    padding = ((pads[0], pads[1]), (pads[2], pads[3]))
    H = max(int(rng.integers(1, 21)), 3 - pads[0] - pads[1])
    W = max(int(rng.integers(1, 21)), 3 - pads[2] - pads[3])
    m = [2, 4, None][int(rng.integers(0, 3))]
    layout = str(rng.choice(["contiguous", "transposed", "sliced"]))
    return dtype, N, C, Co, H, W, padding, m, layout, bool(rng.random() < 0.3)


CONFIGS = [_random_config(np.random.default_rng(1000 + i)) for i in range(48)]


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=[f"cfg{i}" for i in range(len(CONFIGS))])
def test_random_grid_matches_torch(index):
    dtype, N, C, Co, H, W, padding, m, layout, with_bias = CONFIGS[index]
    rng = np.random.default_rng(2000 + index)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((Co, C, 3, 3)).astype(dtype)
    bias = rng.standard_normal(Co).astype(dtype) if with_bias else None
    y = K.winograd_conv2d(_layout(rng, x, layout), _layout(rng, w, layout), padding, m, bias)
    assert y.dtype == dtype
    assert rel_err(y, torch_conv(x, w, padding, bias)) <= TOL[dtype]


@pytest.fixture
def fresh_plans():
    """Clear the plan cache around a test that changes the planning constants."""
    K._plan.cache_clear()
    yield
    K._plan.cache_clear()


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("blocks", [(1, 1), (2, 3), (3, 2), (5, 5)])
def test_block_and_chunk_splits(monkeypatch, fresh_plans, m, blocks):
    """Several block groups per axis (edge + interior), dead tiles, several chunks with a
    partial last one: every split gives the same convolution."""
    monkeypatch.setitem(K._BLOCK, m, blocks)
    rng = np.random.default_rng(m * 10 + blocks[0])
    x = rng.standard_normal((5, 3, 23, 26))
    w = rng.standard_normal((4, 3, 3, 3))
    bias = rng.standard_normal(4)
    padding = ((2, 1), (0, 2))
    plan = K._plan(5, 3, 4, 23, 26, padding, m, np.dtype(np.float64))
    monkeypatch.setattr(plan, "chunk", 2)
    y = K.winograd_conv2d(x, w, padding, m, bias)
    assert rel_err(y, torch_conv(x, w, padding, bias)) <= 1e-10


@pytest.mark.parametrize("m", [2, 4])
def test_row_strips(monkeypatch, fresh_plans, m):
    """A working set above the target splits images into strips of output rows (each a
    sub-problem with its own padding; strips inside the padding are bias only)."""
    monkeypatch.setattr(K, "_CHUNK_TARGET_BYTES", 1)
    rng = np.random.default_rng(m)
    x = rng.standard_normal((3, 2, 13, 9))
    w = rng.standard_normal((3, 2, 3, 3))
    bias = rng.standard_normal(3)
    for padding in [((1, 1), (1, 1)), ((2, 0), (0, 1)), ((9, 11), (2, 0))]:
        y = K.winograd_conv2d(x, w, padding, m, bias)
        assert rel_err(y, torch_conv(x, w, padding, bias)) <= 1e-10


@pytest.mark.parametrize("size, padding", [
    ((1, 1), ((1, 1), (1, 1))),
    ((1, 2), ((2, 0), (0, 2))),
    ((3, 3), ((0, 0), (0, 0))),
    ((3, 1), ((0, 0), (2, 2))),
    ((5, 4), ((2, 2), (2, 2))),
    ((0, 4), ((2, 2), (1, 1))),  # no input rows: only padding
    ((4, 0), ((1, 1), (1, 2))),  # no input columns
])
@pytest.mark.parametrize("m", [2, 4])
def test_tiny_inputs(size, padding, m):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3) + size)
    w = rng.standard_normal((2, 3, 3, 3))
    assert rel_err(K.winograd_conv2d(x, w, padding, m), torch_conv(x, w, padding)) <= 1e-10


@pytest.mark.parametrize("shape, out", [
    ((0, 3, 5, 5), (0, 4, 3, 5)), ((2, 0, 5, 5), (2, 4, 3, 5)), ((2, 3, 2, 5), (2, 4, 0, 5)),
])
def test_empty_inputs_or_outputs(shape, out):
    """No batch, no input channel (bias only) or a zero-size output, like ``conv_forward``."""
    x = np.ones(shape, np.float32)
    w = np.ones((4, shape[1], 3, 3), np.float32)
    bias = np.arange(4, dtype=np.float32)
    y = K.winograd_conv2d(x, w, ((0, 0), (1, 1)), bias=bias)
    assert y.shape == out and y.dtype == np.float32
    np.testing.assert_array_equal(y, np.broadcast_to(bias[:, None, None], out))


@pytest.mark.parametrize("m, limit", [(2, 2e-6), (4, 2e-5)])
def test_float32_accuracy_deep_reduction(m, limit):
    """float32 error against a float64 reference stays far below lucid's 1e-4 tolerance."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 256, 12, 12)).astype(np.float32)
    w = rng.standard_normal((16, 256, 3, 3)).astype(np.float32)
    ref = torch_conv(x.astype(np.float64), w.astype(np.float64), ((1, 1), (1, 1)))
    assert rel_err(K.winograd_conv2d(x, w, ((1, 1), (1, 1)), m), ref) <= limit


def test_deterministic():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((9, 16, 20, 20)).astype(np.float32)
    w = rng.standard_normal((24, 16, 3, 3)).astype(np.float32)
    first = K.winograd_conv2d(x, w, ((1, 1), (1, 1)))
    K.winograd_conv2d(x[:3, :, :7], w, ((0, 2), (1, 0)), m=2)  # reuses the scratch
    np.testing.assert_array_equal(K.winograd_conv2d(x, w, ((1, 1), (1, 1))), first)


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_non_finite_input_stays_local(m, value):
    """An inf/nan in x makes every output whose window holds it non-finite (as a direct
    convolution does), and also spreads to the rest of its block of tiles (outputs whose
    window does not hold it: Winograd transforms mix whole windows, and 0 * inf = nan), but
    no further: outputs more than ``m * b + 2`` rows or columns away stay exact."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 30, 30))
    w = rng.standard_normal((4, 3, 3, 3))
    x[1, 2, 13, 17] = value
    padding = ((1, 1), (1, 1))
    y = K.winograd_conv2d(x, w, padding, m)
    ref = torch_conv(x, w, padding)
    bad = ~np.isfinite(ref)
    assert bad.any() and not np.isfinite(y[bad]).any()
    plan = K._plan(2, 3, 4, 30, 30, padding, m, np.dtype(np.float64))
    rows, cols = np.ogrid[:30, :30]
    near = (abs(rows - 13) <= m * plan.by + 2) & (abs(cols - 17) <= m * plan.bx + 2)
    far = np.broadcast_to(~near, y.shape).copy()
    far[0] = True  # the other image is untouched
    assert np.isfinite(y[far]).all()
    np.testing.assert_allclose(y[far], ref[far], rtol=1e-10, atol=1e-10)
    assert not np.isfinite(y[1][:, ~bad[1, 0] & near]).all()  # it does spread in the block


@pytest.mark.parametrize("m", [2, 4])
def test_non_finite_weight_spoils_its_channel(m):
    """Like a direct convolution: every output of that channel, nothing else."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 9, 10))
    w = rng.standard_normal((4, 3, 3, 3))
    w[2, 1, 0, 2] = -np.inf
    y = K.winograd_conv2d(x, w, ((1, 1), (1, 1)), m)
    ref = torch_conv(x, w, ((1, 1), (1, 1)))
    np.testing.assert_array_equal(~np.isfinite(y), ~np.isfinite(ref))
    assert not np.isfinite(y[:, 2]).any()


def test_default_tile_size():
    """F(4x4) by default; F(2x2) when few tiles meet large weight matrices."""
    assert K._tile_size(32, 64, 64, 32, 32) == 4
    assert K._tile_size(32, 128, 128, 8, 8) == 4
    assert K._tile_size(8, 128, 128, 4, 4) == 2
    assert K._tile_size(1, 512, 512, 8, 8) == 2
    assert K._tile_size(8, 512, 512, 8, 8) == 2


@pytest.mark.parametrize("shape, expected", [
    ((32, 64, 64, 32, 32), True), ((8, 32, 32, 56, 56), True), ((4, 3, 16, 64, 64), False),
    ((1, 16, 16, 16, 16), False), ((8, 16, 16, 16, 16), True), ((32, 16, 16, 32, 32), False),
    ((1, 512, 512, 4, 4), False), ((8, 512, 512, 4, 4), True), ((1, 32, 32, 32, 32), False),
    ((1, 32, 32, 16, 16), True), ((1, 64, 64, 56, 56), False), ((1, 128, 128, 56, 56), True),
])
def test_winograd_recommended(shape, expected):
    assert K.winograd_recommended(*shape) is expected


@pytest.mark.parametrize("x, w, padding, m, bias, exc, match", [
    (np.ones((1, 2, 4, 4), np.int64), np.ones((1, 2, 3, 3), np.int64), ((0, 0),) * 2, 4,
     None, TypeError, "float32 or float64"),
    (np.ones((1, 2, 4, 4), np.float16), np.ones((1, 2, 3, 3), np.float16), ((0, 0),) * 2, 4,
     None, TypeError, "float16"),
    (np.ones((2, 4, 4)), np.ones((1, 2, 3, 3)), ((0, 0),) * 2, 4, None, ValueError,
     r"x of shape \(2, 4, 4\)"),
    (np.ones((1, 2, 4, 4)), np.ones((1, 2, 5, 5)), ((0, 0),) * 2, 4, None, ValueError,
     r"w of shape \(1, 2, 5, 5\)"),
    (np.ones((1, 3, 4, 4)), np.ones((1, 2, 3, 3)), ((0, 0),) * 2, 4, None, ValueError,
     "C_out, C, 3, 3"),
    (np.ones((1, 2, 4, 4)), np.ones((1, 2, 3, 3)), ((0, 0), (-1, 0)), 4, None, ValueError,
     "non-negative"),
    (np.ones((1, 2, 4, 4)), np.ones((1, 2, 3, 3)), ((0, 0),), 4, None, ValueError,
     "two non-negative"),
    (np.ones((1, 2, 4, 4)), np.ones((1, 2, 3, 3)), (1, 1), 4, None, ValueError,
     r"two non-negative \(lo, hi\) pairs, got \(1, 1\)"),
    (np.ones((1, 2, 4, 4)), np.ones((1, 2, 3, 3)), ((0, 0),) * 2, 3, None, ValueError,
     "m must be 2 or 4, got 3"),
    (np.ones((1, 2, 4, 4)), np.ones((1, 2, 3, 3)), ((0, 0),) * 2, 4, np.ones(2), ValueError,
     r"bias must have shape \(1,\)"),
    (np.ones((1, 2, 1, 4)), np.ones((1, 2, 3, 3)), ((0, 0),) * 2, 4, None, ValueError,
     r"spatial size \(1, 4\) is too small"),
])
def test_errors(x, w, padding, m, bias, exc, match):
    with pytest.raises(exc, match=match):
        K.winograd_conv2d(x, w, padding, m, bias)


# --------------------------------------------------------------------------------------------
# weight gradient
# --------------------------------------------------------------------------------------------


def torch_weight_grad(x, gy, padding) -> np.ndarray:
    """Reference weight gradient of the 3x3 stride-1 cross-correlation, in float64."""
    (top, bottom), (left, right) = padding
    xt = F.pad(torch.from_numpy(np.ascontiguousarray(x, np.float64)), (left, right, top, bottom))
    w = torch.zeros((gy.shape[1], x.shape[1], 3, 3), dtype=torch.float64, requires_grad=True)
    F.conv2d(xt, w).backward(torch.from_numpy(np.ascontiguousarray(gy, np.float64)))
    return w.grad.numpy()


def _grad_inputs(rng, N, C, Co, H, W, padding, dtype=np.float64):
    Ho, Wo = H + sum(padding[0]) - 2, W + sum(padding[1]) - 2
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    return x, rng.standard_normal((N, Co, Ho, Wo)).astype(dtype)


GRAD_CONFIGS = [_random_config(np.random.default_rng(3000 + i)) for i in range(30)]


@pytest.mark.parametrize("index", range(len(GRAD_CONFIGS)),
                         ids=[f"cfg{i}" for i in range(len(GRAD_CONFIGS))])
def test_weight_grad_random_grid_matches_torch(index):
    dtype, N, C, Co, H, W, padding, m, layout, _ = GRAD_CONFIGS[index]
    rng = np.random.default_rng(4000 + index)
    x, gy = _grad_inputs(rng, N, C, Co, H, W, padding, dtype)
    gw = K.winograd_weight_grad(_layout(rng, x, layout), _layout(rng, gy, layout), padding, m)
    assert gw.shape == (Co, C, 3, 3) and gw.dtype == dtype
    assert rel_err(gw, torch_weight_grad(x, gy, padding)) <= TOL[dtype]


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("blocks, rows, group_bytes", [
    ((1, 1), 1, 2**30), ((2, 3), 10**6, 2**30), ((3, 2), 10**6, 1), ((5, 5), 40, 2**30),
])
def test_weight_grad_block_chunk_group_splits(monkeypatch, fresh_plans, m, blocks, rows,
                                              group_bytes):
    """Several block groups per axis, dead tiles, several chunks per GEMM group (a partial
    last group and a partial last chunk) or one chunk per group: the same gradient."""
    monkeypatch.setitem(K._BLOCK, m, blocks)
    monkeypatch.setattr(K, "_WGRAD_ROWS", rows)
    monkeypatch.setattr(K, "_WGRAD_GROUP_BYTES", group_bytes)
    rng = np.random.default_rng(m * 10 + blocks[0])
    padding = ((2, 1), (0, 2))
    x, gy = _grad_inputs(rng, 7, 3, 4, 23, 26, padding)
    plan = K._plan(7, 3, 4, 23, 26, padding, m, np.dtype(np.float64))
    monkeypatch.setattr(plan, "wchunk", 2)
    gw = K.winograd_weight_grad(x, gy, padding, m)
    assert rel_err(gw, torch_weight_grad(x, gy, padding)) <= 1e-10


@pytest.mark.parametrize("m", [2, 4])
def test_weight_grad_row_strips(monkeypatch, fresh_plans, m):
    """Images split into strips of output rows (strips inside the padding add nothing)."""
    monkeypatch.setattr(K, "_CHUNK_TARGET_BYTES", 1)
    rng = np.random.default_rng(m)
    for padding in [((1, 1), (1, 1)), ((2, 0), (0, 1)), ((9, 11), (2, 0))]:
        x, gy = _grad_inputs(rng, 3, 2, 3, 13, 9, padding)
        gw = K.winograd_weight_grad(x, gy, padding, m)
        assert rel_err(gw, torch_weight_grad(x, gy, padding)) <= 1e-10


@pytest.mark.parametrize("size, padding", [
    ((1, 1), ((1, 1), (1, 1))),
    ((1, 2), ((2, 0), (0, 2))),
    ((3, 3), ((0, 0), (0, 0))),
    ((3, 1), ((0, 0), (2, 2))),
    ((5, 4), ((2, 2), (2, 2))),
])
@pytest.mark.parametrize("m", [2, 4])
def test_weight_grad_tiny_inputs(size, padding, m):
    rng = np.random.default_rng(8)
    x, gy = _grad_inputs(rng, 2, 3, 2, *size, padding)
    gw = K.winograd_weight_grad(x, gy, padding, m)
    assert rel_err(gw, torch_weight_grad(x, gy, padding)) <= 1e-10


@pytest.mark.parametrize("x_shape, gy_shape, padding", [
    ((0, 3, 5, 5), (0, 4, 3, 5), ((0, 0), (1, 1))),  # no batch
    ((2, 0, 5, 5), (2, 4, 3, 5), ((0, 0), (1, 1))),  # no input channel
    ((2, 3, 5, 5), (2, 0, 3, 5), ((0, 0), (1, 1))),  # no output channel
    ((2, 3, 2, 5), (2, 4, 0, 5), ((0, 0), (1, 1))),  # no output row
    ((2, 3, 0, 4), (2, 4, 2, 2), ((2, 2), (0, 0))),  # no input row: only padding
])
def test_weight_grad_empty(x_shape, gy_shape, padding):
    gw = K.winograd_weight_grad(np.ones(x_shape, np.float32), np.ones(gy_shape, np.float32),
                                padding)
    assert gw.shape == (gy_shape[1], x_shape[1], 3, 3) and gw.dtype == np.float32
    assert not gw.any()


@pytest.mark.parametrize("m, limit", [(2, 2e-6), (4, 2e-5)])
def test_weight_grad_float32_accuracy(m, limit):
    """float32 error against a float64 reference stays below lucid's 1e-4 tolerance."""
    rng = np.random.default_rng(4)
    x, gy = _grad_inputs(rng, 4, 256, 16, 12, 12, ((1, 1), (1, 1)), np.float32)
    ref = torch_weight_grad(x, gy, ((1, 1), (1, 1)))
    assert rel_err(K.winograd_weight_grad(x, gy, ((1, 1), (1, 1)), m), ref) <= limit


def test_weight_grad_deterministic(monkeypatch):
    monkeypatch.setattr(K, "_WGRAD_ROWS", 1)  # several GEMM groups
    rng = np.random.default_rng(6)
    x, gy = _grad_inputs(rng, 9, 16, 24, 20, 20, ((1, 1), (1, 1)), np.float32)
    first = K.winograd_weight_grad(x, gy, ((1, 1), (1, 1)))
    K.winograd_weight_grad(x[:3, :, :7], gy[:3, :, :7, :19], ((0, 2), (1, 0)), m=2)  # scratch
    np.testing.assert_array_equal(K.winograd_weight_grad(x, gy, ((1, 1), (1, 1))), first)


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("where", ["x", "gy"])
def test_weight_grad_non_finite(m, where):
    """An inf in ``x[n, c]`` spoils ``gw[:, c]`` (one in ``gy[n, o]``: ``gw[o]``), as in a
    direct computation (but as nan), and nothing else."""
    rng = np.random.default_rng(13)
    padding = ((1, 1), (1, 1))
    x, gy = _grad_inputs(rng, 2, 3, 4, 14, 14, padding)
    ref = torch_weight_grad(x, gy, padding)
    bad = np.zeros(ref.shape, bool)
    if where == "x":
        x[1, 2, 6, 7] = np.inf
        bad[:, 2] = True
    else:
        gy[1, 3, 6, 7] = np.inf
        bad[3] = True
    gw = K.winograd_weight_grad(x, gy, padding, m)
    assert not np.isfinite(gw[bad]).any()
    np.testing.assert_allclose(gw[~bad], ref[~bad], rtol=1e-10, atol=1e-10)


def test_weight_grad_default_tile_size():
    """F(4x4) by default; F(2x2) when few tiles meet large ``C * C_out``."""
    assert K._wgrad_tile_size(32, 64, 64, 32, 32) == 4
    assert K._wgrad_tile_size(32, 128, 128, 16, 16) == 4
    assert K._wgrad_tile_size(8, 256, 256, 8, 8) == 2
    assert K._wgrad_tile_size(1, 512, 512, 8, 8) == 2


@pytest.mark.parametrize("x, gy, padding, m, exc, match", [
    (np.ones((1, 2, 4, 4), np.int64), np.ones((1, 1, 2, 2), np.int64), ((0, 0),) * 2, 4,
     TypeError, "float32 or float64"),
    (np.ones((1, 2, 4, 4), np.float16), np.ones((1, 1, 2, 2), np.float16), ((0, 0),) * 2, 4,
     TypeError, "float16"),
    (np.ones((2, 4, 4)), np.ones((1, 1, 2, 2)), ((0, 0),) * 2, 4, ValueError,
     r"x of shape \(2, 4, 4\)"),
    (np.ones((1, 2, 4, 4)), np.ones((1, 1, 3, 2)), ((0, 0),) * 2, 4, ValueError,
     r"gy of shape \(1, 1, 3, 2\) does not match"),
    (np.ones((2, 2, 4, 4)), np.ones((1, 1, 2, 2)), ((0, 0),) * 2, 4, ValueError,
     "does not match"),
    (np.ones((1, 2, 1, 4)), np.ones((1, 1, 0, 2)), ((0, 0),) * 2, 4, ValueError,
     "does not match"),
    (np.ones((1, 2, 4, 4)), np.ones((1, 1, 2, 2)), ((0, 0), (-1, 0)), 4, ValueError,
     "non-negative"),
    (np.ones((1, 2, 4, 4)), np.ones((1, 1, 2, 2)), ((0, 0),) * 2, 3, ValueError,
     "m must be 2 or 4, got 3"),
])
def test_weight_grad_errors(x, gy, padding, m, exc, match):
    with pytest.raises(exc, match=match):
        K.winograd_weight_grad(x, gy, padding, m)


@pytest.mark.parametrize("shape, expected", [
    ((32, 64, 64, 32, 32), True), ((32, 128, 128, 16, 16), True), ((8, 256, 256, 8, 8), False),
    ((16, 64, 64, 16, 16), True), ((8, 32, 32, 56, 56), False), ((64, 64, 32, 8, 8), True),
    ((1, 64, 64, 32, 32), False), ((32, 8, 8, 16, 16), True), ((8, 8, 8, 16, 16), False),
    ((8, 16, 16, 4, 4), False), ((32, 16, 16, 4, 4), True), ((32, 32, 32, 56, 56), True),
    ((8, 64, 64, 56, 56), True), ((8, 256, 256, 4, 4), False), ((32, 4, 64, 32, 32), False),
])
def test_winograd_weight_grad_recommended(shape, expected):
    assert K.winograd_weight_grad_recommended(*shape) is expected


# --------------------------------------------------------------------------------------------
# dilation: the polyphase components stacked along the batch
# --------------------------------------------------------------------------------------------


def torch_dilated(x, w, gy, padding, dilation, bias=None) -> tuple[np.ndarray, np.ndarray]:
    """Reference forward and weight gradient of a dilated 3x3 cross-correlation, float64."""
    (top, bottom), (left, right) = padding
    xt = F.pad(torch.from_numpy(np.asarray(x, np.float64)), (left, right, top, bottom))
    wt = torch.tensor(np.asarray(w, np.float64), requires_grad=True)
    bt = None if bias is None else torch.from_numpy(np.asarray(bias, np.float64))
    y = F.conv2d(xt, wt, bt, dilation=tuple(dilation))
    y.backward(torch.from_numpy(np.asarray(gy, np.float64)))
    return y.detach().numpy(), wt.grad.numpy()


def _dilated_config(rng):
    d = tuple(int(v) for v in rng.integers(1, 4, 2))
    if d == (1, 1):
        d = (2, 2)
    N = int(rng.integers(1, 6))
    C, Co = (int(v) for v in rng.choice([1, 3, 8, 16], 2))
    padding = tuple(tuple(int(k) * dd for k in rng.integers(0, 3, 2)) for dd in d)
    size = tuple(dd * max(int(rng.integers(1, 9)), 3 - sum(p) // dd) for dd, p in zip(d, padding))
    m = [2, 4, None][int(rng.integers(0, 3))]
    return N, C, Co, size, padding, d, m, bool(rng.random() < 0.5)


DILATED_CONFIGS = [_dilated_config(np.random.default_rng(5000 + i)) for i in range(16)]


@pytest.fixture(params=["compiled", "numpy"])
def phase_copies(request, monkeypatch):
    """Run the polyphase split/merge through numba (where installed) or NumPy's copies."""
    from lucid.kernels import _compiled

    if request.param == "numpy":
        monkeypatch.setattr(_compiled, "available", lambda: False)
    elif not _compiled.available():
        pytest.skip("numba is not installed")
    return request.param


@pytest.mark.parametrize("chunk_bytes", [1, 2**20])
@pytest.mark.parametrize("index", range(len(DILATED_CONFIGS)),
                         ids=[f"cfg{i}" for i in range(len(DILATED_CONFIGS))])
def test_dilated_matches_torch(index, chunk_bytes, phase_copies, monkeypatch):
    """Forward (with and without bias) and weight gradient, in one batch chunk or in
    chunks of one image (``chunk_bytes=1``), with numba's and NumPy's phase copies."""
    monkeypatch.setattr(K, "_PHASE_CHUNK_BYTES", chunk_bytes)
    N, C, Co, size, padding, d, m, with_bias = DILATED_CONFIGS[index]
    rng = np.random.default_rng(6000 + index)
    x = rng.standard_normal((N, C) + size)
    w = rng.standard_normal((Co, C, 3, 3))
    bias = rng.standard_normal(Co) if with_bias else None
    out = tuple(L + sum(p) - 2 * dd for L, p, dd in zip(size, padding, d))
    gy = rng.standard_normal((N, Co) + out)
    ty, tgw = torch_dilated(x, w, gy, padding, d, bias)
    y = K.winograd_conv2d(x, w, padding, m, bias, dilation=d)
    assert y.shape == ty.shape and rel_err(y, ty) <= TOL[np.float64]
    gw = K.winograd_weight_grad(x, gy, padding, m, dilation=d)
    assert rel_err(gw, tgw) <= TOL[np.float64]


def test_dilated_suite_layer_float32(phase_copies):
    """The GUIDE's dilated suite layer, float32, within 1e-4 of float64 PyTorch."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((16, 64, 32, 32)).astype(np.float32)
    w = (rng.standard_normal((64, 64, 3, 3)) / 24).astype(np.float32)
    gy = rng.standard_normal((16, 64, 32, 32)).astype(np.float32)
    ty, tgw = torch_dilated(x, w, gy, ((2, 2), (2, 2)), (2, 2))
    y = K.winograd_conv2d(x, w, ((2, 2), (2, 2)), dilation=(2, 2))
    gw = K.winograd_weight_grad(x, gy, ((2, 2), (2, 2)), dilation=(2, 2))
    assert y.dtype == gw.dtype == np.float32
    assert rel_err(y, ty) <= 1e-5 and rel_err(gw, tgw) <= 1e-5


def test_dilated_deterministic_and_non_contiguous(monkeypatch):
    """Chunks and layouts do not change a bit of the result; chunk sums in order."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 8, 12, 8)).astype(np.float32)
    w = rng.standard_normal((6, 8, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((5, 6, 12, 8)).astype(np.float32)
    pads, d = ((3, 3), (2, 2)), (3, 2)
    y1 = K.winograd_conv2d(x, w, pads, 4, dilation=d)
    g1 = K.winograd_weight_grad(x, gy, pads, 4, dilation=d)
    monkeypatch.setattr(K, "_PHASE_CHUNK_BYTES", 1)  # one image per chunk
    y2 = K.winograd_conv2d(_layout(rng, x, "transposed"), w, pads, 4, dilation=d)
    g2 = K.winograd_weight_grad(_layout(rng, x, "sliced"), gy, pads, 4, dilation=d)
    assert np.array_equal(y1, y2)
    assert rel_err(g2, g1) <= 1e-6  # other partial sums, same values
    assert np.array_equal(g2, K.winograd_weight_grad(x, gy, pads, 4, dilation=d))


@pytest.mark.parametrize("d", [(2, 2), (3, 1), (1, 3), (2, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_phase_split_and_merge(d, dtype, phase_copies):
    """The split (numba's or NumPy's) and numba's merge, its inverse."""
    from lucid.kernels import _compiled

    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 4, 6 * d[0], 5 * d[1])).astype(dtype)
    p = K._phase_split("xp", x, d)
    assert p.shape == (d[0] * d[1] * 3, 4, 6, 5)
    for r0 in range(d[0]):
        for r1 in range(d[1]):
            i = (r0 * d[1] + r1) * 3
            assert np.array_equal(p[i : i + 3], x[:, :, r0 :: d[0], r1 :: d[1]])
    if phase_copies == "compiled":
        y = np.full_like(x, np.nan)
        _compiled.phase_merge(p.reshape(d + (3, 4, 6, 5)), y)
        assert np.array_equal(y, x)


@pytest.mark.parametrize("dilation, padding, size, match", [
    ((2, 2), ((1, 1), (2, 2)), (8, 8), r"dilation \(2, 2\) must divide .*\(\(1, 1\), \(2, 2\)\)"),
    ((2, 2), ((2, 2), (2, 2)), (7, 8), r"input size \(7, 8\)"),
    ((0, 1), ((0, 0), (0, 0)), (8, 8), r"two positive ints, got \(0, 1\)"),
    ((2,), ((0, 0), (0, 0)), (8, 8), r"two positive ints, got \(2,\)"),
    ((True, 2), ((0, 0), (0, 0)), (8, 8), "two positive ints"),
    ("ab", ((0, 0), (0, 0)), (8, 8), "two positive ints, got 'ab'"),
])
def test_dilation_errors(dilation, padding, size, match):
    x = np.ones((1, 2) + size)
    with pytest.raises(ValueError, match=match):
        K.winograd_conv2d(x, np.ones((1, 2, 3, 3)), padding, dilation=dilation)
    with pytest.raises(ValueError, match=match):
        K.winograd_weight_grad(x, np.ones((1, 1, 4, 4)), padding, dilation=dilation)


def test_dilated_too_small_and_gy_mismatch():
    x = np.ones((1, 2, 2, 4))
    with pytest.raises(ValueError, match=r"too small .* dilation \(2, 2\)"):
        K.winograd_conv2d(x, np.ones((1, 2, 3, 3)), ((0, 0), (2, 2)), dilation=(2, 2))
    with pytest.raises(ValueError, match=r"gy of shape \(1, 1, 2, 2\) does not match"):
        K.winograd_weight_grad(np.ones((1, 2, 4, 4)), np.ones((1, 1, 2, 2)), ((0, 0),) * 2,
                               dilation=(2, 2))
