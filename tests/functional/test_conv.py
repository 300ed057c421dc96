"""``F.conv1d/2d/3d`` against PyTorch over a seeded random grid of configurations.

Each configuration draws the rank (1-3 spatial dims), stride, dilation, padding (int, tuple,
``'same'``, ``'valid'``), groups (incl. depthwise with a channel multiplier), batch (``N=0``,
unbatched), bias, dtype and whether the input/weight are non-contiguous views, and compares
the output and the gradients of input, weight and bias with torch (float32 within 1e-4,
float64/complex128 within 1e-10 of the reference's max-abs). A smaller grid checks second
order gradients (a gradient penalty), and a determinism test checks that two runs give
bit-identical results.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lucid
import lucid.nn.functional as F

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.")

TOL = {np.float32: 1e-4, np.float64: 1e-10, np.complex128: 1e-10, np.complex64: 1e-4}
DTYPES = (np.float32, np.float64, np.complex128)


def _random(rng, shape, dtype):
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def _leaf(lib, a, transposed):
    """A leaf tensor and the (possibly non-contiguous) view of it that the op receives.

    ``transposed`` stores the array with its last two dims swapped and hands the op a
    transposed view, so the op sees a non-contiguous input with the intended shape.
    """
    if not transposed or a.ndim < 2:
        t = lib.tensor(a, requires_grad=True)
        return t, t
    t = lib.tensor(np.ascontiguousarray(np.swapaxes(a, -1, -2)), requires_grad=True)
    return t, t.transpose(-1, -2)


def _np(t):
    return None if t is None else t.detach().numpy()


def assert_close(got, want, dtype, what):
    """``max|got - want| <= tol * max|want|`` (the reference's scale)."""
    assert got is not None and want is not None, what
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    if want.size == 0:
        return
    scale = max(float(np.abs(want).max()), 1e-30)
    err = float(np.abs(got - want).max())
    assert err <= TOL[dtype] * scale, f"{what}: max error {err:.3g} vs scale {scale:.3g}"


def run_first_order(lib, fn, arrays, transposed, gy_seed):
    """Output and gradients of every array argument (``None`` entries skipped)."""
    leaves, args = [], []
    for a, tr in zip(arrays, transposed):
        if a is None:
            leaves.append(None)
            args.append(None)
        else:
            leaf, view = _leaf(lib, a, tr)
            leaves.append(leaf)
            args.append(view)
    y = fn(lib, *args)
    gy = _random(np.random.default_rng(gy_seed), tuple(y.shape), arrays[0].dtype)
    need = [t for t in leaves if t is not None]
    grads = lib.autograd.grad(y, need, lib.tensor(gy))
    it = iter(grads)
    return _np(y), [None if t is None else _np(next(it)) for t in leaves]


def run_second_order(lib, fn, arrays, seed):
    """Gradient penalty: ``<dL/dx, v1> + <dL/dw, v2>`` differentiated w.r.t. x, w, b, gy."""
    rng = np.random.default_rng(seed)
    leaves = [None if a is None else lib.tensor(a, requires_grad=True) for a in arrays]
    y = fn(lib, *leaves)
    gy = lib.tensor(_random(rng, tuple(y.shape), arrays[0].dtype), requires_grad=True)
    x, w = leaves[:2]
    gx, gw = lib.autograd.grad(y, [x, w], gy, create_graph=True)
    v1 = lib.tensor(_random(rng, tuple(gx.shape), arrays[0].dtype))
    v2 = lib.tensor(_random(rng, tuple(gw.shape), arrays[0].dtype))
    penalty = (gx * v1).sum() + (gw * v2).sum()
    if np.dtype(arrays[0].dtype).kind == "c":
        penalty = penalty.real
    wrt = [t for t in leaves + [gy] if t is not None]
    out = lib.autograd.grad(penalty, wrt, allow_unused=True)
    return [_np(g) if g is not None else np.zeros(tuple(t.shape), arrays[0].dtype)
            for g, t in zip(out, wrt)]


# --------------------------------------------------------------------------- configurations
def _per_dim(rng, nd, lo, hi):
    """An int or a per-dim tuple drawn from ``[lo, hi]``, and its expanded tuple."""
    if rng.random() < 0.4:
        v = int(rng.integers(lo, hi + 1))
        return (v if rng.random() < 0.7 else (v,)), (v,) * nd
    t = tuple(int(v) for v in rng.integers(lo, hi + 1, size=nd))
    return t, t


def conv_config(seed):
    """A small random valid convolution configuration (shapes, kwargs, dtype, layout)."""
    rng = np.random.default_rng(seed)
    nd = int(rng.choice([1, 2, 3], p=[0.35, 0.4, 0.25]))
    kind = rng.choice(["plain", "grouped", "depthwise"], p=[0.5, 0.25, 0.25])
    if kind == "depthwise":
        c_in = int(rng.integers(1, 5))
        groups, c_out = c_in, c_in * int(rng.integers(1, 4))
    else:
        groups = 1 if kind == "plain" else int(rng.integers(2, 4))
        c_in = groups * int(rng.integers(1, 4))
        c_out = groups * int(rng.integers(1, 4))
    kmax = 3 if nd < 3 else 2
    kernel = tuple(int(k) for k in rng.integers(1, kmax + 1, size=nd))
    dil_arg, dil = _per_dim(rng, nd, 1, 2)
    pmode = rng.choice(["int", "tuple", "same", "valid"], p=[0.35, 0.3, 0.2, 0.15])
    if pmode == "same":
        st_arg, st = (1 if rng.random() < 0.5 else (1,) * nd), (1,) * nd
    else:
        st_arg, st = _per_dim(rng, nd, 1, 3)
    if pmode in ("int", "tuple"):
        pad_arg, pad = _per_dim(rng, nd, 0, 2)
        if pmode == "int":
            pad_arg, pad = pad[0], (pad[0],) * nd
    else:
        pad_arg, pad = str(pmode), (0,) * nd
    smax = 6 if nd < 3 else 4
    spatial = tuple(
        max(1, d * (k - 1) + 1 - 2 * p) + int(rng.integers(0, smax))
        for k, d, p in zip(kernel, dil, pad)
    )
    batch = rng.choice([None, 0, 1, 2, 3], p=[0.15, 0.1, 0.25, 0.3, 0.2])
    x_shape = ((c_in,) if batch is None else (int(batch), c_in)) + spatial
    w_shape = (c_out, c_in // groups) + kernel
    kwargs = dict(stride=st_arg, padding=pad_arg, dilation=dil_arg, groups=groups)
    dtype = DTYPES[int(rng.integers(0, 3))]
    return dict(nd=nd, x_shape=x_shape, w_shape=w_shape, bias=bool(rng.random() < 0.6),
                kwargs=kwargs, dtype=dtype,
                transposed=(bool(rng.random() < 0.3), bool(rng.random() < 0.2), False))


def _conv_fn(nd, kwargs):
    def fn(lib, x, w, b):
        f = (F if lib is lucid else TF)
        return getattr(f, f"conv{nd}d")(x, w, b, **kwargs)
    return fn


def _arrays(cfg, seed, b_len):
    rng = np.random.default_rng(seed + 10**6)
    dt = cfg["dtype"]
    return [_random(rng, cfg["x_shape"], dt), _random(rng, cfg["w_shape"], dt),
            _random(rng, (b_len,), dt) if cfg["bias"] else None]


def check_first_order(fn, arrays, cfg, seed):
    want_y, want_g = run_first_order(torch, fn, arrays, cfg["transposed"], seed)
    got_y, got_g = run_first_order(lucid, fn, arrays, cfg["transposed"], seed)
    assert_close(got_y, want_y, cfg["dtype"], "output")
    for name, g, w in zip(("input", "weight", "bias"), got_g, want_g):
        if w is not None:
            assert_close(g, w, cfg["dtype"], f"grad of {name}")


CONV_SEEDS = range(360)


@pytest.mark.parametrize("seed", CONV_SEEDS)
def test_conv_matches_torch(seed):
    cfg = conv_config(seed)
    fn = _conv_fn(cfg["nd"], cfg["kwargs"])
    check_first_order(fn, _arrays(cfg, seed, cfg["w_shape"][0]), cfg, seed)


@pytest.mark.parametrize("seed", range(0, 360, 6))
def test_conv_second_order_matches_torch(seed):
    cfg = conv_config(seed)
    fn = _conv_fn(cfg["nd"], cfg["kwargs"])
    arrays = _arrays(cfg, seed, cfg["w_shape"][0])
    want = run_second_order(torch, fn, arrays, seed)
    got = run_second_order(lucid, fn, arrays, seed)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_close(g, w, cfg["dtype"], f"second-order grad {i}")


def test_grid_covers_the_issue_cases():
    """The random grid really contains every feature the issue lists."""
    cfgs = [conv_config(s) for s in CONV_SEEDS]
    seen = {
        "1d": any(c["nd"] == 1 for c in cfgs),
        "3d": any(c["nd"] == 3 for c in cfgs),
        "same": any(c["kwargs"]["padding"] == "same" for c in cfgs),
        "valid": any(c["kwargs"]["padding"] == "valid" for c in cfgs),
        "tuple padding": any(isinstance(c["kwargs"]["padding"], tuple) for c in cfgs),
        "stride": any(c["kwargs"]["stride"] not in (1, (1,)) for c in cfgs),
        "depthwise multiplier": any(
            c["kwargs"]["groups"] > 1 and c["w_shape"][1] == 1
            and c["w_shape"][0] > c["kwargs"]["groups"] for c in cfgs),
        "unbatched": any(len(c["x_shape"]) == c["nd"] + 1 for c in cfgs),
        "N=0": any(len(c["x_shape"]) == c["nd"] + 2 and c["x_shape"][0] == 0 for c in cfgs),
        "complex": any(c["dtype"] == np.complex128 for c in cfgs),
        "float32": any(c["dtype"] == np.float32 for c in cfgs),
        "non-contiguous": any(c["transposed"][0] for c in cfgs),
        "no bias": any(not c["bias"] for c in cfgs),
    }
    assert all(seen.values()), seen


# --------------------------------------------------------------------------- specific cases
@pytest.mark.parametrize("dtype", [np.float16, np.complex64])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_other_dtypes(nd, dtype):
    """Output and gradients keep the dtype; float16 is checked against torch in float32
    (lucid computes half precision in float32 and rounds the results)."""
    rng = np.random.default_rng(nd)
    arrays = [_random(rng, s, dtype) for s in ((2, 4) + (5,) * nd, (6, 2) + (3,) * nd, (6,),
                                               (2, 6) + (3,) * nd)]
    kw = dict(stride=2, padding=1, groups=2)
    ref_dt = np.float32 if dtype == np.float16 else dtype
    results = []
    for lib, f, dt in ((lucid, F, dtype), (torch, TF, ref_dt)):
        ts = [lib.tensor(a.astype(dt), requires_grad=True) for a in arrays[:3]]
        y = getattr(f, f"conv{nd}d")(*ts, **kw)
        y.backward(lib.tensor(arrays[3].astype(dt)))
        results.append([y.detach().numpy()] + [t.grad.numpy() for t in ts])
    tol = 5e-3 if dtype == np.float16 else 1e-4
    for got, want in zip(*results):
        assert got.dtype == dtype
        np.testing.assert_allclose(got.astype(ref_dt), want, rtol=tol,
                                   atol=tol * np.abs(want).max())


def test_complex_forward_does_not_conjugate():
    x = lucid.tensor(np.array([[[1j, 2.0, 0.0]]]))
    w = lucid.tensor(np.array([[[1j]]]))
    np.testing.assert_array_equal(F.conv1d(x, w).numpy(), [[[-1, 2j, 0]]])


@pytest.mark.parametrize("k,d", [(2, 1), (4, 1), (3, 1), (2, 3), (3, 2)])
def test_same_padding_puts_the_extra_pad_right(k, d):
    x = np.arange(7.0).reshape(1, 1, 7)
    w = np.ones((1, 1, k))
    got = F.conv1d(lucid.tensor(x), lucid.tensor(w), padding="same", dilation=d).numpy()
    want = TF.conv1d(torch.tensor(x), torch.tensor(w), padding="same", dilation=d).numpy()
    assert got.shape == (1, 1, 7)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("L,k,s,p,d", [(7, 3, 2, 1, 1), (32, 3, 2, 1, 1), (112, 7, 2, 3, 1),
                                       (10, 3, 3, 0, 2), (5, 5, 1, 0, 1), (1, 1, 4, 0, 1)])
def test_output_size_formula(L, k, s, p, d):
    y = F.conv1d(lucid.ones(1, 1, L), lucid.ones(1, 1, k), stride=s, padding=p, dilation=d)
    assert y.shape == (1, 1, (L + 2 * p - d * (k - 1) - 1) // s + 1)


def test_empty_batch_gives_zero_weight_grad():
    x = lucid.zeros(0, 2, 5, 5, requires_grad=True)
    w = lucid.ones(3, 2, 3, 3, requires_grad=True)
    b = lucid.ones(3, requires_grad=True)
    y = F.conv2d(x, w, b, padding=1)
    assert y.shape == (0, 3, 5, 5)
    y.sum().backward()
    assert x.grad.shape == (0, 2, 5, 5)
    assert not w.grad.numpy().any() and not b.grad.numpy().any()


def test_determinism_bit_identical():
    """Two runs on the same inputs give byte-identical outputs and gradients."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 8, 12, 12)).astype(np.float32)
    w = rng.standard_normal((16, 4, 3, 3)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    gy = rng.standard_normal((4, 16, 6, 6)).astype(np.float32)

    def run():
        ts = [lucid.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = F.conv2d(*ts, stride=2, padding=1, groups=2)
        y.backward(lucid.tensor(gy))
        return [y.detach().numpy().tobytes()] + [t.grad.numpy().tobytes() for t in ts]

    assert run() == run()


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "uint8"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_integer_dtypes_like_torch(nd, dtype):
    """torch's CPU convolutions accept integer tensors (exact, wrapping arithmetic);
    its transposed convolutions only int64."""
    rng = np.random.default_rng(nd)
    x = rng.integers(0, 9, (2, 4) + (5,) * nd).astype(dtype)
    w = rng.integers(0, 3, (6, 2) + (3,) * nd).astype(dtype)
    b = rng.integers(0, 3, 6).astype(dtype)
    kw = dict(stride=2, padding=1, groups=2)
    name = f"conv{nd}d"
    got = getattr(F, name)(lucid.tensor(x), lucid.tensor(w), lucid.tensor(b), **kw)
    want = getattr(TF, name)(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kw)
    assert got.dtype == getattr(lucid, dtype)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    name = f"conv_transpose{nd}d"
    wt = rng.integers(0, 3, (4, 3) + (3,) * nd).astype(dtype)
    args = (x, wt, rng.integers(0, 3, 6).astype(dtype))
    if dtype == "int64":
        got = getattr(F, name)(*map(lucid.tensor, args), **kw)
        want = getattr(TF, name)(*map(torch.tensor, args), **kw)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    else:
        with pytest.raises(RuntimeError):
            getattr(TF, name)(*map(torch.tensor, args), **kw)
        with pytest.raises(RuntimeError, match=f"not implemented.*{dtype}"):
            getattr(F, name)(*map(lucid.tensor, args), **kw)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_penalty_through_conv_and_conv_transpose(dtype):
    """WGAN-GP style: the input gradient of a conv -> tanh -> conv_transpose critic, its
    norm penalised, differentiated again w.r.t. every parameter and the input."""
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(s).astype(dtype) for s in
              ((2, 3, 8, 8), (4, 3, 3, 3), (4,), (4, 2, 4, 4), (2,), (2, 2, 8, 8))]
    results = []
    for lib, f in ((lucid, F), (torch, TF)):
        x, w1, b1, w2, b2 = (lib.tensor(a, requires_grad=True) for a in arrays[:5])
        h = f.conv2d(x, w1, b1, stride=2, padding=1).tanh()
        out = f.conv_transpose2d(h, w2, b2, stride=2, padding=1)
        score = (out * lib.tensor(arrays[5])).sum()
        (gx,) = lib.autograd.grad(score, x, create_graph=True)
        norms = (gx * gx).sum(dim=(1, 2, 3)).sqrt()
        ((norms - 1) ** 2).mean().backward()
        results.append([t.grad.numpy() for t in (x, w1, b1, w2)] + [b2.grad])
    for i, (g, w) in enumerate(zip(results[0][:4], results[1][:4])):
        assert_close(g, w, dtype, f"penalty grad {i}")
    # the bias of the last layer does not influence the input gradient
    assert results[0][4] is None or not results[0][4].numpy().any()


# --------------------------------------------------------------------------- unfold / fold
def blocks_config(seed):
    rng = np.random.default_rng(seed)
    kernel = tuple(int(v) for v in rng.integers(1, 4, size=2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, size=2))
    padding = tuple(int(v) for v in rng.integers(0, 3, size=2))
    stride = tuple(int(v) for v in rng.integers(1, 4, size=2))
    size = tuple(max(1, d * (k - 1) + 1 - 2 * p) + int(rng.integers(0, 5))
                 for k, d, p in zip(kernel, dilation, padding))
    kw = dict(kernel_size=kernel if rng.random() < 0.7 else kernel[0], dilation=dilation,
              padding=padding, stride=stride)
    if not isinstance(kw["kernel_size"], tuple):
        kernel = (kernel[0],) * 2
    blocks = [(L + 2 * p - d * (k - 1) - 1) // s + 1
              for L, k, d, p, s in zip(size, kernel, dilation, padding, stride)]
    batch = rng.choice([None, 0, 1, 2])
    lead = () if batch is None else (int(batch),)
    c = int(rng.integers(1, 4))
    dtype = DTYPES[int(rng.integers(0, 3))]
    return dict(kw=kw, size=size, image=lead + (c,) + size, dtype=dtype,
                cols=lead + (c * kernel[0] * kernel[1], blocks[0] * blocks[1]),
                transposed=(bool(rng.random() < 0.3),))


def _blocks_fn(name, kw, size):
    def fn(lib, x):
        f = F if lib is lucid else TF
        return f.unfold(x, **kw) if name == "unfold" else f.fold(x, size, **kw)
    return fn


@pytest.mark.parametrize("name", ["unfold", "fold"])
@pytest.mark.parametrize("seed", range(60))
def test_unfold_fold_match_torch(name, seed):
    cfg = blocks_config(seed)
    fn = _blocks_fn(name, cfg["kw"], cfg["size"])
    shape = cfg["image"] if name == "unfold" else cfg["cols"]
    x = _random(np.random.default_rng(seed), shape, cfg["dtype"])
    want_y, want_g = run_first_order(torch, fn, [x], cfg["transposed"], seed)
    got_y, got_g = run_first_order(lucid, fn, [x], cfg["transposed"], seed)
    assert_close(got_y, want_y, cfg["dtype"], "output")
    assert_close(got_g[0], want_g[0], cfg["dtype"], "grad")


def test_fold_is_the_adjoint_of_unfold_and_twice_differentiable():
    rng = np.random.default_rng(0)
    kw = dict(kernel_size=(2, 3), dilation=(2, 1), padding=1, stride=(1, 2))
    x = lucid.tensor(rng.standard_normal((2, 3, 7, 8)), requires_grad=True)
    cols = F.unfold(x, **kw)
    c = lucid.tensor(rng.standard_normal(cols.shape))
    back = F.fold(c, (7, 8), **kw)
    np.testing.assert_allclose((cols * c).sum().item(), (x * back).sum().item(), rtol=1e-12)
    (g,) = lucid.autograd.grad((F.unfold(x * x, **kw) * c).sum(), x, create_graph=True)
    (gg,) = lucid.autograd.grad(g.sum(), x)
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    (gt,) = torch.autograd.grad((TF.unfold(xt * xt, **kw) * torch.tensor(c.numpy())).sum(), xt,
                                create_graph=True)
    (ggt,) = torch.autograd.grad(gt.sum(), xt)
    np.testing.assert_allclose(gg.numpy(), ggt.numpy(), rtol=1e-12, atol=1e-12)


def test_unfold_keeps_non_finite_values_in_place():
    x = lucid.tensor([[[[1.0, np.inf], [2.0, 3.0]]]])
    np.testing.assert_array_equal(F.unfold(x, 1).numpy(), [[[1.0, np.inf, 2.0, 3.0]]])


def test_unfold_fold_bool_like_torch():
    x = np.array([[[[True, False, True], [False, False, True]]]])
    got = F.unfold(lucid.tensor(x), 2)
    np.testing.assert_array_equal(got.numpy(), TF.unfold(torch.tensor(x), 2).numpy())
    assert got.dtype == lucid.bool


def test_blocks_grid_covers_cases():
    cfgs = [blocks_config(s) for s in range(60)]
    assert any(len(c["image"]) == 3 for c in cfgs)
    assert any(len(c["image"]) == 4 and c["image"][0] == 0 for c in cfgs)
    assert any(c["dtype"] == np.complex128 for c in cfgs)
    assert any(not isinstance(c["kw"]["kernel_size"], tuple) for c in cfgs)


# ------------------------------------------------- every kernel algorithm, through autograd

ALGORITHMS = {  # name: (x shape, w shape, conv kwargs) chosen so the kernel takes that path
    "winograd": ((2, 64, 9, 10), (64, 64, 3, 3), dict(padding=1)),
    "winograd same": ((8, 32, 7, 8), (32, 32, 3, 3), dict(padding="same")),
    "winograd dilated": ((2, 64, 8, 6), (64, 64, 3, 3), dict(padding=2, dilation=2)),
    "split forward": ((3, 16, 6, 7), (4, 16, 3, 3), dict(padding=(2, 1), dilation=(2, 1))),
    "split forward 3-d": ((2, 8, 4, 5, 4), (3, 8, 3, 3, 2), dict(padding=1)),
    "depthwise rows": ((2, 6, 7, 8), (6, 1, 3, 3), dict(padding=1, groups=6)),
    "depthwise compiled": ((2, 6, 7, 8), (6, 1, 3, 2), dict(padding=(1, 2), groups=6)),
    "depthwise compiled 1-d": ((3, 4, 11), (4, 1, 5), dict(padding=1, groups=4)),
    "winograd 3-d compiled": ((2, 4, 3, 13, 14), (8, 4, 3, 3, 3), dict(padding=1)),
    "winograd 1-d compiled": ((1, 16, 2048), (64, 16, 9), dict(padding=4)),
    "patchify": ((2, 4, 8, 6), (6, 2, 2, 3), dict(stride=(2, 3), groups=2)),
    "pointwise": ((2, 6, 5, 4), (8, 6, 1, 1), {}),
    "im2col strided": ((2, 5, 9, 8), (7, 5, 3, 3), dict(stride=2, padding=1)),
}


NUMPY_ONLY = {"depthwise rows"}  # taken when the compiled kernels are not available


def _select_path(name: str, monkeypatch) -> None:
    """Disable the compiled kernels for the NumPy paths; skip compiled ones without numba."""
    from lucid.kernels import _compiled

    if name in NUMPY_ONLY:
        monkeypatch.setattr(_compiled, "available", lambda: False)
    elif "compiled" in name and not _compiled.available():
        pytest.skip("numba is not installed")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_every_algorithm_path_matches_torch(name, dtype, monkeypatch):
    """Output, all three gradients and the second-order gradients through each path
    (Winograd serves the forward and, with the flipped kernel, the input gradient)."""
    _select_path(name, monkeypatch)
    xs, ws, kwargs = ALGORITHMS[name]
    cfg = {"dtype": dtype, "transposed": (False, False, False)}
    fn = _conv_fn(len(xs) - 2, kwargs)
    seed = len(name)
    arrays = [_random(np.random.default_rng(seed), s, dtype) for s in (xs, ws, ws[:1])]
    check_first_order(fn, arrays, cfg, seed)
    want = run_second_order(torch, fn, arrays, seed)
    got = run_second_order(lucid, fn, arrays, seed)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_close(g, w, dtype, f"second-order grad {i}")


def test_algorithm_table_selects_its_paths(monkeypatch, record_calls):
    """Each entry of ALGORITHMS really reaches the kernel path it is named after."""
    from lucid.kernels import conv as K

    hits = record_calls(K, "winograd_conv2d", "_split_forward", "_depthwise_forward_rows",
                        "_patch_forward", "_compiled_depthwise_forward", "_winograd3d_forward",
                        "_winograd1d_forward")
    expect = {"winograd": "winograd_conv2d", "winograd same": "winograd_conv2d",
              "winograd dilated": "winograd_conv2d",
              "split forward": "_split_forward", "split forward 3-d": "_split_forward",
              "depthwise rows": "_depthwise_forward_rows", "patchify": "_patch_forward",
              "depthwise compiled": "_compiled_depthwise_forward",
              "depthwise compiled 1-d": "_compiled_depthwise_forward",
              "winograd 3-d compiled": "_winograd3d_forward",
              "winograd 1-d compiled": "_winograd1d_forward"}
    from lucid.kernels import _compiled

    for name, (xs, ws, kwargs) in ALGORITHMS.items():
        if "compiled" in name and not _compiled.available():
            continue  # covered where numba is installed (the test extra installs it)
        with monkeypatch.context() as m:
            _select_path(name, m)
            hits.clear()
            x, w = lucid.randn(*xs), lucid.randn(*ws)
            getattr(F, f"conv{len(xs) - 2}d")(x, w, **kwargs)
        assert hits == ([expect[name]] if name in expect else []), name


def test_dilated_winograd_backward_paths(record_calls):
    """The dilated Winograd entry also takes Winograd for both gradients (the input
    gradient is a dilated forward with the flipped kernel)."""
    from lucid.kernels import conv as K

    hits = record_calls(K, "winograd_conv2d", "winograd_weight_grad")
    xs, ws, kwargs = ALGORITHMS["winograd dilated"]
    x, w = lucid.randn(*xs, requires_grad=True), lucid.randn(*ws, requires_grad=True)
    F.conv2d(x, w, **kwargs).sum().backward()
    assert sorted(hits) == ["winograd_conv2d", "winograd_conv2d", "winograd_weight_grad"]
