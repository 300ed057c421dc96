"""``nn.Module`` machinery against PyTorch: registration, iteration, state dicts, hooks,
conversion, printing and copying."""

import copy
import pickle
import re
from collections import OrderedDict

import numpy as np
import pytest
import torch

import lucid
import lucid.nn as nn


def lt(t):
    return lucid.tensor(t.detach().numpy())


# --------------------------------------------------------------------------- twin models
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.register_buffer("count", lucid.zeros(1, dtype=lucid.int64))
        self.register_buffer("scratch", lucid.zeros(3), persistent=False)
        self.scale = nn.Parameter(lucid.ones(3))

    def forward(self, x):
        return self.conv(x) * self.scale.reshape(1, 3, 1, 1)


class TBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)
        self.register_buffer("count", torch.zeros(1, dtype=torch.int64))
        self.register_buffer("scratch", torch.zeros(3), persistent=False)
        self.scale = torch.nn.Parameter(torch.ones(3))

    def forward(self, x):
        return self.conv(x) * self.scale.reshape(1, 3, 1, 1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU())
        self.blocks = nn.ModuleList([Block(), Block()])
        self.head = nn.Conv2d(3, 4, 1, bias=False)
        self.shared = self.head  # the same module under two names

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
            x = x[:, :2] if x.shape[1] == 3 and b is self.blocks[0] else x
        return self.head(x)


class TNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU())
        self.blocks = torch.nn.ModuleList([TBlock(), TBlock()])
        self.head = torch.nn.Conv2d(3, 4, 1, bias=False)
        self.shared = self.head

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
            x = x[:, :2] if x.shape[1] == 3 and b is self.blocks[0] else x
        return self.head(x)


@pytest.fixture
def twins():
    torch.manual_seed(0)
    t = TNet()
    m = Net()
    m.load_state_dict({k: lt(v) for k, v in t.state_dict().items()})
    return m, t


# --------------------------------------------------------------------------- iteration
def test_named_members_match_torch(twins):
    m, t = twins
    assert [k for k, _ in m.named_parameters()] == [k for k, _ in t.named_parameters()]
    assert [k for k, _ in m.named_buffers()] == [k for k, _ in t.named_buffers()]
    assert [k for k, _ in m.named_modules()] == [k for k, _ in t.named_modules()]
    assert [k for k, _ in m.named_children()] == [k for k, _ in t.named_children()]
    assert [k for k, _ in m.named_parameters(prefix="model", recurse=True)] == [
        k for k, _ in t.named_parameters(prefix="model")]
    assert [k for k, _ in m.named_parameters(remove_duplicate=False)] == [
        k for k, _ in t.named_parameters(remove_duplicate=False)]
    assert [k for k, _ in m.named_modules(remove_duplicate=False)] == [
        k for k, _ in t.named_modules(remove_duplicate=False)]
    assert [k for k, _ in m.blocks[0].named_parameters(recurse=False)] == ["scale"]
    assert len(list(m.parameters())) == len(list(t.parameters()))
    assert len(list(m.modules())) == len(list(t.modules()))
    assert [type(c).__name__ for c in m.children()] == [type(c).__name__ for c in t.children()]


def test_shared_parameter_listed_once():
    m = nn.Module()
    p = nn.Parameter(lucid.ones(2))
    m.a = p
    m.b = p
    assert [k for k, _ in m.named_parameters()] == ["a"]
    assert [k for k, _ in m.named_parameters(remove_duplicate=False)] == ["a", "b"]
    assert list(m.state_dict()) == ["a", "b"]


def test_state_dict_keys_order_values_and_metadata(twins):
    m, t = twins
    sd, tsd = m.state_dict(), t.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == list(tsd)
    for k in sd:
        np.testing.assert_array_equal(sd[k].numpy(), tsd[k].numpy())
        assert not sd[k].requires_grad
    assert dict(sd._metadata) == {k: dict(v) for k, v in tsd._metadata.items()}
    assert list(m.state_dict(prefix="net.")) == ["net." + k for k in tsd]
    kept = m.state_dict(keep_vars=True)
    assert kept["head.weight"] is m.head.weight
    dest = {}
    assert m.state_dict(destination=dest) is dest and list(dest) == list(tsd)


def test_state_dict_shares_memory(twins):
    m, _ = twins
    sd = m.state_dict()
    sd["head.weight"].numpy()[...] = 7.0
    assert float(m.head.weight.detach().numpy().max()) == 7.0


def test_forward_matches_torch(twins):
    m, t = twins
    x = np.random.default_rng(0).standard_normal((2, 1, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(m(lucid.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- registration
def test_attribute_registration_and_reassignment():
    m = nn.Module()
    m.w = nn.Parameter(lucid.zeros(2))
    m.b = nn.Buffer(lucid.zeros(2))
    m.nb = nn.Buffer(lucid.zeros(1), persistent=False)
    m.child = nn.ReLU()
    m.plain = lucid.zeros(3)  # a plain tensor is just an attribute
    assert list(m._parameters) == ["w"] and list(m._buffers) == ["b", "nb"]
    assert list(m._modules) == ["child"] and "plain" in m.__dict__
    assert list(m.state_dict()) == ["w", "b"]
    m.w = None
    assert m.w is None and list(m.state_dict()) == ["b"]
    m.b = lucid.ones(2)  # assigning a tensor to a buffer name keeps it a buffer
    assert "b" in m._buffers and m.b.numpy()[0] == 1
    m.nb = lucid.ones(1)  # ...and keeps its persistence
    assert "nb" not in m.state_dict()
    m.w = nn.Parameter(lucid.ones(1))
    m.child = None
    assert m.child is None and list(m.children()) == []
    # a parameter assigned over a buffer replaces it
    m.b = nn.Parameter(lucid.ones(2))
    assert "b" in m._parameters and "b" not in m._buffers


def test_register_methods():
    m = nn.Module()
    m.register_parameter("p", nn.Parameter(lucid.ones(1)))
    m.register_buffer("buf", None)
    m.add_module("c", nn.Identity())
    m.register_module("d", nn.ReLU())
    assert m.p.shape == (1,) and m.buf is None and isinstance(m.d, nn.ReLU)
    assert list(m.state_dict()) == ["p"]
    assert m.get_submodule("d") is m.d and m.get_submodule("") is m
    assert m.get_parameter("p") is m.p


@pytest.mark.parametrize("call, exc, msg", [
    (lambda m: setattr(m, "w", lucid.ones(1)), TypeError,
     "cannot assign 'lucid.Tensor' as parameter 'w'"),
    (lambda m: setattr(m, "c", 3), TypeError, "as child module 'c'"),
    (lambda m: setattr(m, "b", "x"), TypeError, "as buffer 'b'"),
    (lambda m: m.register_parameter("a.b", None), KeyError, 'contain ".", got: a.b'),
    (lambda m: m.register_parameter("", None), KeyError, "empty string"),
    (lambda m: m.register_parameter("training", None), KeyError,
     "attribute 'training' already exists"),
    (lambda m: m.register_parameter("x", lucid.ones(1)), TypeError,
     "lucid.nn.Parameter or None required"),
    (lambda m: m.register_parameter(1, None), TypeError, "parameter name should be a string"),
    (lambda m: m.register_buffer("x", [1]), TypeError, "cannot assign 'list' object to buffer 'x'"),
    (lambda m: m.register_buffer("a.b", None), KeyError, 'buffer name can.+t contain'),
    (lambda m: m.add_module("x", 3), TypeError, "int is not a Module subclass"),
    (lambda m: m.add_module("a.b", None), KeyError, 'module name can.+t contain'),
    (lambda m: m.get_submodule("c.nope"), AttributeError, "has no attribute `nope`"),
    (lambda m: m.get_submodule("w"), AttributeError, "`w` is not an nn.Module"),
    (lambda m: m.get_parameter("b"), AttributeError, "`b` is not an nn.Parameter"),
    (lambda m: m.get_buffer("w"), AttributeError, "`w` is not a buffer"),
    (lambda m: m.set_submodule("", nn.ReLU()), ValueError, "without a target name"),
    (lambda m: m.set_submodule("zz", nn.ReLU(), strict=True), AttributeError,
     "has no attribute `zz`"),
    (lambda m: m.nothing, AttributeError, "'Module' object has no attribute 'nothing'"),
    (lambda m: m.train("yes"), ValueError, "training mode is expected to be boolean"),
    (lambda m: m.to(lucid.int64), TypeError, "only accepts floating point or complex dtypes"),
    (lambda m: m.to("cuda"), RuntimeError, "not available"),
    (lambda m: m.to(3.5), TypeError, "neither a device nor a dtype"),
    (lambda m: m.load_state_dict([1]), TypeError, "Expected state_dict to be dict-like"),
    (lambda m: setattr(m, "w", nn.Buffer(lucid.ones(1))), TypeError,
     "cannot assign 'lucid.Tensor' as parameter 'w'"),
    (lambda m: setattr(m, "training", nn.Buffer(lucid.ones(1))), KeyError,
     "attribute 'training' already exists"),
])
def test_registration_errors(call, exc, msg):
    m = nn.Module()
    m.w = nn.Parameter(lucid.ones(1))
    m.b = nn.Buffer(lucid.ones(1))
    m.c = nn.Identity()
    with pytest.raises(exc) as e:
        call(m)
    assert re.search(msg if ".+" in msg else re.escape(msg), str(e.value)), str(e.value)


def test_non_leaf_parameter_and_uninitialized_module_errors():
    m = nn.Module()
    p = nn.Parameter(lucid.ones(2))
    p.grad_fn = (p * 2).grad_fn  # simulate a non-leaf parameter
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'x'"):
        m.register_parameter("x", p)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(lucid.ones(1))

    with pytest.raises(AttributeError, match="cannot assign parameters before Module.__init__"):
        Early()
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'x'"):
        nn.Module(x=1)


def test_set_submodule_and_get_buffer(twins):
    m, _ = twins
    m.set_submodule("blocks.1.conv", nn.Identity())
    assert isinstance(m.blocks[1].conv, nn.Identity)
    assert m.get_buffer("blocks.0.count").dtype == lucid.int64


def test_delattr_dir_and_setstate():
    m = nn.Module()
    m.w = nn.Parameter(lucid.ones(1))
    m.b = nn.Buffer(lucid.ones(1), persistent=False)
    m.c = nn.ReLU()
    m.x = 1
    d = dir(m)
    assert {"w", "b", "c", "x", "forward", "training"} <= set(d) and d == sorted(d)
    for name in ("w", "b", "c", "x"):
        delattr(m, name)
    assert not m._parameters and not m._buffers and not m._modules and "x" not in m.__dict__
    assert "b" not in m._non_persistent_buffers_set
    state = {k: v for k, v in m.__dict__.items() if k != "_forward_hooks_always_called"}
    fresh = nn.Module.__new__(nn.Module)
    fresh.__setstate__(state)
    assert fresh._forward_hooks_always_called == OrderedDict()
    assert nn.Sequential(nn.ReLU()).__dir__().count("0") == 0


# --------------------------------------------------------------------------- load_state_dict
def test_load_state_dict_roundtrip_in_place(twins):
    m, t = twins
    w = m.head.weight
    view = w.detach()
    new = {k: v + 1 if v.is_floating_point() else v for k, v in m.state_dict().items()}
    result = m.load_state_dict(new)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    assert m.head.weight is w  # same object, values copied in place
    np.testing.assert_array_equal(view.numpy(), new["head.weight"].numpy())
    np.testing.assert_allclose(m.blocks[1].scale.detach().numpy(), 2.0)
    assert w.requires_grad


def test_load_state_dict_missing_unexpected(twins):
    m, t = twins
    sd = m.state_dict()
    del sd["head.weight"]
    sd["blocks.0.extra"] = lucid.ones(1)
    sd["nothere.weight"] = lucid.ones(1)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    tsd = t.state_dict()
    del tsd["head.weight"]
    tsd["blocks.0.extra"] = torch.ones(1)
    tsd["nothere.weight"] = torch.ones(1)
    with pytest.raises(RuntimeError) as te:
        t.load_state_dict(tsd)
    assert str(e.value) == str(te.value).replace("TNet", "Net")
    res = m.load_state_dict(sd, strict=False)
    tres = t.load_state_dict(tsd, strict=False)
    assert res == tuple(tres)
    assert res.missing_keys == tres.missing_keys and res.unexpected_keys == tres.unexpected_keys


def test_load_state_dict_size_mismatch_is_atomic(twins):
    m, t = twins
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    sd = {k: v + 5 if v.is_floating_point() else v for k, v in m.state_dict().items()}
    sd["head.weight"] = lucid.zeros(4, 3, 2, 2)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:")
    assert ("size mismatch for head.weight: copying a param with shape (4, 3, 2, 2) from "
            "checkpoint, the shape in current model is (4, 3, 1, 1).") in msg
    # torch's wording (with torch.Size instead of a tuple)
    tsd = {k: v.clone() for k, v in t.state_dict().items()}
    tsd["head.weight"] = torch.zeros(4, 3, 2, 2)
    with pytest.raises(RuntimeError, match="size mismatch for head.weight: copying a param "
                                           "with shape torch.Size"):
        t.load_state_dict(tsd)
    # nothing changed although every other entry was valid
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_load_state_dict_rejects_non_tensor_and_uninitialized(twins):
    m, _ = twins
    sd = m.state_dict()
    sd["head.weight"] = np.zeros((4, 3, 1, 1))
    with pytest.raises(RuntimeError, match='expected lucid.Tensor or Tensor-like object'):
        m.load_state_dict(sd)
    sd["head.weight"] = nn.UninitializedParameter()
    with pytest.raises(RuntimeError, match="uninitialized"):
        m.load_state_dict(sd)


def test_load_state_dict_assign(twins):
    m, _ = twins
    sd = {k: v.clone() for k, v in m.state_dict().items()}
    old = m.head.weight
    m.load_state_dict(sd, assign=True)
    assert m.head.weight is not old and isinstance(m.head.weight, nn.Parameter)
    assert m.head.weight.requires_grad
    assert m.blocks[0].count is sd["blocks.0.count"]


def test_load_state_dict_casts_dtype():
    m = nn.Module()
    m.w = nn.Parameter(lucid.zeros(3))
    m.load_state_dict({"w": lucid.tensor([1.0, 2.0, 3.0], dtype=lucid.float64)})
    assert m.w.dtype == lucid.float32
    np.testing.assert_array_equal(m.w.detach().numpy(), [1, 2, 3])


def test_load_from_state_dict_hook_point_and_hooks():
    class Versioned(nn.Module):
        _version = 2

        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(lucid.zeros(2))

        def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                                  missing_keys, unexpected_keys, error_msgs):
            if local_metadata.get("version", 1) < 2 and prefix + "w" in state_dict:
                state_dict[prefix + "weight"] = state_dict.pop(prefix + "w")
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                          missing_keys, unexpected_keys, error_msgs)

    outer = nn.Sequential(Versioned())
    old = OrderedDict([("0.w", lucid.ones(2))])
    old._metadata = {"0": {"version": 1}}
    outer.load_state_dict(old)
    np.testing.assert_array_equal(outer[0].weight.detach().numpy(), [1, 1])
    assert outer.state_dict()._metadata["0"] == {"version": 2}

    calls = []
    pre = outer.register_load_state_dict_pre_hook(
        lambda mod, sd, prefix, *rest: calls.append(("pre", prefix)))

    def post(module, incompatible):
        calls.append(("post", list(incompatible.unexpected_keys)))
        incompatible.unexpected_keys.clear()

    outer.register_load_state_dict_post_hook(post)
    outer.load_state_dict({"0.weight": lucid.zeros(2), "junk": lucid.ones(1)})
    assert calls == [("pre", ""), ("post", ["junk"])]
    pre.remove()
    sd_calls = []
    outer.register_state_dict_pre_hook(lambda mod, prefix, keep: sd_calls.append(prefix))
    outer.register_state_dict_post_hook(lambda mod, sd, prefix, meta: sd.pop("0.weight"))
    with pytest.raises(RuntimeError, match="state_dict post-hook must return None"):
        outer.state_dict()
    assert sd_calls == [""]


def test_extra_state_roundtrip():
    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.note = "a"

        def get_extra_state(self):
            return {"note": self.note}

        def set_extra_state(self, state):
            self.note = state["note"]

    m = WithExtra()
    m.note = "b"
    sd = m.state_dict()
    assert list(sd) == ["_extra_state"]
    m2 = WithExtra()
    m2.load_state_dict(sd)
    assert m2.note == "b"
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "_extra_state"'):
        m2.load_state_dict({})
    with pytest.raises(RuntimeError, match="Unexpected key"):
        nn.Module().load_state_dict(sd)


# --------------------------------------------------------------------------- modes, grads, dtype
def test_train_eval(twins):
    m, _ = twins
    assert m.training and all(c.training for c in m.modules())
    assert m.eval() is m
    assert not any(c.training for c in m.modules())
    m.blocks.train()
    assert m.blocks[0].conv.training and not m.head.training and not m.training


def test_zero_grad_and_requires_grad(twins):
    m, t = twins
    x = lucid.randn(1, 1, 4, 4)
    m(x).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    assert m.requires_grad_(False) is m
    assert not any(p.requires_grad for p in m.parameters())
    m.requires_grad_()
    assert all(p.requires_grad for p in m.parameters())


def test_apply_visits_children_first(twins):
    m, t = twins
    order, torder = [], []
    m.apply(lambda mod: order.append(type(mod).__name__))
    t.apply(lambda mod: torder.append(type(mod).__name__))
    assert order == [n.removeprefix("T") for n in torder]


def test_to_and_casts_keep_objects(twins):
    m, _ = twins
    w = m.head.weight
    m(lucid.randn(1, 1, 3, 3)).sum().backward()
    assert m.double() is m
    assert m.head.weight is w and w.dtype == lucid.float64 and w.grad.dtype == lucid.float64
    assert m.blocks[0].count.dtype == lucid.int64  # integer buffers keep their dtype
    assert m.blocks[0].scratch.dtype == lucid.float64
    m.float()
    assert w.dtype == lucid.float32
    m.to(lucid.float64)
    assert w.dtype == lucid.float64
    m.to(device="cpu", dtype=lucid.float32)
    assert w.dtype == lucid.float32
    m.to(lucid.zeros(1, dtype=lucid.float64))
    assert w.dtype == lucid.float64
    m.half()
    assert w.dtype == lucid.float16
    assert m.cpu() is m and m.to("cpu") is m
    m.type(lucid.float32)
    assert m.blocks[0].count.dtype == lucid.float32
    with pytest.raises(RuntimeError, match="not available"):
        m.cuda()


# --------------------------------------------------------------------------- hooks
def test_forward_hooks_match_torch_semantics():
    m = nn.Identity()
    log = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
    h2 = m.register_forward_pre_hook(lambda mod, args: args[0] + 1)  # single value wrapped
    h3 = m.register_forward_hook(lambda mod, args, out: log.append(("post", float(out))))
    h4 = m.register_forward_hook(lambda mod, args, out: out * 10)
    h5 = m.register_forward_hook(lambda mod, args, out: log.append("first"), prepend=True)
    out = m(lucid.tensor(1.0))
    assert float(out) == 30.0 and log == ["first", ("post", 3.0)]
    for h in (h1, h2, h3, h4, h5):
        h.remove()
    h1.remove()  # removing twice is harmless
    assert float(m(lucid.tensor(1.0))) == 1.0

    class KW(nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale

    k = KW()
    with k.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"scale": 3.0}),
                                     with_kwargs=True):
        assert float(k(lucid.tensor(2.0))) == 6.0
    seen = []
    k.register_forward_hook(lambda mod, args, kwargs, out: seen.append(kwargs), with_kwargs=True)
    k(lucid.tensor(2.0), scale=5.0)
    assert seen == [{"scale": 5.0}]
    bad = k.register_forward_pre_hook(lambda mod, args, kwargs: 3, with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        k(lucid.tensor(1.0))
    bad.remove()


def test_always_call_hook_runs_when_forward_raises():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    m = Boom()
    calls = []
    m.register_forward_hook(lambda mod, args, out: calls.append("always"), always_call=True)
    m.register_forward_hook(lambda mod, args, out: calls.append("normal"))
    with pytest.raises(ValueError, match="boom"):
        m(1)
    assert calls == ["always"]


# --------------------------------------------------------------------------- repr
def test_repr_matches_torch(twins):
    m, t = twins
    assert repr(m) == repr(t).replace("TNet", "Net").replace("TBlock", "Block")

    class Multi(nn.Module):
        def extra_repr(self):
            return "a=1\nb=2"

    class TMulti(torch.nn.Module):
        def extra_repr(self):
            return "a=1\nb=2"

    lm, tm = Multi(), TMulti()
    lm.inner = nn.Sequential(nn.ReLU(inplace=True), Multi(), nn.Identity())
    tm.inner = torch.nn.Sequential(torch.nn.ReLU(inplace=True), TMulti(), torch.nn.Identity())
    assert repr(lm) == repr(tm).replace("TMulti", "Multi")
    assert repr(nn.Module()) == "Module()"


# --------------------------------------------------------------------------- copying
def _assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        np.testing.assert_array_equal(sa[k].numpy(), sb[k].numpy())


def test_deepcopy(twins):
    m, _ = twins
    hook_calls = []
    m.register_forward_hook(lambda mod, args, out: hook_calls.append(1))
    c = copy.deepcopy(m)
    _assert_same_state(m, c)
    assert c.head.weight is not m.head.weight
    assert c.shared is c.head  # shared structure is preserved
    assert isinstance(c.head.weight, nn.Parameter) and c.head.weight.requires_grad
    c.head.weight.detach().numpy()[...] = 0
    assert m.head.weight.detach().numpy().any()
    x = lucid.randn(1, 1, 4, 4)
    c(x)
    assert hook_calls == [1]


def test_pickle(twins):
    m, _ = twins
    m.eval()
    c = pickle.loads(pickle.dumps(m))
    _assert_same_state(m, c)
    assert not c.training and c.shared is c.head
    assert "scratch" in c.blocks[0]._non_persistent_buffers_set
    x = lucid.randn(1, 1, 4, 4)
    np.testing.assert_array_equal(m(x).detach().numpy(), c(x).detach().numpy())


# --------------------------------------------------------------------------- Parameter / Buffer
def test_parameter_basics_match_torch():
    p = nn.Parameter(lucid.tensor([1.0, 2.0]))
    tp = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    assert repr(p) == repr(tp).replace("torch", "lucid")
    assert p.requires_grad and p.is_leaf
    assert not nn.Parameter(lucid.ones(1), requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    src = lucid.zeros(3)
    shared = nn.Parameter(src)
    src.numpy()[0] = 5
    assert float(shared.detach().numpy()[0]) == 5  # shares memory like torch
    with pytest.raises(RuntimeError, match="floating point and complex"):
        nn.Parameter(lucid.tensor([1, 2]))
    with pytest.raises(TypeError, match="expected a lucid.Tensor"):
        nn.Parameter([1.0])
    with lucid.no_grad():
        assert nn.Parameter(lucid.ones(1)).requires_grad
    c = copy.deepcopy(p)
    assert type(c) is nn.Parameter and c is not p and c.requires_grad
    r = pickle.loads(pickle.dumps(p))
    assert type(r) is nn.Parameter and r.requires_grad
    np.testing.assert_array_equal(r.detach().numpy(), [1, 2])


def test_buffer_marker():
    b = nn.Buffer(lucid.ones(2), persistent=False)
    assert isinstance(b, nn.Buffer) and isinstance(b, lucid.Tensor)
    assert not isinstance(lucid.ones(2), nn.Buffer)
    assert not isinstance(nn.Parameter(lucid.ones(1)), nn.Buffer)
    m = nn.Module()
    m.b = b
    assert "b" in m._non_persistent_buffers_set
