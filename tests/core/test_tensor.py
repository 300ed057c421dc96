"""Tensor attributes, printing, conversion, creation functions, randomness, devices,
pickling, and clear errors for bad input."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

import lucid

A = np.random.default_rng(0).standard_normal((3, 4, 5)).round(3)


# --------------------------------------------------------------------------- attributes
def test_basic_attributes() -> None:
    x = lucid.zeros(2, 3)
    assert repr(x.shape) == "(2, 3)" and type(x.shape) is tuple
    assert x.ndim == x.dim() == 2 and x.numel() == 6 and x.size() == (2, 3)
    assert x.size(1) == 3 and x.size(-2) == 2
    assert x.dtype is lucid.float32 and x.device == lucid.device("cpu")
    assert repr(x.device) == "device(type='cpu')"
    assert not x.requires_grad and x.grad is None and x.grad_fn is None and x.is_leaf
    assert x.T.shape == (3, 2) and lucid.zeros(4, 2, 3).mT.shape == (4, 3, 2)
    assert len(x) == 2 and [r.shape for r in x] == [(3,), (3,)]
    assert x.element_size() == 4 and x.is_floating_point() and not x.is_complex()


def test_conversions_to_python_and_numpy() -> None:
    x = lucid.tensor([[1.5, 2.0], [3.0, 4.0]])
    assert x.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert x[0, 0].item() == 1.5 and type(x[0, 0].item()) is float
    assert type(lucid.tensor(3).item()) is int and type(lucid.tensor(True).item()) is bool
    assert float(x[1, 1]) == 4.0 and int(x[1, 0]) == 3 and bool(x[0, 0])
    assert [10, 20, 30][lucid.tensor(2)] == 30
    assert f"{x[0, 0]:.2f}" == "1.50"
    arr = np.asarray(x)
    assert arr is x.numpy() and arr.dtype == np.float32
    arr[0, 0] = 9  # shares memory
    assert x[0, 0].item() == 9
    assert np.asarray(x, dtype=np.float64).dtype == np.float64


def test_detach_and_clone() -> None:
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and np.shares_memory(d.numpy(), x.detach().numpy())
    c = x.clone()
    assert c.grad_fn.name() == "CloneBackward0" and not np.shares_memory(c.detach().numpy(),
                                                                         d.numpy())
    (c * c).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_pickle_and_deepcopy_keep_values_dtype_and_requires_grad() -> None:
    x = lucid.tensor([1.0, 2.0], dtype=lucid.float64, requires_grad=True)
    x.grad = lucid.tensor([0.5, 0.5], dtype=lucid.float64)
    x.tag = "weights"
    y = pickle.loads(pickle.dumps(x))
    assert y.tolist() == [1.0, 2.0] and y.dtype is lucid.float64 and y.requires_grad
    assert y.grad is None and y.tag == "weights"  # PyTorch does not pickle .grad either
    z = copy.deepcopy(x)
    assert z.tolist() == [1.0, 2.0] and z.requires_grad and z.grad.tolist() == [0.5, 0.5]
    assert z.tag == "weights" and not np.shares_memory(z.detach().numpy(), x.detach().numpy())
    with pytest.raises(RuntimeError, match="Only Tensors created explicitly by the user"):
        copy.deepcopy(x * 2)
    pair = copy.deepcopy([x, x])
    assert pair[0] is pair[1]


def test_to_and_type_conversions() -> None:
    x = lucid.tensor([1.7, -2.2])
    assert x.to(lucid.float32) is x and x.to("cpu") is x
    assert x.to(lucid.float64).dtype is lucid.float64 and x.double().dtype is lucid.float64
    assert x.long().tolist() == [1, -2] and x.int().dtype is lucid.int32
    assert x.bool().tolist() == [True, True] and x.half().dtype is lucid.float16
    assert x.to(lucid.zeros(1, dtype=lucid.int16)).dtype is lucid.int16
    assert x.to(dtype=lucid.float64, copy=True).dtype is lucid.float64
    assert x.to(copy=True) is not x
    assert x.type() == "lucid.FloatTensor" and x.long().type() == "lucid.LongTensor"
    g = lucid.tensor([1.0, 2.0], requires_grad=True)
    g.double().sum().backward()
    assert g.grad.dtype is lucid.float32


# --------------------------------------------------------------------------- printing
def _repr_cases(lib):
    return [
        lib.zeros(2, 3), lib.tensor(3.5), lib.tensor(3), lib.tensor(True),
        lib.tensor([[-1, 20], [300, 4]]), lib.tensor([[True, False], [True, True]]),
        lib.tensor([1e-5, 1.0]), lib.tensor([1.0, 2000.0]), lib.tensor([1e9, 1.0]),
        lib.tensor([float("nan"), float("inf"), -float("inf"), 1.5]),
        lib.tensor([float("nan"), float("inf")]), lib.tensor([1 + 2j, -3.5 - 1j]),
        lib.tensor([1 + 1j], dtype=lib.complex128), lib.arange(2000.0).reshape(40, 50),
        lib.arange(3000), lib.arange(100), lib.arange(30.0) / 7, lib.ones(20, 20, 20),
        lib.tensor(A, requires_grad=True), lib.tensor([]), lib.zeros(0, 3, dtype=lib.int64),
        lib.zeros(2, 0, dtype=lib.float64), lib.tensor([1.5, 2.25], dtype=lib.float16),
        lib.tensor([1, 255], dtype=lib.uint8), lib.tensor([1, 2], dtype=lib.int32),
        lib.tensor([-0.0, 0.0]), lib.tensor([1.0, -2.0, 3.0]),
        lib.ones(2, requires_grad=True) * 2, lib.ones(2, 2, requires_grad=True).sum(),
        lib.tensor(A, requires_grad=True)[0].reshape(-1)[:3],
        lib.tensor(A, dtype=lib.float32, requires_grad=True).sum(1).exp(),
    ]


@pytest.mark.parametrize("i", range(len(_repr_cases(lucid))))
def test_repr_matches_torch(i: int) -> None:
    assert repr(_repr_cases(lucid)[i]) == repr(_repr_cases(torch)[i]).replace("torch.", "lucid.")


def test_print_options() -> None:
    try:
        lucid.set_printoptions(precision=2, threshold=5, edgeitems=1)
        torch.set_printoptions(precision=2, threshold=5, edgeitems=1)
        for lib_value in [lambda lib: lib.arange(10.0) / 3, lambda lib: lib.ones(4, 4)]:
            assert repr(lib_value(lucid)) == repr(lib_value(torch))
        lucid.set_printoptions(sci_mode=True)
        torch.set_printoptions(sci_mode=True)
        assert repr(lucid.tensor([1.5])) == repr(torch.tensor([1.5]))
    finally:
        lucid.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")
    assert lucid.get_printoptions()["precision"] == 4
    with pytest.raises(ValueError, match="profile must be one of"):
        lucid.set_printoptions(profile="tiny")


# --------------------------------------------------------------------------- creation
CREATION = [
    lambda lib: lib.zeros(2, 3), lambda lib: lib.zeros((2, 3), dtype=lib.int32),
    lambda lib: lib.ones([4]), lambda lib: lib.ones(2, 2, dtype=lib.bool),
    lambda lib: lib.empty(3, 1).zero_(), lambda lib: lib.full((2, 2), 7),
    lambda lib: lib.full((2,), 2.5), lambda lib: lib.full((2,), True),
    lambda lib: lib.full((2,), 3, dtype=lib.float64), lambda lib: lib.arange(5),
    lambda lib: lib.arange(1, 4), lambda lib: lib.arange(0, 1, 0.1),
    lambda lib: lib.arange(5, 0, -1.5), lambda lib: lib.arange(10, dtype=lib.float64),
    lambda lib: lib.arange(0.0, 3.0), lambda lib: lib.linspace(0, 1, 5),
    lambda lib: lib.linspace(-2, 3, 7, dtype=lib.float64), lambda lib: lib.linspace(2, 3, 1),
    lambda lib: lib.eye(3), lambda lib: lib.eye(2, 4, dtype=lib.int64),
    lambda lib: lib.zeros_like(lib.ones(2, dtype=lib.int16)),
    lambda lib: lib.ones_like(lib.ones(2, 3), dtype=lib.float64),
    lambda lib: lib.full_like(lib.ones(2), 4), lambda lib: lib.empty_like(lib.ones(3)).zero_(),
    lambda lib: lib.tensor([[1, 2], [3, 4]], dtype=lib.float32),
    lambda lib: lib.as_tensor([1.0, 2.0]), lambda lib: lib.zeros(()),
]


@pytest.mark.parametrize("i", range(len(CREATION)))
def test_creation_matches_torch(i: int) -> None:
    a, b = CREATION[i](lucid), CREATION[i](torch)
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    assert a.shape == tuple(b.shape)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_creation_memory_and_grad_flags() -> None:
    arr = np.arange(4.0)
    assert np.shares_memory(lucid.as_tensor(arr).numpy(), arr)
    assert np.shares_memory(lucid.from_numpy(arr).numpy(), arr)
    assert not np.shares_memory(lucid.tensor(arr).numpy(), arr)
    t = lucid.tensor([1.0, 2.0])
    assert lucid.as_tensor(t) is t
    assert lucid.zeros(2, requires_grad=True).requires_grad
    assert lucid.randn(2, requires_grad=True).requires_grad
    assert lucid.tensor(t).tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="expected np.ndarray"):
        lucid.from_numpy([1, 2])


def test_random_creation_reproducible_and_in_range() -> None:
    lucid.manual_seed(0)
    a = (lucid.rand(3, 4), lucid.randn(2, dtype=lucid.float64), lucid.randint(0, 5, (6,)),
         lucid.randint(3, (2, 2)))
    lucid.manual_seed(0)
    b = (lucid.rand((3, 4)), lucid.randn(2, dtype=lucid.float64), lucid.randint(0, 5, (6,)),
         lucid.randint(3, (2, 2)))
    for u, v in zip(a, b):
        assert u.tolist() == v.tolist() and u.dtype is v.dtype
    assert a[0].dtype is lucid.float32 and 0 <= a[0].min().item() and a[0].max().item() < 1
    assert a[2].dtype is lucid.int64 and 0 <= a[2].min().item() and a[2].max().item() < 5
    g = lucid.Generator().manual_seed(5)
    first = lucid.randn(4, generator=g)
    g.manual_seed(5)
    assert lucid.randn(4, generator=g).tolist() == first.tolist()
    assert lucid.rand_like(first).shape == (4,) and lucid.randn_like(first).dtype is lucid.float32
    assert sorted(lucid.randperm(5).tolist()) == [0, 1, 2, 3, 4]


def test_devices() -> None:
    for dev in (None, "cpu", "cpu:0", lucid.device("cpu")):
        assert lucid.zeros(2, device=dev).device.type == "cpu"
    for fn in (lucid.zeros, lucid.ones, lucid.empty, lucid.rand, lucid.randn):
        with pytest.raises(RuntimeError, match="'cuda' is not available"):
            fn(2, device="cuda")
    with pytest.raises(RuntimeError, match="'cuda:1' is not available"):
        lucid.tensor([1.0], device="cuda:1")
    with pytest.raises(RuntimeError, match="'cuda' is not available"):
        lucid.ones(2).to("cuda")
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        lucid.device("gpu")
    assert lucid.device("cpu") == "cpu" and str(lucid.device("cpu", 0)) == "cpu:0"
    assert repr(lucid.device("cpu", 0)) == repr(torch.device("cpu", 0))


# --------------------------------------------------------------------------- errors
ERRORS = [
    (lambda: lucid.ones(2, 3) + lucid.ones(4), RuntimeError, r"\(2, 3\) and \(4,\)"),
    (lambda: lucid.ones(2, 3) * lucid.ones(3, 2), RuntimeError, r"\(2, 3\) and \(3, 2\)"),
    (lambda: lucid.ones(2, 3) @ lucid.ones(2, 3), RuntimeError,
     r"2x3 and 2x3.*\(2, 3\) and \(2, 3\)"),
    (lambda: lucid.ones(2, 2, 3) @ lucid.ones(3, 3, 4), RuntimeError,
     r"batch dimensions of shapes \(2, 2, 3\) and \(3, 3, 4\)"),
    (lambda: lucid.matmul(lucid.ones(3), lucid.tensor(2.0)), RuntimeError, "at least 1D"),
    (lambda: lucid.where(lucid.ones(2) > 0, lucid.ones(3), 0.0), RuntimeError,
     r"\(2,\) and \(3,\)"),
    (lambda: lucid.cat([lucid.ones(2, 3), lucid.ones(3, 2)]), RuntimeError,
     r"\(2, 3\) and \(3, 2\)"),
    (lambda: lucid.stack([lucid.ones(2), lucid.ones(3)]), RuntimeError, r"\[2\].*\[3\]"),
    (lambda: lucid.ones(2, 3).expand(4, 3, 2), RuntimeError, "expanded size"),
    (lambda: lucid.ones(2, 3).reshape(4, 4), RuntimeError,
     r"shape '\[4, 4\]' is invalid for input of size 6"),
    (lambda: lucid.ones(2, 3).permute(0), RuntimeError, "input.dim\\(\\) = 2 is not equal"),
    (lambda: lucid.ones(2, 3).permute(0, 0), RuntimeError, "duplicate dims"),
    (lambda: lucid.ones(2, 3).sum(dim=2), IndexError, "Dimension out of range"),
    (lambda: lucid.ones(2, 3)[2], IndexError, "index 2 is out of bounds for dimension 0"),
    (lambda: lucid.ones(2, 3)[0, 0, 0], IndexError, "too many indices"),
    (lambda: lucid.ones(2, 3)[lucid.ones(2)], IndexError, "tensors used as indices"),
    (lambda: lucid.ones(2, 3)[lucid.tensor([True, False, True])], IndexError,
     "shape of the mask"),
    (lambda: lucid.tensor(1.0)[0], IndexError, "invalid index of a 0-dim tensor"),
    (lambda: lucid.ones(2) + "a", TypeError, "unsupported operand"),
    (lambda: lucid.ones(2) @ 3, TypeError, "both arguments must be Tensors"),
    (lambda: lucid.tensor([[1, 2], [3]]), ValueError, "rectangular"),
    (lambda: lucid.tensor(["a"]), TypeError, "Could not infer dtype of str"),
    (lambda: lucid.tensor([1, None]), TypeError, "Could not infer dtype of NoneType"),
    (lambda: lucid.zeros(-1, 2), RuntimeError, "negative dimension -1"),
    (lambda: lucid.zeros(2.5), TypeError, "must be a sequence of ints"),
    (lambda: lucid.ones(2).item(), RuntimeError, "a Tensor with 2 elements cannot be converted"),
    (lambda: bool(lucid.ones(2)), RuntimeError, "ambiguous"),
    (lambda: len(lucid.tensor(1.0)), TypeError, "len\\(\\) of a 0-d tensor"),
    (lambda: iter(lucid.tensor(1.0)), TypeError, "iteration over a 0-d tensor"),
    (lambda: lucid.ones(2, requires_grad=True).numpy(), RuntimeError, "requires grad"),
    (lambda: lucid.softmax(lucid.tensor([1, 2]), 0), RuntimeError, "softmax"),
    (lambda: lucid.cat([]), RuntimeError, "non-empty list"),
    (lambda: lucid.tensor([True]) - lucid.tensor([False]), RuntimeError,
     "Subtraction, the `-` operator, with two bool tensors"),
    (lambda: -lucid.tensor([True]), RuntimeError, "bool"),
    (lambda: lucid.tensor([1, 2]) ** -1, RuntimeError, "Integers to negative integer powers"),
    (lambda: lucid.tensor([1, 2]) // 0, RuntimeError, "ZeroDivisionError"),
    (lambda: lucid.tensor([1.5]).sum(dim=(0, 0)), RuntimeError, "appears multiple times"),
    (lambda: lucid.clamp(lucid.ones(2)), RuntimeError, "At least one of 'min' or 'max'"),
    (lambda: lucid.zeros(0).max(), RuntimeError,
     "Expected reduction dim to be specified for input.numel\\(\\) == 0"),
    (lambda: lucid.ones(2, 3).split([1, 1], 1), RuntimeError, "sum exactly to 3"),
    (lambda: lucid.ones(2).view(3), RuntimeError, "invalid for input of size 2"),
    (lambda: lucid.ones(3).var(unbiased=2), TypeError, "unbiased"),
    (lambda: lucid.div(lucid.ones(2), 2, rounding_mode="round"), ValueError, "rounding_mode"),
    (lambda: lucid.ones(2).masked_fill(lucid.ones(2), 0), RuntimeError, "boolean masks"),
    (lambda: lucid.gather(lucid.ones(2, 3), 1, lucid.tensor([[5]])), RuntimeError,
     "index 5 is out of bounds"),
    (lambda: lucid.ones(2).to(3), TypeError, "invalid argument"),
    (lambda: lucid.rand(2, dtype=lucid.int64), RuntimeError, "floating point or complex dtype"),
    (lambda: lucid.ones(2).repeat_interleave(-1), RuntimeError, "non-negative"),
    (lambda: lucid.ones(2).pow("a"), TypeError, "got str"),
    (lambda: lucid.ones(2, 2, 2).t(), RuntimeError,
     "t\\(\\) expects a tensor with <= 2 dimensions"),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_bad_input_raises_a_clear_error(i: int) -> None:
    fn, exc, message = ERRORS[i]
    with pytest.raises(exc, match=message):
        fn()


def test_max_min_along_a_dim_return_named_pairs() -> None:
    x = lucid.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    out = x.max(dim=1)
    values, indices = out
    assert out.values is values and out.indices is indices
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert indices.dtype is lucid.int64 and not indices.requires_grad
    low = lucid.min(x, 0, keepdim=True)
    assert low.values.shape == (1, 3) and low.indices.tolist() == [[0, 1, 0]]
    assert repr(out) == repr(torch.tensor(x.numpy()).max(dim=1)).replace(
        "torch.return_types.", "")
