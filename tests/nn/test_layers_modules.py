"""Activation, reshaping, dropout, pooling and upsampling modules against torch.nn."""

import numpy as np
import pytest
import torch

import lucid
import lucid.nn as nn

torch.set_num_threads(1)  # tiny tensors: threads only add overhead

# (constructor arguments evaluated in both libraries, input shape)
MODULES = [
    ("LeakyReLU()", (3, 4)), ("LeakyReLU(0.2, True)", (3, 4)), ("ELU()", (3, 4)),
    ("ELU(0.5, inplace=True)", (3, 4)), ("GELU()", (3, 4)), ("GELU('tanh')", (3, 4)),
    ("SiLU()", (3, 4)), ("SiLU(inplace=True)", (3, 4)), ("Mish()", (3, 4)), ("Sigmoid()", (3, 4)),
    ("Tanh()", (3, 4)), ("Softmax(dim=1)", (3, 4)), ("Softmax()", (2, 3, 4)),
    ("LogSoftmax(dim=-1)", (3, 4)), ("Softplus()", (3, 4)), ("Softplus(2, 3)", (3, 4)),
    ("Hardtanh()", (3, 4)), ("Hardtanh(-2, 3, True)", (3, 4)), ("ReLU6()", (3, 4)),
    ("ReLU6(True)", (3, 4)), ("Hardswish()", (3, 4)), ("Hardsigmoid()", (3, 4)),
    ("Flatten()", (2, 3, 4)), ("Flatten(0, 1)", (2, 3, 4)), ("Unflatten(1, (2, 6))", (2, 12)),
    ("Unflatten(-1, [3, -1])", (2, 12)),
    ("MaxPool1d(3, 2, 1)", (2, 3, 9)), ("MaxPool2d(2)", (2, 3, 6, 5)),
    ("MaxPool2d((3, 2), stride=(2, 1), padding=1, dilation=1, ceil_mode=True)", (3, 7, 6)),
    ("MaxPool3d(2, stride=1)", (1, 2, 3, 4, 3)), ("AvgPool1d(3, 2, 1)", (2, 3, 9)),
    ("AvgPool1d(2, ceil_mode=True, count_include_pad=False)", (3, 7)),
    ("AvgPool2d(3, 2, 1, divisor_override=4)", (2, 3, 6, 5)),
    ("AvgPool3d((2, 1, 2))", (1, 2, 4, 3, 4)), ("AdaptiveAvgPool1d(4)", (2, 3, 9)),
    ("AdaptiveAvgPool2d((2, None))", (2, 3, 6, 5)), ("AdaptiveAvgPool3d(2)", (1, 2, 4, 3, 5)),
    ("AdaptiveMaxPool1d(4)", (2, 3, 9)), ("AdaptiveMaxPool2d(3)", (3, 7, 6)),
    ("AdaptiveMaxPool3d((1, 2, 3))", (1, 2, 4, 3, 5)),
    ("Upsample(scale_factor=2)", (2, 3, 4)),
    ("Upsample(size=(3, 5), mode='bilinear')", (1, 2, 4, 4)),
    ("Upsample(scale_factor=1.5, mode='trilinear', align_corners=True)", (1, 2, 2, 3, 2)),
    ("Upsample(scale_factor=(2, 3), mode='nearest')", (1, 2, 3, 2)),
    ("UpsamplingNearest2d(scale_factor=2)", (1, 2, 3, 2)),
    ("UpsamplingBilinear2d(size=5)", (1, 2, 3, 2)),
]


@pytest.mark.filterwarnings("ignore:Implicit dimension choice for softmax")
@pytest.mark.parametrize("expr,shape", MODULES, ids=[m[0] for m in MODULES])
def test_module_matches_torch(expr, shape):
    lm, tm = eval("nn." + expr), eval("torch.nn." + expr)
    assert repr(lm) == repr(tm)
    x = np.random.default_rng(0).standard_normal(shape) * 3
    lx, tx = lucid.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    # non-leaf inputs, so that inplace modules may overwrite them
    ly, ty = lm(lx * 1.0), tm(tx * 1.0)
    np.testing.assert_allclose(ly.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    gy = np.random.default_rng(1).standard_normal(ly.shape)
    ly.backward(lucid.tensor(gy))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("expr,shape", [("MaxPool2d(2, return_indices=True)", (2, 3, 4, 4)),
                                        ("MaxPool1d(2, return_indices=True)", (3, 8)),
                                        ("AdaptiveMaxPool2d(2, True)", (1, 2, 5, 5))])
def test_pool_modules_return_indices(expr, shape):
    lm, tm = eval("nn." + expr), eval("torch.nn." + expr)
    x = np.random.default_rng(2).standard_normal(shape)
    (ly, li), (ty, ti) = lm(lucid.tensor(x)), tm(torch.tensor(x))
    np.testing.assert_array_equal(ly.numpy(), ty.numpy())
    np.testing.assert_array_equal(li.numpy(), ti.numpy())


def test_modules_have_no_state():
    for expr, _ in MODULES:
        m = eval("nn." + expr)
        assert list(m.parameters()) == [] and m.state_dict() == {}


@pytest.mark.parametrize("cls,shape", [("Dropout", (20, 30)), ("Dropout1d", (20, 30, 4)),
                                       ("Dropout2d", (10, 30, 2, 2)),
                                       ("Dropout3d", (10, 30, 2, 2, 2))])
def test_dropout_modules(cls, shape):
    m = getattr(nn, cls)(p=0.25)
    assert repr(m) == repr(getattr(torch.nn, cls)(p=0.25))
    lucid.manual_seed(0)
    x = lucid.ones(*shape)
    y = m(x).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert 0.1 < (y == 0).mean() < 0.4
    m.eval()
    assert m(x) is x
    assert repr(nn.Dropout(0.1, True)) == "Dropout(p=0.1, inplace=True)"


def test_module_errors():
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.Dropout(1.2)
    with pytest.raises(ValueError, match="max_val must be greater than min_val"):
        nn.Hardtanh(1.0, 1.0)
    with pytest.raises(TypeError, match="unflattened_size must be tuple of ints"):
        nn.Unflatten(1, (2, 3.0))
    with pytest.raises(TypeError, match="unflattened_size must be a tuple or list"):
        nn.Unflatten(1, 6)
    with pytest.raises(RuntimeError):
        nn.Unflatten(1, (4, 4))(lucid.randn(2, 12))
    with pytest.raises(RuntimeError, match="Expected 3D or 4D"):
        nn.MaxPool2d(2)(lucid.randn(4, 4))
    with pytest.raises(ValueError, match="either size or scale_factor"):
        nn.Upsample()(lucid.randn(1, 1, 2))


def test_modules_in_a_network():
    lucid.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.LeakyReLU(0.1), nn.MaxPool2d(2),
        nn.Dropout2d(0.1), nn.Upsample(scale_factor=2, mode="bilinear"),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LazyLinear(10), nn.GELU(), nn.LayerNorm(10),
        nn.Linear(10, 2),
    )
    x = lucid.randn(4, 3, 8, 8)
    loss = net(x).pow(2).mean()
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())
    net.eval()
    assert net(x).shape == (4, 2)
