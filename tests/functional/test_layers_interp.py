"""F.interpolate against PyTorch over seeded random configurations, plus its errors."""

from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lucid
import lucid.nn.functional as F

torch.set_num_threads(1)  # tiny tensors: threads only add overhead

TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}
LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}
SCALES = [0.5, 0.7, 1.0, 1.3, 1.5, 2.0, 2.5, 3.0, 1.75]


def _np(t):
    return t.detach().numpy()


def _grads(lib, fn, x, gy, v):
    xt = lib.tensor(x, requires_grad=True)
    y = fn(xt)
    g = lib.tensor(gy, requires_grad=True)
    (gx,) = lib.autograd.grad(y, xt, g, create_graph=True)
    (gx * lib.tensor(v)).sum().backward()
    return y, gx, g.grad


def _random_kwargs(rng, nd, spatial):
    mode = ["nearest", "nearest-exact", LINEAR[nd], "area"][int(rng.integers(0, 4))]
    kw = {"mode": mode}
    if rng.integers(0, 2):
        size = tuple(int(v) for v in rng.integers(1, 13, nd))
        kw["size"] = size if nd > 1 or rng.integers(0, 2) else size[0]
    else:
        scales = tuple(float(SCALES[i]) for i in rng.integers(0, len(SCALES), nd))
        kw["scale_factor"] = scales if rng.integers(0, 2) else scales[0]
        kw["recompute_scale_factor"] = [None, True, False][int(rng.integers(0, 3))]
    if mode == LINEAR[nd]:
        kw["align_corners"] = [None, True, False][int(rng.integers(0, 3))]
    return kw


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_interpolate_random_configs(nd, dtype):
    rng = np.random.default_rng(10 + nd)
    ran = 0
    for _ in range(45):
        spatial = tuple(int(v) for v in rng.integers(1, 8 if nd < 3 else 5, nd))
        x = rng.standard_normal((2, 3) + spatial).astype(dtype)
        kw = _random_kwargs(rng, nd, spatial)
        try:
            with torch.no_grad():
                expected = TF.interpolate(torch.tensor(x), **kw)
        except Exception as e:
            with pytest.raises(type(e)):
                F.interpolate(lucid.tensor(x), **kw)
            continue
        gy = rng.standard_normal(expected.shape).astype(dtype)
        v = rng.standard_normal(x.shape).astype(dtype)
        got = _grads(lucid, partial(F.interpolate, **kw), x, gy, v)
        want = _grads(torch, partial(TF.interpolate, **kw), x, gy, v)
        for a, b, what in zip(got, want, ("values", "grad", "grad of grad")):
            np.testing.assert_allclose(_np(a), _np(b), err_msg=f"{what} {kw}", **TOL[dtype])
        ran += 1
    assert ran > 30


def test_known_values():
    x = lucid.tensor([[[1.0, 2.0, 4.0]]])
    assert F.interpolate(x, size=6).tolist() == [[[1.0, 1.0, 2.0, 2.0, 4.0, 4.0]]]
    y = F.interpolate(x, size=5, mode="linear", align_corners=True)
    np.testing.assert_allclose(y.numpy(), [[[1.0, 1.5, 2.0, 3.0, 4.0]]])
    np.testing.assert_allclose(F.interpolate(x, size=1, mode="area").numpy(), [[[7.0 / 3.0]]])


ERRORS = [
    (lambda: F.interpolate(lucid.randn(2, 3, 4)), ValueError,
     "either size or scale_factor should be defined"),
    (lambda: F.interpolate(lucid.randn(2, 3, 4), size=2, scale_factor=2), ValueError,
     "only one of size or scale_factor"),
    (lambda: F.interpolate(lucid.randn(2, 3, 4), size=2, align_corners=True), ValueError,
     "align_corners option can only be set with the interpolating modes"),
    (lambda: F.interpolate(lucid.randn(2, 3, 4), size=(2, 3)), ValueError,
     "Input and output must have the same number of spatial dimensions"),
    (lambda: F.interpolate(lucid.randn(2, 3, 4, 4), scale_factor=(2.0,)), ValueError,
     "Input and scale_factor must have the same number of spatial dimensions"),
    (lambda: F.interpolate(lucid.randn(2, 3, 4), size=3.0), TypeError, "expected size to be"),
    (lambda: F.interpolate(lucid.randn(2, 3, 4), size=3, recompute_scale_factor=True),
     ValueError, "recompute_scale_factor is not meaningful with an explicit size"),
    (lambda: F.interpolate(lucid.randn(2, 3, 4), size=3, mode="bilinear"), NotImplementedError,
     "Got 3D input, but bilinear mode needs 4D input"),
    (lambda: F.interpolate(lucid.randn(2, 3, 4, 4), size=3, mode="trilinear"),
     NotImplementedError, "Got 4D input, but trilinear mode needs 5D input"),
    (lambda: F.interpolate(lucid.randn(3, 4), size=3), NotImplementedError,
     "Only 3D, 4D and 5D input Tensors supported"),
    (lambda: F.interpolate(lucid.randn(2, 3, 4, 4), size=3, mode="bicubic"),
     NotImplementedError, "mode 'bicubic' is not supported"),
    (lambda: F.interpolate(lucid.randn(2, 3, 4, 4), size=3, mode="bilinear", antialias=True),
     NotImplementedError, "antialias"),
    (lambda: F.interpolate(lucid.randn(2, 3, 4), size=0), RuntimeError,
     "Input and output sizes should be greater than 0"),
    (lambda: F.interpolate(lucid.randn(2, 3, 4), scale_factor=-1.0), RuntimeError,
     "Input and output sizes should be greater than 0"),
    (lambda: F.interpolate(lucid.randn(2, 0, 4, 4), size=3, mode="bilinear"), RuntimeError,
     "non-zero channels"),
    (lambda: F.interpolate(lucid.tensor([[[1, 2]]]), scale_factor=2), NotImplementedError,
     "floating point"),
    (lambda: F.interpolate([[[1.0]]], size=2), TypeError, "must be Tensor"),
]


@pytest.mark.parametrize("fn,exc,msg", ERRORS)
def test_errors(fn, exc, msg):
    with pytest.raises(exc, match=msg):
        fn()


def test_empty_batch():
    x = lucid.zeros(0, 2, 3, 3, requires_grad=True)
    y = F.interpolate(x, scale_factor=2, mode="bilinear")
    assert y.shape == (0, 2, 6, 6)
    y.sum().backward()
    assert x.grad.shape == (0, 2, 3, 3)
