"""dtypes and PyTorch's type promotion: tensor-tensor (with 0-d priority), tensor-scalar,
default dtype, inference from Python data, and the result dtypes of ops."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest
import torch

import lucid

pytestmark = [
    pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental"),
    pytest.mark.filterwarnings("ignore:Creating a tensor from a list of numpy.ndarrays"),
]

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64",
         "complex64", "complex128"]
SCALARS = [True, 3, -2, 2.5, 1j, np.float64(2.5), np.float32(1.5), np.int32(3), np.int64(-4),
           np.complex128(1j)]


def _make(lib, name: str, zero_dim: bool):
    dt = getattr(lib, name)
    shape = () if zero_dim else (2,)
    return lib.ones(shape, dtype=dt)


def _name(dt) -> str:
    return str(dt).split(".")[-1]


def _expected(torch_dtype) -> str:
    # lucid has no complex32: where PyTorch would produce it, lucid uses complex64
    name = _name(torch_dtype)
    return "complex64" if name == "complex32" else name


def test_dtype_objects() -> None:
    assert repr(lucid.float32) == "lucid.float32"
    assert lucid.float is lucid.float32 and lucid.double is lucid.float64
    assert lucid.long is lucid.int64 and lucid.half is lucid.float16
    assert lucid.float32.is_floating_point and not lucid.int64.is_floating_point
    assert lucid.complex64.is_complex and lucid.complex64.to_real() is lucid.float32
    assert lucid.float64.to_complex() is lucid.complex128
    for name in NAMES:
        ld, td = getattr(lucid, name), getattr(torch, name)
        assert (ld.itemsize, ld.is_signed) == (td.itemsize, td.is_signed), name
        assert pickle.loads(pickle.dumps(ld)) is ld


@pytest.mark.parametrize("a, b", list(itertools.product(NAMES, NAMES)))
def test_promote_types_matches_torch(a: str, b: str) -> None:
    got = lucid.promote_types(getattr(lucid, a), getattr(lucid, b))
    assert _name(got) == _expected(torch.promote_types(getattr(torch, a), getattr(torch, b)))


@pytest.mark.parametrize("a, b", list(itertools.product(NAMES, NAMES)))
@pytest.mark.parametrize("zero_a, zero_b", [(False, False), (False, True), (True, False),
                                            (True, True)])
def test_tensor_tensor_promotion_matches_torch(a: str, b: str, zero_a: bool, zero_b: bool
                                               ) -> None:
    lt = (_make(lucid, a, zero_a), _make(lucid, b, zero_b))
    tt = (_make(torch, a, zero_a), _make(torch, b, zero_b))
    expected = _expected(torch.result_type(*tt))
    assert _name(lucid.result_type(*lt)) == expected
    assert _name((lt[0] * lt[1]).dtype) == _name((tt[0] * tt[1]).dtype).replace(
        "complex32", "complex64")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scalar", SCALARS, ids=repr)
@pytest.mark.parametrize("zero_dim", [False, True])
def test_tensor_scalar_promotion_matches_torch(name: str, scalar, zero_dim: bool) -> None:
    lt, tt = _make(lucid, name, zero_dim), _make(torch, name, zero_dim)
    expected = _expected(torch.result_type(tt, scalar))
    assert _name(lucid.result_type(lt, scalar)) == expected
    assert _name(lucid.result_type(scalar, lt)) == expected
    if name != "bool":
        assert _name((lt * scalar).dtype) == expected
        assert _name((scalar + lt).dtype) == expected


def test_numpy_bool_scalar_counts_as_bool() -> None:
    # PyTorch 2.13 promotes ``int_tensor * np.bool_(True)`` to float32, treating the NumPy
    # bool as a float: a defect. lucid treats it like Python's ``True``.
    x = lucid.ones(2, dtype=lucid.int32)
    assert (x * np.bool_(True)).dtype is (x * True).dtype is lucid.int32
    assert (lucid.ones(2, dtype=lucid.bool) & np.bool_(True)).dtype is lucid.bool


@pytest.mark.parametrize("a, b", list(itertools.product(NAMES[1:9], NAMES[1:9])))
def test_true_division_and_floor_division_dtypes(a: str, b: str) -> None:
    la, lb = _make(lucid, a, False), _make(lucid, b, True)
    ta, tb = _make(torch, a, False), _make(torch, b, True)
    assert _name((la / lb).dtype) == _name((ta / tb).dtype)
    assert _name((la // lb).dtype) == _name((ta // tb).dtype)
    assert _name((la ** 2).dtype) == _name((ta ** 2).dtype)
    assert _name((la ** 0.5).dtype) == _name((ta ** 0.5).dtype)


@pytest.mark.parametrize("name", NAMES)
def test_reduction_dtypes_match_torch(name: str) -> None:
    lt, tt = _make(lucid, name, False), _make(torch, name, False)
    assert _name(lt.sum().dtype) == _name(tt.sum().dtype)
    assert _name(lt.sum(0).dtype) == _name(tt.sum(0).dtype)
    assert _name(lt.cumsum(0).dtype) == _name(tt.cumsum(0).dtype)
    if name != "bool" and not name.startswith("complex"):
        assert _name(lt.prod().dtype) == _name(tt.prod().dtype)
        assert _name(lt.max().dtype) == _name(tt.max().dtype)
    if name.startswith(("float", "complex")):
        assert _name(lt.mean().dtype) == _name(tt.mean().dtype)
    else:
        with pytest.raises(RuntimeError, match="mean"):
            lt.mean()


UNARY = ["abs", "neg", "sign", "floor", "ceil", "round", "trunc", "relu", "exp", "sigmoid",
         "sqrt", "reciprocal", "tanh", "log", "sin"]


@pytest.mark.parametrize("name", ["bool", "uint8", "int32", "int64", "float16", "float64"])
@pytest.mark.parametrize("op", UNARY)
def test_unary_result_dtype_or_error_matches_torch(name: str, op: str) -> None:
    try:
        expected = _name(getattr(torch, op)(_make(torch, name, False)).dtype)
    except (RuntimeError, NotImplementedError):
        with pytest.raises(RuntimeError):
            getattr(lucid, op)(_make(lucid, name, False))
        return
    assert _name(getattr(lucid, op)(_make(lucid, name, False)).dtype) == expected


DATA = [1, 2.5, True, 1j, [1, 2], [1, 2.0], [True, 2], [[1, 2], [3, 4]], [], [True, False],
        np.float64(1.5), np.float32(1.5), [np.float64(1.0), 2.0], [np.float16(1), 1],
        [np.int32(1), 2], np.zeros(2, dtype=np.float32), np.zeros(2, dtype=np.int16),
        [np.zeros(2, dtype=np.float32), [1, 2]], (1, 2.0), [[1j, 2]]]


@pytest.mark.parametrize("data", DATA, ids=repr)
def test_tensor_dtype_inference_matches_torch(data) -> None:
    lt, tt = lucid.tensor(data), torch.tensor(data)
    assert _name(lt.dtype) == _name(tt.dtype)
    assert lt.shape == tuple(tt.shape)
    np.testing.assert_array_equal(lt.numpy(), tt.numpy())


def test_default_dtype_controls_floats_and_complex() -> None:
    assert lucid.get_default_dtype() is lucid.float32
    lucid.set_default_dtype(lucid.float64)
    try:
        assert lucid.tensor(1.0).dtype is lucid.float64
        assert lucid.tensor(1j).dtype is lucid.complex128
        assert lucid.zeros(2).dtype is lucid.float64
        assert (lucid.tensor([1, 2]) * 0.5).dtype is lucid.float64
        assert (lucid.tensor([1, 2]) / 2).dtype is lucid.float64
        assert repr(lucid.tensor([1.5])) == "tensor([1.5000])"
        assert repr(lucid.tensor([1.5], dtype=lucid.float32)) == (
            "tensor([1.5000], dtype=lucid.float32)")
    finally:
        lucid.set_default_dtype(lucid.float32)
    assert lucid.tensor(1.0).dtype is lucid.float32
    assert lucid.tensor(3).dtype is lucid.int64


def test_dtype_resolution_and_errors() -> None:
    assert lucid.zeros(2, dtype="float64").dtype is lucid.float64
    assert lucid.zeros(2, dtype=float).dtype is lucid.float32
    assert lucid.zeros(2, dtype=int).dtype is lucid.int64
    assert lucid.zeros(2, dtype=np.int16).dtype is lucid.int16
    with pytest.raises(TypeError, match="only floating-point types"):
        lucid.set_default_dtype(lucid.int32)
    with pytest.raises(TypeError, match="unknown dtype 'float8'"):
        lucid.zeros(2, dtype="float8")
    with pytest.raises(TypeError, match="uint16"):
        lucid.tensor(np.zeros(2, dtype=np.uint16))
    with pytest.raises(TypeError, match="dtype must be a lucid dtype"):
        lucid.zeros(2, dtype=object())


def test_integer_scalars_wrap_and_overflow() -> None:
    x = lucid.tensor([1], dtype=lucid.uint8)
    assert (x + 300).tolist() == (torch.tensor([1], dtype=torch.uint8) + 300).tolist()
    assert (x - 2).tolist() == (torch.tensor([1], dtype=torch.uint8) - 2).tolist()
    with pytest.raises(RuntimeError, match="overflow"):
        lucid.tensor([1]) + 2**70
