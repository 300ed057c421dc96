"""Activation functions against PyTorch: values, gradients and second derivatives."""

import math
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lucid
import lucid.nn.functional as F
from lucid.nn.functional._activation import _erf_array

torch.set_num_threads(1)  # tiny tensors: threads only add overhead

TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}
# second derivatives in float32 suffer cancellation (e.g. 1 - tanh(x)**2 for large |x|)
TOL2 = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-4, atol=1e-4)}


def _close(a, b, dtype):
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    np.testing.assert_allclose(a.detach().numpy(), b, **TOL[dtype])


def _inputs(seed, shape, dtype, specials=()):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    flat = x.reshape(-1)
    flat[: len(specials)] = specials
    return x


def compare(lfn, tfn, x, dtype, seed=0, gradgrad=True):
    """Forward, gradient and (optionally) double-backward of one-input functions."""
    rng = np.random.default_rng(seed + 1)
    lx, tx = lucid.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ly, ty = lfn(lx), tfn(tx)
    _close(ly, ty, dtype)
    gy = rng.standard_normal(x.shape).astype(dtype)
    lg_out = lucid.tensor(gy, requires_grad=True)
    tg_out = torch.tensor(gy, requires_grad=True)
    (tgx,) = torch.autograd.grad(ty, tx, tg_out, create_graph=gradgrad)
    # first order alone (some backwards reuse forward values), then recorded for a second
    _close(lucid.autograd.grad(ly, lx, lg_out, retain_graph=True)[0], tgx, dtype)
    if not gradgrad or not tgx.requires_grad:
        return
    (lgx,) = lucid.autograd.grad(ly, lx, lg_out, create_graph=True)
    _close(lgx, tgx, dtype)
    v = rng.standard_normal(x.shape).astype(dtype)
    lsum = (lgx * lucid.tensor(v)).sum()
    tsum = (tgx * torch.tensor(v)).sum()
    lsum.backward()
    tsum.backward()
    np.testing.assert_allclose(lg_out.grad.numpy(), tg_out.grad.numpy(), **TOL2[dtype])
    zeros = np.zeros(x.shape, dtype)
    lxg = zeros if lx.grad is None else lx.grad.numpy()
    txg = zeros if tx.grad is None else tx.grad.numpy()
    np.testing.assert_allclose(lxg, txg, **TOL2[dtype])


KINKS = [0.0, -0.0, 1.0, -1.0, 3.0, -3.0, 6.0, 20.0, 25.0, -25.0, 1e-8, np.nan]

CASES = [
    ("leaky_relu", lambda f, x: f.leaky_relu(x), None),
    ("leaky_relu_0.2", lambda f, x: f.leaky_relu(x, 0.2), None),
    ("leaky_relu_neg", lambda f, x: f.leaky_relu(x, -1.5), None),
    ("elu", lambda f, x: f.elu(x), None),
    ("elu_alpha", lambda f, x: f.elu(x, alpha=0.7), None),
    ("gelu", lambda f, x: f.gelu(x), None),
    ("gelu_tanh", lambda f, x: f.gelu(x, approximate="tanh"), None),
    ("silu", lambda f, x: f.silu(x), None),
    ("mish", lambda f, x: f.mish(x), None),
    ("softplus", lambda f, x: f.softplus(x), None),
    ("softplus_beta", lambda f, x: f.softplus(x, beta=2.0, threshold=5.0), None),
    ("softplus_small_beta", lambda f, x: f.softplus(x, beta=0.5, threshold=3.0), None),
    ("hardtanh", lambda f, x: f.hardtanh(x), None),
    ("hardtanh_bounds", lambda f, x: f.hardtanh(x, -3.0, 6.0), None),
    ("relu6", lambda f, x: f.relu6(x), None),
    ("relu", lambda f, x: f.relu(x), None),
    ("hardswish", lambda f, x: f.hardswish(x), None),
    ("hardsigmoid", lambda f, x: f.hardsigmoid(x), "first"),  # torch: no double backward
    ("sigmoid", lambda f, x: f.sigmoid(x), None),
    ("tanh", lambda f, x: f.tanh(x), None),
    ("softmax", lambda f, x: f.softmax(x, dim=1), "finite"),
    ("log_softmax", lambda f, x: f.log_softmax(x, dim=-1), "finite"),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,fn,kind", CASES, ids=[c[0] for c in CASES])
def test_activation_matches_torch(name, fn, kind, dtype):
    specials = [] if kind == "finite" else [v for v in KINKS if not np.isnan(v)]
    x = _inputs(zlib.crc32(name.encode()), (4, 5, 6), dtype, specials)
    compare(lambda t: fn(F, t), lambda t: fn(TF, t), x, dtype, gradgrad=kind != "first")


@pytest.mark.parametrize("name,fn,kind", CASES, ids=[c[0] for c in CASES])
def test_activation_nan_propagates(name, fn, kind):
    if kind == "finite":
        pytest.skip("reductions spread NaN over the row")
    x = np.array([np.nan, 1.0, -1.0])
    with torch.no_grad():
        expected = fn(TF, torch.tensor(x)).numpy()
    np.testing.assert_array_equal(np.isnan(fn(F, lucid.tensor(x)).numpy()), np.isnan(expected))


@pytest.mark.parametrize("x", [-40.0, -10.0, -1e-3, 0.3, 2.0, 7.5, 40.0, 800.0, -800.0])
def test_large_and_small_inputs(x):
    arr = np.array([x], dtype=np.float64)
    for name, fn, _ in CASES:
        if name in ("softmax", "log_softmax"):
            continue
        compare(lambda t, fn=fn: fn(F, t), lambda t, fn=fn: fn(TF, t), arr, np.float64,
                gradgrad=False)


def test_erf_is_accurate_to_double_precision():
    x = np.concatenate([np.linspace(-9, 9, 20001), [0.0, -0.0, np.inf, -np.inf, 1e-300]])
    expected = np.array([math.erf(v) for v in x])
    got = _erf_array(x)
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
    assert np.isnan(_erf_array(np.array([np.nan]))).all()
    # float32 (and float16) use a faster approximation, accurate to a few float32 ulps
    got32 = _erf_array(x.astype(np.float32))
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32[np.isfinite(x)], expected[np.isfinite(x)], rtol=0,
                               atol=5e-7)
    assert _erf_array(np.float16([0.5])).dtype == np.float16


INPLACE = [
    ("relu", lambda f, x: f.relu(x, inplace=True), lambda f, x: f.relu(x)),
    ("leaky_relu", lambda f, x: f.leaky_relu(x, 0.3, True), lambda f, x: f.leaky_relu(x, 0.3)),
    ("elu", lambda f, x: f.elu(x, 0.5, True), lambda f, x: f.elu(x, 0.5)),
    ("hardtanh", lambda f, x: f.hardtanh(x, -2.0, 2.0, True),
     lambda f, x: f.hardtanh(x, -2.0, 2.0)),
    ("relu6", lambda f, x: f.relu6(x, inplace=True), lambda f, x: f.relu6(x)),
    ("silu", lambda f, x: f.silu(x, inplace=True), lambda f, x: f.silu(x)),
    ("mish", lambda f, x: f.mish(x, inplace=True), lambda f, x: f.mish(x)),
    ("hardswish", lambda f, x: f.hardswish(x, inplace=True), lambda f, x: f.hardswish(x)),
    ("hardsigmoid", lambda f, x: f.hardsigmoid(x, inplace=True), lambda f, x: f.hardsigmoid(x)),
    ("relu_", lambda f, x: f.relu_(x), lambda f, x: f.relu(x)),
    ("leaky_relu_", lambda f, x: f.leaky_relu_(x, 0.3), lambda f, x: f.leaky_relu(x, 0.3)),
    ("elu_", lambda f, x: f.elu_(x), lambda f, x: f.elu(x)),
    ("hardtanh_", lambda f, x: f.hardtanh_(x), lambda f, x: f.hardtanh(x)),
]


@pytest.mark.parametrize("name,inplace,plain", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_variants(name, inplace, plain):
    x = _inputs(3, (3, 4), np.float64, [0.0, 3.0, -3.0])
    # on a non-leaf: the tensor is overwritten and gradients flow through the in-place op
    leaf = lucid.tensor(x, requires_grad=True)
    h = leaf * 1.0
    out = inplace(F, h)
    assert out is h
    expected = plain(TF, torch.tensor(x)).numpy()
    np.testing.assert_allclose(h.detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    out.sum().backward()
    tleaf = torch.tensor(x, requires_grad=True)
    plain(TF, tleaf).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), tleaf.grad.numpy(), rtol=1e-12, atol=1e-12)
    # on a leaf that requires grad: refused, as in PyTorch
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        inplace(F, lucid.tensor(x, requires_grad=True))
    # without autograd: plain overwrite
    t = lucid.tensor(x)
    inplace(F, t)
    np.testing.assert_allclose(t.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_integer_inputs():
    x = lucid.tensor([-3, 2, 8])
    assert F.relu6(x).tolist() == [0, 2, 6]
    assert F.relu6(x).dtype == lucid.int64
    assert F.hardtanh(x, -2, 2).tolist() == [-2, 2, 2]
    assert F.relu(x).tolist() == [0, 2, 8]
    for fn in (F.leaky_relu, F.elu, F.gelu, F.silu, F.softplus, F.mish, F.hardswish,
               F.hardsigmoid):
        with pytest.raises(NotImplementedError, match="floating point"):
            fn(x)


def test_float16_forward():
    x = np.linspace(-4, 4, 17).astype(np.float16)
    for name, fn, _ in CASES[:-2]:
        if name in ("sigmoid", "tanh", "relu"):
            continue
        expected = fn(TF, torch.tensor(x)).numpy()
        got = fn(F, lucid.tensor(x))
        assert got.dtype == lucid.float16, name
        np.testing.assert_allclose(got.numpy(), expected, rtol=2e-3, atol=2e-3, err_msg=name)


def test_errors():
    x = lucid.randn(3)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(x, 2.0, 1.0)
    with pytest.raises(RuntimeError, match="approximate argument"):
        F.gelu(x, approximate="fast")
    with pytest.raises(TypeError, match="must be Tensor"):
        F.leaky_relu([1.0, 2.0])
    with pytest.raises(TypeError, match="must be Tensor"):
        F.relu(np.ones(3))
    with pytest.raises(NotImplementedError, match="floating point"):
        F.gelu(lucid.tensor([1 + 2j]))
