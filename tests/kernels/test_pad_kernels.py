"""Tests of :mod:`lucid.kernels.pad` against ``torch.nn.functional.pad``."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lucid.kernels import pad as P

torch = pytest.importorskip("torch")
F = torch.nn.functional

MODES = ("constant", "reflect", "replicate", "circular")


def torch_pads(pads):
    """Array-order ``[(lo, hi), ...]`` -> torch's last-dim-first flat tuple."""
    return tuple(v for lo_hi in reversed(pads) for v in lo_hi)


def torch_pad(x: np.ndarray, pads, mode: str, value: float = 0.0) -> np.ndarray:
    t = torch.from_numpy(x)
    if mode == "constant":
        return F.pad(t, torch_pads(pads), mode=mode, value=value).numpy()
    return F.pad(t, torch_pads(pads), mode=mode).numpy()


def torch_pad_grad(x: np.ndarray, pads, mode: str, gy: np.ndarray) -> np.ndarray:
    t = torch.tensor(x, requires_grad=True)
    y = F.pad(t, torch_pads(pads), mode=mode)
    (g,) = torch.autograd.grad(y, t, torch.from_numpy(gy))
    return g.numpy()


def random_pads(rng, sizes, mode):
    """Random (possibly negative) pads inside PyTorch's limits for ``mode``."""
    pads = []
    for L in sizes:
        while True:
            if mode == "reflect":
                lo, hi = rng.integers(-(L - 1), L, size=2)
            elif mode == "circular":
                lo, hi = rng.integers(-(L - 1), L + 1, size=2)
            else:
                lo, hi = rng.integers(-(L - 1), L + 3, size=2)
            lo, hi = int(lo), int(hi)
            try:
                P.check_pad((L,), [(lo, hi)], mode)
            except RuntimeError:
                continue
            pads.append((lo, hi))
            break
    return pads


def grid_cases(count: int, seed: int):
    rng = np.random.default_rng(seed)
    for case in range(count):
        mode = MODES[case % 4]
        npad = int(rng.integers(1, 4))
        batched = bool(rng.integers(0, 2)) or mode == "constant"
        sizes = [int(v) for v in rng.integers(1, 7, size=npad)]
        lead = [int(rng.integers(1, 3)), int(rng.integers(1, 4))] if batched else [2]
        pads = random_pads(rng, sizes, mode)
        yield pytest.param(mode, tuple(lead + sizes), pads, case, id=f"{mode}-{case}")


@pytest.mark.parametrize(("mode", "shape", "pads", "seed"), list(grid_cases(48, 0)))
def test_forward_backward_match_torch(mode, shape, pads, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    value = 0.5 if mode == "constant" else 0.0
    y = P.pad_forward(x, pads, mode, value)
    expected = torch_pad(x, pads, mode, value)
    assert y.shape == expected.shape and y.dtype == x.dtype
    np.testing.assert_array_equal(y, expected)

    gy = rng.standard_normal(y.shape)
    gx = P.pad_backward(gy, pads, mode, x.shape)
    assert gx.shape == x.shape
    np.testing.assert_allclose(gx, torch_pad_grad(x, pads, mode, gy), rtol=1e-12, atol=1e-12)
    # exact adjoint: <pad(x), gy> == <x, pad^T(gy)> (the fill value is affine, not linear)
    y0 = P.pad_forward(x, pads, mode, 0.0)
    np.testing.assert_allclose(np.vdot(y0, gy), np.vdot(x, gx), rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("L", [1, 2, 3, 4])
def test_check_pad_matches_torch_limits(mode, L):
    """``check_pad`` accepts exactly the 1-D pads that PyTorch accepts (and values agree).

    Deliberate differences, all in circular mode where PyTorch's behaviour is an accident of
    its implementation: a pad larger than the *cropped* dim (e.g. ``(-3, 2)`` on size 2,
    where PyTorch returns uninitialised memory) and crops larger than the dim (accepted or
    not by PyTorch depending on the side) are rejected.
    """
    x = np.arange(float(L)).reshape(1, 1, L)
    for lo, hi in itertools.product(range(-L - 1, L + 3), repeat=2):
        try:
            expected = torch_pad(x, [(lo, hi)], mode)
        except RuntimeError:
            expected = None
        try:
            P.check_pad(x.shape, [(lo, hi)], mode)
        except RuntimeError as err:
            if mode == "circular" and ("cropped size" in str(err) or min(lo, hi) < -L):
                continue
            assert expected is None, f"check_pad rejected ({lo}, {hi}) that torch accepts: {err}"
            assert mode in str(err)
            continue
        assert expected is not None, f"check_pad accepted ({lo}, {hi}) that torch rejects"
        np.testing.assert_array_equal(P.pad_forward(x, [(lo, hi)], mode), expected)


def test_check_pad_messages():
    with pytest.raises(RuntimeError, match=r"reflect.*\(3, 0\).*size 3"):
        P.check_pad((2, 4, 3), [(3, 0)], "reflect")
    with pytest.raises(RuntimeError, match=r"circular.*\(0, 4\).*more than once"):
        P.check_pad((2, 4, 3), [(0, 4)], "circular")
    with pytest.raises(RuntimeError, match=r"replicate.*non-zero"):
        P.check_pad((2, 0, 3), [(1, 1)], "replicate")
    with pytest.raises(RuntimeError, match=r"reflect.*non-zero"):
        P.check_pad((2, 3, 0), [(0, 0)], "reflect")
    with pytest.raises(RuntimeError, match=r"constant.*negative"):
        P.check_pad((2, 3, 3), [(-2, -2)], "constant")
    with pytest.raises(ValueError, match="mode"):
        P.check_pad((2, 3, 3), [(1, 1)], "wrap")
    with pytest.raises(RuntimeError, match="pairs"):
        P.check_pad((3,), [(1, 1), (1, 1)], "constant")
    # empty batch is fine for every mode, empty channel dims only for constant/circular
    for mode in MODES:
        P.check_pad((0, 2, 3), [(1, 1)], mode)
    P.check_pad((2, 0, 3), [(1, 1)], "circular")
    P.check_pad((2, 0, 3), [(1, 1)], "constant")


@pytest.mark.parametrize("mode", MODES)
def test_empty_batch(mode):
    x = np.zeros((0, 2, 3, 4), dtype=np.float32)
    pads = [(1, 2), (2, 1)]
    y = P.pad_forward(x, pads, mode)
    assert y.shape == (0, 2, 6, 7) and y.dtype == np.float32
    gx = P.pad_backward(np.zeros(y.shape, np.float32), pads, mode, x.shape)
    assert gx.shape == x.shape and gx.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.complex128, np.int64])
@pytest.mark.parametrize("mode", MODES)
def test_dtypes_and_noncontiguous(dtype, mode):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((3, 2, 5, 6)) * 10
    if np.dtype(dtype).kind == "c":
        base = base + 1j * rng.standard_normal(base.shape)
    x = base.astype(dtype).transpose(1, 0, 3, 2)  # non-contiguous (2, 3, 6, 5)
    pads = [(2, -1), (1, 3)] if mode != "reflect" else [(2, -1), (1, 4)]
    if mode == "circular":
        pads = [(2, -1), (5, 1)]
    y = P.pad_forward(x, pads, mode, 3)
    assert y.dtype == x.dtype
    ref = torch_pad(np.ascontiguousarray(x), pads, mode, 3)
    np.testing.assert_array_equal(y, ref)
    gx = P.pad_backward(np.ones_like(y), pads, mode, x.shape)
    assert gx.dtype == x.dtype and gx.shape == x.shape
    if dtype != np.int64:  # torch has no integer autograd
        ref_g = torch_pad_grad(
            np.ascontiguousarray(x).astype(np.complex128 if dtype == np.complex128 else np.float64),
            pads,
            mode,
            np.ones(y.shape, dtype=np.complex128 if dtype == np.complex128 else np.float64),
        )
        np.testing.assert_allclose(gx.astype(ref_g.dtype), ref_g, rtol=1e-3)


def test_zero_pads_return_copy():
    x = np.arange(6.0).reshape(2, 3)
    for mode in MODES:
        y = P.pad_forward(x, [(0, 0)], mode)
        g = P.pad_backward(x, [(0, 0)], mode, x.shape)
        np.testing.assert_array_equal(y, x)
        np.testing.assert_array_equal(g, x)
        assert not np.shares_memory(y, x) and not np.shares_memory(g, x)


def test_partial_dims_and_unbatched():
    """Pads apply to the trailing dims only; the first pair to the first padded dim."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 4, 5))
    y = P.pad_forward(x, [(1, 0), (0, 2)], "replicate")
    assert y.shape == (2, 3, 5, 7)
    np.testing.assert_array_equal(y, torch_pad(x, [(1, 0), (0, 2)], "replicate"))
    # unbatched (C, W) reflect
    x2 = rng.standard_normal((3, 5))
    np.testing.assert_array_equal(
        P.pad_forward(x2, [(3, 2)], "reflect"), torch_pad(x2, [(3, 2)], "reflect")
    )
