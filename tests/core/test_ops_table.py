"""Every core op against PyTorch: values, the gradient of every input, and second
derivatives, on seeded random float64 inputs (broadcast shapes included).

Each table entry names an op, one function written against the shared lucid/torch API
(called with the library module and the input tensors), the input shapes of every case,
and the domain the inputs are drawn from.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

import lucid

pytestmark = pytest.mark.filterwarnings("ignore:The use of `x.T`:UserWarning")

RTOL, ATOL = 1e-10, 1e-12

# input domains: how a standard normal draw is mapped
DOMAINS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "real": lambda z: z,
    "pos": lambda z: np.abs(z) + 0.5,
    "nonzero": lambda z: np.sign(z) * (np.abs(z) + 0.5),
    "unit": lambda z: np.tanh(z) * 0.9,
    "above-1": lambda z: np.abs(z) - 0.5,
}


@dataclass
class Op:
    name: str
    fn: Callable[..., Any]  # fn(lib, *tensors) with lib = lucid or torch
    shapes: list[tuple[tuple[int, ...], ...]]
    domain: str | tuple[str, ...] = "real"
    grad: bool = True  # differentiable (check first derivatives)
    gradgrad: bool = True  # check second derivatives too
    torch_grad: bool = True  # False: torch lacks the derivative; lucid's is gradchecked


S2 = [((3, 4),)]
S3 = [((2, 3, 4),)]
ANY = [((),), ((5,),), ((3, 4),), ((2, 3, 4),)]
BINARY = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 4)), ((), (2, 3)), ((5,), ()),
          ((2, 1, 4), (3, 1))]


def _unary(name: str, domain: str = "real", **kw: Any) -> Op:
    return Op(name, lambda lib, x: getattr(lib, name)(x), ANY, domain, **kw)


OPS: list[Op] = [
    # arithmetic (tensor-tensor with broadcasting, and with Python numbers)
    Op("add", lambda lib, a, b: a + b, BINARY),
    Op("add_alpha", lambda lib, a, b: lib.add(a, b, alpha=2.5), BINARY),
    Op("sub", lambda lib, a, b: a - b, BINARY),
    Op("sub_alpha", lambda lib, a, b: lib.sub(a, b, alpha=-1.5), BINARY),
    Op("mul", lambda lib, a, b: a * b, BINARY),
    Op("div", lambda lib, a, b: a / b, BINARY, ("real", "nonzero")),
    Op("floordiv", lambda lib, a, b: a // b, BINARY, ("real", "nonzero"), grad=False),
    Op("mod", lambda lib, a, b: a % b, BINARY, ("real", "nonzero")),
    Op("pow", lambda lib, a, b: a ** b, BINARY, ("pos", "real")),
    Op("scalar_add", lambda lib, a: 2.5 + a, ANY),
    Op("scalar_rsub", lambda lib, a: 2.5 - a, ANY),
    Op("scalar_mul", lambda lib, a: a * 3, ANY),
    Op("scalar_rdiv", lambda lib, a: 3 / a, ANY, "nonzero"),
    Op("scalar_div", lambda lib, a: a / -1.5, ANY),
    Op("scalar_floordiv", lambda lib, a: a // 0.7, ANY, grad=False),
    Op("scalar_mod", lambda lib, a: a % 1.5, ANY),
    # torch has no derivative for remainder(Scalar, Tensor); lucid's is checked numerically
    Op("scalar_rmod", lambda lib, a: 1.5 % a, ANY, "nonzero", torch_grad=False),
    Op("pow_2", lambda lib, a: a ** 2, ANY),
    Op("pow_3", lambda lib, a: a ** 3, ANY),
    Op("pow_0", lambda lib, a: a ** 0, ANY),
    Op("pow_half", lambda lib, a: a ** 0.5, ANY, "pos"),
    Op("pow_neg", lambda lib, a: a ** -1.5, ANY, "pos"),
    Op("rpow", lambda lib, a: 2 ** a, ANY),
    Op("rpow_float", lambda lib, a: 0.5 ** a, ANY),
    Op("neg", lambda lib, a: -a, ANY),
    Op("abs", lambda lib, a: abs(a), ANY),
    Op("lerp", lambda lib, a, b: lib.lerp(a, b, 0.3), BINARY),
    Op("addcmul", lambda lib, a, b: lib.addcmul(a, a, b, value=0.5), BINARY),
    Op("addcdiv", lambda lib, a, b: lib.addcdiv(a, a, b, value=2), BINARY, ("real", "nonzero")),
    Op("maximum", lambda lib, a, b: lib.maximum(a, b), BINARY),
    Op("minimum", lambda lib, a, b: lib.minimum(a, b), BINARY),
    Op("square", lambda lib, a: lib.square(a), ANY),
    # unary math
    _unary("exp"), _unary("log", "pos"), _unary("log2", "pos"), _unary("log10", "pos"),
    _unary("log1p", "above-1"), _unary("expm1"), _unary("sqrt", "pos"), _unary("rsqrt", "pos"),
    _unary("sin"), _unary("cos"), _unary("tan", "unit"), _unary("tanh"), _unary("sigmoid"),
    _unary("relu"), _unary("sign"), _unary("floor"), _unary("ceil"), _unary("round"),
    _unary("trunc"), _unary("reciprocal", "nonzero"), _unary("abs"), _unary("neg"),
    Op("frac", lambda lib, a: a.frac(), ANY),
    Op("round_decimals", lambda lib, a: lib.round(a * 10, decimals=1), ANY),
    Op("clamp", lambda lib, a: lib.clamp(a, -0.5, 0.7), ANY),
    Op("clamp_min", lambda lib, a: a.clamp(min=0.1), ANY),
    Op("clamp_max", lambda lib, a: a.clamp(max=-0.1), ANY),
    Op("clip", lambda lib, a: lib.clip(a, -1, 1), ANY),
    Op("clamp_tensor", lambda lib, a, lo, hi: lib.clamp(a, lo, hi),
       [((3, 4), (3, 4), (3, 4)), ((2, 3, 4), (4,), (3, 1))]),
    Op("clamp_tensor_min", lambda lib, a, lo: lib.clamp(a, min=lo), [((3, 4), (4,))]),
    Op("clamp_tensor_max", lambda lib, a, hi: lib.clamp(a, max=hi), [((3, 4), (3, 1))]),
    # matmul and friends
    Op("matmul", lambda lib, a, b: a @ b,
       [((3, 4), (4, 5)), ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((2, 3, 4), (4, 5)),
        ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 5)),
        ((2, 3, 4), (4,))]),
    Op("mm", lambda lib, a, b: lib.mm(a, b), [((3, 4), (4, 2))]),
    Op("bmm", lambda lib, a, b: lib.bmm(a, b), [((2, 3, 4), (2, 4, 2))]),
    Op("dot", lambda lib, a, b: lib.dot(a, b), [((5,), (5,))]),
    Op("outer", lambda lib, a, b: lib.outer(a, b), [((3,), (4,))]),
    # reductions
    Op("sum", lambda lib, a: a.sum(), ANY),
    Op("sum_dim", lambda lib, a: a.sum(1), S3),
    Op("sum_dims_keep", lambda lib, a: a.sum(dim=(0, 2), keepdim=True), S3),
    Op("sum_neg_dim", lambda lib, a: lib.sum(a, -1), S2),
    Op("mean", lambda lib, a: a.mean(), ANY),
    Op("mean_dims", lambda lib, a: a.mean((0, -1)), S3),
    Op("mean_keep", lambda lib, a: a.mean(1, keepdim=True), S3),
    Op("var", lambda lib, a: a.var(), [((5,),), ((3, 4),)]),
    Op("var_dim", lambda lib, a: a.var(1), S3),
    Op("var_unbiased_false", lambda lib, a: a.var(0, False), S3),
    Op("var_correction", lambda lib, a: a.var(dim=(0, 2), correction=2, keepdim=True), S3),
    Op("var_legacy_bool", lambda lib, a: a.var(False), S2),
    Op("std", lambda lib, a: a.std(), [((5,),), ((3, 4),)]),
    Op("std_dim", lambda lib, a: lib.std(a, 2, keepdim=True), S3),
    Op("std_correction0", lambda lib, a: a.std(dim=1, correction=0), S3),
    Op("prod", lambda lib, a: a.prod(), [((),), ((5,),), ((3, 4),)]),
    Op("prod_dim", lambda lib, a: a.prod(1), S3),
    Op("prod_dim_keep", lambda lib, a: a.prod(-1, keepdim=True), S3),
    Op("max", lambda lib, a: a.max(), ANY),
    Op("min", lambda lib, a: lib.min(a), ANY),
    Op("max_dim", lambda lib, a: a.max(1), S3),
    Op("max_dim_keep", lambda lib, a: a.max(dim=-1, keepdim=True), S3),
    Op("min_dim", lambda lib, a: lib.min(a, 0), S3),
    Op("max_0d", lambda lib, a: a.max(0), [((),)]),
    Op("amax", lambda lib, a: a.amax(), ANY),
    Op("amax_dims", lambda lib, a: a.amax((0, 2), keepdim=True), S3),
    Op("amin_dim", lambda lib, a: lib.amin(a, 1), S3),
    Op("argmax", lambda lib, a: a.argmax(), ANY, grad=False),
    Op("argmax_dim", lambda lib, a: a.argmax(1), S3, grad=False),
    Op("argmax_keep", lambda lib, a: a.argmax(dim=-1, keepdim=True), S3, grad=False),
    Op("argmin_dim", lambda lib, a: lib.argmin(a, 0), S3, grad=False),
    Op("logsumexp", lambda lib, a: a.logsumexp(1), S3),
    Op("logsumexp_dims", lambda lib, a: lib.logsumexp(a, (0, 2), keepdim=True), S3),
    Op("logsumexp_big", lambda lib, a: (a * 500).logsumexp(-1), S2),
    Op("softmax", lambda lib, a: a.softmax(-1), S3 + [((5,),)]),
    Op("softmax_dim0", lambda lib, a: lib.softmax(a, 0), S3),
    Op("log_softmax", lambda lib, a: a.log_softmax(1), S3),
    Op("log_softmax_big", lambda lib, a: lib.log_softmax(a * 300, -1), S2),
    Op("cumsum", lambda lib, a: a.cumsum(1), S3),
    Op("norm", lambda lib, a: a.norm(), S3),
    # shape and layout
    Op("reshape", lambda lib, a: a.reshape(4, -1), S3),
    Op("reshape_tuple", lambda lib, a: lib.reshape(a, (3, 8)), S3),
    Op("view", lambda lib, a: a.view(6, 4), S3),
    Op("view_of_transpose_reshape", lambda lib, a: a.transpose(0, 2).reshape(-1), S3),
    Op("flatten", lambda lib, a: a.flatten(), S3 + [((),)]),
    Op("flatten_range", lambda lib, a: lib.flatten(a, 1), S3),
    Op("unflatten", lambda lib, a: a.unflatten(2, (2, 2)), S3),
    Op("permute", lambda lib, a: a.permute(2, 0, 1), S3),
    Op("transpose", lambda lib, a: a.transpose(0, -1), S3),
    Op("swapaxes", lambda lib, a: lib.swapaxes(a, 1, 2), S3),
    Op("T", lambda lib, a: a.T, S2 + S3),
    Op("mT", lambda lib, a: a.mT, S3),
    Op("t", lambda lib, a: a.t(), S2 + [((5,),)]),
    Op("squeeze", lambda lib, a: a.squeeze(), [((1, 3, 1, 4),)]),
    Op("squeeze_dim", lambda lib, a: a.squeeze(2), [((1, 3, 1, 4),)]),
    Op("squeeze_dims", lambda lib, a: a.squeeze((0, 2)), [((1, 3, 1, 4),)]),
    Op("unsqueeze", lambda lib, a: a.unsqueeze(1), S3),
    Op("unsqueeze_neg", lambda lib, a: lib.unsqueeze(a, -1), S2),
    Op("expand", lambda lib, a: a.expand(2, 3, 4), [((3, 1),), ((4,),)]),
    Op("expand_keep", lambda lib, a: a.expand(-1, 5), [((3, 1),)]),
    Op("broadcast_to", lambda lib, a: lib.broadcast_to(a, (2, 3, 4)), [((1, 4),)]),
    Op("contiguous", lambda lib, a: a.T.contiguous(), S2),
    Op("clone", lambda lib, a: a.clone(), ANY),
    Op("cat", lambda lib, a, b: lib.cat([a, b, a], dim=1), [((2, 3, 4), (2, 1, 4))]),
    Op("cat_neg", lambda lib, a, b: lib.cat((a, b), -1), [((3, 2), (3, 4))]),
    Op("stack", lambda lib, a, b: lib.stack([a, b]), [((3, 4), (3, 4))]),
    Op("stack_dim", lambda lib, a, b: lib.stack([a, b, a], dim=-1), [((3, 4), (3, 4))]),
    Op("split", lambda lib, a: a.split(2, dim=1), [((3, 5),)]),
    Op("split_sizes", lambda lib, a: lib.split(a, [1, 3], 2), S3),
    Op("chunk", lambda lib, a: a.chunk(3, 1), [((3, 7),)]),
    Op("unbind", lambda lib, a: a.unbind(1), S3),
    Op("narrow", lambda lib, a: a.narrow(1, 1, 2), S3),
    Op("select", lambda lib, a: a.select(2, -1), S3),
    Op("where", lambda lib, c, a, b: lib.where(c > 0, a, b),
       [((3, 4), (3, 4), (3, 4)), ((3, 1), (4,), (2, 3, 4))]),
    Op("where_scalar", lambda lib, c, a: lib.where(c > 0, a, 0.5), [((3, 4), (3, 4))]),
    Op("masked_fill", lambda lib, c, a: a.masked_fill(c > 0, -2.0), [((3, 4), (3, 4)),
                                                                    ((4,), (3, 4))]),
    Op("flip", lambda lib, a: a.flip(0, 2), S3),
    Op("flip_list", lambda lib, a: lib.flip(a, [1]), S3),
    Op("roll", lambda lib, a: a.roll(2, 1), S3),
    Op("roll_multi", lambda lib, a: lib.roll(a, (1, -2), (0, 2)), S3),
    Op("roll_flat", lambda lib, a: a.roll(5), S3),
    Op("repeat", lambda lib, a: a.repeat(2, 1, 3), [((3, 4),), ((2, 1, 2),)]),
    Op("tile", lambda lib, a: lib.tile(a, (2,)), S2),
    Op("tile_more", lambda lib, a: a.tile(2, 1, 2), S2),
    Op("movedim", lambda lib, a: lib.movedim(a, 0, -1), S3),
    Op("gather", lambda lib, a: lib.gather(a, 1, lib.tensor([[0, 2, 1, 1], [3, 0, 0, 2],
                                                            [1, 1, 1, 1]])), [((3, 5),)]),
    Op("index_select", lambda lib, a: a.index_select(1, lib.tensor([2, 0, 2])), S3),
    Op("repeat_interleave", lambda lib, a: a.repeat_interleave(2, dim=1), S2),
    # indexing
    Op("index_int", lambda lib, a: a[1], S3),
    Op("index_neg_int", lambda lib, a: a[-1, 2], S3),
    Op("index_slice", lambda lib, a: a[:, 1:3], S3),
    Op("index_step", lambda lib, a: a[::2, :, 1::2], S3),
    Op("index_none_ellipsis", lambda lib, a: a[None, ..., 0, None], S3),
    Op("index_int_array", lambda lib, a: a[lib.tensor([0, 1, 0])], S3),
    Op("index_list", lambda lib, a: a[[2, 0, 2, 2]], S2),
    Op("index_two_arrays", lambda lib, a: a[[0, 1, 1], [2, 0, 2]], S3),
    Op("index_array_mixed", lambda lib, a: a[:, [1, 1, 0], 1:], S3),
    Op("index_separated_arrays", lambda lib, a: a[[1, 0], :, [3, 1]], S3),
    Op("index_bool_mask", lambda lib, a: a[a > 0], S3),
    Op("index_bool_row_mask", lambda lib, a: a[lib.tensor([True, False, True])], S2),
    Op("index_0d_int_tensor", lambda lib, a: a[lib.tensor(1)], S2),
    # non-differentiable element-wise results
    Op("eq", lambda lib, a, b: lib.eq(a.round(), b.round()), BINARY, grad=False),
    Op("ne", lambda lib, a, b: a.round() != b.round(), BINARY, grad=False),
    Op("lt", lambda lib, a, b: a < b, BINARY, grad=False),
    Op("le", lambda lib, a, b: lib.le(a, b), BINARY, grad=False),
    Op("gt", lambda lib, a, b: a > b, BINARY, grad=False),
    Op("ge", lambda lib, a, b: a >= 0.5, BINARY, grad=False),
    Op("logical_and", lambda lib, a, b: lib.logical_and(a > 0, b > 0), BINARY, grad=False),
    Op("logical_or", lambda lib, a, b: lib.logical_or(a > 0, b), BINARY, grad=False),
    Op("logical_xor", lambda lib, a, b: lib.logical_xor(a > 0, b > 0), BINARY, grad=False),
    Op("logical_not", lambda lib, a: lib.logical_not(a > 0), ANY, grad=False),
    Op("bitwise", lambda lib, a, b: ((a > 0) & (b > 0)) | ~(a > 1) ^ (b < 0), BINARY,
       grad=False),
    Op("isnan", lambda lib, a: lib.isnan(lib.log(a)), ANY, grad=False),
    Op("isinf_isfinite", lambda lib, a: lib.isinf(1 / (a * 0)) & ~lib.isfinite(a / 0), ANY,
       grad=False),
]


def _draw(shape: tuple[int, ...], domain: str, seed: int) -> np.ndarray:
    z = np.random.default_rng(seed).standard_normal(shape)
    return np.asarray(DOMAINS[domain](z), dtype=np.float64)


def _inputs(op: Op, shapes: tuple[tuple[int, ...], ...], dtype: str = "float64"
            ) -> list[np.ndarray]:
    domains = op.domain if isinstance(op.domain, tuple) else (op.domain,) * len(shapes)
    base = zlib.crc32(op.name.encode())
    return [_draw(s, d, base + i).astype(dtype) for i, (s, d) in enumerate(zip(shapes, domains))]


def _outputs(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy(force=True) if isinstance(t, torch.Tensor) else t.detach().numpy()


def _zero(t: Any) -> bool:
    """``None`` or all (numerically) zero: how a missing second derivative may look."""
    return t is None or np.allclose(_np(t), 0, atol=ATOL)


def _close(a: Any, b: Any, what: str) -> None:
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1], (what, a.dtype, b.dtype)
    assert tuple(a.shape) == tuple(b.shape), (what, a.shape, b.shape)
    expected = _np(b)
    scale = max(1.0, float(np.abs(expected[np.isfinite(expected)]).max(initial=0)))
    np.testing.assert_allclose(_np(a), expected, rtol=RTOL, atol=ATOL * scale, err_msg=what)


CASES = [pytest.param(op, i, id=f"{op.name}-{i}") for op in OPS for i in range(len(op.shapes))]


def _run(op: Op, case: int, requires_grad: bool) -> tuple[list[Any], list[Any], list, list]:
    arrays = _inputs(op, op.shapes[case])
    lx = [lucid.tensor(a, requires_grad=requires_grad) for a in arrays]
    tx = [torch.tensor(a, requires_grad=requires_grad) for a in arrays]
    return lx, tx, _outputs(op.fn(lucid, *lx)), _outputs(op.fn(torch, *tx))


@pytest.mark.parametrize("op, case", CASES)
def test_forward_matches_torch(op: Op, case: int) -> None:
    _, _, lo, to = _run(op, case, requires_grad=False)
    assert len(lo) == len(to)
    for i, (a, b) in enumerate(zip(lo, to)):
        _close(a, b, f"{op.name} output {i}")


@pytest.mark.parametrize("op, case", CASES)
def test_forward_float32_matches_torch(op: Op, case: int) -> None:
    arrays = [a.astype(np.float32) for a in _inputs(op, op.shapes[case])]
    lo = _outputs(op.fn(lucid, *[lucid.tensor(a) for a in arrays]))
    to = _outputs(op.fn(torch, *[torch.tensor(a) for a in arrays]))
    for a, b in zip(lo, to):
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1], op.name
        if op.name not in ("floordiv", "scalar_floordiv"):  # float32 rounding at boundaries
            np.testing.assert_allclose(_np(a), _np(b), rtol=2e-5, atol=1e-5, err_msg=op.name)


GRAD_CASES = [c for c in CASES if c.values[0].grad and c.values[0].torch_grad]

# composites (lucid builds them from other ops, so their last node differs) and PyTorch
# internals (its matmul's reshapes, split views)
NAME_DIFFERS = {"addcdiv", "addcmul", "chunk", "index_select", "masked_fill", "matmul", "bmm",
                "norm", "roll_flat", "round_decimals", "scalar_rdiv", "split", "split_sizes",
                "unbind", "view_of_transpose_reshape", "clamp_tensor_min"}


@pytest.mark.parametrize("op, case", [c for c in GRAD_CASES if c.values[0].name not in
                                      NAME_DIFFERS])
def test_grad_fn_names_match_torch(op: Op, case: int) -> None:
    _, _, lo, to = _run(op, case, requires_grad=True)
    for a, b in zip(lo, to):
        assert (a.grad_fn and a.grad_fn.name()) == (b.grad_fn and b.grad_fn.name()), op.name


def _differentiable(outs: list[Any]) -> list[int]:
    return [i for i, o in enumerate(outs) if o.dtype.is_floating_point and o.requires_grad]


@pytest.mark.parametrize("op, case", GRAD_CASES)
def test_gradients_match_torch(op: Op, case: int) -> None:
    lx, tx, lo, to = _run(op, case, requires_grad=True)
    idx = _differentiable(to)
    assert idx == _differentiable(lo), op.name
    rng = np.random.default_rng(7)
    gos = [rng.standard_normal(tuple(to[i].shape)) for i in idx]
    lucid.autograd.backward([lo[i] for i in idx], [lucid.tensor(g) for g in gos])
    torch.autograd.backward([to[i] for i in idx], [torch.tensor(g) for g in gos])
    for k, (a, b) in enumerate(zip(lx, tx)):
        if b.grad is None:
            assert a.grad is None or not np.any(_np(a.grad)), (op.name, k)
        else:
            _close(a.grad, b.grad, f"{op.name} grad of input {k}")


@pytest.mark.parametrize("op, case", [c for c in CASES if not c.values[0].torch_grad])
def test_gradients_without_torch_counterpart_pass_gradcheck(op: Op, case: int) -> None:
    xs = [lucid.tensor(a, requires_grad=True) for a in _inputs(op, op.shapes[case])]
    assert lucid.autograd.gradcheck(lambda *t: op.fn(lucid, *t), xs)


@pytest.mark.parametrize("op, case", [c for c in GRAD_CASES if c.values[0].gradgrad])
def test_second_derivatives_match_torch(op: Op, case: int) -> None:
    """grad of <grad(outputs . go, inputs), v> with respect to the inputs (and to go)."""
    lx, tx, lo, to = _run(op, case, requires_grad=True)
    idx = _differentiable(to)
    rng = np.random.default_rng(11)
    go = [rng.standard_normal(tuple(to[i].shape)) for i in idx]
    v = [rng.standard_normal(a.shape) for a in _inputs(op, op.shapes[case])]
    results = []
    for lib, xs, outs in ((lucid, lx, lo), (torch, tx, to)):
        gos = [lib.tensor(g, requires_grad=True) for g in go]
        firsts = lib.autograd.grad([outs[i] for i in idx], xs, gos, create_graph=True,
                                   allow_unused=True)
        total = sum((g * lib.tensor(w)).sum() for g, w in zip(firsts, v)
                    if g is not None and g.requires_grad)
        if not isinstance(total, (lib.Tensor,)):
            results.append(None)  # first derivatives are constants: nothing to compare
            continue
        results.append(lib.autograd.grad(total, xs + gos, allow_unused=True))
    if results[1] is None:
        assert results[0] is None or all(_zero(g) for g in results[0])
        return
    assert results[0] is not None, op.name
    for k, (a, b) in enumerate(zip(*results)):
        if _zero(b):
            assert _zero(a), (op.name, k)
        else:
            assert a is not None, (op.name, k)
            _close(a, b, f"{op.name} second derivative {k}")


@pytest.mark.parametrize("op, case", GRAD_CASES)
def test_second_backward_fails_exactly_like_torch(op: Op, case: int) -> None:
    """A second backward through a freed graph raises where PyTorch raises (nodes that saved
    data), and works where it works (nodes that saved none)."""
    outcomes = []
    for lib in (lucid, torch):
        xs = [lib.tensor(a, requires_grad=True) for a in _inputs(op, op.shapes[case])]
        outs = [o for o in _outputs(op.fn(lib, *xs)) if o.requires_grad]
        total = sum(o.sum() for o in outs)
        total.backward()
        try:
            total.backward()
            outcomes.append("ok")
        except RuntimeError as e:
            assert "second time" in str(e) or "backward through the graph" in str(e)
            outcomes.append("raised")
    assert outcomes[0] == outcomes[1], (op.name, outcomes)
