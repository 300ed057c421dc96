"""Linear / LazyLinear / Bilinear modules: initialisation, forward/backward vs torch.nn,
lazy materialization and state dicts."""

import math

import numpy as np
import pytest
import torch

import lucid
import lucid.nn as nn
from lucid.nn.parameter import UninitializedParameter

torch.set_num_threads(1)  # tiny tensors: threads only add overhead


def _to_lucid(state):
    return {k: lucid.tensor(v.detach().numpy()) for k, v in state.items()}


def test_linear_init_follows_torch():
    lucid.manual_seed(0)
    m = nn.Linear(400, 300)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    bound = 1 / math.sqrt(400)  # kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(fan_in), ...)
    assert w.shape == (300, 400) and b.shape == (300,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound  # variance of a uniform
    assert abs(w.mean()) < 0.01 * bound
    lucid.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(400, 300).weight.detach().numpy(), w)
    assert m.weight.requires_grad and m.weight.is_leaf


@pytest.mark.parametrize("dtype", [(lucid.float64, torch.float64), (lucid.float32, torch.float32)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
def test_linear_matches_torch(shape, bias, dtype):
    ldt, tdt = dtype
    tm = torch.nn.Linear(4, 3, bias=bias, dtype=tdt)
    lm = nn.Linear(4, 3, bias=bias, dtype=ldt)
    lm.load_state_dict(_to_lucid(tm.state_dict()))
    assert repr(lm) == repr(tm)
    x = np.random.default_rng(0).standard_normal(shape)
    lx, tx = lucid.tensor(x, dtype=ldt, requires_grad=True), torch.tensor(x, dtype=tdt,
                                                                         requires_grad=True)
    ly, ty = lm(lx), tm(tx)
    tol = dict(rtol=1e-12, atol=1e-12) if ldt == lucid.float64 else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ly.detach().numpy(), ty.detach().numpy(), **tol)
    (ly * ly).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), **tol)
    for lp, tp in zip(lm.parameters(), tm.parameters()):
        np.testing.assert_allclose(lp.grad.numpy(), tp.grad.numpy(), **tol)


def test_bilinear_matches_torch():
    tm = torch.nn.Bilinear(3, 4, 2, dtype=torch.float64)
    lm = nn.Bilinear(3, 4, 2, dtype=lucid.float64)
    lm.load_state_dict(_to_lucid(tm.state_dict()))
    assert repr(lm) == repr(tm)
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    la, lb = lucid.tensor(a, requires_grad=True), lucid.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    ly, ty = lm(la, lb), tm(ta, tb)
    np.testing.assert_allclose(ly.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    ly.sum().backward()
    ty.sum().backward()
    for lt, tt in [(la, ta), (lb, tb)] + list(zip(lm.parameters(), tm.parameters())):
        np.testing.assert_allclose(lt.grad.numpy(), tt.grad.numpy(), rtol=1e-12, atol=1e-13)
    lucid.manual_seed(3)
    m = nn.Bilinear(25, 2, 7)
    assert np.abs(m.weight.detach().numpy()).max() <= 0.2
    assert np.abs(m.bias.detach().numpy()).max() <= 0.2
    assert nn.Bilinear(2, 2, 2, bias=False).bias is None


def test_lazy_linear_materializes_in_place():
    m = nn.LazyLinear(4)
    assert repr(m) == repr(torch.nn.LazyLinear(4))
    assert isinstance(m.weight, UninitializedParameter) and m.has_uninitialized_params()
    held = list(m.parameters())
    y = m(lucid.randn(2, 5, 3))
    assert y.shape == (2, 5, 4)
    assert type(m) is nn.Linear and m.in_features == 3
    assert held[0] is m.weight and held[1] is m.bias
    assert m.weight.shape == (4, 3) and np.abs(m.weight.detach().numpy()).max() <= 1 / math.sqrt(3)
    y.sum().backward()
    assert m.weight.grad.shape == (4, 3)


def test_lazy_linear_without_bias_and_dtype():
    m = nn.LazyLinear(2, bias=False, dtype=lucid.float64)
    m(lucid.randn(3, 6, dtype=lucid.float64))
    assert m.bias is None and m.weight.dtype == lucid.float64 and m.weight.shape == (2, 6)
    m = nn.LazyLinear(3).double()
    m(lucid.randn(1, 2, dtype=lucid.float64))
    assert m.weight.dtype == lucid.float64


def test_lazy_linear_state_dict():
    source = nn.Linear(3, 4)
    target = nn.LazyLinear(4)
    target.load_state_dict(source.state_dict())
    assert type(target) is nn.Linear and target.in_features == 3
    np.testing.assert_array_equal(target.weight.detach().numpy(), source.weight.detach().numpy())
    wrong = nn.LazyLinear(5)
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        wrong.load_state_dict(source.state_dict())
    assert wrong.has_uninitialized_params() and wrong.in_features == 0
    with pytest.raises(RuntimeError, match="uninitialized"):
        nn.Linear(3, 4).load_state_dict(nn.LazyLinear(4).state_dict())


def test_linear_errors():
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        nn.Linear(3, 4)(lucid.randn(2, 5))
    with pytest.raises(ValueError, match="in_features must be a non-negative int"):
        nn.Linear(-1, 3)
    with pytest.raises(ValueError, match="out_features"):
        nn.LazyLinear(2.5)
    with pytest.raises(TypeError, match="floating point"):
        nn.Linear(2, 3, dtype=lucid.int64)
    with pytest.raises(RuntimeError, match="at least one dimension"):
        nn.LazyLinear(3)(lucid.tensor(1.0))
