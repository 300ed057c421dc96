"""Pooling functions against PyTorch over seeded random configurations.

Every configuration either succeeds in both libraries with the same values, indices and
gradients (first and second order), or fails in both with the same exception type.
"""

from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lucid
import lucid.nn.functional as F

torch.set_num_threads(1)  # tiny tensors: threads only add overhead

TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}


def _np(t):
    return t.detach().numpy()


def _run(fn, lib, x, gy, v):
    """Output(s), input gradient and second-order gradients (w.r.t. x and the upstream
    gradient, through the projection ``<grad_x, v>``)."""
    xt = lib.tensor(x, requires_grad=True)
    out = fn(xt)
    y, idx = out if isinstance(out, tuple) else (out, None)
    g = lib.tensor(gy, requires_grad=True)
    (gx,) = lib.autograd.grad(y, xt, g, create_graph=True)
    (gx * lib.tensor(v)).sum().backward()
    return y, idx, gx, g.grad, xt.grad


def _plane(x_shape, nd):
    return int(np.prod(x_shape[-nd:]))


def _has_empty_window(lfn, x, nd):
    """Whether a dilated window falls entirely into the padding (lucid reports torch's
    out-of-plane index there). torch's kernels read and write out of bounds for such windows
    and have crashed the test process, so these configurations are never handed to torch."""
    if nd is None:
        return False
    try:
        with lucid.no_grad():
            out = lfn(lucid.tensor(x))
    except (ValueError, RuntimeError, TypeError):
        return False
    return isinstance(out, tuple) and bool((out[1].numpy() >= _plane(x.shape, nd)).any())


def _check_empty_windows(lfn, x, nd):
    """Such a window yields -inf, and sends no gradient anywhere."""
    xt = lucid.tensor(x, requires_grad=True)
    y, idx = lfn(xt)
    outside = idx.numpy() >= _plane(x.shape, nd)
    assert np.all(np.isneginf(y.detach().numpy()[outside]))
    y.sum().backward()
    assert xt.grad.numpy().sum() == (~outside).sum()


def compare(lfn, tfn, x, dtype, seed=0, nd=None):
    if _has_empty_window(lfn, x, nd):
        _check_empty_windows(lfn, x, nd)
        return True
    try:
        with torch.no_grad():
            expected_shape = tfn(torch.tensor(x))
    except Exception as e:  # torch refuses the configuration: so must lucid
        with pytest.raises(type(e) if not isinstance(e, TypeError) else TypeError):
            lfn(lucid.tensor(x))
        return False
    y_shape = (expected_shape[0] if isinstance(expected_shape, tuple) else expected_shape).shape
    rng = np.random.default_rng(seed)
    gy = rng.standard_normal(y_shape).astype(dtype)
    v = rng.standard_normal(x.shape).astype(dtype)
    got = _run(lfn, lucid, x, gy, v)
    want = _run(tfn, torch, x, gy, v)
    assert got[0].shape == tuple(want[0].shape)
    np.testing.assert_allclose(_np(got[0]), _np(want[0]), **TOL[dtype], err_msg="values")
    if want[1] is not None:
        np.testing.assert_array_equal(got[1].numpy(), want[1].numpy(), err_msg="indices")
        assert got[1].dtype == lucid.int64
    np.testing.assert_allclose(_np(got[2]), _np(want[2]), **TOL[dtype], err_msg="grad")
    np.testing.assert_allclose(_np(got[3]), _np(want[3]), **TOL[dtype], err_msg="grad of grad")
    # pooling is piecewise linear in x: no second derivative w.r.t. x
    for second in (got[4], want[4]):
        assert second is None or not np.any(_np(second))
    return True


def _config(rng, nd, dilation):
    spatial = tuple(int(s) for s in rng.integers(1, 10 if nd < 3 else 6, nd))
    k = tuple(int(s) for s in rng.integers(1, 5, nd))
    s = tuple(int(s) for s in rng.integers(1, 4, nd))
    p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
    d = tuple(int(s) for s in rng.integers(1, 3, nd)) if dilation else (1,) * nd
    batched = bool(rng.integers(0, 4))
    shape = ((int(rng.integers(1, 3)),) if batched else ()) + (int(rng.integers(1, 4)),) + spatial
    pick = lambda t: t[0] if len(set(t)) == 1 and rng.integers(0, 2) else t  # noqa: E731
    return shape, pick(k), pick(s), pick(p), pick(d), bool(rng.integers(0, 2))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_pool_random_configs(nd, dtype):
    rng = np.random.default_rng(100 + nd)
    ran = 0
    for case in range(40):
        shape, k, s, p, d, ceil = _config(rng, nd, dilation=True)
        x = rng.standard_normal(shape).astype(dtype)
        name = f"max_pool{nd}d"
        kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil,
                  return_indices=True)
        ran += compare(partial(getattr(F, name), **kw), partial(getattr(TF, name), **kw),
                       x, dtype, seed=case, nd=nd)
    assert ran > 20


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_avg_pool_random_configs(nd, dtype):
    rng = np.random.default_rng(200 + nd)
    ran = 0
    for case in range(40):
        shape, k, s, p, _, ceil = _config(rng, nd, dilation=False)
        x = rng.standard_normal(shape).astype(dtype)
        name = f"avg_pool{nd}d"
        kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil,
                  count_include_pad=bool(rng.integers(0, 2)))
        if nd > 1 and rng.integers(0, 3) == 0:
            kw["divisor_override"] = int(rng.integers(1, 7))
        ran += compare(partial(getattr(F, name), **kw), partial(getattr(TF, name), **kw),
                       x, dtype, seed=case)
    assert ran >= 10


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_adaptive_pool_random_configs(nd, kind, dtype):
    rng = np.random.default_rng(300 + nd)
    for case in range(25):
        spatial = tuple(int(v) for v in rng.integers(1, 10 if nd < 3 else 6, nd))
        batched = bool(rng.integers(0, 4))
        shape = ((int(rng.integers(1, 3)),) if batched else ()) + (2,) + spatial
        out = tuple(int(v) if rng.integers(0, 5) else None for v in rng.integers(1, 12, nd))
        if nd == 1:
            out = out[0] if out[0] is not None else 3
        elif all(o is None for o in out) or rng.integers(0, 4) == 0:
            out = int(rng.integers(1, 8))
        x = rng.standard_normal(shape).astype(dtype)
        name = f"adaptive_{kind}_pool{nd}d"
        kw = dict(return_indices=True) if kind == "max" else {}
        assert compare(partial(getattr(F, name), output_size=out, **kw),
                       partial(getattr(TF, name), output_size=out, **kw), x, dtype, seed=case)


def test_max_pool_ties_and_infinities_pick_torchs_index():
    inf = np.inf
    x = np.array([[[[1, 3, 3, 2], [3, 0, 1, 3], [-inf, -inf, 2, 2], [-inf, -inf, 2, 2]]]])
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
               dict(kernel_size=2, stride=1, dilation=2)):
        y, i = F.max_pool2d(lucid.tensor(x), return_indices=True, **kw)
        ty, ti = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
    compare(lambda t: F.max_pool2d(t, 2, 1), lambda t: TF.max_pool2d(t, 2, 1), x[..., :2, :],
            np.float64)


def test_max_pool_nan_wins():
    x = np.array([[[1.0, np.nan, 3.0, 0.5]]])
    y, i = F.max_pool1d(lucid.tensor(x), 2, return_indices=True)
    ty, ti = TF.max_pool1d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())


def test_integer_inputs():
    x = np.arange(2 * 3 * 5 * 5).reshape(2, 3, 5, 5) - 20
    got = F.max_pool2d(lucid.tensor(x), 2)
    assert got.dtype == lucid.int64
    np.testing.assert_array_equal(got.numpy(), TF.max_pool2d(torch.tensor(x), 2).numpy())
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)):
        got = F.avg_pool2d(lucid.tensor(x), **kw)
        assert got.dtype == lucid.int64
        np.testing.assert_array_equal(got.numpy(), TF.avg_pool2d(torch.tensor(x), **kw).numpy())
    with pytest.raises(NotImplementedError):
        F.adaptive_avg_pool2d(lucid.tensor(x), 2)
    with pytest.raises(NotImplementedError):
        F.adaptive_max_pool2d(lucid.tensor(x), 2)


def test_empty_batch():
    for name in ("max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"):
        fn, tfn = getattr(F, name), getattr(TF, name)
        x = lucid.zeros(0, 3, 4, 4, requires_grad=True)
        y = fn(x, 2)
        assert y.shape == tuple(tfn(torch.zeros(0, 3, 4, 4), 2).shape)
        y.sum().backward()
        assert x.grad.shape == (0, 3, 4, 4)


def test_second_backward_through_freed_graph_raises():
    x = lucid.randn(1, 1, 4, 4, requires_grad=True)
    y = F.max_pool2d(x, 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_avg_pool_second_backward_retained():
    x = lucid.randn(1, 1, 4, 4, requires_grad=True)
    y = F.avg_pool2d(x, 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((1, 1, 4, 4), 0.5))


ERRORS = [
    (lambda: F.max_pool2d(lucid.randn(3, 4), 2), RuntimeError,
     r"max_pool2d: Expected 3D or 4D \(batch mode\) tensor for input, but got input of size "
     r"\[3, 4\]"),
    (lambda: F.max_pool1d(lucid.randn(2, 3, 4, 5), 2), RuntimeError, "Expected 2D or 3D"),
    (lambda: F.avg_pool3d(lucid.randn(3, 4, 4), 2), RuntimeError, "Expected 4D or 5D"),
    (lambda: F.adaptive_avg_pool2d(lucid.randn(3, 4), 2), RuntimeError, "Expected 3D or 4D"),
    (lambda: F.max_pool2d(lucid.randn(2, 0, 4, 4), 2), RuntimeError,
     "non-zero size for non-batch dimensions"),
    (lambda: F.max_pool2d(lucid.randn(2, 3, 4, 4), (2, 2, 2)), RuntimeError,
     "kernel_size must either be a single int, or a tuple of two ints"),
    (lambda: F.max_pool2d(lucid.randn(2, 3, 4, 4), 2.5), TypeError,
     "kernel_size must be an int or a tuple of ints"),
    (lambda: F.max_pool2d(lucid.randn(2, 3, 4, 4), True), TypeError, "kernel_size"),
    (lambda: F.avg_pool2d(lucid.randn(2, 3, 4, 4), 2, divisor_override=2.5), TypeError,
     "divisor_override must be int"),
    (lambda: F.avg_pool2d(lucid.randn(2, 3, 4, 4), 2, divisor_override=0), RuntimeError,
     "divisor must be not zero"),
    (lambda: F.avg_pool2d(lucid.randn(2, 3, 4, 4), 5), RuntimeError,
     r"Given input size: \(3x4x4\). Calculated output size: \(3x0x0\). Output size is too small"),
    (lambda: F.max_pool2d(lucid.randn(2, 3, 4, 4), 2, padding=2), RuntimeError,
     "pad should be at most half of effective kernel size"),
    (lambda: F.max_pool2d(lucid.randn(2, 3, 4, 4), 0), RuntimeError, "stride should not be zero"),
    (lambda: F.max_pool2d(lucid.randn(2, 3, 4, 4), 2, dilation=0), RuntimeError,
     "dilation should be greater than zero"),
    (lambda: F.max_pool2d(lucid.randn(2, 3, 4, 4), -1, 1), RuntimeError,
     "kernel size should be greater than zero"),
    (lambda: F.adaptive_avg_pool2d(lucid.randn(2, 3, 4, 4), (2,)), RuntimeError,
     "output_size must be 2"),
    (lambda: F.adaptive_avg_pool2d(lucid.randn(2, 3, 4, 4), -1), RuntimeError,
     "elements of output_size must be greater than or equal to 0"),
    (lambda: F.adaptive_max_pool2d(lucid.randn(2, 3, 4, 4), (2.5, 3)), TypeError,
     "output_size must be an int or a tuple of ints"),
    (lambda: F.adaptive_avg_pool1d(lucid.randn(2, 3, 5), None), TypeError, "output_size"),
    (lambda: F.max_pool2d([[1.0]], 2), TypeError, "must be Tensor"),
    (lambda: F.max_pool2d(lucid.tensor([[[True, False]]]), 1), NotImplementedError, "dtype"),
]


@pytest.mark.parametrize("fn,exc,msg", ERRORS)
def test_errors(fn, exc, msg):
    with pytest.raises(exc, match=msg):
        fn()
