"""The autograd engine against PyTorch: accumulation, freed graphs, ``autograd.grad`` and
higher-order gradients, grad modes, hooks, custom Functions, gradcheck, deep graphs."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import lucid
from lucid.autograd import Function


def _np(t):
    return t.detach().numpy()


def _same(a, b, rtol: float = 1e-12) -> None:
    np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=1e-12)


def _both(fn):
    """Run ``fn(lib)`` with lucid and with torch."""
    return fn(lucid), fn(torch)


X = np.random.default_rng(0).standard_normal((3, 4))
W = np.random.default_rng(1).standard_normal((4, 2))


# --------------------------------------------------------------------------- backward
def test_gradients_accumulate_across_backward_calls() -> None:
    def run(lib):
        x = lib.tensor(X, requires_grad=True)
        y = (x * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        (x.exp().sum()).backward()
        return x.grad

    _same(*_both(run))


def test_freed_graph_raises_on_second_backward() -> None:
    x = lucid.tensor(X, requires_grad=True)
    y = x.tanh().sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_second_backward_and_graph_without_saved_data_is_reusable() -> None:
    x = lucid.tensor(X, requires_grad=True)
    y = x.tanh().sum()
    y.backward(retain_graph=True)
    y.backward()
    _same(x.grad, torch.tensor(2 * (1 - np.tanh(X) ** 2)))
    z = (x + 1).sum()  # nothing saved: PyTorch allows a second pass too
    x.grad = None
    z.backward()
    z.backward()
    _same(x.grad, torch.full((3, 4), 2.0, dtype=torch.float64))


def test_saved_tensors_are_freed_and_unreachable_after_backward() -> None:
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = lucid.tensor(2.0, requires_grad=True)
    y = Square.apply(x)
    y.backward()
    with pytest.raises(RuntimeError, match="already been freed"):
        _ = y.grad_fn.saved_tensors


def test_non_scalar_backward_needs_gradient() -> None:
    x = lucid.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        (x * 2).backward()
    g = np.random.default_rng(3).standard_normal((3, 4))

    def run(lib):
        x = lib.tensor(X, requires_grad=True)
        (x * x).backward(lib.tensor(g))
        return x.grad

    _same(*_both(run))


def test_backward_errors() -> None:
    x = lucid.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        lucid.tensor(X).sum().backward()
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output has a shape of "
                                           r"\(2,\) and output has a shape of \(3, 4\)"):
        (x * 2).backward(lucid.ones(2))
    with pytest.raises(TypeError, match="gradients can be either Tensors or None, but got float"):
        (x * 2).backward(3.0)


def test_backward_to_selected_inputs_and_several_roots() -> None:
    def run(lib):
        x = lib.tensor(X, requires_grad=True)
        w = lib.tensor(W, requires_grad=True)
        y = x @ w
        z = (x * 3).sum()
        lib.autograd.backward([y, z], [lib.ones(3, 2, dtype=lib.float64), None],
                              inputs=[w])
        assert x.grad is None
        return w.grad

    _same(*_both(run))


def test_diamond_graph_and_reused_inputs() -> None:
    def run(lib):
        x = lib.tensor(X, requires_grad=True)
        a = x.sin()
        b = a * x
        c = a.exp() + b * b + x
        c.sum().backward()
        return x.grad

    _same(*_both(run))


def test_gradient_keeps_the_leaf_dtype() -> None:
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    (x.double() * 3).sum().backward()
    assert x.grad.dtype is lucid.float32
    assert x.grad.tolist() == [3.0, 3.0]


def test_grad_is_an_owned_writable_array() -> None:
    x = lucid.ones(3, requires_grad=True)
    x.sum().backward()  # the incoming gradient is a broadcast (read-only) view
    x.grad.zero_()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    g = lucid.ones(3)
    y = x + 0
    y.backward(g)
    x.grad.mul_(5)
    assert g.tolist() == [1.0, 1.0, 1.0]


def test_deep_chain_of_5000_ops() -> None:
    x = lucid.tensor(0.5, dtype=lucid.float64, requires_grad=True)
    y = x
    for _ in range(2500):
        y = y * 1.0001
        y = y + 0.0001
    y.backward(retain_graph=True)
    assert x.grad.item() == pytest.approx(1.0001 ** 2500, rel=1e-12)
    (g,) = lucid.autograd.grad(y * 1, x)
    assert g.item() == pytest.approx(1.0001 ** 2500, rel=1e-12)


# --------------------------------------------------------------------------- autograd.grad
def test_grad_returns_gradients_without_touching_dot_grad() -> None:
    def run(lib):
        x = lib.tensor(X, requires_grad=True)
        w = lib.tensor(W, requires_grad=True)
        y = (x @ w).tanh().sum()
        gx, gw = lib.autograd.grad(y, [x, w])
        assert x.grad is None and w.grad is None and not gx.requires_grad
        return lib.cat([gx.reshape(-1), gw.reshape(-1)])

    _same(*_both(run))


def test_grad_with_grad_outputs_and_non_leaf_inputs() -> None:
    go = np.random.default_rng(5).standard_normal((3, 2))

    def run(lib):
        x = lib.tensor(X, requires_grad=True)
        h = x * 2
        y = h @ lib.tensor(W)
        (gh,) = lib.autograd.grad(y, h, lib.tensor(go))
        return gh

    _same(*_both(run))


def test_grad_allow_unused_and_materialize() -> None:
    x = lucid.tensor(1.0, requires_grad=True)
    z = lucid.tensor(2.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        lucid.autograd.grad(x * 2, [x, z])
    gx, gz = lucid.autograd.grad(x * 2, [x, z], allow_unused=True)
    assert gx.item() == 2.0 and gz is None
    _, gz = lucid.autograd.grad(x * 2, [x, z], materialize_grads=True)
    assert gz.item() == 0.0
    with pytest.raises(RuntimeError, match="does not require grad"):
        lucid.autograd.grad(x * 2, lucid.tensor(1.0))


HIGHER = {
    "tanh": lambda lib, x, w: x.tanh(),
    "sigmoid": lambda lib, x, w: lib.sigmoid(x * 2),
    "mul": lambda lib, x, w: x * x * x,
    "matmul": lambda lib, x, w: (x @ w) * (x @ w),
    "softmax": lambda lib, x, w: lib.softmax(x, dim=1) * x,
    "log_softmax": lambda lib, x, w: lib.log_softmax(x * x, dim=0),
    "exp_div": lambda lib, x, w: x.exp() / (1 + x * x),
    "pow": lambda lib, x, w: (x * x + 1) ** 1.5,
    "logsumexp": lambda lib, x, w: lib.logsumexp(x * x, 1),
    "var": lambda lib, x, w: (x * x).var(1),
}


@pytest.mark.parametrize("name", list(HIGHER))
def test_second_and_third_derivatives_match_torch(name: str) -> None:
    fn = HIGHER[name]

    def run(lib):
        x = lib.tensor(X, requires_grad=True)
        w = lib.tensor(W, requires_grad=True)
        (g1,) = lib.autograd.grad(fn(lib, x, w).sum(), x, create_graph=True)
        (g2,) = lib.autograd.grad((g1 * g1).sum(), x, create_graph=True)
        (g3,) = lib.autograd.grad(g2.sum(), x)
        return lib.stack([g1.detach(), g2.detach(), g3])

    _same(*_both(run), rtol=1e-10)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_double_backward_through_backward_with_create_graph() -> None:
    def run(lib):
        x = lib.tensor(X, requires_grad=True)
        y = (x.sin() * x).sum()
        y.backward(create_graph=True)
        g = x.grad
        assert g.requires_grad
        x.grad = None
        (g * g).sum().backward()
        return x.grad

    _same(*_both(run))


# --------------------------------------------------------------------------- grad modes
def test_no_grad_enable_grad_and_set_grad_enabled() -> None:
    x = lucid.ones(2, requires_grad=True)
    with lucid.no_grad():
        y = x * 2
        with lucid.enable_grad():
            z = x * 2
        assert not lucid.is_grad_enabled()
    assert lucid.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and z.requires_grad
    with lucid.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert lucid.is_grad_enabled()
    lucid.set_grad_enabled(False)
    assert not lucid.is_grad_enabled()
    lucid.set_grad_enabled(True)
    assert lucid.is_grad_enabled()


def test_grad_modes_as_decorators() -> None:
    x = lucid.ones(2, requires_grad=True)

    @lucid.no_grad()
    def f(t):
        return t * 2

    @lucid.no_grad
    def g(t):
        return t * 2

    @lucid.set_grad_enabled(False)
    def h(t):
        return t * 2

    assert lucid.is_grad_enabled()
    assert not f(x).requires_grad and not g(x).requires_grad and not h(x).requires_grad
    assert (x * 2).requires_grad
    with pytest.raises(TypeError, match="mode must be a bool"):
        lucid.set_grad_enabled(1)


def test_grad_mode_is_per_thread() -> None:
    seen = []
    with lucid.no_grad():
        t = threading.Thread(target=lambda: seen.append(lucid.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_requires_grad_rules() -> None:
    x = lucid.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad and x.is_leaf
    y = x * 2
    assert not y.is_leaf and y.grad_fn.name() == "MulBackward0"
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf"):
        y.requires_grad_(False)
    with pytest.raises(RuntimeError, match="floating point and complex dtype"):
        lucid.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point and complex dtype"):
        lucid.tensor([1, 2], requires_grad=True)
    d = y.detach()
    assert d.is_leaf and not d.requires_grad


# --------------------------------------------------------------------------- hooks
def test_hooks_on_leaves_and_non_leaves_match_torch() -> None:
    def run(lib):
        calls = []
        x = lib.tensor(X, requires_grad=True)
        h = x * 3
        h.register_hook(lambda g: calls.append("h") or g * 2)
        handle = x.register_hook(lambda g: calls.append("x") or g + 1)
        h.retain_grad()
        (h.sin()).sum().backward(retain_graph=True)
        handle.remove()
        (h.sin()).sum().backward()
        assert calls == ["h", "x", "h"]
        assert h.retains_grad and not x.retains_grad
        return lib.stack([x.grad, h.grad])

    _same(*_both(run))


def test_hook_errors() -> None:
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        lucid.ones(2).register_hook(lambda g: g)


def test_retain_grad_on_non_leaf_accumulates() -> None:
    def run(lib):
        x = lib.tensor(X, requires_grad=True)
        y = x.exp()
        y.retain_grad()
        z = (y * y).sum()
        z.backward(retain_graph=True)
        z.backward()
        return y.grad

    _same(*_both(run))


# --------------------------------------------------------------------------- Function
class MulAdd(Function):
    """``x * y + 2 * x`` with both outputs' gradients written in lucid ops."""

    @staticmethod
    def forward(ctx, x, y, scale):
        ctx.save_for_backward(x, y)
        ctx.scale = scale
        return x * y * scale + 2 * x, x - y

    @staticmethod
    def backward(ctx, g1, g2):
        x, y = ctx.saved_tensors
        gx = g1 * (y * ctx.scale + 2) + g2 if ctx.needs_input_grad[0] else None
        gy = g1 * x * ctx.scale - g2 if ctx.needs_input_grad[1] else None
        return gx, gy, None


def test_custom_function_values_gradients_and_second_derivatives() -> None:
    x = lucid.tensor(X, requires_grad=True)
    y = lucid.tensor(X[::-1].copy(), requires_grad=True)
    a, b = MulAdd.apply(x, y, 0.5)
    assert a.grad_fn.name() == "MulAddBackward" and b.grad_fn is a.grad_fn
    assert a.grad_fn.needs_input_grad == (True, True, False)
    (a.sum() + (b * b).sum()).backward(create_graph=True)
    ref_x = torch.tensor(X, requires_grad=True)
    ref_y = torch.tensor(X[::-1].copy(), requires_grad=True)
    ra, rb = ref_x * ref_y * 0.5 + 2 * ref_x, ref_x - ref_y
    (ra.sum() + (rb * rb).sum()).backward(create_graph=True)
    _same(x.grad, ref_x.grad)
    _same(y.grad, ref_y.grad)
    (gg,) = lucid.autograd.grad(x.grad.sum(), y)
    (rgg,) = torch.autograd.grad(ref_x.grad.sum(), ref_y)
    _same(gg, rgg)
    assert lucid.autograd.gradcheck(lambda u, v: MulAdd.apply(u, v, 0.5), [x, y])


def test_custom_function_only_one_output_used_and_non_differentiable_output() -> None:
    class SortLike(Function):
        @staticmethod
        def forward(ctx, x):
            idx = x.argmax(0)
            ctx.mark_non_differentiable(idx)
            return x * 2, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            assert g_idx is not None  # materialized as zeros by default
            return g * 2

    x = lucid.tensor([1.0, 3.0, 2.0], requires_grad=True)
    out, idx = SortLike.apply(x)
    assert not idx.requires_grad and idx.item() == 1
    out.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_custom_function_errors() -> None:
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return g, g, g

    class BadSave(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(3)
            return x

    x = lucid.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="returned an incorrect number of gradients "
                                           r"\(expected 2, got 3\)"):
        Wrong.apply(x, x).sum().backward()
    with pytest.raises(TypeError, match="save_for_backward can only save variables"):
        BadSave.apply(x)


def test_once_differentiable_blocks_higher_order_graph() -> None:
    class Double(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        @lucid.autograd.once_differentiable
        def backward(ctx, g):
            return g * 2

    x = lucid.ones(2, requires_grad=True)
    (g,) = lucid.autograd.grad(Double.apply(x * x).sum(), x, create_graph=True)
    assert g.tolist() == [4.0, 4.0]


def test_gradcheck_accepts_correct_and_rejects_wrong_gradients() -> None:
    class BadSin(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.cos() * 1.01

    x = lucid.tensor(X, requires_grad=True)
    assert lucid.autograd.gradcheck(lambda t: (t.T @ t).tanh(), x)
    assert lucid.autograd.gradgradcheck(lambda t: (t * t).sigmoid(), [x])
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        lucid.autograd.gradcheck(BadSin.apply, [x])
    assert not lucid.autograd.gradcheck(BadSin.apply, [x], raise_exception=False)
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        lucid.autograd.gradcheck(lambda t: t * 2, [lucid.tensor(X)])
    transposed = lucid.tensor(X.T.copy(), requires_grad=True).T  # non-contiguous view
    assert lucid.autograd.gradcheck(lambda t: t.exp(), [transposed.detach().requires_grad_()])


# --------------------------------------------------------------------------- graph details
def test_graph_introspection() -> None:
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2 + 1
    assert repr(y.grad_fn).startswith("<AddBackward0 object at 0x")
    (mul_edge, none_edge) = y.grad_fn.next_functions
    assert mul_edge[0].name() == "MulBackward0" and none_edge == (None, 0)
    assert mul_edge[0].next_functions[0][0].name() == "AccumulateGrad"
    assert mul_edge[0].next_functions[0][0].variable is x


# --- a leaf's first gradient: stolen when nobody else holds it, copied otherwise -------------


class _FreshGrad(Function):
    """Identity whose backward returns a new array it remembers by weak reference."""

    _array_forward = True
    made: list = []

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        import weakref

        arr = np.array(g.numpy()) * 2
        _FreshGrad.made.append(weakref.ref(arr))
        return lucid.Tensor._make(arr)


def test_fresh_leaf_gradient_is_stolen_not_copied():
    x = lucid.randn(4, 5, requires_grad=True)
    _FreshGrad.made.clear()
    _FreshGrad.apply(x).sum().backward()
    assert _FreshGrad.made[0]() is x.grad._data
    np.testing.assert_array_equal(x.grad.numpy(), np.full((4, 5), 2.0, dtype=np.float32))


def test_leaf_gradient_never_aliases_a_tensor_someone_holds():
    x = lucid.randn(3, requires_grad=True)
    gy = lucid.ones(3)
    x.backward(gy)  # the root is the leaf: its gradient is the user's tensor
    assert not np.shares_memory(x.grad.numpy(), gy.numpy())
    gy.add_(1.0)
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3, dtype=np.float32))

    kept = []
    w = lucid.randn(3, requires_grad=True)
    w.register_hook(lambda g: kept.append(g))
    (w * 3).sum().backward()
    assert not np.shares_memory(w.grad.numpy(), kept[0].numpy())

    a, b = lucid.randn(2, requires_grad=True), lucid.randn(2, requires_grad=True)
    g = lucid.tensor([1.0, 2.0])
    (a + b).backward(g)  # add hands the same gradient to both leaves
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    (a + b).backward(g)
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(b.grad.numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(g.numpy(), [1.0, 2.0])


def test_retained_gradient_is_not_stolen_from_the_flowing_gradient():
    x = lucid.randn(3, requires_grad=True)
    y = x * 1.0
    y.retain_grad()
    z = y * 1.0
    z.backward(lucid.ones(3))
    y.grad.add_(5.0)  # must not reach x.grad
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3, dtype=np.float32))
    assert not np.shares_memory(x.grad.numpy(), y.grad.numpy())
