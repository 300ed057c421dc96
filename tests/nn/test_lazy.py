"""Lazy modules: placeholders, materialization (forward and state dict), class change,
hooks, copying and errors, for the six lazy convolutions and a user-written lazy module."""

import copy
import pickle

import numpy as np
import pytest
import torch

import lucid
import lucid.nn as nn
from lucid.nn.modules.lazy import LazyModuleMixin

# name, spatial dims, transposed, constructor kwargs
LAZY = [
    ("LazyConv1d", 1, False, dict(out_channels=4, kernel_size=3, padding=1)),
    ("LazyConv2d", 2, False, dict(out_channels=4, kernel_size=(3, 2), stride=2, groups=2)),
    ("LazyConv3d", 3, False, dict(out_channels=2, kernel_size=2, padding="same",
                                  padding_mode="circular")),
    ("LazyConvTranspose1d", 1, True, dict(out_channels=3, kernel_size=3, stride=2,
                                          output_padding=1)),
    ("LazyConvTranspose2d", 2, True, dict(out_channels=4, kernel_size=2, stride=2, groups=2,
                                          dilation=2)),
    ("LazyConvTranspose3d", 3, True, dict(out_channels=2, kernel_size=(1, 2, 3), bias=False)),
]
IDS = [c[0] for c in LAZY]
C_IN = 6


def lt(t):
    return lucid.tensor(t.detach().numpy())


def make(case, **extra):
    name, n, transposed, kw = case
    return getattr(nn, name)(**kw, **extra)


def torch_twin(case, dtype=torch.float64):
    """The eager torch module with the configuration the lazy one gets for C_IN channels."""
    name, n, transposed, kw = case
    cls = getattr(torch.nn, name.removeprefix("Lazy"))
    torch.manual_seed(0)
    return cls(C_IN, **kw, dtype=dtype)


def sample(case, batched=True, dtype=np.float64, seed=0):
    n = case[1]
    shape = ((2,) if batched else ()) + (C_IN,) + (5,) * n
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# --------------------------------------------------------------------------- placeholders
@pytest.mark.parametrize("case", LAZY, ids=IDS)
def test_placeholders_and_repr(case):
    m = make(case)
    bias = case[3].get("bias", True)
    assert isinstance(m.weight, nn.UninitializedParameter)
    assert isinstance(m.bias, nn.UninitializedParameter) if bias else m.bias is None
    assert m.in_channels is None and m.has_uninitialized_params()
    tm = getattr(torch.nn, case[0])(**case[3])
    assert repr(m) == repr(tm)
    assert repr(m.weight) == "<UninitializedParameter>"
    assert len(list(m.parameters())) == (2 if bias else 1)
    m.reset_parameters()  # a no-op before materialization
    assert m.has_uninitialized_params()
    sd = m.state_dict()
    assert list(sd) == list(tm.state_dict())
    assert all(isinstance(v, nn.UninitializedParameter) for v in sd.values())


@pytest.mark.parametrize("case", LAZY, ids=IDS)
def test_placeholder_use_is_a_clear_error(case):
    m = make(case)
    with pytest.raises(RuntimeError, match="shape of an uninitialized parameter"):
        _ = m.weight.shape
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        m.weight + 1
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        m.weight.sum()
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        m.weight.numel()


# --------------------------------------------------------------------------- forward
@pytest.mark.parametrize("case", LAZY, ids=IDS)
def test_first_forward_materializes_in_place_and_changes_class(case):
    m = make(case, dtype=lucid.float64)
    params = list(m.parameters())  # what an optimizer built now would hold
    weight = m.weight
    x = sample(case)
    y = m(lucid.tensor(x))
    cls = getattr(nn, case[0].removeprefix("Lazy"))
    assert type(m) is cls
    assert m.in_channels == C_IN
    assert m.weight is weight and all(type(p) is nn.Parameter for p in params)
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]
    assert not m._forward_pre_hooks and not m._load_state_dict_pre_hooks
    assert not hasattr(m, "_initialize_hook")
    t = torch_twin(case)
    assert tuple(m.weight.shape) == tuple(t.weight.shape)
    assert all(p.requires_grad and p.dtype == lucid.float64 for p in params)
    assert repr(m) == repr(t)
    # initialised like the eager module: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    fan_in = np.prod(t.weight.shape[1:])
    assert np.abs(m.weight.detach().numpy()).max() <= 1 / np.sqrt(fan_in)
    assert m.weight.detach().numpy().std() > 0
    # same numbers as torch once the weights agree
    m.load_state_dict({k: lt(v) for k, v in t.state_dict().items()})
    np.testing.assert_allclose(y.shape, t(torch.tensor(x)).shape)
    np.testing.assert_allclose(m(lucid.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", LAZY, ids=IDS)
def test_unbatched_first_input(case):
    m = make(case)
    x = sample(case, batched=False, dtype=np.float32)
    y = m(lucid.tensor(x))
    assert m.in_channels == C_IN
    assert y.ndim == x.ndim


@pytest.mark.parametrize("case", LAZY, ids=IDS)
def test_dtype_follows_conversion_before_first_forward(case):
    m = make(case)
    assert m.double() is m and m.weight.dtype == lucid.float64
    m(lucid.tensor(sample(case)))
    assert m.weight.dtype == lucid.float64
    m2 = make(case)
    m2.to(lucid.float64)
    m2.to(lucid.float32)
    m2.to(dtype=lucid.float64)
    m2(lucid.tensor(sample(case)))
    assert all(p.dtype == lucid.float64 for p in m2.parameters())


@pytest.mark.parametrize("case", [c for c in LAZY if c[2]], ids=[c[0] for c in LAZY if c[2]])
def test_output_size_on_first_call(case):
    m = make(case, dtype=lucid.float64)
    t = torch_twin(case)
    x = sample(case)
    size = [s - op for s, op in zip(t(torch.tensor(x)).shape[2:], t.output_padding)]
    size[-1] += t.stride[-1] - 1  # the largest valid size
    y = m(lucid.tensor(x), output_size=size)
    assert list(y.shape[2:]) == size and m.in_channels == C_IN
    m.load_state_dict({k: lt(v) for k, v in t.state_dict().items()})
    np.testing.assert_allclose(m(lucid.tensor(x), output_size=size).detach().numpy(),
                               t(torch.tensor(x), output_size=size).detach().numpy(),
                               rtol=1e-10, atol=1e-12)


def test_gradients_flow_after_lazy_init():
    m = nn.LazyConv2d(3, 3, padding=1, dtype=lucid.float64)
    x = lucid.tensor(np.random.default_rng(1).standard_normal((2, 4, 5, 5)), requires_grad=True)
    m(x).square().sum().backward()
    t = torch.nn.Conv2d(4, 3, 3, padding=1, dtype=torch.float64)
    with torch.no_grad():
        t.weight.copy_(torch.tensor(m.weight.detach().numpy()))
        t.bias.copy_(torch.tensor(m.bias.detach().numpy()))
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    t(tx).square().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(m.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(m.bias.grad.numpy(), t.bias.grad.numpy(), rtol=1e-10)


# --------------------------------------------------------------------------- bad first inputs
@pytest.mark.parametrize("case", LAZY, ids=IDS)
def test_bad_first_input_leaves_module_lazy(case):
    name, n = case[0], case[1]
    m = make(case)
    bad = lucid.zeros(*([1] * (n + 3)))
    msg = (f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {name}, but got "
           f"input of size: {bad.shape}")
    with pytest.raises(RuntimeError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        m(bad)
    with pytest.raises(TypeError, match="input must be a Tensor"):
        m([1.0])
    assert type(m).__name__ == name and m.in_channels is None and m.has_uninitialized_params()


def test_groups_must_divide_inferred_channels():
    m = nn.LazyConv2d(4, 3, groups=2)
    with pytest.raises(ValueError, match=r"in_channels must be divisible by groups, got "
                                         r"in_channels=3 \(inferred from an input of shape "
                                         r"\(1, 3, 5, 5\)\) and groups=2"):
        m(lucid.zeros(1, 3, 5, 5))
    assert m.in_channels is None and isinstance(m.weight, nn.UninitializedParameter)
    m(lucid.zeros(1, 4, 5, 5))
    assert m.in_channels == 4


def test_construction_errors_match_eager_rules():
    with pytest.raises(ValueError, match="does not support string padding"):
        nn.LazyConvTranspose2d(4, 3, padding="same")
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for '
                                         'LazyConvTranspose1d'):
        nn.LazyConvTranspose1d(4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.LazyConv3d(5, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.LazyConv1d(4, 3, stride=2, padding="same")


# --------------------------------------------------------------------------- state dicts
@pytest.mark.parametrize("case", LAZY, ids=IDS)
def test_load_state_dict_materializes(case):
    m = make(case)
    params = list(m.parameters())
    t = torch_twin(case, dtype=torch.float32)
    result = m.load_state_dict({k: lt(v) for k, v in t.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert m.in_channels == C_IN
    assert type(m).__name__ == case[0].removeprefix("Lazy")
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), t.state_dict()[k].numpy())
    x = sample(case, dtype=np.float32)
    np.testing.assert_allclose(m(lucid.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", LAZY, ids=IDS)
def test_load_bad_weight_is_rejected_atomically(case):
    name, n, transposed = case[:3]
    t = torch_twin(case, dtype=torch.float32)
    good = {k: lt(v) for k, v in t.state_dict().items()}
    w = t.weight.detach().numpy()
    bad_shapes = {
        "rank": w[..., 0],
        "out_channels": np.concatenate([w, w], axis=1 if transposed else 0),
        "kernel": np.concatenate([w, w], axis=-1),
    }
    for why, arr in bad_shapes.items():
        m = make(case)
        sd = dict(good, weight=lucid.tensor(arr))
        with pytest.raises(RuntimeError) as e:
            m.load_state_dict(sd)
        msg = str(e.value)
        assert f"size mismatch for weight: copying a param with shape {arr.shape}" in msg, why
        assert name in msg
        assert type(m).__name__ == name and m.in_channels is None
        assert m.has_uninitialized_params() and isinstance(m.weight, nn.UninitializedParameter)
        assert m._forward_pre_hooks  # still lazy: the first forward will initialize it
        m(lucid.tensor(sample(case, dtype=np.float32)))
        assert m.in_channels == C_IN


def test_load_bad_bias_and_missing_keys_are_atomic():
    m = nn.LazyConv2d(4, 3)
    t = torch.nn.Conv2d(2, 4, 3)
    sd = {k: lt(v) for k, v in t.state_dict().items()}
    with pytest.raises(RuntimeError, match=r"size mismatch for bias: copying a param with "
                                           r"shape \(5,\)"):
        m.load_state_dict(dict(sd, bias=lucid.zeros(5)))
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "bias"'):
        m.load_state_dict({"weight": sd["weight"]})
    assert m.in_channels is None and m.has_uninitialized_params()
    assert type(m) is nn.LazyConv2d


def test_partial_load_keeps_loaded_weight():
    m = nn.LazyConv2d(4, 3)
    t = torch.nn.Conv2d(2, 4, 3)
    m.load_state_dict({"weight": lt(t.weight)}, strict=False)
    assert m.in_channels == 2 and type(m) is nn.LazyConv2d
    assert isinstance(m.bias, nn.UninitializedParameter)
    m(lucid.zeros(1, 2, 4, 4))
    assert type(m) is nn.Conv2d and m.bias.shape == (4,)
    np.testing.assert_array_equal(m.weight.detach().numpy(), t.weight.detach().numpy())


def test_lazy_to_lazy_and_uninitialized_into_built():
    a, b = nn.LazyConv2d(4, 3), nn.LazyConv2d(4, 3)
    b.load_state_dict(a.state_dict())  # both uninitialized: nothing to copy
    assert b.has_uninitialized_params()
    built = nn.Conv2d(2, 4, 3)
    before = built.weight.detach().numpy().copy()
    with pytest.raises(RuntimeError, match="uninitialized"):
        built.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(built.weight.detach().numpy(), before)


def test_lazy_inside_container_loads_from_eager_checkpoint():
    eager = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.ConvTranspose2d(8, 2, 2, stride=2))
    lazy = nn.Sequential(nn.LazyConv2d(8, 3), nn.ReLU(), nn.LazyConvTranspose2d(2, 2, stride=2))
    lazy.load_state_dict(eager.state_dict())
    assert repr(lazy) == repr(eager)
    x = lucid.randn(1, 3, 6, 6)
    np.testing.assert_array_equal(lazy(x).detach().numpy(), eager(x).detach().numpy())


# --------------------------------------------------------------------------- hooks, copies
def test_user_hooks_run_with_lazy_initialization():
    m = nn.LazyConv1d(2, 3)
    seen = []
    m.register_forward_pre_hook(lambda mod, args: seen.append(("pre", mod.in_channels)))
    m.register_forward_hook(lambda mod, args, out: seen.append(("post", out.shape)))
    m(lucid.zeros(1, 5, 7))
    m(lucid.zeros(1, 5, 7))
    assert seen == [("pre", 5), ("post", (1, 2, 5))] * 2
    assert len(m._forward_pre_hooks) == 1  # only the user's hook is left


@pytest.mark.parametrize("case", LAZY, ids=IDS)
def test_pickle_and_deepcopy_before_and_after(case):
    m = make(case)
    x = lucid.tensor(sample(case, dtype=np.float32))
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert type(clone) is type(m) and clone.has_uninitialized_params()
        clone(x)
        assert clone.in_channels == C_IN and type(clone).__name__ == case[0][4:]
        assert not clone._forward_pre_hooks
    assert m.has_uninitialized_params() and m.in_channels is None  # original untouched
    y = m(x)
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert type(clone) is type(m)
        np.testing.assert_array_equal(clone(x).detach().numpy(), y.detach().numpy())


def test_uninitialized_parameter_and_buffer_api():
    p = nn.UninitializedParameter(dtype=lucid.float64)
    assert p.dtype == lucid.float64 and p.requires_grad and p.is_leaf
    assert nn.parameter.is_lazy(p) and not nn.parameter.is_lazy(lucid.ones(1))
    assert p.double() is p and p.float().dtype == lucid.float32
    assert isinstance(p.half(), nn.UninitializedParameter)
    p.requires_grad_(False)
    assert not p.requires_grad
    with pytest.raises(RuntimeError, match="materialize"):
        p.data = lucid.ones(1)
    p.materialize((2, 3), dtype=lucid.float32)
    assert type(p) is nn.Parameter and p.shape == (2, 3) and p.dtype == lucid.float32
    assert not p.requires_grad and not p.detach().numpy().any()

    b = nn.UninitializedBuffer(persistent=False)
    assert repr(b) == "<UninitializedBuffer>" and not b.requires_grad
    m = nn.Module()
    m.buf = b
    assert "buf" in m._buffers and "buf" in m._non_persistent_buffers_set
    assert isinstance(copy.deepcopy(b), nn.UninitializedBuffer)
    assert pickle.loads(pickle.dumps(b)).persistent is False
    b.materialize(4)
    assert type(b) is lucid.Tensor and b.shape == (4,)
    with pytest.raises(RuntimeError, match="negative dimension"):
        nn.UninitializedParameter().materialize((-1, 2))


# --------------------------------------------------------------------------- user lazy modules
class LazyAffine(LazyModuleMixin, nn.Module):
    def __init__(self, out_features):
        super().__init__()
        self.out_features = out_features
        self.weight = nn.UninitializedParameter()
        self.register_buffer("offset", nn.UninitializedBuffer())

    def initialize_parameters(self, x):
        with lucid.no_grad():
            self.weight.materialize((self.out_features, x.shape[-1]))
            self.weight.fill_(0.5)
            self.offset.materialize((self.out_features,))

    def forward(self, x):
        return x @ self.weight.T + self.offset


def test_user_written_lazy_module():
    m = LazyAffine(2)
    assert m.has_uninitialized_params()
    y = m(lucid.ones(3, 4))
    assert y.shape == (3, 2) and float(y.detach().numpy()[0, 0]) == 2.0
    assert type(m) is LazyAffine  # no cls_to_become: keeps its class
    assert not m.has_uninitialized_params() and not m._forward_pre_hooks
    m2 = LazyAffine(2)
    m2.load_state_dict(m.state_dict())
    assert m2.weight.shape == (2, 4) and not m2.has_uninitialized_params()


def test_incomplete_initialization_and_missing_initialize():
    class Forgetful(LazyAffine):
        def initialize_parameters(self, x):
            self.weight.materialize((self.out_features, x.shape[-1]))

    with pytest.raises(RuntimeError, match="module Forgetful has not been fully initialized"):
        Forgetful(2)(lucid.ones(1, 3))

    class NoInit(LazyModuleMixin, nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(NotImplementedError, match="initialize_parameters is not implemented "
                                                  "for NoInit"):
        NoInit()(lucid.ones(1))


def test_optimizer_built_before_first_forward_updates_the_parameters():
    from lucid.optim import SGD

    m = nn.Sequential(nn.LazyConv2d(3, 3), nn.ReLU(), nn.LazyConvTranspose2d(2, 3))
    opt = SGD(m.parameters(), lr=0.1)
    m(lucid.randn(2, 4, 6, 6)).square().sum().backward()
    before = [p.detach().numpy().copy() for p in m.parameters()]
    opt.step()
    held = opt.param_groups[0]["params"]
    assert [id(p) for p in held] == [id(p) for p in m.parameters()]
    assert all(not np.array_equal(b, p.detach().numpy()) for b, p in zip(before, held))
