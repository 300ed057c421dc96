"""In-place operations and views against PyTorch: values, gradients through in-place
steps (also through views), version checks, and the errors PyTorch raises."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lucid

X = np.random.default_rng(0).standard_normal((3, 4))
W = np.random.default_rng(1).standard_normal((4,))


def _np(t):
    return t.detach().numpy()


def _compare(fn) -> None:
    """``fn(lib, x, w)`` returns tensors; values and the grads of x and w must match."""
    results = []
    for lib in (lucid, torch):
        x = lib.tensor(X, requires_grad=True)
        w = lib.tensor(W, requires_grad=True)
        outs = fn(lib, x, w)
        outs = outs if isinstance(outs, tuple) else (outs,)
        sum(((o * o).sum() for o in outs), lib.tensor(0.0, dtype=lib.float64)).backward()
        results.append(([_np(o) for o in outs], x.grad, w.grad))
    (lo, lx, lw), (to, tx, tw) = results
    for a, b in zip(lo, to):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for a, b in ((lx, tx), (lw, tw)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-12, atol=1e-12)


METHODS = [
    ("add_", lambda lib, w: (w,)), ("add_", lambda lib, w: (2.5,)), ("sub_", lambda lib, w: (w,)),
    ("mul_", lambda lib, w: (w,)), ("div_", lambda lib, w: (w.exp(),)),
    ("pow_", lambda lib, w: (2,)), ("clamp_", lambda lib, w: (-0.5, 0.5)),
    ("exp_", lambda lib, w: ()), ("tanh_", lambda lib, w: ()), ("sigmoid_", lambda lib, w: ()),
    ("relu_", lambda lib, w: ()), ("abs_", lambda lib, w: ()), ("neg_", lambda lib, w: ()),
    ("sin_", lambda lib, w: ()), ("sqrt_", lambda lib, w: ()), ("floor_", lambda lib, w: ()),
    ("reciprocal_", lambda lib, w: ()), ("masked_fill_", lambda lib, w: (w > 0, 1.5)),
    ("lerp_", lambda lib, w: (w.expand(3, 4), 0.25)), ("addcmul_", lambda lib, w: (w, w)),
    ("copy_", lambda lib, w: (w,)), ("fill_", lambda lib, w: (1.5,)), ("zero_", lambda lib, w: ()),
]


@pytest.mark.parametrize("name, args", METHODS, ids=[m[0] for m in METHODS])
def test_inplace_methods_match_torch(name: str, args) -> None:
    def fn(lib, x, w):
        y = x * x + 1 if name == "sqrt_" else x * 1.5
        out = getattr(y, name)(*args(lib, w))
        assert out is y
        return y * x

    _compare(fn)


def test_augmented_assignment_operators() -> None:
    def fn(lib, x, w):
        y = x * 1
        y += w
        y *= x
        y -= 1
        y /= 2
        y **= 2
        return y

    _compare(fn)


def test_leaf_requiring_grad_refuses_inplace_but_not_under_no_grad() -> None:
    x = lucid.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in "
                                           "an in-place operation"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        x[0].mul_(2)
    v0 = x._version
    with lucid.no_grad():
        x.mul_(2)
        x[0] = 0.0
    assert x._version == v0 + 2 and x.is_leaf and x.requires_grad
    np.testing.assert_allclose(_np(x)[1:], X[1:] * 2)
    assert not _np(x)[0].any()


def test_modified_saved_tensor_is_detected() -> None:
    for lib in (lucid, torch):
        x = lib.tensor(X, requires_grad=True)
        y = x * 1
        z = y.tanh()  # saves its output
        z.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()
        y2 = x * 1
        w = y2 * y2  # saves its inputs
        y2.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            w.sum().backward()


def test_detach_shares_the_version_counter_but_data_does_not() -> None:
    x = lucid.tensor(X, requires_grad=True)
    t = x.tanh()
    t.detach().zero_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        t.sum().backward()
    t = x.tanh()
    t.data.mul_(1)  # .data is invisible to autograd, as in PyTorch
    t.sum().backward()


def test_inplace_through_a_view_updates_the_base_graph() -> None:
    def fn(lib, x, w):
        y = x * 1
        v = y[1]
        v.mul_(w)
        return y, v

    _compare(fn)


def test_view_of_view_chain() -> None:
    def fn(lib, x, w):
        y = x * 2
        v = y.T[1:]  # (3, 3) view of a transposed view
        v.add_(x.T[1:] * 3)
        u = y.reshape(2, 6)[:, ::2]
        u.sub_(1)
        return y

    _compare(fn)


def test_stale_view_is_rederived_after_base_changes() -> None:
    def fn(lib, x, w):
        y = x * 1
        v = y[0:2]
        y.mul_(w)  # v's values changed too; its gradient must see the multiplication
        return v * 1

    _compare(fn)


def test_setitem_with_gradients() -> None:
    def fn(lib, x, w):
        y = x * 1
        y[0] = w
        y[:, 1] = 0.0
        y[y > 1] = 5.0
        y[[1, 2], [3, 0]] = w[:2] * 2
        z = lib.zeros(2, 4, dtype=lib.float64)
        z[1] = w.exp()
        return y, z

    _compare(fn)


def test_copy_into_a_view_of_a_plain_tensor() -> None:
    def fn(lib, x, w):
        z = lib.zeros(6, dtype=lib.float64)
        z[1:5].copy_(w)
        assert z.requires_grad and not z.is_leaf
        return z

    _compare(fn)


def test_setitem_values_match_torch_without_grad() -> None:
    for key, value in [((0,), 7.0), ((slice(None), 2), [1.0, 2.0, 3.0]), ((Ellipsis, -1), 0),
                       (([0, 2],), -1.0), ((None, 1, slice(1, 3)), [[9.0, 8.0]])]:
        a, b = lucid.tensor(X), torch.tensor(X)
        a[key] = value
        b[key] = torch.tensor(value, dtype=torch.float64)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    mask = X > 0
    a, b = lucid.tensor(X), torch.tensor(X)
    a[lucid.tensor(mask)] = lucid.tensor(3.0)
    b[torch.tensor(mask)] = 3.0
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    i = lucid.tensor([1, 2, 3])
    i[0] = 2.7  # truncated into the integer tensor, as in PyTorch
    assert i.tolist() == [2, 2, 3]


def test_views_share_memory_and_version() -> None:
    x = lucid.zeros(2, 3)
    v = x[1]
    v.add_(1)
    r = x.reshape(3, 2)
    r[0, 0] = 5
    assert x.tolist() == [[5.0, 0.0, 0.0], [1.0, 1.0, 1.0]]
    assert x._version == v._version == r._version == 2
    assert v._base is x and r._base is x and x._base is None
    y = x.T.reshape(6)  # needs a copy: not a view
    assert y._base is None
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.T.view(6)


def test_inplace_errors_match_torch() -> None:
    for lib in (lucid, torch):
        with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                               "output type Long"):
            lib.tensor([1, 2]).add_(1.5)
        with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the "
                                               r"broadcast shape \[2, 3\]"):
            lib.zeros(3).add_(lib.zeros(2, 3))
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            lib.zeros(3, 1).expand(3, 2).add_(1)
    with pytest.raises(RuntimeError, match=r"shape mismatch: value tensor of shape \[3\] cannot "
                                           r"be broadcast to indexing result of shape \[4\]"):
        lucid.zeros(3, 4)[0] = lucid.ones(3)


def test_fill_and_zero_ignore_old_values() -> None:
    y = lucid.tensor([float("inf"), float("nan"), 1.0], requires_grad=True) * 1
    y.zero_()
    assert y.tolist() == [0.0, 0.0, 0.0] and y.requires_grad
    y.fill_(lucid.tensor(2.0))
    assert y.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match="fill_ only supports 0-dimension value tensor"):
        y.fill_(lucid.ones(2))


def test_random_fills_are_reproducible() -> None:
    lucid.manual_seed(3)
    a = lucid.empty(1000).uniform_(-2, 3)
    b = lucid.empty(1000, dtype=lucid.float64).normal_(1.0, 0.5)
    lucid.manual_seed(3)
    assert a.tolist() == lucid.empty(1000).uniform_(-2, 3).tolist()
    assert -2 <= a.min().item() and a.max().item() < 3
    assert b.dtype is lucid.float64 and abs(b.mean().item() - 1.0) < 0.1
