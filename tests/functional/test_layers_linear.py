"""F.linear / F.bilinear against PyTorch: values, gradients, second derivatives, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lucid
import lucid.nn.functional as F

torch.set_num_threads(1)  # tiny tensors: threads only add overhead

TOL = {np.float64: dict(rtol=1e-11, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}


def _np(t):
    return t.detach().numpy()


def compare(lfn, tfn, arrays, dtype, seed=0):
    """Values, first derivatives and second derivatives (random projection) vs torch."""
    rng = np.random.default_rng(seed)
    lts = [None if a is None else lucid.tensor(a, requires_grad=True) for a in arrays]
    tts = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    ly, ty = lfn(*lts), tfn(*tts)
    np.testing.assert_allclose(_np(ly), _np(ty), **TOL[dtype])
    lin = [t for t in lts if t is not None]
    tin = [t for t in tts if t is not None]
    gy = rng.standard_normal(ly.shape).astype(dtype)
    lgo, tgo = lucid.tensor(gy, requires_grad=True), torch.tensor(gy, requires_grad=True)
    lg = lucid.autograd.grad(ly, lin, lgo, create_graph=True)
    tg = torch.autograd.grad(ty, tin, tgo, create_graph=True)
    for a, b in zip(lg, tg):
        np.testing.assert_allclose(_np(a), _np(b), **TOL[dtype])
    vs = [rng.standard_normal(t.shape).astype(dtype) for t in tin]
    sum((g * lucid.tensor(v)).sum() for g, v in zip(lg, vs)).backward()
    sum((g * torch.tensor(v)).sum() for g, v in zip(tg, vs)).backward()
    for a, b in zip(lin + [lgo], tin + [tgo]):
        ga = np.zeros(a.shape, dtype) if a.grad is None else a.grad.numpy()
        gb = np.zeros(a.shape, dtype) if b.grad is None else b.grad.numpy()
        np.testing.assert_allclose(ga, gb, **TOL[dtype])


LINEAR = [((5, 4), (3, 4), (3,)), ((5, 4), (3, 4), None), ((2, 6, 4), (3, 4), (3,)),
          ((2, 1, 3, 4), (7, 4), (7,)), ((4,), (3, 4), (3,)), ((5, 4), (4,), None),
          ((5, 4), (4,), ()), ((5, 4), (3, 4), (5, 3)), ((5, 4), (3, 4), (1,)),
          ((0, 4), (3, 4), (3,)), ((5, 4), (1, 4), (1,))]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("xs,ws,bs", LINEAR)
def test_linear(xs, ws, bs, dtype):
    rng = np.random.default_rng(len(xs) + len(ws))
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = None if bs is None else rng.standard_normal(bs).astype(dtype)
    if bs == ():  # torch's addmm path refuses a 0-d bias with a 1-d weight; compare to matmul
        compare(F.linear, lambda x, w, b: x @ w + b, [x, w, b], dtype)
        return
    compare(F.linear, TF.linear, [x, w, b], dtype)


BILINEAR = [((5, 4), (5, 3), (2, 4, 3), (2,)), ((5, 4), (5, 3), (2, 4, 3), None),
            ((2, 3, 4), (2, 3, 5), (6, 4, 5), (6,)), ((4,), (3,), (2, 4, 3), (2,))]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("s1,s2,ws,bs", BILINEAR)
def test_bilinear(s1, s2, ws, bs, dtype):
    rng = np.random.default_rng(len(s1))
    arrays = [rng.standard_normal(s).astype(dtype) for s in (s1, s2, ws)]
    arrays.append(None if bs is None else rng.standard_normal(bs).astype(dtype))
    compare(F.bilinear, TF.bilinear, arrays, dtype)


ERRORS = [
    (lambda: F.linear(lucid.randn(2, 3, 4), lucid.randn(5, 6)), RuntimeError,
     r"mat1 and mat2 shapes cannot be multiplied \(6x4 and 6x5\)"),
    (lambda: F.linear(lucid.randn(2, 4), lucid.randn(3, 4), lucid.randn(2)), RuntimeError,
     r"bias of shape \(2,\) cannot be broadcast to the output shape \(2, 3\)"),
    (lambda: F.linear(lucid.randn(2, 4), lucid.randn(3, 4), lucid.randn(4, 3)), RuntimeError,
     "cannot be broadcast"),
    (lambda: F.linear(lucid.randn(2, 4, dtype=lucid.float64), lucid.randn(3, 4)), RuntimeError,
     "same dtype"),
    (lambda: F.linear(lucid.randn(2, 4), lucid.randn(3, 4), lucid.randn(3, dtype=lucid.float64)),
     RuntimeError, "same dtype"),
    (lambda: F.linear(lucid.randn(2, 4), lucid.randn(2, 3, 4)), RuntimeError,
     "weight must be 1-D or 2-D"),
    (lambda: F.linear(lucid.tensor(1.0), lucid.randn(3, 1)), RuntimeError,
     "need to be at least 1D, but they are 0D and 2D"),
    (lambda: F.linear(np.ones((2, 4)), lucid.randn(3, 4)), TypeError, "'input' must be Tensor"),
    (lambda: F.bilinear(lucid.randn(2, 4), lucid.randn(3, 5), lucid.randn(3, 4, 5)),
     RuntimeError, "input batch dimensions do not match at dim 0: got 2 and 3"),
    (lambda: F.bilinear(lucid.randn(2, 4), lucid.randn(2, 6), lucid.randn(3, 4, 5)),
     RuntimeError, "input2 size does not match weight size: got 6 but expected 5"),
    (lambda: F.bilinear(lucid.randn(2, 3), lucid.randn(2, 5), lucid.randn(3, 4, 5)),
     RuntimeError, "input1 size does not match weight size: got 3 but expected 4"),
    (lambda: F.bilinear(lucid.randn(2, 4), lucid.randn(2, 5), lucid.randn(3, 4, 5),
                        lucid.randn(4)), RuntimeError, "bias size does not match weight size"),
    (lambda: F.bilinear(lucid.randn(2, 4), lucid.randn(2, 5), lucid.randn(4, 5)), RuntimeError,
     "weight must be 3-D"),
    (lambda: F.bilinear(lucid.randn(2, 4), lucid.randn(5), lucid.randn(3, 4, 5)), RuntimeError,
     "input dimensions do not match"),
]


@pytest.mark.parametrize("fn,exc,msg", ERRORS)
def test_errors(fn, exc, msg):
    with pytest.raises(exc, match=msg):
        fn()
