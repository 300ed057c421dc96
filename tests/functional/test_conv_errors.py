"""Bad calls of the convolutions and ``F.pad``, driven from one table.

For each entry torch must raise, and lucid must raise one of the allowed types
(ValueError / TypeError / RuntimeError, which includes NotImplementedError) with a message
that contains the key words: the offending argument and its sizes/values.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lucid
import lucid.nn.functional as F

ALLOWED = (ValueError, TypeError, RuntimeError)


def _t(lib, shape, dtype="float32"):
    return lib.zeros(*shape, dtype=getattr(lib, dtype))


def conv(nd, x, w, b=None, dtype="float32", wdtype=None, bdtype=None, **kw):
    """A call ``conv{nd}d`` on zero tensors of the given shapes."""
    def call(lib):
        f = F if lib is lucid else TF
        bias = None if b is None else _t(lib, b, bdtype or dtype)
        return getattr(f, f"conv{nd}d")(_t(lib, x, dtype), _t(lib, w, wdtype or dtype), bias,
                                        **kw)
    return call


def convt(nd, x, w, b=None, **kw):
    def call(lib):
        f = F if lib is lucid else TF
        bias = None if b is None else _t(lib, b)
        return getattr(f, f"conv_transpose{nd}d")(_t(lib, x), _t(lib, w), bias, **kw)
    return call


def pad(shape, p, **kw):
    def call(lib):
        return (F if lib is lucid else TF).pad(_t(lib, shape), p, **kw)
    return call


def blocks(name, shape, *args, dtype="float32", **kw):
    def call(lib):
        f = F if lib is lucid else TF
        return getattr(f, name)(_t(lib, shape, dtype), *args, **kw)
    return call


X2, W2 = (1, 3, 6, 6), (4, 3, 3, 3)
CASES = {
    # ---- channels, ranks, bias, groups
    "conv2d wrong channel count": (conv(2, (1, 5, 6, 6), W2), ["channels", "5", "3"]),
    "conv2d wrong channels unbatched": (conv(2, (2, 6, 6), W2), ["channels", "2"]),
    "conv1d wrong channels": (conv(1, (2, 4, 9), (3, 2, 3)), ["channels", "4", "2"]),
    "conv2d input rank 2": (conv(2, (6, 6), W2), ["input", "[6, 6]"]),
    "conv2d input rank 5": (conv(2, (1, 1, 3, 6, 6), W2), ["input", "[1, 1, 3, 6, 6]"]),
    "conv1d input rank 4": (conv(1, X2, (4, 3, 3)), ["input", "[1, 3, 6, 6]"]),
    "conv3d input rank 3": (conv(3, (3, 6, 6), (4, 3, 3, 3, 3)), ["input", "[3, 6, 6]"]),
    "conv2d weight rank 3": (conv(2, X2, (4, 3, 3)), ["weight", "[4, 3, 3]"]),
    "conv2d weight rank 5": (conv(2, X2, (4, 3, 3, 3, 3)), ["weight", "[4, 3, 3, 3, 3]"]),
    "conv2d bias wrong size": (conv(2, X2, W2, b=(5,)), ["bias", "4", "[5]"]),
    "conv2d bias 2-d": (conv(2, X2, W2, b=(4, 1)), ["bias", "[4, 1]"]),
    "conv2d groups do not divide out": (conv(2, (1, 4, 6, 6), (3, 2, 3, 3), groups=2),
                                        ["groups=2", "weight", "[3, 2, 3, 3]"]),
    "conv2d groups do not divide in": (conv(2, (1, 3, 6, 6), (4, 1, 3, 3), groups=2),
                                       ["groups=2", "channels", "3"]),
    "conv2d groups zero": (conv(2, X2, W2, groups=0), ["groups", "0"]),
    "conv2d groups negative": (conv(2, X2, W2, groups=-1), ["groups", "-1"]),
    # ---- sizes
    "conv2d input smaller than kernel": (conv(2, (1, 3, 2, 6), W2),
                                         ["kernel size", "2 x 6", "3 x 3"]),
    "conv2d input smaller than dilated kernel": (conv(2, (1, 3, 4, 4), W2, dilation=2),
                                                 ["kernel size", "4 x 4", "5 x 5"]),
    "conv3d input smaller than kernel": (conv(3, (1, 1, 2, 5, 5), (1, 1, 3, 3, 3)),
                                         ["kernel size", "2 x 5 x 5", "3 x 3 x 3"]),
    "conv2d empty spatial input": (conv(2, (1, 3, 0, 6), W2, padding=1),
                                   ["zero batch", "[1, 3, 0, 6]"]),
    "conv2d empty spatial input, N=0": (conv(2, (0, 3, 0, 6), W2),
                                        ["kernel size", "0 x 6", "3 x 3"]),
    "conv2d empty spatial input, N=1": (conv(2, (1, 3, 5, 0), W2, padding=2),
                                        ["zero batch or zero channel", "[1, 3, 5, 0]"]),
    "conv2d kernel size 0": (conv(2, X2, (4, 3, 0, 3)), ["kernel size", "[4, 3, 0, 3]"]),
    "conv2d no output channels": (conv(2, X2, (0, 3, 3, 3)), ["weight", "[0, 3, 3, 3]"]),
    "conv_transpose2d empty weight": (convt(2, (1, 2, 5, 5), (2, 0, 1, 3)),
                                      ["weight", "[2, 0, 1, 3]"]),
    # ---- stride / dilation / padding values
    "conv2d stride 0": (conv(2, X2, W2, stride=0), ["stride", "0"]),
    "conv2d stride negative tuple": (conv(2, X2, W2, stride=(1, -2)), ["stride", "-2"]),
    "conv1d dilation 0": (conv(1, (1, 3, 9), (4, 3, 3), dilation=0), ["dilation", "0"]),
    "conv3d dilation negative": (conv(3, (1, 1, 5, 5, 5), (1, 1, 1, 1, 1), dilation=(1, 1, -1)),
                                 ["dilation", "-1"]),
    "conv2d negative padding": (conv(2, X2, W2, padding=-1), ["padding", "-1"]),
    "conv2d negative padding tuple": (conv(2, X2, W2, padding=(0, -2)), ["padding", "-2"]),
    "conv2d bad padding string": (conv(2, X2, W2, padding="full"), ["padding", "full"]),
    "conv2d same with stride": (conv(2, X2, W2, padding="same", stride=2),
                                ["same", "stride"]),
    "conv1d same with stride tuple": (conv(1, (1, 3, 9), (4, 3, 3), padding="same",
                                           stride=(2,)), ["same", "stride"]),
    "conv3d same with stride": (conv(3, (1, 1, 5, 5, 5), (1, 1, 3, 3, 3), padding="same",
                                     stride=(1, 2, 1)), ["same", "stride"]),
    "conv2d stride tuple too long": (conv(2, X2, W2, stride=(1, 1, 1)),
                                     ["stride", "[1, 1, 1]"]),
    "conv2d padding tuple too long": (conv(2, X2, W2, padding=(1, 1, 1)),
                                      ["padding", "[1, 1, 1]"]),
    "conv1d dilation tuple too long": (conv(1, (1, 3, 9), (4, 3, 3), dilation=(1, 1)),
                                       ["dilation", "[1, 1]"]),
    "conv2d stride float": (conv(2, X2, W2, stride=1.5), ["stride", "1.5"]),
    # ---- dtypes
    "conv2d dtype mismatch input/weight": (conv(2, X2, W2, wdtype="float64"),
                                           ["float32", "float64", "weight"]),
    "conv2d dtype mismatch bias": (conv(2, X2, W2, b=(4,), bdtype="float64"),
                                   ["float32", "float64", "bias"]),
    "conv2d bool input": (conv(2, X2, W2, dtype="bool"), ["bool"]),
    # ---- transposed
    "conv_transpose2d wrong channel count": (convt(2, (1, 5, 4, 4), (3, 2, 3, 3)),
                                             ["channels", "5", "3"]),
    "conv_transpose2d input rank": (convt(2, (4, 4), (3, 2, 3, 3)), ["input", "[4, 4]"]),
    "conv_transpose2d weight rank": (convt(2, (1, 3, 4, 4), (3, 2, 3)), ["weight", "[3, 2, 3]"]),
    "conv_transpose2d bias wrong size": (convt(2, (1, 4, 4, 4), (4, 2, 3, 3), b=(2,), groups=2),
                                         ["bias", "4", "[2]"]),
    "conv_transpose2d groups do not divide": (convt(2, (1, 3, 4, 4), (3, 2, 3, 3), groups=2),
                                              ["groups=2", "[3, 2, 3, 3]"]),
    "conv_transpose2d output_padding = stride": (
        convt(2, (1, 3, 4, 4), (3, 2, 3, 3), stride=2, output_padding=2),
        ["output padding", "stride", "[2, 2]"]),
    "conv_transpose1d output_padding >= stride and dilation": (
        convt(1, (1, 3, 4), (3, 2, 3), stride=2, dilation=2, output_padding=2),
        ["output padding", "dilation"]),
    "conv_transpose3d output_padding stride 1": (
        convt(3, (1, 1, 2, 2, 2), (1, 1, 2, 2, 2), output_padding=(0, 1, 0)),
        ["output padding", "[0, 1, 0]"]),
    "conv_transpose2d output_padding tuple too long": (
        convt(2, (1, 3, 4, 4), (3, 2, 3, 3), stride=2, output_padding=(1, 1, 1)),
        ["output_padding", "[1, 1, 1]"]),
    "conv_transpose2d padding string": (convt(2, (1, 3, 4, 4), (3, 2, 3, 3), padding="same"),
                                        ["padding", "same"]),
    "conv_transpose2d negative padding": (convt(2, (1, 3, 4, 4), (3, 2, 3, 3), padding=-1),
                                          ["padding", "-1"]),
    "conv_transpose2d stride 0": (convt(2, (1, 3, 4, 4), (3, 2, 3, 3), stride=0),
                                  ["stride", "0"]),
    "conv_transpose1d output too small": (convt(1, (1, 1, 1), (1, 1, 1), padding=1),
                                          ["output size", "-1"]),
    # ---- F.unfold / F.fold
    "unfold 5-d input": (blocks("unfold", (1, 2, 3, 5, 5), 2), ["input", "[1, 2, 3, 5, 5]"]),
    "unfold 2-d input": (blocks("unfold", (5, 5), 2), ["input", "[5, 5]"]),
    "unfold empty channel dim": (blocks("unfold", (2, 0, 5, 5), 2), ["input", "[2, 0, 5, 5]"]),
    "unfold kernel larger than input": (blocks("unfold", (2, 3, 2, 2), 3),
                                        ["sliding blocks", "(0, 0)", "(2, 2)"]),
    "unfold kernel tuple too long": (blocks("unfold", X2, (2, 2, 2)),
                                     ["kernel_size", "[2, 2, 2]"]),
    "unfold kernel 0": (blocks("unfold", X2, 0), ["kernel_size", "[0, 0]"]),
    "unfold stride 0": (blocks("unfold", X2, 2, stride=0), ["stride", "[0, 0]"]),
    "unfold dilation 0": (blocks("unfold", X2, 2, dilation=0), ["dilation", "[0, 0]"]),
    "unfold negative padding": (blocks("unfold", X2, 2, padding=-1), ["padding", "[-1, -1]"]),
    "unfold integer input": (blocks("unfold", X2, 2, dtype="int64"), ["int64"]),
    "fold wrong number of blocks": (blocks("fold", (2, 12, 15), (5, 5), 2),
                                    ["sliding blocks", "16", "15"]),
    "fold channels not divisible": (blocks("fold", (2, 13, 16), (5, 5), 2),
                                    ["divisible", "13", "(2, 2)"]),
    "fold 4-d input": (blocks("fold", (2, 12, 16, 1), (5, 5), 2), ["input", "[2, 12, 16, 1]"]),
    "fold output_size too long": (blocks("fold", (2, 12, 16), (5, 5, 5), 2),
                                  ["output_size", "[5, 5, 5]"]),
    "fold no block fits": (blocks("fold", (2, 12, 1), (1, 1), 2), ["sliding blocks", "0 * 0"]),
    "fold empty blocks dim": (blocks("fold", (2, 12, 0), (5, 5), 2), ["input", "[2, 12, 0]"]),
    # ---- F.pad
    "pad odd length": (pad((1, 2, 3), (1, 2, 3)), ["divisible by 2"]),
    "pad too long": (pad((2, 3), (1, 1, 1, 1, 1, 1)), ["pad", "2"]),
    "pad non-int entries": (pad((2, 3), (1.5, 1)), ["pad", "1.5"]),
    "pad bad mode": (pad((1, 2, 3), (1, 1), mode="mirror"), ["mirror"]),
    "pad mode not a string": (pad((1, 2, 3), (1, 1), mode=3), ["mode", "int"]),
    "pad value with reflect": (pad((1, 2, 3), (1, 1), mode="reflect", value=1.0),
                               ["reflect", "value"]),
    "pad complex value": (pad((1, 2, 3), (1, 1), value=1j), ["value", "complex"]),
    "reflect pad equal to dim": (pad((1, 2, 3), (3, 0), mode="reflect"),
                                 ["reflect", "(3, 0)", "3"]),
    "reflect pad larger than dim 2d": (pad((1, 2, 3, 4), (1, 1, 0, 4), mode="reflect"),
                                       ["reflect", "(0, 4)", "3"]),
    "replicate on 1-d input": (pad((5,), (1, 1), mode="replicate"), ["replicate", "1D"]),
    "reflect 4 pairs": (pad((1, 1, 3, 3, 3), (1,) * 8, mode="reflect"), ["reflect"]),
    "circular wraps more than once": (pad((1, 2, 3), (4, 0), mode="circular"),
                                      ["circular", "(4, 0)", "3"]),
    "constant crop below zero": (pad((1, 2, 3), (-2, -2)), ["(-2, -2)", "3"]),
    "replicate empty channel dim": (pad((1, 0, 3), (1, 1), mode="replicate"),
                                    ["replicate", "[1, 0, 3]"]),
}


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", list(CASES))
def test_bad_call_raises_like_torch(name):
    call, keys = CASES[name]
    # torch's errors are of these types too, except an IndexError that torch's unfold
    # raises for a 2-d input (it indexes a dim before checking the rank); lucid says
    # what is wrong with a RuntimeError there
    with pytest.raises((*ALLOWED, IndexError)):
        call(torch)
    with pytest.raises(ALLOWED) as info:
        call(lucid)
    message = str(info.value).lower()
    missing = [k for k in keys if k.lower() not in message]
    assert not missing, f"{name}: {missing} not in {info.value}"


def test_non_tensor_arguments():
    w = lucid.zeros(4, 3, 3, 3)
    with pytest.raises(TypeError, match="input"):
        F.conv2d(np.zeros((1, 3, 6, 6)), w)
    with pytest.raises(TypeError, match="weight"):
        F.conv_transpose2d(lucid.zeros(1, 4, 3, 3), np.zeros((4, 3, 3, 3)))
    with pytest.raises(TypeError, match="bias"):
        F.conv2d(lucid.zeros(1, 3, 6, 6), w, [0.0] * 4)
    with pytest.raises(TypeError, match="input"):
        F.pad(np.zeros((2, 2)), (1, 1))


def test_errors_keep_torch_types_where_informative():
    """Shape errors are RuntimeErrors (as torch); a bad padding string a ValueError."""
    with pytest.raises(RuntimeError):
        F.conv2d(lucid.zeros(1, 5, 6, 6), lucid.zeros(4, 3, 3, 3))
    with pytest.raises(ValueError):
        F.conv2d(lucid.zeros(1, 3, 6, 6), lucid.zeros(4, 3, 3, 3), padding="full")
    with pytest.raises(NotImplementedError):
        F.pad(lucid.zeros(5), (1, 1), mode="replicate")


# --------------------------------------------------------------------------- fuzzed calls
def _value(rng, nd, choices, p_tuple=0.4, p_bad_len=0.05):
    if rng.random() < p_tuple:
        n = nd + (int(rng.choice([-1, 1])) if rng.random() < p_bad_len and nd > 1 else 0)
        return tuple(int(rng.choice(choices)) for _ in range(n))
    return int(rng.choice(choices))


def fuzz_case(seed):
    """A random call that is often, but not always, valid."""
    rng = np.random.default_rng(seed)
    nd = int(rng.integers(1, 4))
    transposed = bool(rng.random() < 0.4)
    groups = int(rng.choice([1, 1, 2, 3], p=[0.4, 0.2, 0.3, 0.1])) if rng.random() > 0.03 else 0
    cin = int(rng.integers(1, 4)) * max(groups, 1) + (int(rng.random() < 0.1))
    cw = int(rng.integers(1, 3)) * max(groups, 1) + (int(rng.random() < 0.1))
    kernel = tuple(int(k) for k in rng.integers(1, 4, size=nd))
    if transposed:
        w_shape = (cin if rng.random() > 0.1 else cin + 1, int(rng.integers(1, 3))) + kernel
        c_out = w_shape[1] * max(groups, 1)
    else:
        w_shape = (cw, cin // max(groups, 1) if rng.random() > 0.1 else cin) + kernel
        c_out = cw
    spatial = tuple(int(v) for v in rng.integers(0 if rng.random() < 0.05 else 1, 6, size=nd))
    batch = () if rng.random() < 0.2 else (int(rng.integers(0, 3)),)
    x_shape = batch + (cin,) + spatial
    if rng.random() < 0.05:
        x_shape = (1,) + x_shape
    if rng.random() < 0.05:
        w_shape = w_shape[:-1]
    kw = dict(stride=_value(rng, nd, [1, 1, 2, 3] + [0, -1] * (rng.random() < 0.1)),
              dilation=_value(rng, nd, [1, 1, 2] + [0] * (rng.random() < 0.1)), groups=groups)
    pad_choices = [0, 1, 2] + [-1] * (rng.random() < 0.1)
    if not transposed and rng.random() < 0.25:
        kw["padding"] = str(rng.choice(["same", "valid", "same", "full"]))
    else:
        kw["padding"] = _value(rng, nd, pad_choices)
    if transposed:
        kw["output_padding"] = _value(rng, nd, [0, 0, 1, 2])
    b_shape = None if rng.random() < 0.4 else (c_out + int(rng.random() < 0.1),)
    name = f"conv_transpose{nd}d" if transposed else f"conv{nd}d"
    return name, x_shape, w_shape, b_shape, kw


def _torch_accepts(name, shapes, kw):
    try:
        getattr(TF, name)(*[None if s is None else torch.zeros(s) for s in shapes], **kw)
        return True
    except Exception:
        return False


def torch_skips_its_checks(name, shapes, kw):
    """PyTorch defects where its checks depend on which backend runs the call.

    * With an empty batch (N=0) torch skips its backends' argument checks (``dilation=0``,
      ``output_padding >= stride``, an empty transposed output all pass) while the same
      call with N=1 raises.
    * A transposed convolution whose output has a zero-size dim is refused with
      ``groups=1`` ("Output size is too small") but returned empty by the grouped paths.

    lucid checks every call the same way, so it raises in both cases.
    """
    x, w = shapes[:2]
    nd = int(name[-2])
    if len(x) == nd + 2 and x[0] == 0:
        # the same call with one sample (empty spatial dims, which only N=0 allows, made
        # large: that only makes a call more valid)
        one = (1, x[1]) + tuple(L or 50 for L in x[2:])
        if not _torch_accepts(name, (one,) + shapes[1:], kw):
            return True
    if name.startswith("conv_transpose"):
        out = getattr(TF, name)(*[None if s is None else torch.zeros(s) for s in shapes], **kw)
        return 0 in out.shape[-nd:]
    return False


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("seed", range(300))
def test_fuzzed_call_fails_exactly_where_torch_fails(seed):
    name, x_shape, w_shape, b_shape, kw = fuzz_case(seed)
    shapes = (x_shape, w_shape, b_shape)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) if s is not None else None for s in shapes]

    def call(lib):
        f = F if lib is lucid else TF
        args = [None if a is None else lib.tensor(a) for a in arrays]
        return getattr(f, name)(*args, **kw)

    try:
        want = call(torch).numpy()
    except Exception:
        want = None
    if want is None or torch_skips_its_checks(name, shapes, kw):
        with pytest.raises(ALLOWED):
            call(lucid)
        return
    got = call(lucid).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * np.abs(want).max(initial=1.0))


def test_empty_batch_is_checked_like_a_full_one():
    """See :func:`torch_skips_its_checks`."""
    x0, w = lucid.zeros(0, 2, 3, 3), lucid.zeros(2, 1, 2, 2)
    assert tuple(TF.conv_transpose2d(torch.zeros(0, 2, 3, 3), torch.zeros(2, 1, 2, 2),
                                     stride=1, output_padding=1).shape) == (0, 1, 5, 5)
    with pytest.raises(RuntimeError, match="output padding must be smaller"):
        F.conv_transpose2d(x0, w, stride=1, output_padding=1)
    with pytest.raises(RuntimeError, match="dilation"):
        F.conv2d(x0, lucid.zeros(1, 2, 2, 2), dilation=0)
    assert F.conv2d(x0, lucid.zeros(1, 2, 2, 2)).shape == (0, 1, 2, 2)


def test_empty_transposed_output_is_refused_for_every_groups():
    """See :func:`torch_skips_its_checks`."""
    x, w = torch.zeros(1, 2, 3, 3), torch.zeros(2, 1, 2, 2)
    assert tuple(TF.conv_transpose2d(x, w, padding=(2, 0), groups=2).shape) == (1, 2, 0, 4)
    with pytest.raises(RuntimeError, match="too small"):
        TF.conv_transpose2d(x, torch.zeros(2, 2, 2, 2), padding=(2, 0))
    for groups, c in ((1, 2), (2, 1)):
        with pytest.raises(RuntimeError, match=r"\(0 x 4\) is too small"):
            F.conv_transpose2d(lucid.zeros(1, 2, 3, 3), lucid.zeros(2, c, 2, 2),
                               padding=(2, 0), groups=groups)


def test_zero_input_channels_give_zeros_of_the_right_shape():
    """torch returns a tensor with 0 output channels here (a silent wrong shape); the
    convolution of an empty channel set is zero (plus bias) with C_out channels."""
    assert tuple(TF.conv2d(torch.zeros(1, 0, 5, 5), torch.zeros(2, 0, 1, 3)).shape) \
        == (1, 0, 5, 3)
    y = F.conv2d(lucid.zeros(1, 0, 5, 5), lucid.zeros(2, 0, 1, 3), lucid.ones(2))
    assert y.shape == (1, 2, 5, 3)
    np.testing.assert_array_equal(y.numpy(), np.ones((1, 2, 5, 3)))


def test_fuzz_has_both_outcomes():
    ok = 0
    for seed in range(300):
        name, x_shape, w_shape, b_shape, kw = fuzz_case(seed)
        try:
            args = [None if s is None else torch.zeros(s) for s in (x_shape, w_shape, b_shape)]
            getattr(TF, name)(*args, **kw)
            ok += 1
        except Exception:
            pass
    assert 60 <= ok <= 240, ok
