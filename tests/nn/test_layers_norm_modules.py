"""BatchNorm / LazyBatchNorm / LayerNorm / GroupNorm modules against torch.nn."""

import numpy as np
import pytest
import torch

import lucid
import lucid.nn as nn
from lucid.nn.parameter import is_lazy

torch.set_num_threads(1)  # tiny tensors: threads only add overhead

TOL = {np.float64: dict(rtol=1e-10, atol=1e-11), np.float32: dict(rtol=1e-5, atol=2e-5)}
DT = {np.float64: (lucid.float64, torch.float64), np.float32: (lucid.float32, torch.float32)}


def _to_lucid(state):
    return {k: lucid.tensor(v.detach().numpy()) for k, v in state.items()}


def _pair(cls, dtype, *args, **kwargs):
    """The same layer in both libraries, with the lucid one loaded from torch's state."""
    ldt, tdt = DT[dtype]
    tm = getattr(torch.nn, cls)(*args, **kwargs, dtype=tdt)
    with torch.no_grad():
        for p in tm.parameters():
            p.uniform_(-2, 2)
    lm = getattr(nn, cls)(*args, **kwargs, dtype=ldt)
    lm.load_state_dict(_to_lucid(tm.state_dict()))
    return lm, tm


def _step(lm, tm, x, gy, dtype):
    lx, tx = lucid.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ly, ty = lm(lx), tm(tx)
    np.testing.assert_allclose(ly.detach().numpy(), ty.detach().numpy(), **TOL[dtype])
    ly.backward(lucid.tensor(gy))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), **TOL[dtype])
    for (name, lp), tp in zip(lm.named_parameters(), tm.parameters()):
        np.testing.assert_allclose(lp.grad.numpy(), tp.grad.numpy(), err_msg=name, **TOL[dtype])
        lp.grad, tp.grad = None, None
    lstate, tstate = lm.state_dict(), tm.state_dict()
    assert list(lstate) == list(tstate)
    for k in tstate:
        np.testing.assert_allclose(lstate[k].numpy(), tstate[k].numpy(), err_msg=k, **TOL[dtype])


BN_SHAPES = {"BatchNorm1d": [(6, 3), (4, 3, 5)], "BatchNorm2d": [(4, 3, 3, 2)],
             "BatchNorm3d": [(2, 3, 2, 3, 2)]}
BN_KWARGS = [{}, {"momentum": None}, {"affine": False}, {"track_running_stats": False},
             {"bias": False}, {"momentum": 0.3, "eps": 1e-3},
             {"track_running_stats": False, "affine": False}]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", BN_KWARGS, ids=str)
@pytest.mark.parametrize("cls,shape", [(c, s) for c, ss in BN_SHAPES.items() for s in ss])
def test_batch_norm_train_then_eval(cls, shape, kwargs, dtype):
    rng = np.random.default_rng(len(shape) + len(kwargs))
    lm, tm = _pair(cls, dtype, 3, **kwargs)
    for step in range(3):  # running statistics over several training steps
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        _step(lm, tm, x, rng.standard_normal(shape).astype(dtype), dtype)
    lm.eval()
    tm.eval()
    for _ in range(2):
        x = rng.standard_normal(shape).astype(dtype)
        _step(lm, tm, x, rng.standard_normal(shape).astype(dtype), dtype)
    if kwargs.get("track_running_stats", True):
        assert int(lm.num_batches_tracked) == 3


def test_batch_norm_cumulative_average():
    lm = nn.BatchNorm1d(2, momentum=None, dtype=lucid.float64)
    xs = [np.random.default_rng(i).standard_normal((5, 2)) + i for i in range(4)]
    for x in xs:
        lm(lucid.tensor(x))
    np.testing.assert_allclose(lm.running_mean.numpy(), np.mean([x.mean(0) for x in xs], 0),
                               rtol=1e-12)
    np.testing.assert_allclose(lm.running_var.numpy(),
                               np.mean([x.var(0, ddof=1) for x in xs], 0), rtol=1e-12)


def test_batch_norm_structure_matches_torch():
    for kwargs in BN_KWARGS:
        lm, tm = nn.BatchNorm2d(4, **kwargs), torch.nn.BatchNorm2d(4, **kwargs)
        assert repr(lm) == repr(tm)
        assert list(lm.state_dict()) == list(tm.state_dict())
        assert [n for n, _ in lm.named_parameters()] == [n for n, _ in tm.named_parameters()]
        assert [n for n, _ in lm.named_buffers()] == [n for n, _ in tm.named_buffers()]
    m = nn.BatchNorm1d(3)
    assert m.num_batches_tracked.dtype == lucid.int64
    assert m.weight.tolist() == [1.0] * 3 and m.bias.tolist() == [0.0] * 3
    assert m.running_mean.tolist() == [0.0] * 3 and m.running_var.tolist() == [1.0] * 3
    assert nn.BatchNorm2d(3, dtype=lucid.float64).running_var.dtype == lucid.float64


def test_reset_running_stats_and_old_checkpoints():
    m = nn.BatchNorm1d(2)
    m(lucid.randn(4, 2))
    m.reset_running_stats()
    assert m.running_mean.tolist() == [0.0, 0.0] and int(m.num_batches_tracked) == 0
    # a version-1 checkpoint has no num_batches_tracked: loading it counts from 0
    state = {k: v for k, v in m.state_dict().items() if k != "num_batches_tracked"}
    m.num_batches_tracked.fill_(5)
    m._load_from_state_dict(state, "", {"version": 1}, True, missing := [], [], errors := [])
    assert missing == [] and errors == [] and int(m.num_batches_tracked) == 0


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(lucid.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(lucid.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"expected 5D input \(got 3D input\)"):
        nn.BatchNorm3d(3)(lucid.randn(2, 3, 4))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm2d(3)(lucid.randn(1, 3, 1, 1))
    nn.BatchNorm2d(3).eval()(lucid.randn(1, 3, 1, 1))  # fine in evaluation mode
    with pytest.raises(RuntimeError, match="running_mean should contain 4 elements not 3"):
        nn.BatchNorm2d(3).eval()(lucid.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="num_features must be a non-negative int"):
        nn.BatchNorm1d(-1)
    with pytest.raises(TypeError, match="floating point"):
        nn.BatchNorm1d(3, dtype=lucid.int64)


@pytest.mark.parametrize("cls,shape", [("LazyBatchNorm1d", (4, 3)), ("LazyBatchNorm1d", (4, 3, 2)),
                                       ("LazyBatchNorm2d", (4, 3, 2, 2)),
                                       ("LazyBatchNorm3d", (2, 3, 2, 2, 2))])
def test_lazy_batch_norm_materializes(cls, shape):
    m = getattr(nn, cls)(momentum=0.2)
    assert m.has_uninitialized_params()
    assert repr(m) == repr(getattr(torch.nn, cls)(momentum=0.2))
    params = list(m.parameters())
    x = np.random.default_rng(0).standard_normal(shape)
    y = m(lucid.tensor(x, dtype=lucid.float32))
    eager = cls.replace("Lazy", "")
    assert type(m) is getattr(nn, eager)
    assert not any(is_lazy(t) for t in list(m.parameters()) + list(m.buffers()))
    assert m.num_features == 3 and params[0] is m.weight and params[1] is m.bias
    tm = getattr(torch.nn, eager)(3, momentum=0.2)
    np.testing.assert_allclose(y.detach().numpy(), tm(torch.tensor(x, dtype=torch.float32))
                               .detach().numpy(), rtol=1e-5, atol=1e-5)
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(m.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6)


def test_lazy_batch_norm_options_and_loading():
    m = nn.LazyBatchNorm2d(affine=False, track_running_stats=False)
    assert not m.has_uninitialized_params()  # nothing to infer
    m = nn.LazyBatchNorm1d(bias=False, dtype=lucid.float64)
    m(lucid.randn(3, 5, dtype=lucid.float64))
    assert m.bias is None and m.weight.shape == (5,) and m.running_mean.dtype == lucid.float64
    source = nn.BatchNorm2d(6)
    source(lucid.randn(4, 6, 2, 2))
    target = nn.LazyBatchNorm2d()
    target.load_state_dict(source.state_dict())
    assert type(target) is nn.BatchNorm2d and target.num_features == 6
    np.testing.assert_array_equal(target.running_var.numpy(), source.running_var.numpy())
    bad = source.state_dict()
    bad["running_mean"] = lucid.zeros(5)
    fresh = nn.LazyBatchNorm2d()
    with pytest.raises(RuntimeError, match="size mismatch"):
        fresh.load_state_dict(bad)
    assert fresh.has_uninitialized_params()
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.LazyBatchNorm2d()(lucid.randn(2, 3))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("args,kwargs,shape", [
    ((5,), {}, (3, 5)), ((5,), {}, (2, 4, 5)), (((4, 5),), {"eps": 1e-3}, (2, 3, 4, 5)),
    ((5,), {"elementwise_affine": False}, (3, 5)), ((5,), {"bias": False}, (3, 5)),
    (([3, 4],), {}, (3, 4)),
])
def test_layer_norm_module(args, kwargs, shape, dtype):
    lm, tm = _pair("LayerNorm", dtype, *args, **kwargs)
    assert repr(lm) == repr(tm)
    rng = np.random.default_rng(1)
    for _ in range(2):
        _step(lm, tm, rng.standard_normal(shape).astype(dtype) * 3,
              rng.standard_normal(shape).astype(dtype), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("args,kwargs,shape", [
    ((2, 4), {}, (3, 4, 5)), ((3, 6), {"eps": 1e-3}, (2, 6, 2, 3)), ((1, 4), {}, (2, 4)),
    ((2, 4), {"affine": False}, (3, 4, 2)), ((4, 4), {"bias": False}, (2, 4, 3)),
])
def test_group_norm_module(args, kwargs, shape, dtype):
    lm, tm = _pair("GroupNorm", dtype, *args, **kwargs)
    assert repr(lm) == repr(tm)
    rng = np.random.default_rng(2)
    _step(lm, tm, rng.standard_normal(shape).astype(dtype) * 2,
          rng.standard_normal(shape).astype(dtype), dtype)


def test_norm_module_errors():
    with pytest.raises(ValueError, match=r"num_channels \(3\) must be divisible by num_groups"):
        nn.GroupNorm(2, 3)
    with pytest.raises(ValueError, match="num_groups must be a positive int"):
        nn.GroupNorm(0, 4)
    with pytest.raises(TypeError, match="normalized_shape"):
        nn.LayerNorm((2.5,))
    with pytest.raises(RuntimeError, match="expected input with shape"):
        nn.LayerNorm(4)(lucid.randn(3, 5))
