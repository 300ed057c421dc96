"""Containers (Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict) and the
ReLU / Identity modules, against PyTorch."""

from collections import OrderedDict

import numpy as np
import pytest
import torch

import lucid
import lucid.nn as nn


def names(m):
    return [type(c).__name__ for c in m]


def make_pair():
    return (nn.Sequential(nn.Conv1d(1, 2, 1), nn.ReLU(), nn.Identity(), nn.Conv1d(2, 3, 1)),
            torch.nn.Sequential(torch.nn.Conv1d(1, 2, 1), torch.nn.ReLU(), torch.nn.Identity(),
                                torch.nn.Conv1d(2, 3, 1)))


def test_sequential_indexing_and_slicing_like_torch():
    m, t = make_pair()
    assert len(m) == len(t) == 4
    assert names(m) == names(t)
    for idx in (0, 2, -1, -4):
        assert type(m[idx]).__name__ == type(t[idx]).__name__
    for sl in (slice(1, 3), slice(None, None, -1), slice(-2, None), slice(5, 9)):
        assert isinstance(m[sl], nn.Sequential)
        assert list(m[sl]._modules) == list(t[sl]._modules)
        assert repr(m[sl]) == repr(t[sl])
    assert m[1:3][0] is m[1]  # slices share the modules
    for idx in (4, -5):
        with pytest.raises(IndexError, match=f"index {idx} is out of range"):
            m[idx]
        with pytest.raises(IndexError):
            t[idx]


def test_sequential_mutation_like_torch():
    m, t = make_pair()
    del m[1]
    del t[1]
    assert names(m) == names(t) and list(m._modules) == list(t._modules) == ["0", "1", "2"]
    del m[::2]
    del t[::2]
    assert names(m) == names(t)
    m.append(nn.ReLU()).extend([nn.Identity(), nn.ReLU()])
    t.append(torch.nn.ReLU()).extend([torch.nn.Identity(), torch.nn.ReLU()])
    m.insert(1, nn.Conv1d(1, 1, 1))
    t.insert(1, torch.nn.Conv1d(1, 1, 1))
    m.insert(-1, nn.Identity())
    t.insert(-1, torch.nn.Identity())
    assert names(m) == names(t) and repr(m) == repr(t)
    m[0] = nn.Conv1d(4, 4, 1)
    t[0] = torch.nn.Conv1d(4, 4, 1)
    assert repr(m) == repr(t)
    assert type(m.pop(0)).__name__ == type(t.pop(0)).__name__ and names(m) == names(t)
    with pytest.raises(IndexError, match="Index out of range: 9"):
        m.insert(9, nn.ReLU())
    with pytest.raises(TypeError, match="module should be of type"):
        m.insert(0, 3)


def test_sequential_ordered_dict_forward_and_operators():
    m = nn.Sequential(OrderedDict([("conv", nn.Conv1d(1, 2, 1)), ("act", nn.ReLU())]))
    t = torch.nn.Sequential(OrderedDict([("conv", torch.nn.Conv1d(1, 2, 1)),
                                         ("act", torch.nn.ReLU())]))
    assert repr(m) == repr(t) and m.conv is m[0]
    assert list(m.state_dict()) == list(t.state_dict()) == ["conv.weight", "conv.bias"]
    m.load_state_dict({k: lucid.tensor(v.numpy()) for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 1, 3)).astype(np.float32)
    np.testing.assert_allclose(m(lucid.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-6)
    assert repr(m + m) == repr(t + t)
    assert repr(m * 2) == repr(t * 2) and repr(2 * m) == repr(2 * t)
    m += nn.Sequential(nn.Identity())
    t += torch.nn.Sequential(torch.nn.Identity())
    assert repr(m) == repr(t)
    assert [k for k in dir(nn.Sequential(nn.ReLU())) if k.isdigit()] == []
    assert list(iter(m)) == list(m._modules.values())
    with pytest.raises(ValueError, match="add operator supports only objects of Sequential"):
        m + nn.ReLU()
    with pytest.raises(ValueError, match="Non-positive multiplication factor 0"):
        m * 0
    with pytest.raises(TypeError, match="unsupported operand"):
        m * 1.5
    assert nn.Sequential()(5) == 5


def test_module_list_like_torch():
    m = nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Identity(), nn.ReLU()])
    t = torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.ReLU(), torch.nn.Identity(),
                             torch.nn.ReLU()])
    assert repr(m) == repr(t) and repr(nn.ModuleList()) == repr(torch.nn.ModuleList())
    assert isinstance(m[1:], nn.ModuleList) and names(m[1:]) == names(t[1:])
    m.insert(1, nn.Conv2d(1, 2, 3))
    t.insert(1, torch.nn.Conv2d(1, 2, 3))
    del m[-1]
    del t[-1]
    m[0] = nn.Identity()
    t[0] = torch.nn.Identity()
    m += [nn.ReLU()]
    t += [torch.nn.ReLU()]
    assert repr(m) == repr(t) and repr(m + m) == repr(t + t)
    assert type(m.pop(1)).__name__ == "Conv2d" and len(m) == 4
    with pytest.raises(IndexError, match="index 7 is out of range"):
        m[7]
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable"):
        m.extend(nn.ReLU())
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.append(3)


def test_module_dict_like_torch():
    m = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Identity()})
    t = torch.nn.ModuleDict({"b": torch.nn.ReLU(), "a": torch.nn.Identity()})
    assert list(m) == list(t) and repr(m) == repr(t)
    m.update([("c", nn.ReLU())])
    m["d"] = nn.Identity()
    assert list(m.keys()) == ["b", "a", "c", "d"] and "c" in m and len(m) == 4
    assert [type(v).__name__ for v in m.values()] == ["ReLU", "Identity", "ReLU", "Identity"]
    del m["a"]
    assert isinstance(m.pop("b"), nn.ReLU) and list(m) == ["c", "d"]
    assert [k for k, _ in m.items()] == ["c", "d"]
    m.clear()
    assert len(m) == 0
    with pytest.raises(TypeError, match="ModuleDict.update should be called with an iterable"):
        m.update(3)
    with pytest.raises(ValueError, match="element #0 has length 3; 2 is required"):
        m.update([("a", nn.ReLU(), 1)])
    with pytest.raises(TypeError, match="element #0 should be Iterable"):
        m.update([3])


def test_parameter_list_and_dict():
    pl = nn.ParameterList([lucid.zeros(2, 3), nn.Parameter(lucid.ones(4))])
    tl = torch.nn.ParameterList([torch.zeros(2, 3), torch.nn.Parameter(torch.ones(4))])
    assert repr(pl) == repr(tl).replace("torch.", "lucid.")
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(pl) == 2
    assert [k for k, _ in pl.named_parameters()] == ["0", "1"]
    pl.append(lucid.ones(1))
    pl[0] = lucid.ones(2)
    assert pl[-1].shape == (1,) and pl[0].shape == (2,) and len(pl[1:]) == 2
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        pl()
    with pytest.raises(TypeError, match="ParameterList.extend should be called with an iterable"):
        pl.extend(lucid.ones(2))

    pd = nn.ParameterDict({"b": lucid.zeros(2), "a": lucid.ones(3)})
    td = torch.nn.ParameterDict({"b": torch.zeros(2), "a": torch.ones(3)})
    assert list(pd) == list(td) == ["a", "b"]
    assert [k for k, _ in pd.named_parameters()] == [k for k, _ in td.named_parameters()]
    pd["c"] = nn.Parameter(lucid.ones(1))
    assert "c" in pd and pd.get("zz") is None and pd.setdefault("c") is pd["c"]
    assert list(reversed(pd)) == ["c", "b", "a"]
    assert isinstance(pd.pop("a"), nn.Parameter) and list(pd.keys()) == ["b", "c"]
    assert [k for k, _ in pd.copy().items()] == ["b", "c"]
    assert len(list(pd.values())) == 2
    pd.clear()
    assert len(pd) == 0
    with pytest.raises(TypeError, match="cannot be used as a key"):
        pd[1] = lucid.ones(1)
    with pytest.raises(RuntimeError, match="ParameterDict should not be called"):
        pd()


def test_relu_and_identity_like_torch():
    x = np.array([-1.5, 0.0, 2.0, -0.1], dtype=np.float32)
    for inplace in (False, True):
        m, t = nn.ReLU(inplace=inplace), torch.nn.ReLU(inplace=inplace)
        assert repr(m) == repr(t)
        lx, tx = lucid.tensor(x), torch.tensor(x)
        ly, ty = m(lx), t(tx)
        np.testing.assert_array_equal(ly.numpy(), ty.numpy())
        assert (ly is lx) == inplace
    g = lucid.tensor(x, requires_grad=True)
    nn.ReLU()(g).sum().backward()
    assert g.grad.numpy().tolist() == [0, 0, 1, 0]
    i = nn.Identity(3, unused=True)
    assert repr(i) == repr(torch.nn.Identity(3, unused=True)) and i(g) is g
