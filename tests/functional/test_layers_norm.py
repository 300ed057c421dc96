"""batch_norm / layer_norm / group_norm against PyTorch: values, gradients, running stats."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lucid
import lucid.nn.functional as F

torch.set_num_threads(1)  # tiny tensors: threads only add overhead

TOL = {np.float64: dict(rtol=1e-10, atol=1e-11), np.float32: dict(rtol=1e-5, atol=2e-5)}


def _np(t):
    return t.detach().numpy()


def _close(a, b, dtype, what=""):
    np.testing.assert_allclose(_np(a), _np(b), err_msg=what, **TOL[dtype])


def compare(lfn, tfn, arrays, dtype, seed=0, gradgrad=False):
    """Run ``fn(*tensors)`` in lucid and torch; compare output, gradients of every array that
    is not None, and optionally second derivatives (through a random projection)."""
    rng = np.random.default_rng(seed)
    lts = [None if a is None else lucid.tensor(a, requires_grad=True) for a in arrays]
    tts = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    ly, ty = lfn(*lts), tfn(*tts)
    _close(ly, ty, dtype, "forward")
    gy = rng.standard_normal(ly.shape).astype(dtype)
    lin = [t for t in lts if t is not None]
    tin = [t for t in tts if t is not None]
    lgo, tgo = lucid.tensor(gy, requires_grad=True), torch.tensor(gy, requires_grad=True)
    tg = torch.autograd.grad(ty, tin, tgo, create_graph=gradgrad, allow_unused=True)
    # first order alone (backward works on arrays), then recorded for second derivatives
    lg = lucid.autograd.grad(ly, lin, lgo, retain_graph=True, allow_unused=True)
    for i, (a, b) in enumerate(zip(lg, tg)):
        _close(a, b, dtype, f"grad {i}")
    if not gradgrad:
        return
    lg = lucid.autograd.grad(ly, lin, lgo, create_graph=True, allow_unused=True)
    for i, (a, b) in enumerate(zip(lg, tg)):
        _close(a, b, dtype, f"recorded grad {i}")
    vs = [rng.standard_normal(t.shape).astype(dtype) for t in tin]
    lsum = sum((g * lucid.tensor(v)).sum() for g, v in zip(lg, vs))
    tsum = sum((g * torch.tensor(v)).sum() for g, v in zip(tg, vs))
    lsum.backward()
    tsum.backward()
    for i, (a, b) in enumerate(zip(lin + [lgo], tin + [tgo])):
        ga = np.zeros(a.shape, dtype) if a.grad is None else a.grad.numpy()
        gb = np.zeros(a.shape, dtype) if b.grad is None else b.grad.numpy()
        np.testing.assert_allclose(ga, gb, err_msg=f"second-order grad {i}", **TOL[dtype])


SHAPES = [(4, 3), (5, 3, 7), (2, 3, 4, 5), (2, 2, 3, 2, 3)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_batch_norm_training(shape, affine, dtype):
    rng = np.random.default_rng(len(shape))
    c = shape[1]
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    w = rng.standard_normal(c).astype(dtype) if affine != "none" else None
    b = rng.standard_normal(c).astype(dtype) if affine == "both" else None
    mean0 = rng.standard_normal(c).astype(dtype)
    var0 = (rng.random(c) + 0.5).astype(dtype)
    stats = {"lucid": (lucid.tensor(mean0), lucid.tensor(var0)),
             "torch": (torch.tensor(mean0), torch.tensor(var0))}

    def run(F_, lib):
        rm, rv = stats[lib]
        return lambda x, w, b: F_.batch_norm(x, rm, rv, w, b, training=True, momentum=0.3,
                                             eps=1e-3)

    compare(run(F, "lucid"), run(TF, "torch"), [x, w, b], dtype, gradgrad=True)
    for a, b_ in zip(stats["lucid"], stats["torch"]):
        _close(a, b_, dtype, "running stats")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_eval(shape, dtype):
    rng = np.random.default_rng(7)
    c = shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    w, b = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
    rm, rv = rng.standard_normal(c).astype(dtype), (rng.random(c) + 0.1).astype(dtype)
    compare(lambda x, w, b: F.batch_norm(x, lucid.tensor(rm), lucid.tensor(rv), w, b),
            lambda x, w, b: TF.batch_norm(x, torch.tensor(rm), torch.tensor(rv), w, b),
            [x, w, b], dtype, gradgrad=True)
    compare(lambda x: F.batch_norm(x, lucid.tensor(rm), lucid.tensor(rv), eps=0.1),
            lambda x: TF.batch_norm(x, torch.tensor(rm), torch.tensor(rv), eps=0.1),
            [x], dtype)


def test_batch_norm_without_running_stats():
    x = np.random.default_rng(0).standard_normal((6, 4, 3))
    compare(lambda x: F.batch_norm(x, None, None, training=True),
            lambda x: TF.batch_norm(x, None, None, training=True), [x], np.float64)


def test_batch_norm_running_stats_over_steps():
    rng = np.random.default_rng(1)
    lm, lv = lucid.zeros(3, dtype=lucid.float64), lucid.ones(3, dtype=lucid.float64)
    tm, tv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for step in range(5):
        x = rng.standard_normal((8, 3, 2)) * (step + 1) + step
        F.batch_norm(lucid.tensor(x), lm, lv, training=True, momentum=0.25)
        TF.batch_norm(torch.tensor(x), tm, tv, training=True, momentum=0.25)
    np.testing.assert_allclose(lm.numpy(), tm.numpy(), rtol=1e-13)
    np.testing.assert_allclose(lv.numpy(), tv.numpy(), rtol=1e-13)
    x = rng.standard_normal((2, 3, 2))
    np.testing.assert_allclose(F.batch_norm(lucid.tensor(x), lm, lv).numpy(),
                               TF.batch_norm(torch.tensor(x), tm, tv).numpy(), rtol=1e-12)


def test_batch_norm_empty_batch_keeps_running_stats():
    rm, rv = lucid.zeros(3), lucid.ones(3)
    x = lucid.zeros(0, 3, requires_grad=True)
    y = F.batch_norm(x, rm, rv, lucid.ones(3), lucid.zeros(3), training=True)
    assert y.shape == (0, 3)
    y.sum().backward()
    assert x.grad.shape == (0, 3)
    assert rm.tolist() == [0.0, 0.0, 0.0] and rv.tolist() == [1.0, 1.0, 1.0]


def test_batch_norm_large_offset_is_stable():
    # statistics accumulate in float64: a large mean does not swamp a small variance
    x = (np.random.default_rng(2).standard_normal((64, 2, 16)) + 1e4).astype(np.float32)
    got = F.batch_norm(lucid.tensor(x), None, None, training=True).numpy()
    expected = TF.batch_norm(torch.tensor(x), None, None, training=True).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,norm", [((4, 6), (6,)), ((2, 3, 5), (5,)), ((2, 3, 5), (3, 5)),
                                        ((2, 3, 4, 5), (3, 4, 5)), ((7,), (7,))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(shape, norm, affine, dtype):
    rng = np.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * 2 - 1).astype(dtype)
    w = rng.standard_normal(norm).astype(dtype) if affine else None
    b = rng.standard_normal(norm).astype(dtype) if affine else None
    compare(lambda x, w, b: F.layer_norm(x, norm, w, b, eps=1e-4),
            lambda x, w, b: TF.layer_norm(x, norm, w, b, eps=1e-4), [x, w, b], dtype,
            gradgrad=True)


def test_layer_norm_int_shape_and_weight_only():
    x = np.random.default_rng(3).standard_normal((3, 4))
    w = np.random.default_rng(4).standard_normal(4)
    compare(lambda x, w: F.layer_norm(x, 4, w), lambda x, w: TF.layer_norm(x, (4,), w),
            [x, w], np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,groups", [((2, 6), 3), ((3, 4, 5), 2), ((2, 6, 3, 4), 3),
                                          ((2, 4, 2, 3, 2), 4), ((1, 4, 3), 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm(shape, groups, affine, dtype):
    rng = np.random.default_rng(groups)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    c = shape[1]
    w = rng.standard_normal(c).astype(dtype) if affine else None
    b = rng.standard_normal(c).astype(dtype) if affine else None
    compare(lambda x, w, b: F.group_norm(x, groups, w, b, eps=1e-4),
            lambda x, w, b: TF.group_norm(x, groups, w, b, eps=1e-4), [x, w, b], dtype,
            gradgrad=True)


def test_empty_batches_for_layer_and_group_norm():
    for fn in (lambda x: F.layer_norm(x, (3,)), lambda x: F.group_norm(x, 1)):
        x = lucid.zeros(0, 3, requires_grad=True)
        y = fn(x)
        assert y.shape == (0, 3)
        y.sum().backward()
        assert x.grad.shape == (0, 3)


ERRORS = [
    (lambda: F.batch_norm(lucid.randn(1, 3), None, None, training=True), ValueError,
     r"Expected more than 1 value per channel when training, got input size \[1, 3\]"),
    (lambda: F.batch_norm(lucid.randn(1, 3, 1, 1), None, None, training=True), ValueError,
     "more than 1 value per channel"),
    (lambda: F.batch_norm(lucid.randn(2, 3), None, None), RuntimeError,
     "running_mean must be defined in evaluation mode"),
    (lambda: F.batch_norm(lucid.randn(2, 3), lucid.zeros(3), None, training=True), ValueError,
     "both be None or neither"),
    (lambda: F.batch_norm(lucid.randn(2, 3), lucid.zeros(4), lucid.ones(4)), RuntimeError,
     "running_mean should contain 3 elements not 4"),
    (lambda: F.batch_norm(lucid.randn(2, 3), lucid.zeros(3), lucid.ones(3), lucid.ones(2)),
     RuntimeError, "weight should contain 3 elements not 2"),
    (lambda: F.batch_norm(lucid.randn(2, 3), None, None, training=True, eps=0.0), ValueError,
     "eps must be positive during training"),
    (lambda: F.batch_norm(lucid.randn(2, 3), lucid.zeros(3), lucid.ones(3), eps=-1.0),
     ValueError, "eps must be non-negative"),
    (lambda: F.batch_norm(lucid.randn(3), None, None, training=True), ValueError,
     r"shape \(N, C, \*\)"),
    (lambda: F.batch_norm(lucid.randn(2, 3, dtype=lucid.float64), lucid.zeros(3), lucid.ones(3)),
     RuntimeError, "dtype"),
    (lambda: F.batch_norm(lucid.tensor([[1, 2], [3, 4]]), None, None, training=True),
     NotImplementedError, "floating point"),
    (lambda: F.batch_norm([[1.0]], None, None), TypeError, "must be Tensor"),
    (lambda: F.layer_norm(lucid.randn(3, 5), (4,)), RuntimeError,
     r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\], but got input of "
     r"size \[3, 5\]"),
    (lambda: F.layer_norm(lucid.randn(4), (3, 4)), RuntimeError, "expected input with shape"),
    (lambda: F.layer_norm(lucid.randn(3, 4), (4,), lucid.ones(3)), RuntimeError,
     "Expected weight to be of same shape as normalized_shape"),
    (lambda: F.layer_norm(lucid.randn(3, 4), (4,), None, lucid.ones(3)), RuntimeError,
     "Expected bias to be of same shape"),
    (lambda: F.layer_norm(lucid.randn(3, 4), ()), RuntimeError, "at least 1-dimensional"),
    (lambda: F.layer_norm(lucid.randn(3, 4), (4.0,)), TypeError, "must contain ints"),
    (lambda: F.layer_norm(lucid.randn(3, 4), "4"), TypeError, "must contain ints"),
    (lambda: F.layer_norm(lucid.randn(3, 4), None), TypeError, "normalized_shape must be"),
    (lambda: F.group_norm(lucid.randn(4), 2), RuntimeError, "Expected at least 2 dimensions"),
    (lambda: F.group_norm(lucid.randn(2, 4), 3), RuntimeError,
     "divisible by num_groups, but got input of shape \\[2, 4\\] and num_groups=3"),
    (lambda: F.group_norm(lucid.randn(2, 4), 0), ValueError, "num_groups must be a positive"),
    (lambda: F.group_norm(lucid.randn(2, 4, 3), 2, lucid.ones(3)), RuntimeError,
     "Expected weight to be a vector of size equal to the number of channels"),
    (lambda: F.group_norm(lucid.randn(1, 4), 4), ValueError,
     r"more than 1 value per channel when training, got input size \[1, 4\]"),
]


@pytest.mark.parametrize("fn,exc,msg", ERRORS)
def test_errors(fn, exc, msg):
    with pytest.raises(exc, match=msg):
        fn()


@pytest.mark.parametrize("call", [
    lambda F_, m: F_.batch_norm(m.randn(1, 3), None, None, training=True),
    lambda F_, m: F_.batch_norm(m.randn(2, 3), m.zeros(4), m.ones(4)),
    lambda F_, m: F_.layer_norm(m.randn(3, 5), (4,)),
    lambda F_, m: F_.group_norm(m.randn(2, 4), 3),
    lambda F_, m: F_.group_norm(m.randn(1, 4, 1), 4),
])
def test_torch_raises_the_same_error_type(call):
    with pytest.raises((ValueError, RuntimeError)) as theirs:
        call(TF, torch)
    with pytest.raises(theirs.type):
        call(F, lucid)


@pytest.mark.parametrize("dtype", [np.float64])
def test_standardize_backward_without_graph_matches_graph(dtype):
    # the saved-statistics backward and the differentiable-recompute backward agree
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 5)).astype(dtype)
    g = rng.standard_normal((3, 4, 5)).astype(dtype)
    results = []
    for create_graph in (False, True):
        t = lucid.tensor(x, requires_grad=True)
        y = F.group_norm(t, 2)
        (gx,) = lucid.autograd.grad(y, t, lucid.tensor(g), create_graph=create_graph)
        results.append(gx.detach().numpy())
    np.testing.assert_allclose(*results, rtol=1e-12, atol=1e-13)
