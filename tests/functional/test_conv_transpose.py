"""``F.conv_transpose1d/2d/3d`` and ``_output_padding`` against PyTorch.

Seeded random grid: rank 1-3, stride, dilation, padding (int/tuple), ``output_padding``,
groups (incl. one input channel per group with a channel multiplier), ``N=0``, unbatched,
bias, float32/float64/complex128 and non-contiguous views; output and gradients of input,
weight and bias are compared, plus second-order gradients on a subset. The comparison
helpers are shared with ``test_conv.py``.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lucid
import lucid.nn.functional as F
from lucid.nn.functional._conv import _output_padding


def _load_sibling(name):
    spec = importlib.util.spec_from_file_location(f"_lucid_{name}", Path(__file__).with_name(name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H = _load_sibling("test_conv.py")


def transpose_config(seed):
    """A small random valid transposed-convolution configuration."""
    rng = np.random.default_rng(seed)
    nd = int(rng.choice([1, 2, 3], p=[0.35, 0.4, 0.25]))
    kind = rng.choice(["plain", "grouped", "depthwise"], p=[0.5, 0.25, 0.25])
    if kind == "depthwise":
        c_in = int(rng.integers(1, 5))
        groups, c_out_g = c_in, int(rng.integers(1, 4))
    else:
        groups = 1 if kind == "plain" else int(rng.integers(2, 4))
        c_in = groups * int(rng.integers(1, 4))
        c_out_g = int(rng.integers(1, 4))
    kmax = 4 if nd < 3 else 3
    kernel = tuple(int(k) for k in rng.integers(1, kmax + 1, size=nd))
    st_arg, st = H._per_dim(rng, nd, 1, 3)
    dil_arg, dil = H._per_dim(rng, nd, 1, 2)
    smax = 5 if nd < 3 else 3
    spatial = tuple(int(v) for v in rng.integers(1, smax + 1, size=nd))
    # padding may not make the output empty: (L-1)s + d(k-1) + 1 - 2p + op > 0
    full = [(L - 1) * s + d * (k - 1) + 1 for L, s, d, k in zip(spatial, st, dil, kernel)]
    pad = tuple(int(rng.integers(0, min(2, (f - 1) // 2) + 1)) for f in full)
    pad_arg = pad if rng.random() < 0.5 else (pad[0] if len(set(pad)) == 1 else pad)
    op = tuple(int(rng.integers(0, max(s, d))) if rng.random() < 0.5 else 0
               for s, d in zip(st, dil))
    op_arg = op if rng.random() < 0.6 or len(set(op)) > 1 else op[0]
    batch = rng.choice([None, 0, 1, 2, 3], p=[0.15, 0.1, 0.25, 0.3, 0.2])
    x_shape = ((c_in,) if batch is None else (int(batch), c_in)) + spatial
    w_shape = (c_in, c_out_g) + kernel
    kwargs = dict(stride=st_arg, padding=pad_arg, output_padding=op_arg, groups=groups,
                  dilation=dil_arg)
    dtype = H.DTYPES[int(rng.integers(0, 3))]
    return dict(nd=nd, x_shape=x_shape, w_shape=w_shape, bias=bool(rng.random() < 0.6),
                kwargs=kwargs, dtype=dtype, c_out=c_out_g * groups,
                transposed=(bool(rng.random() < 0.3), bool(rng.random() < 0.2), False))


def _fn(nd, kwargs):
    def fn(lib, x, w, b):
        f = F if lib is lucid else TF
        return getattr(f, f"conv_transpose{nd}d")(x, w, b, **kwargs)
    return fn


SEEDS = range(300)


@pytest.mark.parametrize("seed", SEEDS)
def test_conv_transpose_matches_torch(seed):
    cfg = transpose_config(seed)
    H.check_first_order(_fn(cfg["nd"], cfg["kwargs"]), H._arrays(cfg, seed, cfg["c_out"]),
                        cfg, seed)


@pytest.mark.parametrize("seed", range(0, 300, 6))
def test_conv_transpose_second_order_matches_torch(seed):
    cfg = transpose_config(seed)
    fn = _fn(cfg["nd"], cfg["kwargs"])
    arrays = H._arrays(cfg, seed, cfg["c_out"])
    want = H.run_second_order(torch, fn, arrays, seed)
    got = H.run_second_order(lucid, fn, arrays, seed)
    for i, (g, w) in enumerate(zip(got, want)):
        H.assert_close(g, w, cfg["dtype"], f"second-order grad {i}")


def test_grid_covers_the_issue_cases():
    cfgs = [transpose_config(s) for s in SEEDS]
    kw = [c["kwargs"] for c in cfgs]
    seen = {
        "output_padding": any(k["output_padding"] not in (0, (0,), (0, 0), (0, 0, 0))
                              for k in kw),
        "output_padding < dilation only": any(
            any(o >= s for o, s in zip(np.broadcast_to(k["output_padding"], c["nd"]),
                                       np.broadcast_to(k["stride"], c["nd"])))
            for k, c in zip(kw, cfgs)),
        "stride": any(k["stride"] not in (1, (1,)) for k in kw),
        "dilation": any(k["dilation"] not in (1, (1,)) for k in kw),
        "groups": any(k["groups"] > 1 for k in kw),
        "unbatched": any(len(c["x_shape"]) == c["nd"] + 1 for c in cfgs),
        "N=0": any(len(c["x_shape"]) == c["nd"] + 2 and c["x_shape"][0] == 0 for c in cfgs),
        "3d": any(c["nd"] == 3 for c in cfgs),
        "complex": any(c["dtype"] == np.complex128 for c in cfgs),
        "non-contiguous": any(c["transposed"][0] for c in cfgs),
    }
    assert all(seen.values()), seen


def test_transpose_is_the_adjoint_of_conv():
    """``<conv(x, w), y> == <x, conv_transpose(y, w)>`` for the same configuration."""
    rng = np.random.default_rng(3)
    x = lucid.tensor(rng.standard_normal((2, 4, 9, 8)))
    w = lucid.tensor(rng.standard_normal((6, 2, 3, 2)))
    kw = dict(stride=(2, 3), padding=(1, 0), dilation=(1, 2), groups=2)
    y = F.conv2d(x, w, **kw)
    g = lucid.tensor(rng.standard_normal(y.shape))
    xt = F.conv_transpose2d(g, w, output_padding=(0, 2), **kw)
    assert xt.shape == x.shape
    np.testing.assert_allclose((y * g).sum().item(), (x * xt).sum().item(), rtol=1e-12)


def test_float16_and_complex64():
    rng = np.random.default_rng(0)
    for dtype, tol in ((np.float16, 2e-3), (np.complex64, 1e-4)):
        x = H._random(rng, (2, 4, 5, 5), dtype)
        w = H._random(rng, (4, 3, 3, 3), dtype)
        kw = dict(stride=2, padding=1, output_padding=1, groups=2)
        got = F.conv_transpose2d(lucid.tensor(x), lucid.tensor(w), **kw)
        ref = np.float32 if dtype == np.float16 else dtype
        want = TF.conv_transpose2d(torch.tensor(x.astype(ref)), torch.tensor(w.astype(ref)),
                                   **kw).numpy()
        assert got.dtype == getattr(lucid, np.dtype(dtype).name)
        np.testing.assert_allclose(got.numpy().astype(ref), want, rtol=tol,
                                   atol=tol * np.abs(want).max())


def test_determinism_bit_identical():
    rng = np.random.default_rng(11)
    arrays = [rng.standard_normal(s).astype(np.float32)
              for s in ((3, 8, 7, 7), (8, 3, 4, 4), (6,), (3, 6, 14, 14))]

    def run():
        ts = [lucid.tensor(a, requires_grad=True) for a in arrays[:3]]
        y = F.conv_transpose2d(*ts, stride=2, padding=1, groups=2)
        y.backward(lucid.tensor(arrays[3]))
        return [y.detach().numpy().tobytes()] + [t.grad.numpy().tobytes() for t in ts]

    assert run() == run()


# --------------------------------------------------------------------------- _output_padding
def _torch_output_padding(nd, input_shape, output_size, stride, padding, kernel, dilation):
    module = getattr(torch.nn, f"ConvTranspose{nd}d")(1, 1, 1)
    return module._output_padding(torch.zeros(input_shape), output_size, list(stride),
                                  list(padding), list(kernel), nd, list(dilation))


@pytest.mark.parametrize("seed", range(60))
def test_output_padding_matches_torch(seed):
    rng = np.random.default_rng(seed)
    nd = int(rng.integers(1, 4))
    batched = bool(rng.random() < 0.7)
    spatial = tuple(int(v) for v in rng.integers(1, 6, size=nd))
    input_shape = ((2, 1) if batched else (1,)) + spatial
    stride = tuple(int(v) for v in rng.integers(1, 4, size=nd))
    kernel = tuple(int(v) for v in rng.integers(1, 4, size=nd))
    dilation = tuple(int(v) for v in rng.integers(1, 3, size=nd))
    padding = tuple(int(v) for v in rng.integers(0, 2, size=nd))
    base = [(L - 1) * s - 2 * p + d * (k - 1) + 1
            for L, s, p, d, k in zip(spatial, stride, padding, dilation, kernel)]
    size = [b + int(rng.integers(-1, s + 1)) for b, s in zip(base, stride)]  # some invalid
    if rng.random() < 0.3:
        size = list(input_shape[: len(input_shape) - nd]) + size
    if rng.random() < 0.1:
        size = size + [3]  # wrong length
    args = (input_shape, size, stride, padding, kernel, dilation)
    try:
        want = _torch_output_padding(nd, *args)
    except ValueError as e:
        key = "valid sizes range" if "range" in str(e) else "output_size must have"
        with pytest.raises(ValueError, match=key):
            _output_padding(input_shape, size, stride, padding, kernel, dilation, nd)
        return
    got = _output_padding(input_shape, size, stride, padding, kernel, dilation, nd)
    assert list(got) == list(want)
    # and the resulting transposed convolution has exactly the requested size
    y = F.conv_transpose1d if nd == 1 else F.conv_transpose2d if nd == 2 else F.conv_transpose3d
    x = lucid.ones(*input_shape)
    w = lucid.ones(1, 1, *kernel)
    out = y(x, w, stride=stride, padding=padding, output_padding=got, dilation=dilation)
    assert out.shape[-nd:] == tuple(size[-nd:])


def test_output_padding_without_output_size():
    assert _output_padding((1, 1, 4), None, (2,), (0,), (3,), (1,), 1) == (0,)
    assert _output_padding((1, 1, 4, 4), None, (2, 2), (0, 0), (3, 3), (1, 1), 2,
                           output_padding=(1, 0)) == (1, 0)


# ------------------------------------------------------------ backward sharing the columns
SHARED = {  # x shape, w shape, kwargs, route: the dcgan and unet up-samplings
    "k4 s2 p1": ((3, 6, 5, 4), (6, 4, 4, 4), dict(stride=2, padding=1, output_padding=(1, 0)),
                 "_im2col_products"),
    "k2 s2": ((2, 4, 9, 8), (4, 3, 2, 2), dict(stride=2), "_patch_forward"),
}


@pytest.mark.parametrize("name", list(SHARED))
def test_backward_builds_the_columns_once(name, record_calls):
    """Without ``create_graph`` the input and weight gradients come from one
    ``conv_forward_weight_grad`` call (the columns of the output gradient built once) and
    match PyTorch; when only one of them is needed, or the backward is recorded, the two
    differentiable ops run instead, with the same results."""
    from lucid.kernels import conv as K

    x_shape, w_shape, kw, route = SHARED[name]
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[1])
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = TF.conv_transpose2d(tx, tw, tb, **kw)
    gy = rng.standard_normal(tuple(ty.shape))
    want = torch.autograd.grad(ty, (tx, tw, tb), torch.tensor(gy))
    calls = record_calls(K, "conv_forward_weight_grad", "conv_forward", "conv_weight_grad",
                         "_im2col_products", "_patch_forward")

    def grads(create_graph=False, frozen_weight=False):
        lx, lw, lb = (lucid.tensor(a, requires_grad=True) for a in (x, w, b))
        lw.requires_grad_(not frozen_weight)
        ly = F.conv_transpose2d(lx, lw, lb, **kw)
        del calls[:]
        ly.backward(lucid.tensor(gy), create_graph=create_graph)
        return [t.grad for t in (lx, lw, lb)]

    got = grads()
    assert calls == ["conv_forward_weight_grad", route]
    for g, r in zip(got, want):
        np.testing.assert_allclose(g.numpy(), r.numpy(), rtol=1e-10, atol=1e-10)
    recorded = grads(create_graph=True)
    assert "conv_forward_weight_grad" not in calls and "conv_weight_grad" in calls
    assert recorded[0].grad_fn is not None
    for g, r in zip(recorded, got):
        np.testing.assert_allclose(g.detach().numpy(), r.numpy(), rtol=1e-12, atol=1e-12)
    input_only = grads(frozen_weight=True)
    assert calls == ["conv_forward", route] and input_only[1] is None
    np.testing.assert_allclose(input_only[0].numpy(), got[0].numpy(), rtol=1e-12, atol=1e-12)
