"""Conv1d/2d/3d and ConvTranspose1d/2d/3d modules against PyTorch: forward values and the
gradients of the input, weight and bias over seeded random configurations, plus
construction and input errors, reprs and initialisation."""

import math
import random

import numpy as np
import pytest
import torch

import lucid
import lucid.nn as nn

torch.set_num_threads(2)

MODES = ["zeros", "reflect", "replicate", "circular"]


def lt(t):
    return lucid.tensor(t.detach().numpy())


def conv_config(rng, n):
    groups = rng.choice([1, 1, 2, 3])
    cfg = dict(
        in_channels=groups * rng.randint(1, 2),
        out_channels=groups * rng.randint(1, 3),
        kernel_size=tuple(rng.randint(1, 3) for _ in range(n)),
        stride=tuple(rng.randint(1, 3) for _ in range(n)),
        dilation=tuple(rng.randint(1, 2) for _ in range(n)),
        groups=groups,
        bias=rng.random() < 0.7,
        padding_mode=rng.choice(MODES),
    )
    kind = rng.random()
    if kind < 0.15:
        cfg["padding"] = "valid"
    elif kind < 0.35:
        cfg["padding"] = "same"
        cfg["stride"] = 1
    else:
        cfg["padding"] = tuple(rng.randint(0, 2) for _ in range(n))
    spatial = []
    for i in range(n):
        k = cfg["dilation"][i] * (cfg["kernel_size"][i] - 1) + 1
        pad = cfg["padding"][i] if isinstance(cfg["padding"], tuple) else k
        spatial.append(max(k, pad + 1) + rng.randint(0, 3))  # reflect needs pad < size
    return cfg, spatial


def transpose_config(rng, n):
    groups = rng.choice([1, 1, 2])
    stride = tuple(rng.randint(1, 3) for _ in range(n))
    dilation = tuple(rng.randint(1, 2) for _ in range(n))
    cfg = dict(
        in_channels=groups * rng.randint(1, 2),
        out_channels=groups * rng.randint(1, 3),
        kernel_size=tuple(rng.randint(1, 3) for _ in range(n)),
        stride=stride,
        padding=tuple(rng.randint(0, 1) for _ in range(n)),
        output_padding=tuple(rng.randint(0, max(s, d) - 1) for s, d in zip(stride, dilation)),
        groups=groups,
        bias=rng.random() < 0.7,
        dilation=dilation,
    )
    return cfg, [rng.randint(2, 4) for _ in range(n)]


def run_pair(cls_name, cfg, spatial, rng, dtype, batched=True, output_size=None):
    torch.manual_seed(rng.randint(0, 10_000))
    tdt = torch.float64 if dtype == "float64" else torch.float32
    t = getattr(torch.nn, cls_name)(**cfg, dtype=tdt)
    m = getattr(nn, cls_name)(**cfg, dtype=getattr(lucid, dtype))
    m.load_state_dict({k: lt(v) for k, v in t.state_dict().items()})
    shape = ([2] if batched else []) + [cfg["in_channels"]] + spatial
    x = np.random.default_rng(rng.randint(0, 10_000)).standard_normal(shape).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    lx = lucid.tensor(x, requires_grad=True)
    kw = {} if output_size is None else {"output_size": output_size}
    ty, ly = t(tx, **kw), m(lx, **kw)
    assert ly.shape == tuple(ty.shape)
    assert ly.dtype == getattr(lucid, dtype)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ly.detach().numpy(), ty.detach().numpy(), **tol)
    g = np.random.default_rng(1).standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.tensor(g))
    ly.backward(lucid.tensor(g))
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), **tol)
    for (name, p), (_, tp) in zip(m.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), err_msg=name, **tol)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("seed", range(8))
def test_conv_matches_torch(n, seed):
    rng = random.Random(1000 * n + seed)
    cfg, spatial = conv_config(rng, n)
    dtype = "float32" if seed % 4 == 3 else "float64"
    run_pair(f"Conv{n}d", cfg, spatial, rng, dtype, batched=seed % 3 != 2)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", ["same", (1, 2)])
def test_every_padding_mode_2d(mode, padding):
    rng = random.Random(7)
    cfg = dict(in_channels=2, out_channels=3, kernel_size=(3, 4), stride=1, padding=padding,
               dilation=(1, 2), groups=1, bias=True, padding_mode=mode)
    run_pair("Conv2d", cfg, [5, 7], rng, "float64")


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("seed", range(6))
def test_conv_transpose_matches_torch(n, seed):
    rng = random.Random(2000 * n + seed)
    cfg, spatial = transpose_config(rng, n)
    dtype = "float32" if seed % 3 == 2 else "float64"
    run_pair(f"ConvTranspose{n}d", cfg, spatial, rng, dtype, batched=seed != 4)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_conv_transpose_output_size(n):
    rng = random.Random(n)
    cfg = dict(in_channels=2, out_channels=2, kernel_size=3, stride=3, padding=1)
    t = getattr(torch.nn, f"ConvTranspose{n}d")(**cfg)
    base = list(t(torch.zeros(1, 2, *([3] * n))).shape[2:])
    for extra in range(3):  # every valid size, given as spatial or full size
        size = [b + extra for b in base]
        run_pair(f"ConvTranspose{n}d", cfg, [3] * n, rng, "float64", output_size=size)
        run_pair(f"ConvTranspose{n}d", cfg, [3] * n, rng, "float64",
                 output_size=[2, 2, *size])


def test_conv_transpose_bad_output_size():
    m = nn.ConvTranspose2d(2, 2, 3, stride=2)
    x = lucid.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match="requested an output size of"):
        m(x, output_size=[20, 20])
    with pytest.raises(ValueError, match="output_size must have 2 or 4 elements"):
        m(x, output_size=[9])


def test_depthwise_and_complex():
    rng = random.Random(3)
    cfg = dict(in_channels=4, out_channels=8, kernel_size=3, stride=1, padding=1, dilation=1,
               groups=4, bias=True, padding_mode="zeros")
    run_pair("Conv2d", cfg, [6, 6], rng, "float64")
    m = nn.Conv1d(2, 3, 2, dtype=lucid.complex64)
    assert m.weight.dtype == lucid.complex64 and m.weight.detach().numpy().imag.any()
    t = torch.nn.Conv1d(2, 3, 2, dtype=torch.complex64)
    m.load_state_dict({k: lucid.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    x = (np.random.default_rng(0).standard_normal((1, 2, 5))
         + 1j * np.random.default_rng(1).standard_normal((1, 2, 5))).astype(np.complex64)
    np.testing.assert_allclose(m(lucid.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- repr / attributes
REPR_CASES = [
    ("Conv2d", (16, 33, (3, 5)), dict(stride=(2, 1), padding=(4, 2))),
    ("Conv2d", (16, 33, 3), dict(stride=2)),
    ("Conv2d", (16, 33, (3, 5)), dict(stride=(2, 1), padding=(4, 2), dilation=(3, 1))),
    ("Conv1d", (4, 4, 3), dict(padding="same", padding_mode="reflect", groups=2, bias=False)),
    ("Conv3d", (2, 4, 1), dict(padding="valid", padding_mode="circular")),
    ("ConvTranspose1d", (4, 2, 3), dict(stride=2, output_padding=1, dilation=2, groups=2)),
    ("ConvTranspose2d", (4, 2, (2, 3)), dict(bias=False, padding=(1, 0))),
    ("ConvTranspose3d", (1, 1, 2), dict()),
    ("LazyConv2d", (64, 3), dict(padding=1)),
    ("LazyConvTranspose2d", (32, 4), dict(stride=2, padding=1, output_padding=1)),
]


@pytest.mark.parametrize("name, args, kwargs", REPR_CASES)
def test_repr_and_attributes_match_torch(name, args, kwargs):
    m = getattr(nn, name)(*args, **kwargs)
    t = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(m) == repr(t)
    for attr in ("out_channels", "kernel_size", "stride", "padding", "dilation",
                 "output_padding", "groups", "padding_mode", "transposed",
                 "_reversed_padding_repeated_twice"):
        assert getattr(m, attr) == (list(getattr(t, attr)) if attr.startswith("_")
                                    else getattr(t, attr)), attr
    if not name.startswith("Lazy"):
        assert m.in_channels == t.in_channels
        assert list(m.state_dict()) == list(t.state_dict())
        for k, v in m.state_dict().items():
            assert v.shape == tuple(t.state_dict()[k].shape)


@pytest.mark.parametrize("cls, transposed", [(nn.Conv2d, False), (nn.ConvTranspose3d, True)])
def test_initialisation_bounds_and_reset(cls, transposed):
    lucid.manual_seed(0)
    m = cls(6, 4, 3, groups=2)
    fan_in = (4 // 2 if transposed else 6 // 2) * math.prod(m.kernel_size)
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) == U(-1/sqrt(fan_in), ...)
    w, b = m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.8 * bound and w.std() > bound / 3
    m.reset_parameters()
    assert not np.array_equal(w, m.weight.detach().numpy())
    lucid.manual_seed(0)
    np.testing.assert_array_equal(cls(6, 4, 3, groups=2).weight.detach().numpy(), w)


def test_dtype_and_device_arguments():
    m = nn.Conv2d(1, 1, 1, dtype=lucid.float64, device="cpu")
    assert m.weight.dtype == lucid.float64 and m.bias.dtype == lucid.float64
    with pytest.raises(RuntimeError, match="not available"):
        nn.Conv2d(1, 1, 1, device="cuda")
    with pytest.raises(TypeError, match="dtype must be a floating point or complex dtype"):
        nn.Conv2d(1, 1, 1, dtype=lucid.int64)


# --------------------------------------------------------------------------- construction errors
BAD_CONFIGS = [
    (nn.Conv2d, (4, 4, 3), dict(groups=0), ValueError, "groups must be a positive integer"),
    (nn.Conv2d, (3, 4, 3), dict(groups=2), ValueError, "in_channels must be divisible by groups"),
    (nn.Conv2d, (4, 3, 3), dict(groups=2), ValueError, "out_channels must be divisible by groups"),
    (nn.Conv2d, (4, 4, 3), dict(padding="full"), ValueError, "Invalid padding string 'full'"),
    (nn.Conv1d, (4, 4, 3), dict(padding="same", stride=2), ValueError,
     "padding='same' is not supported for strided convolutions"),
    (nn.Conv3d, (4, 4, 3), dict(padding_mode="mirror"), ValueError,
     "padding_mode must be one of"),
    (nn.ConvTranspose2d, (4, 4, 3), dict(padding_mode="reflect"), ValueError,
     'Only "zeros" padding mode is supported for ConvTranspose2d'),
    (nn.ConvTranspose1d, (4, 4, 3), dict(padding="same"), ValueError,
     "does not support string padding"),
    (nn.Conv2d, (4, 4, (3, 3, 3)), {}, ValueError, "kernel_size must be an int or a tuple of 2"),
    (nn.Conv1d, (4, 4, 3), dict(stride=(1, 1)), ValueError,
     "stride must be an int or a tuple of 1"),
    (nn.Conv3d, (4, 4, 3), dict(padding=(1, 1)), ValueError,
     "padding must be an int or a tuple of 3"),
    (nn.Conv2d, (4, 4, 3), dict(dilation=2.0), ValueError, "dilation must be an int or a tuple"),
    (nn.Conv2d, (4, 4, (3, 0)), {}, ValueError, "kernel_size should be greater than zero"),
    (nn.Conv2d, (4, 4, 3), dict(stride=(1, 0)), ValueError, "non-positive stride is not supported"),
    (nn.Conv2d, (4, 4, 3), dict(dilation=0), ValueError, "dilation should be greater than zero"),
    (nn.Conv2d, (4, 4, 3), dict(padding=-1), ValueError, "negative padding is not supported"),
    (nn.ConvTranspose2d, (4, 4, 3), dict(output_padding=-1), ValueError,
     "negative output_padding"),
    (nn.ConvTranspose2d, (4, 4, 3), dict(stride=2, output_padding=2), ValueError,
     "output padding must be smaller than either stride or dilation"),
    (nn.Conv2d, (4.0, 4, 3), {}, TypeError, "in_channels must be an int"),
    (nn.Conv2d, (4, -4, 3), {}, ValueError, "out_channels must be non-negative"),
    (nn.Conv2d, (4, 4, 3), dict(groups=1.5), TypeError, "groups must be an int"),
]


@pytest.mark.parametrize("cls, args, kwargs, exc, msg", BAD_CONFIGS)
def test_bad_configuration(cls, args, kwargs, exc, msg):
    with pytest.raises(exc, match=msg.replace("(", r"\(").replace(")", r"\)")):
        cls(*args, **kwargs)


def test_torch_raises_for_the_shared_configuration_errors():
    # the errors PyTorch raises at construction have the same type and wording
    for cls, args, kwargs, msg in [
        ("Conv2d", (4, 4, 3), dict(groups=0), "groups must be a positive integer"),
        ("Conv2d", (3, 4, 3), dict(groups=2), "in_channels must be divisible by groups"),
        ("Conv1d", (4, 4, 3), dict(padding="same", stride=2), "padding='same' is not supported"),
        ("ConvTranspose2d", (4, 4, 3), dict(padding_mode="reflect"), '"zeros" padding mode'),
    ]:
        with pytest.raises(ValueError, match=msg):
            getattr(torch.nn, cls)(*args, **kwargs)


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("module, x", [
    (nn.Conv2d(3, 4, 3), lucid.zeros(1, 2, 5, 5)),
    (nn.Conv1d(3, 4, 3), lucid.zeros(2, 3)),
    (nn.Conv3d(3, 4, 3, dilation=2), lucid.zeros(1, 3, 4, 9, 9)),
    (nn.ConvTranspose2d(3, 4, 3), lucid.zeros(1, 4, 5, 5)),
    (nn.ConvTranspose1d(3, 4, 3), lucid.zeros(1, 1, 3, 5)),
    (nn.Conv2d(3, 4, 3, padding_mode="reflect", padding=2), lucid.zeros(1, 3, 2, 2)),
])
def test_bad_inputs_raise_naming_sizes(module, x):
    with pytest.raises((RuntimeError, ValueError)) as e:
        module(x)
    msg = str(e.value)
    assert any(str(s) in msg for s in x.shape), msg
