"""Loss functions against PyTorch: values, gradients of input and target, errors."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lucid
import lucid.nn.functional as F

REDUCTIONS = ("none", "mean", "sum")
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-11, atol=1e-12)}


def _pair(arr: np.ndarray, grad: bool = False) -> tuple[lucid.Tensor, torch.Tensor]:
    lt = lucid.tensor(arr)
    tt = torch.tensor(arr)
    if grad:
        lt.requires_grad_()
        tt.requires_grad_()
    return lt, tt


def _close(a: lucid.Tensor | None, b: torch.Tensor | None, dtype: type) -> None:
    assert (a is None) == (b is None)
    if a is None:
        return
    assert a.shape == tuple(b.shape)
    assert a.dtype.name == str(b.dtype).removeprefix("torch.")
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **TOL[dtype])


def _check(lfn, tfn, arrays: list[np.ndarray], grads: list[bool], dtype: type,
           **kwargs) -> None:
    """Compare a loss and the gradients of the inputs flagged in ``grads``."""
    pairs = [_pair(a, g) for a, g in zip(arrays, grads)]
    lout = lfn(*[p[0] for p in pairs], **kwargs)
    tout = tfn(*[p[1] for p in pairs], **kwargs)
    _close(lout, tout, dtype)
    if not any(grads):
        return
    seed = np.random.default_rng(0).standard_normal(lout.shape).astype(dtype)
    lout.backward(lucid.tensor(seed))
    tout.backward(torch.tensor(seed))
    for (lt, tt), g in zip(pairs, grads):
        if g:
            _close(lt.grad, tt.grad, dtype)


def _kw_tensors(kw: dict, lib) -> dict:
    out = {}
    for k, v in kw.items():
        out[k] = lib.tensor(v) if isinstance(v, np.ndarray) else v
    return out


def _both(name: str, **kw):
    """lucid and torch functions with tensor keyword arguments converted per library."""
    lk, tk = _kw_tensors(kw, lucid), _kw_tensors(kw, torch)
    return (lambda *a: getattr(F, name)(*a, **lk)), (lambda *a: getattr(TF, name)(*a, **tk))


# --------------------------------------------------------------------------- regression
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pointwise_losses(name: str, dtype: type) -> None:
    rng = np.random.default_rng(1)
    for shape, reduction, weighted in itertools.product(
            [(), (5,), (3, 4), (2, 3, 4)], REDUCTIONS, [False, True]):
        x = rng.standard_normal(shape).astype(dtype)
        t = rng.standard_normal(shape).astype(dtype)
        if x.size > 2:
            t.reshape(-1)[:2] = x.reshape(-1)[:2]  # ties: the L1 gradient is 0 there
        kw = dict(reduction=reduction)
        if weighted:
            kw["weight"] = rng.random(shape).astype(dtype)
        lf, tf = _both(name, **kw)
        _check(lf, tf, [x, t], [True, True], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_smooth_l1(dtype: type) -> None:
    rng = np.random.default_rng(2)
    for shape, reduction, beta in itertools.product(
            [(7,), (3, 5)], REDUCTIONS, [0.0, 0.3, 1.0, 2.5]):
        x = (rng.standard_normal(shape) * 2).astype(dtype)
        t = (rng.standard_normal(shape) * 2).astype(dtype)
        t.reshape(-1)[0] = x.reshape(-1)[0]
        lf, tf = _both("smooth_l1_loss", reduction=reduction, beta=beta)
        _check(lf, tf, [x, t], [True, True], dtype)


def test_regression_broadcast_warns_and_promotes() -> None:
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 1))
    for name in ("mse_loss", "l1_loss", "smooth_l1_loss"):
        with pytest.warns(UserWarning, match="different to the input size"):
            _check(getattr(F, name), getattr(TF, name), [x, t], [True, True], np.float64)
    # float32 input with an int64 target promotes to float32, like PyTorch
    _check(F.mse_loss, TF.mse_loss, [x.astype(np.float32), np.arange(12).reshape(3, 4)],
           [True, False], np.float32)


def test_regression_empty_and_legacy_args() -> None:
    empty = np.zeros((0, 3))
    assert np.isnan(F.mse_loss(lucid.tensor(empty), lucid.tensor(empty)).item())
    assert F.l1_loss(lucid.tensor(empty), lucid.tensor(empty), reduction="sum").item() == 0
    x, t = _pair(np.arange(4.0)), _pair(np.ones(4))
    for size_average, reduce in [(False, None), (None, False), (True, True)]:
        with pytest.warns(UserWarning, match="size_average and reduce args"):
            got = F.mse_loss(x[0], t[0], size_average, reduce)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = TF.mse_loss(x[1], t[1], size_average, reduce)
        _close(got, want, np.float64)


# --------------------------------------------------------------------------- NLL / CE
def _class_problem(rng, shape: tuple[int, ...], n_ignored: int, ignore_index: int):
    c = shape[1] if len(shape) > 1 else shape[0]
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    target = rng.integers(0, c, tshape)
    if n_ignored and target.ndim:
        flat = target.reshape(-1)
        flat[rng.permutation(flat.size)[:n_ignored]] = ignore_index
    return c, target


CLASS_SHAPES = [(5,), (6, 4), (3, 4, 5), (2, 3, 4, 2), (2, 3, 2, 2, 3)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_class_indices(dtype: type) -> None:
    rng = np.random.default_rng(4)
    ignoring = [(0, -100), (2, -100), (2, 1)]  # (number of ignored targets, ignore_index)
    grid = itertools.product(CLASS_SHAPES, REDUCTIONS, [False, True], ignoring, [0.0, 0.15])
    for shape, reduction, weighted, (n_ignored, ignore_index), smoothing in grid:
        c, target = _class_problem(rng, shape, n_ignored, ignore_index)
        x = (rng.standard_normal(shape) * 2).astype(dtype)
        kw = dict(reduction=reduction, ignore_index=ignore_index, label_smoothing=smoothing)
        if weighted:
            kw["weight"] = rng.random(c).astype(dtype) + 0.1
        lf, tf = _both("cross_entropy", **kw)
        _check(lf, tf, [x, target], [True, False], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nll_loss(dtype: type) -> None:
    rng = np.random.default_rng(5)
    grid = itertools.product(CLASS_SHAPES, REDUCTIONS, [False, True], [0, 3])
    for shape, reduction, weighted, n_ignored in grid:
        c, target = _class_problem(rng, shape, n_ignored, -100)
        x = rng.standard_normal(shape).astype(dtype)
        kw = dict(reduction=reduction)
        if weighted:
            kw["weight"] = rng.random(c).astype(dtype) + 0.1
        lf, tf = _both("nll_loss", **kw)
        _check(lf, tf, [x, target], [True, False], dtype)


def test_nll_uint8_target_and_one_element_target() -> None:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 3))
    _check(F.nll_loss, TF.nll_loss, [x, np.array([0, 2, 1, 1], np.uint8)], [True, False],
           np.float64)
    # (C,) input with a one-element (1,) target: PyTorch computes the value but its backward
    # crashes ("size mismatch"); lucid treats the target as the 0-d target it stands for.
    logits = rng.standard_normal(4)
    _check(F.cross_entropy, TF.cross_entropy, [logits, np.array([2])], [False, False],
           np.float64, reduction="none")
    lx, tx = _pair(logits, True)
    F.cross_entropy(lx, lucid.tensor([2])).backward()
    TF.cross_entropy(tx, torch.tensor(2)).backward()
    _close(lx.grad, tx.grad, np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_probabilities(dtype: type) -> None:
    rng = np.random.default_rng(7)
    grid = itertools.product([(5,), (6, 4), (2, 3, 4), (2, 3, 2, 2)], REDUCTIONS,
                             [False, True], [0.0, 0.2])
    for shape, reduction, weighted, smoothing in grid:
        x = rng.standard_normal(shape).astype(dtype)
        cdim = 1 if len(shape) > 1 else 0
        p = rng.random(shape).astype(dtype)
        p = p / p.sum(cdim, keepdims=True)
        kw = dict(reduction=reduction, label_smoothing=smoothing)
        if weighted:
            kw["weight"] = rng.random(shape[cdim]).astype(dtype)
        lf, tf = _both("cross_entropy", **kw)
        _check(lf, tf, [x, p], [True, True], dtype)


def test_class_losses_all_ignored_and_empty() -> None:
    x = np.random.default_rng(8).standard_normal((3, 4))
    ignored = np.full(3, -100)
    for reduction, smoothing in itertools.product(REDUCTIONS, [0.0, 0.1]):
        lf, tf = _both("cross_entropy", reduction=reduction, label_smoothing=smoothing)
        _check(lf, tf, [x, ignored], [True, False], np.float64)
    empty = np.zeros((0, 3))
    for reduction in REDUCTIONS:
        lf, tf = _both("cross_entropy", reduction=reduction)
        _check(lf, tf, [empty, np.zeros(0, np.int64)], [False, False], np.float64)
        _check(lf, tf, [empty, empty], [False, False], np.float64)


def test_cross_entropy_double_backward() -> None:
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 3))
    target = np.array([0, 2, 1, 2])
    w = rng.random(3)
    lx, tx = _pair(x, True)
    (lg,) = lucid.autograd.grad(
        F.cross_entropy(lx, lucid.tensor(target), weight=lucid.tensor(w), label_smoothing=0.1),
        lx, create_graph=True)
    (tg,) = torch.autograd.grad(
        TF.cross_entropy(tx, torch.tensor(target), weight=torch.tensor(w), label_smoothing=0.1),
        tx, create_graph=True)
    (lg * lg).sum().backward()
    (tg * tg).sum().backward()
    _close(lx.grad, tx.grad, np.float64)


# --------------------------------------------------------------------------- binary
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy(dtype: type) -> None:
    rng = np.random.default_rng(10)
    for shape, reduction, weight_shape in itertools.product(
            [(6,), (3, 4), (2, 3, 2)], REDUCTIONS, [None, "full", "last"]):
        x = rng.uniform(0.02, 0.98, shape).astype(dtype)
        t = rng.random(shape).astype(dtype)
        kw = dict(reduction=reduction)
        if weight_shape == "full":
            kw["weight"] = rng.random(shape).astype(dtype)
        elif weight_shape == "last":
            kw["weight"] = rng.random(shape[-1:]).astype(dtype)
        lf, tf = _both("binary_cross_entropy", **kw)
        _check(lf, tf, [x, t], [True, True], dtype)


def test_binary_cross_entropy_log_clamp() -> None:
    """Inputs at exactly 0 and 1 give the clamped loss 100 and PyTorch's gradients."""
    x = np.array([0.0, 1.0, 1e-30, 1 - 1e-12, 0.5, 1.0])
    t = np.array([1.0, 0.0, 0.3, 0.9, 1.0, 1.0])
    for dtype in (np.float32, np.float64):
        lf, tf = _both("binary_cross_entropy", reduction="none")
        _check(lf, tf, [x.astype(dtype), t.astype(dtype)], [True, False], dtype)
    loss = F.binary_cross_entropy(lucid.tensor(x[:2]), lucid.tensor(t[:2]), reduction="none")
    assert loss.tolist() == [100.0, 100.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_with_logits(dtype: type) -> None:
    rng = np.random.default_rng(11)
    grid = itertools.product([(6,), (3, 4), (2, 3, 4)], REDUCTIONS, [False, True],
                             [False, True])
    for shape, reduction, weighted, pos_weighted in grid:
        x = (rng.standard_normal(shape) * 4).astype(dtype)
        x.reshape(-1)[0] = 40.0  # saturated logits stay exact
        x.reshape(-1)[-1] = -40.0
        t = rng.random(shape).astype(dtype)
        kw = dict(reduction=reduction)
        if weighted:
            kw["weight"] = rng.random(shape).astype(dtype)
        if pos_weighted:
            kw["pos_weight"] = (rng.random(shape[-1:]) * 3).astype(dtype)
        lf, tf = _both("binary_cross_entropy_with_logits", **kw)
        _check(lf, tf, [x, t], [True, True], dtype)


def test_bce_with_logits_double_backward() -> None:
    rng = np.random.default_rng(12)
    x, t, pw = rng.standard_normal(5), rng.random(5), rng.random(5) * 2
    lx, tx = _pair(x, True)
    lt, tt = _pair(t, True)
    lgx, lgt = lucid.autograd.grad(
        F.binary_cross_entropy_with_logits(lx, lt, pos_weight=lucid.tensor(pw)), (lx, lt),
        create_graph=True)
    tgx, tgt = torch.autograd.grad(
        TF.binary_cross_entropy_with_logits(tx, tt, pos_weight=torch.tensor(pw)), (tx, tt),
        create_graph=True)
    ((lgx * lgx).sum() + (lgt * lgt).sum()).backward()
    ((tgx * tgx).sum() + (tgt * tgt).sum()).backward()
    _close(lx.grad, tx.grad, np.float64)
    _close(lt.grad, tt.grad, np.float64)


# --------------------------------------------------------------------------- errors
def _raises(exc: type, match: str, fn, *args, **kwargs) -> None:
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


def test_reduction_and_type_errors() -> None:
    x = lucid.randn(3, 4)
    t = lucid.tensor([0, 1, 3])
    for fn, target in [(F.cross_entropy, t), (F.nll_loss, t), (F.mse_loss, x),
                       (F.l1_loss, x), (F.smooth_l1_loss, x)]:
        _raises(ValueError, "foo is not a valid value for reduction", fn, x, target,
                reduction="foo")
    _raises(ValueError, "foo is not a valid value", F.binary_cross_entropy, x.sigmoid(),
            x.sigmoid(), reduction="foo")
    _raises(TypeError, "argument 'target' must be Tensor, not list", F.mse_loss, x, [1.0])
    _raises(TypeError, "argument 'input' must be Tensor", F.cross_entropy, [1.0], t)
    _raises(RuntimeError, "expected floating point tensors", F.mse_loss,
            lucid.tensor([1, 2]), lucid.tensor([1, 2]))
    _raises(RuntimeError, "negative values for beta", F.smooth_l1_loss, x, x, beta=-1.0)
    _raises(ValueError, "Weights and input must have the same size", F.mse_loss, x, x,
            weight=lucid.ones(4))
    with pytest.warns(UserWarning, match="different to the input size"):
        _raises(RuntimeError, "must match", F.mse_loss, x, lucid.randn(5))


def test_class_loss_errors() -> None:
    x = lucid.randn(3, 4)
    ce, nll = F.cross_entropy, F.nll_loss
    _raises(IndexError, "Target 4 is out of bounds", ce, x, lucid.tensor([0, 1, 4]))
    _raises(IndexError, "Target -1 is out of bounds", nll, x, lucid.tensor([0, -1, 2]))
    _raises(RuntimeError, "expected target dtype to be Long or Byte, but got Int", ce, x,
            lucid.tensor([0, 1, 3], dtype=lucid.int32))
    _raises(RuntimeError, "expected target dtype to be Long or Byte, but got Float", nll, x,
            lucid.tensor([0.0, 1.0, 3.0]))
    _raises(ValueError, r"Expected input batch_size \(3\) to match target batch_size \(2\)",
            ce, x, lucid.tensor([0, 1]))
    _raises(RuntimeError, "weight tensor should be defined either for all 4 classes", ce, x,
            lucid.tensor([0, 1, 2]), weight=lucid.ones(3))
    _raises(RuntimeError, "weight tensor should be defined either for all 4 classes", nll, x,
            lucid.tensor([0, 1, 2]), weight=lucid.ones(4, 1))
    _raises(RuntimeError, "expected scalar type Float but found Double", nll, x,
            lucid.tensor([0, 1, 2]), weight=lucid.ones(4, dtype=lucid.float64))
    _raises(RuntimeError, r"label_smoothing must be between 0.0 and 1.0. Got: 1.5", ce, x,
            lucid.tensor([0, 1, 2]), label_smoothing=1.5)
    _raises(RuntimeError, "label_smoothing must be between", ce, x, x.softmax(1),
            label_smoothing=1.5)
    _raises(RuntimeError, "ignore_index is not supported for floating point target", ce, x,
            x.softmax(1), ignore_index=1)
    _raises(RuntimeError, "Expected floating point type for target with class probabilities, "
            "got Long", ce, x, lucid.ones(3, 4, dtype=lucid.int64))
    _raises(RuntimeError, "cross_entropy: weight tensor should be defined", ce, x,
            x.softmax(1), weight=lucid.ones(3))
    _raises(RuntimeError, r"Expected target size \[2, 4\], got \[2, 4, 5\]", ce,
            lucid.randn(2, 3, 4), lucid.zeros(2, 4, 5, dtype=lucid.int64))
    _raises(RuntimeError, "multi-target not supported", nll, x,
            lucid.zeros(3, 2, dtype=lucid.int64))
    _raises(ValueError, "1D target must have size 1, but got target size: 2", nll,
            lucid.randn(4), lucid.tensor([2, 1]))
    _raises(ValueError, r"Expected 1 or more dimensions \(got 0\)", nll, lucid.tensor(1.0),
            lucid.tensor(0))
    _raises(RuntimeError, "expected a floating point input", nll, lucid.ones(3, 4,
            dtype=lucid.int64), lucid.tensor([0, 1, 2]))


def test_binary_loss_errors() -> None:
    p = lucid.rand(3)
    bce, bcel = F.binary_cross_entropy, F.binary_cross_entropy_with_logits
    _raises(ValueError, "that is different to the input size", bce, p, lucid.rand(3, 1))
    _raises(RuntimeError, "all elements of input should be between 0 and 1", bce, p + 1,
            lucid.rand(3))
    _raises(RuntimeError, "all elements of target should be between 0 and 1", bce, p,
            lucid.rand(3) + 1)
    _raises(RuntimeError, "all elements of input should be between 0 and 1", bce,
            lucid.tensor([float("nan"), 0.5, 0.5]), lucid.rand(3))
    _raises(RuntimeError, "Found dtype Double but expected Float", bce, p,
            lucid.rand(3, dtype=lucid.float64))
    _raises(RuntimeError, "Found dtype Long but expected Float", bce, p,
            lucid.tensor([0, 1, 1]))
    _raises(RuntimeError, "doesn't match the broadcast shape", bce, p, p, weight=lucid.ones(2))
    _raises(RuntimeError, "doesn't match the broadcast shape", bce, p, p,
            weight=lucid.ones(2, 3))
    _raises(ValueError, "Target size", bcel, p, lucid.rand(3, 1))
    _raises(RuntimeError, "can't be cast to the desired output type Long", bcel, p,
            lucid.tensor([0, 1, 1]))
    _raises(RuntimeError, "doesn't match the broadcast shape", bcel, p, p,
            pos_weight=lucid.ones(2))
    _raises(RuntimeError, "doesn't match the broadcast shape", bcel, p, p,
            weight=lucid.ones(2, 3))


# --------------------------------------------------------------------------- modules
def test_loss_modules_match_torch() -> None:
    import lucid.nn as nn

    rng = np.random.default_rng(13)
    x, t = rng.standard_normal((4, 3)), rng.random((4, 3))
    w, idx = rng.random(3), np.array([0, 2, 1, 2])
    probs = 1 / (1 + np.exp(-x))
    cases = [
        ("MSELoss", {}, x, t), ("L1Loss", {"reduction": "sum"}, x, t),
        ("SmoothL1Loss", {"beta": 0.5, "reduction": "none"}, x, t),
        ("NLLLoss", {"weight": w, "ignore_index": 1}, x, idx),
        ("CrossEntropyLoss", {"weight": w, "label_smoothing": 0.2}, x, idx),
        ("CrossEntropyLoss", {"reduction": "sum"}, x, t),
        ("BCELoss", {"weight": w}, probs, t),
        ("BCEWithLogitsLoss", {"weight": w, "pos_weight": w * 2}, x, t),
    ]
    for name, kw, a, b in cases:
        lmod = getattr(nn, name)(**_kw_tensors(kw, lucid))
        tmod = getattr(torch.nn, name)(**_kw_tensors(kw, torch))
        _check(lmod, tmod, [a, b], [True, b.dtype.kind == "f"], np.float64)
        assert repr(lmod) == repr(tmod)
        assert sorted(lmod.state_dict()) == sorted(tmod.state_dict())
        for key in ("reduction", "ignore_index", "label_smoothing", "beta"):
            assert getattr(lmod, key, None) == getattr(tmod, key, None)


def test_loss_module_legacy_arguments() -> None:
    import lucid.nn as nn

    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert nn.MSELoss(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert nn.CrossEntropyLoss(reduce=False).reduction == "none"
    with pytest.raises(ValueError, match="bad is not a valid value for reduction"):
        nn.L1Loss(reduction="bad")(lucid.zeros(2), lucid.zeros(2))
