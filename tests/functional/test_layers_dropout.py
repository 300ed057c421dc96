"""Dropout functions: mask statistics, scaling, gradients, modes and errors."""

import warnings

import numpy as np
import pytest

import lucid
import lucid.nn.functional as F


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("dtype", [lucid.float32, lucid.float64])
def test_dropout_statistics_and_scaling(p, dtype):
    lucid.manual_seed(0)
    x = lucid.rand(200, 500, dtype=dtype) + 0.5  # no zeros in the input
    y = F.dropout(x, p)
    assert y.dtype == dtype and y.shape == x.shape
    kept = y.numpy() != 0
    assert abs(1 - kept.mean() - p) < 0.01
    np.testing.assert_allclose(y.numpy()[kept], x.numpy()[kept] / (1 - p), rtol=1e-6)


def test_dropout_gradients_follow_the_mask():
    lucid.manual_seed(1)
    x = lucid.rand(50, 40, dtype=lucid.float64, requires_grad=True)
    y = F.dropout(x, 0.3)
    g = lucid.randn(50, 40, dtype=lucid.float64, requires_grad=True)
    (gx,) = lucid.autograd.grad(y, x, g, create_graph=True)
    scale = (y.detach().numpy() != 0) / 0.7
    np.testing.assert_allclose(gx.detach().numpy(), g.detach().numpy() * scale, rtol=1e-12)
    (gx * 2).sum().backward()
    np.testing.assert_allclose(g.grad.numpy(), 2 * scale, rtol=1e-12)


def test_reproducible_with_manual_seed():
    x = lucid.ones(64, 64)
    lucid.manual_seed(123)
    a = F.dropout(x, 0.5).numpy()
    lucid.manual_seed(123)
    b = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, F.dropout(x, 0.5).numpy())


def test_eval_and_trivial_probabilities():
    x = lucid.randn(10, 10, requires_grad=True)
    for fn in (F.dropout, F.dropout1d, F.dropout2d, F.dropout3d):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert fn(x, 0.5, training=False) is x
            assert fn(x, 0.0) is x
    y = F.dropout(x, 1.0)
    assert not y.detach().numpy().any()
    y.sum().backward()
    assert not x.grad.numpy().any()


@pytest.mark.parametrize("fn,shape,spatial", [
    (F.dropout1d, (8, 40, 5), (2,)), (F.dropout1d, (40, 5), (1,)),
    (F.dropout2d, (8, 40, 3, 4), (2, 3)), (F.dropout3d, (8, 40, 2, 3, 2), (2, 3, 4)),
    (F.dropout3d, (40, 2, 3, 2), (1, 2, 3)),
])
def test_channel_dropout_zeroes_whole_channels(fn, shape, spatial):
    lucid.manual_seed(2)
    x = lucid.rand(*shape) + 1.0
    y = fn(x, 0.5).numpy()
    ratio = y / x.numpy()
    per_channel = ratio.max(axis=spatial)
    np.testing.assert_allclose(ratio.min(axis=spatial), per_channel)  # constant per channel
    assert set(np.unique(np.round(per_channel, 5))) <= {0.0, 2.0}
    assert 0.3 < (per_channel == 0).mean() < 0.7


def test_dropout2d_warnings_match_torch():
    x = lucid.rand(4, 6, 5) + 1.0
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        y = F.dropout2d(x, 0.5)
    ratio = y.numpy() / x.numpy()
    np.testing.assert_allclose(ratio.min(axis=2), ratio.max(axis=2))  # read as (N, C, L)
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        F.dropout2d(lucid.rand(4, 6), 0.5)
    with pytest.warns(UserWarning, match="Received a 3-D input to dropout3d"):
        F.dropout3d(lucid.rand(4, 6, 5), 0.5)


def test_inplace():
    lucid.manual_seed(3)
    leaf = lucid.rand(20, 30, requires_grad=True)
    h = leaf * 1.0 + 1.0
    out = F.dropout(h, 0.5, inplace=True)
    assert out is h
    kept = h.detach().numpy() != 0
    h.sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), kept * 2.0)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        F.dropout(lucid.rand(3, requires_grad=True), 0.5, inplace=True)
    t = lucid.ones(6, 4, 3)
    F.dropout1d(t, 0.5, inplace=True)
    assert set(np.unique(t.numpy())) <= {0.0, 2.0}
    t = lucid.ones(4, 3)  # unbatched
    F.dropout1d(t, 0.5, inplace=True)
    np.testing.assert_array_equal(t.numpy().min(axis=1), t.numpy().max(axis=1))


ERRORS = [
    (lambda: F.dropout(lucid.randn(3), 1.5), ValueError,
     "dropout probability has to be between 0 and 1, but got 1.5"),
    (lambda: F.dropout2d(lucid.randn(3, 4, 5), -0.1), ValueError, "between 0 and 1"),
    (lambda: F.dropout(lucid.tensor([1, 2]), 0.5), RuntimeError, "floating point"),
    (lambda: F.dropout1d(lucid.randn(2, 3, 4, 5), 0.5), RuntimeError,
     "dropout1d: Expected 2D or 3D input, but received a 4D input"),
    (lambda: F.dropout2d(lucid.randn(5), 0.5), RuntimeError,
     "Feature dropout requires at least 2 dimensions"),
    (lambda: F.dropout([1.0], 0.5), TypeError, "must be Tensor"),
]


@pytest.mark.parametrize("fn,exc,msg", ERRORS)
def test_errors(fn, exc, msg):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc, match=msg):
            fn()
