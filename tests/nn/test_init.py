"""``lucid.nn.init`` against PyTorch's formulas: gains, fans, distributions, exact
initialisers, errors, in-place and no-grad behaviour, seeding."""

import math
import warnings

import numpy as np
import pytest
import torch

import lucid
import lucid.nn as nn
from lucid.nn import init

SHAPES = [(3, 5), (4, 2, 3), (6, 4, 3, 3), (2, 3, 1, 2, 2), (0, 3)]


@pytest.mark.parametrize("name, param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
    ("leaky_relu", 0.2), ("leaky_relu", 3), ("selu", None),
])
def test_calculate_gain(name, param):
    assert init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


@pytest.mark.parametrize("name, param, msg", [
    ("softplus", None, "Unsupported nonlinearity softplus"),
    ("leaky_relu", "x", "negative_slope x not a valid number"),
    ("leaky_relu", True, "negative_slope True not a valid number"),
])
def test_calculate_gain_errors(name, param, msg):
    with pytest.raises(ValueError, match=msg):
        init.calculate_gain(name, param)
    with pytest.raises(ValueError, match=msg):
        torch.nn.init.calculate_gain(name, param)


@pytest.mark.parametrize("shape", SHAPES[:-1])
def test_fan_in_fan_out(shape):
    assert init._calculate_fan_in_and_fan_out(lucid.empty(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def test_fan_errors():
    msg = "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
    for fn in (init._calculate_fan_in_and_fan_out, init.xavier_uniform_, init.kaiming_normal_):
        with pytest.raises(ValueError, match=msg):
            fn(lucid.empty(3))
    with pytest.raises(ValueError, match=r"Mode fan_avg not supported, please use one of "
                                         r"\['fan_in', 'fan_out'\]"):
        init.kaiming_uniform_(lucid.empty(3, 3), mode="fan_avg")


@pytest.mark.parametrize("fn, kwargs, bound", [
    (init.kaiming_uniform_, dict(a=math.sqrt(5)), lambda fi, fo: 1 / math.sqrt(fi)),
    (init.kaiming_uniform_, dict(mode="fan_out", nonlinearity="relu"),
     lambda fi, fo: math.sqrt(6 / fo)),
    (init.xavier_uniform_, dict(gain=2.0), lambda fi, fo: 2 * math.sqrt(6 / (fi + fo))),
    (init.uniform_, dict(a=-0.3, b=0.7), None),
])
def test_uniform_family_bounds(fn, kwargs, bound):
    t = lucid.empty(64, 32, 3, 3)
    assert fn(t, **kwargs) is t
    v = t.numpy()
    fi, fo = 32 * 9, 64 * 9
    lo, hi = (kwargs["a"], kwargs["b"]) if bound is None else (-bound(fi, fo), bound(fi, fo))
    assert v.min() >= lo and v.max() <= hi
    width = hi - lo
    assert v.min() < lo + 0.01 * width and v.max() > hi - 0.01 * width
    assert abs(v.std() - width / math.sqrt(12)) < 0.02 * width  # uniform's std


@pytest.mark.parametrize("fn, kwargs, std", [
    (init.kaiming_normal_, dict(), math.sqrt(2 / (1 + 0.01 ** 2)) / math.sqrt(128)),
    (init.kaiming_normal_, dict(mode="fan_out", nonlinearity="tanh"), 5 / 3 / math.sqrt(256)),
    (init.xavier_normal_, dict(gain=0.5), 0.5 * math.sqrt(2 / (128 + 256))),
    (init.normal_, dict(mean=1.5, std=0.2), 0.2),
])
def test_normal_family_moments(fn, kwargs, std):
    t = lucid.empty(256, 128)
    assert fn(t, **kwargs) is t
    v = t.numpy()
    assert abs(v.mean() - kwargs.get("mean", 0.0)) < 0.02 * std * 10
    assert abs(v.std() / std - 1) < 0.03


@pytest.mark.filterwarnings("ignore:mean is more than 2 std")
@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.0, 1.0, 2.5, 4.0),
                                             (1.0, 0.5, 0.9, 1.2)])
def test_trunc_normal(mean, std, a, b):
    t = lucid.empty(200, 50, dtype=lucid.float64)
    init.trunc_normal_(t, mean, std, a, b)
    v = t.numpy()
    assert v.min() >= a and v.max() <= b
    ref = torch.empty(200, 50, dtype=torch.float64)
    torch.manual_seed(0)
    torch.nn.init.trunc_normal_(ref, mean, std, a, b)
    assert abs(v.mean() - ref.mean().item()) < 0.05 * (b - a)
    assert abs(v.std() - ref.std().item()) < 0.05 * (b - a)


def test_trunc_normal_errors_and_warning():
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(lucid.empty(10), mean=10.0, a=-1.0, b=1.0)
    with pytest.raises(ValueError, match="expected a < b"):
        init.trunc_normal_(lucid.empty(3), a=1.0, b=0.0)


def test_exact_initialisers_match_torch():
    for shape in [(3, 5), (5, 3), (4, 4)]:
        np.testing.assert_array_equal(init.eye_(lucid.empty(*shape)).numpy(),
                                      torch.nn.init.eye_(torch.empty(*shape)).numpy())
    for shape, groups in [((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((4, 2, 1, 3, 3), 2)]:
        np.testing.assert_array_equal(
            init.dirac_(lucid.empty(*shape), groups).numpy(),
            torch.nn.init.dirac_(torch.empty(*shape), groups).numpy())
    np.testing.assert_array_equal(init.constant_(lucid.empty(2, 2), 0.3).numpy(),
                                  np.full((2, 2), 0.3, dtype=np.float32))
    assert init.ones_(lucid.empty(3)).numpy().tolist() == [1, 1, 1]
    assert init.zeros_(lucid.ones(3)).numpy().tolist() == [0, 0, 0]
    ints = lucid.zeros(3, dtype=lucid.int64)
    assert init.constant_(ints, 2.7).numpy().tolist() == \
        torch.nn.init.constant_(torch.zeros(3, dtype=torch.int64), 2.7).tolist()


def test_orthogonal():
    t = init.orthogonal_(lucid.empty(4, 6, dtype=lucid.float64), gain=2.0)
    v = t.numpy()
    np.testing.assert_allclose(v @ v.T, 4 * np.eye(4), atol=1e-12)
    w = init.orthogonal_(lucid.empty(6, 2, 2, dtype=lucid.float64)).numpy().reshape(6, 4)
    np.testing.assert_allclose(w.T @ w, np.eye(4), atol=1e-12)
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        init.orthogonal_(lucid.empty(3))


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: init.eye_(lucid.empty(2, 2, 2)), ValueError, "Only tensors with 2 dimensions"),
    (lambda: init.dirac_(lucid.empty(2, 2)), ValueError, "Only tensors with 3, 4, or 5"),
    (lambda: init.dirac_(lucid.empty(3, 2, 2), groups=2), ValueError,
     "dim 0 must be divisible by groups"),
    (lambda: init.uniform_(lucid.zeros(3, dtype=lucid.int64)), TypeError,
     "only defined for floating point and complex tensors, got lucid.int64"),
    (lambda: init.normal_(lucid.zeros(3, dtype=lucid.int32)), TypeError, "normal_ is only"),
    (lambda: init.uniform_(lucid.empty(3), 1.0, 0.0), ValueError, "from=1.0 > to=0.0"),
    (lambda: init.normal_(lucid.empty(3), std=-1.0), RuntimeError, "normal expects std >= 0.0"),
    (lambda: init.uniform_([1.0]), TypeError, "expected a lucid.Tensor"),
    (lambda: init.constant_(3.0, 1), TypeError, "expected a lucid.Tensor"),
    (lambda: init.kaiming_uniform_(nn.UninitializedParameter()), RuntimeError, "uninitialized"),
])
def test_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_zero_element_tensor_warns_and_is_untouched():
    for fn in (init.kaiming_uniform_, init.kaiming_normal_):
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            assert fn(lucid.empty(0, 3)).shape == (0, 3)


def test_in_place_outside_autograd_on_parameters():
    p = nn.Parameter(lucid.zeros(8, 4))
    for fn in (init.kaiming_uniform_, init.xavier_normal_, init.trunc_normal_, init.ones_,
               init.orthogonal_, init.uniform_):
        assert fn(p) is p
        assert p.grad_fn is None and p.requires_grad and p.is_leaf
    (p * 2).sum().backward()
    assert p.grad.shape == (8, 4)
    view = lucid.zeros(4, 4)
    init.ones_(view[1])
    assert view.numpy()[1].tolist() == [1, 1, 1, 1] and view.numpy()[0].sum() == 0


def test_seeding_and_generator():
    lucid.manual_seed(123)
    a = init.normal_(lucid.empty(5)).numpy().copy()
    lucid.manual_seed(123)
    np.testing.assert_array_equal(init.normal_(lucid.empty(5)).numpy(), a)
    g1, g2 = lucid.Generator().manual_seed(7), lucid.Generator().manual_seed(7)
    x = init.uniform_(lucid.empty(6), generator=g1).numpy()
    lucid.manual_seed(999)  # the default generator does not matter
    np.testing.assert_array_equal(init.uniform_(lucid.empty(6), generator=g2).numpy(), x)


def test_complex_tensors_get_both_parts():
    c = init.uniform_(lucid.empty(1000, dtype=lucid.complex128), -1, 1).numpy()
    assert np.abs(c.real).max() <= 1 and np.abs(c.imag).max() <= 1 and c.imag.std() > 0.4
    n = init.normal_(lucid.empty(4000, dtype=lucid.complex128), std=2.0).numpy()
    assert abs(np.abs(n).std() / 2.0 - math.sqrt(1 - math.pi / 4)) < 0.05
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init.xavier_uniform_(lucid.empty(3, 3, dtype=lucid.complex64))
