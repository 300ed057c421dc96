"""Optimizers against PyTorch: 20-step parameter trajectories, state dicts, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lucid
import lucid.nn as nn
import lucid.optim as optim

STEPS = 20
TOL = {np.float32: dict(rtol=2e-5, atol=1e-6), np.float64: dict(rtol=1e-11, atol=1e-13),
       np.complex128: dict(rtol=1e-11, atol=1e-13)}


class Problem:
    """A least-squares problem ``|X W^T + b - Y|^2`` with analytic gradients, so both
    libraries' optimizers see exactly the same gradients at the same parameters."""

    def __init__(self, dtype: type, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        real = np.float64 if dtype is np.complex128 else dtype
        self.x = rng.standard_normal((16, 4)).astype(real)
        self.y = rng.standard_normal((16, 3)).astype(real)
        self.w0 = rng.standard_normal((3, 4)).astype(dtype)
        self.b0 = rng.standard_normal(3).astype(dtype)
        if dtype is np.complex128:
            self.w0 = self.w0 + 1j * rng.standard_normal((3, 4))
            self.b0 = self.b0 + 1j * rng.standard_normal(3)
        self.dtype = dtype

    def grads(self, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = self.x @ w.T + b - self.y
        scale = self.dtype(2 / r.size) if self.dtype is not np.complex128 else 2 / r.size
        return (scale * r.T @ self.x).astype(w.dtype), (scale * r.sum(0)).astype(b.dtype)


def _lucid_params(problem: Problem) -> list[lucid.Tensor]:
    return [lucid.tensor(problem.w0.copy(), requires_grad=True),
            lucid.tensor(problem.b0.copy(), requires_grad=True)]


def _torch_params(problem: Problem) -> list[torch.Tensor]:
    return [torch.tensor(problem.w0.copy(), requires_grad=True),
            torch.tensor(problem.b0.copy(), requires_grad=True)]


def _set_grads(problem: Problem, *param_lists: list) -> None:
    for params in param_lists:
        make = lucid.tensor if isinstance(params[0], lucid.Tensor) else torch.tensor
        w, b = (np.array(p.detach().numpy()) for p in params)
        gw, gb = problem.grads(w, b)
        params[0].grad, params[1].grad = make(gw), make(gb)


def _groups(params: list, group_kw: dict | None) -> list:
    if group_kw is None:
        return params
    return [{"params": [params[0]]}, {"params": [params[1]], **group_kw}]


def _run(name: str, kwargs: dict, dtype: type, group_kw: dict | None = None,
         steps: int = STEPS):
    problem = Problem(dtype)
    lp, tp = _lucid_params(problem), _torch_params(problem)
    lopt = getattr(optim, name)(_groups(lp, group_kw), **kwargs)
    topt = getattr(torch.optim, name)(_groups(tp, group_kw), **kwargs)
    for _ in range(steps):
        _set_grads(problem, lp, tp)
        lopt.step()
        topt.step()
        for a, b in zip(lp, tp):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **TOL[dtype])
    return problem, lp, tp, lopt, topt


CONFIGS = {
    "SGD": [
        dict(lr=0.1), dict(lr=0.05, momentum=0.9), dict(lr=0.05, momentum=0.9, dampening=0.3),
        dict(lr=0.05, momentum=0.8, nesterov=True),
        dict(lr=0.05, momentum=0.5, weight_decay=0.1), dict(lr=0.01, maximize=True),
        dict(lr=0.05, momentum=0.9, maximize=True, weight_decay=0.01),
    ],
    "Adam": [
        dict(lr=0.05), dict(lr=0.05, amsgrad=True), dict(lr=0.05, weight_decay=0.1),
        dict(lr=0.02, betas=(0.3, 0.99), eps=1e-6), dict(lr=0.05, maximize=True),
        dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True),
    ],
    "AdamW": [dict(lr=0.05), dict(lr=0.05, amsgrad=True, weight_decay=0.3),
              dict(lr=0.05, betas=(0.8, 0.9), maximize=True)],
    "RMSprop": [
        dict(lr=0.01), dict(lr=0.01, centered=True), dict(lr=0.01, momentum=0.9),
        dict(lr=0.01, weight_decay=0.1, alpha=0.9), dict(lr=0.01, centered=True,
                                                          momentum=0.5, eps=1e-4),
        dict(lr=0.01, maximize=True),
    ],
}
CASES = [(name, kw) for name, kws in CONFIGS.items() for kw in kws]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("name", "kwargs"), CASES)
def test_trajectory_matches_torch(name: str, kwargs: dict, dtype: type) -> None:
    _run(name, kwargs, dtype)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_param_groups_with_own_hyperparameters(name: str) -> None:
    base = CONFIGS[name][1]
    _run(name, base, np.float64, group_kw={"lr": base["lr"] * 3, "weight_decay": 0.05})


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_complex_parameters(name: str) -> None:
    _run(name, CONFIGS[name][1], np.complex128, steps=8)


@pytest.mark.parametrize(("name", "kwargs"), [(n, kws[-1]) for n, kws in CONFIGS.items()])
def test_state_dict_matches_torch_and_round_trips(name: str, kwargs: dict, tmp_path) -> None:
    problem, lp, tp, lopt, topt = _run(name, kwargs, np.float64, steps=5)
    lsd, tsd = lopt.state_dict(), topt.state_dict()
    assert lsd["param_groups"] == tsd["param_groups"]
    assert lsd["state"].keys() == tsd["state"].keys()
    for idx, lstate in lsd["state"].items():
        assert lstate.keys() == tsd["state"][idx].keys()
        for key, value in lstate.items():
            want = tsd["state"][idx][key]
            assert value.dtype.name == str(want.dtype).removeprefix("torch.")
            np.testing.assert_allclose(value.numpy(), want.numpy(), rtol=1e-11)

    # save, reload into fresh optimizers (one from lucid's state, one from torch's) and
    # carry on: both continue exactly like the uninterrupted torch run
    lucid.save(lsd, tmp_path / "opt.safetensors")
    loaded = lucid.load(tmp_path / "opt.safetensors")
    from_torch = {"state": {i: {k: lucid.tensor(v.numpy()) for k, v in s.items()}
                            for i, s in tsd["state"].items()},
                  "param_groups": tsd["param_groups"]}
    resumed = []
    for sd in (loaded, from_torch):
        params = [lucid.tensor(p.detach().numpy().copy(), requires_grad=True) for p in lp]
        opt = getattr(optim, name)(params, **kwargs)
        opt.load_state_dict(sd)
        resumed.append((params, opt))
    for _ in range(5):
        _set_grads(problem, lp, tp)
        topt.step()
        for params, opt in resumed:
            _set_grads(problem, params)
            opt.step()
    for params, _ in resumed:
        for a, b in zip(params, tp):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-11)


def test_load_state_dict_copies_and_casts() -> None:
    p = lucid.zeros(3, requires_grad=True)
    opt = optim.Adam([p])
    p.grad = lucid.ones(3)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"] = sd["state"][0]["exp_avg"].double()
    q = lucid.zeros(3, requires_grad=True)
    opt2 = optim.Adam([q], lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.state[q]["exp_avg"].dtype == lucid.float32
    assert opt2.state[q]["step"].dtype == lucid.float32
    assert opt2.param_groups[0]["lr"] == 1e-3 and opt2.param_groups[0]["params"][0] is q
    q.grad = lucid.ones(3)
    opt2.step()
    assert sd["state"][0]["step"].item() == 1.0  # the source state dict is untouched


def test_updates_in_place_and_skips_missing_grads() -> None:
    a, b = lucid.ones(2, requires_grad=True), lucid.ones(2, requires_grad=True)
    arr, version = a._data, a._version
    opt = optim.SGD([a, b], lr=0.5, momentum=0.9)
    a.grad = lucid.tensor([1.0, 2.0])
    opt.step()
    assert a._data is arr and a._version > version
    assert a.tolist() == [0.5, 0.0] and b.tolist() == [1.0, 1.0]
    assert list(opt.state_dict()["state"]) == [0]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_lazy_parameters_are_updated_after_materialization(name: str) -> None:
    p = nn.UninitializedParameter()
    opt = getattr(optim, name)([p], **CONFIGS[name][0])
    opt.step()  # no gradient yet: nothing happens
    p.materialize((2, 3))
    assert opt.param_groups[0]["params"][0] is p
    p.grad = lucid.ones(2, 3)
    opt.step()
    assert np.all(p.detach().numpy() != 0)


def test_lazy_module_trains_with_optimizer_built_before_forward() -> None:
    model = nn.Sequential(nn.LazyLinear(3), nn.ReLU(), nn.LazyLinear(1))
    opt = optim.Adam(model.parameters(), lr=0.05)
    x, y = lucid.randn(32, 5), lucid.randn(32, 1)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]
    assert all(p is q for p, q in zip(opt.param_groups[0]["params"], model.parameters()))


def test_closure_and_zero_grad() -> None:
    w = lucid.tensor([3.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with lucid.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0 and w.item() == 1.5
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and w.grad.tolist() == [0.0]
    opt.zero_grad()
    assert w.grad is None


def test_add_param_group_repr_and_named_params() -> None:
    a, b = lucid.zeros(2, requires_grad=True), lucid.zeros(2, requires_grad=True)
    opt = optim.SGD([("a", a)], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": [("b", b)], "lr": 0.01})
    assert [g["param_names"] for g in opt.param_groups] == [["a"], ["b"]]
    assert opt.param_groups[1]["momentum"] == 0.9
    tp = torch.zeros(2, requires_grad=True)
    topt = torch.optim.SGD([("a", tp)], lr=0.1, momentum=0.9)
    topt.add_param_group({"params": [("b", torch.zeros(2, requires_grad=True))], "lr": 0.01})
    assert repr(opt) == repr(topt)
    assert opt.state_dict()["param_groups"] == topt.state_dict()["param_groups"]


def test_duplicate_parameter_warns() -> None:
    a = lucid.zeros(2, requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([a, a], lr=0.1)


def _raises(exc: type, match: str, fn, *args, **kwargs) -> None:
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


def test_constructor_errors() -> None:
    p = lucid.zeros(2, requires_grad=True)
    _raises(ValueError, "optimizer got an empty parameter list", optim.SGD, [], lr=0.1)
    _raises(TypeError, "should be an iterable of Tensors or dicts", optim.Adam, p)
    _raises(TypeError, "optimizer can only optimize Tensors, but one of the params is int",
            optim.SGD, [p, 3])
    _raises(ValueError, "can't optimize a non-leaf Tensor", optim.SGD, [p * 2])
    _raises(TypeError, "ordering of tensors in sets", optim.SGD, [{"params": {p}}])
    _raises(ValueError, "Invalid learning rate: -0.1", optim.SGD, [p], lr=-0.1)
    _raises(TypeError, "lr must be a Python number", optim.Adam, [p], lr=lucid.tensor(0.1))
    _raises(ValueError, "Invalid momentum value: -1", optim.SGD, [p], momentum=-1)
    _raises(ValueError, "Invalid weight_decay value: -1", optim.SGD, [p], weight_decay=-1)
    _raises(ValueError, "Nesterov momentum requires a momentum and zero dampening", optim.SGD,
            [p], momentum=0.9, dampening=0.1, nesterov=True)
    _raises(ValueError, "Invalid epsilon value: -1", optim.Adam, [p], eps=-1)
    _raises(ValueError, "Invalid beta parameter at index 0: 1.0", optim.Adam, [p],
            betas=(1.0, 0.9))
    _raises(ValueError, "Invalid beta parameter at index 1: -0.1", optim.AdamW, [p],
            betas=(0.9, -0.1))
    _raises(ValueError, "betas must be a pair of floats", optim.Adam, [p], betas=(0, 0.9))
    _raises(ValueError, "Invalid weight_decay value: -0.5", optim.AdamW, [p],
            weight_decay=-0.5)
    _raises(ValueError, "Invalid alpha value: -1", optim.RMSprop, [p], alpha=-1)
    _raises(ValueError, "Invalid momentum value: -1", optim.RMSprop, [p], momentum=-1)
    _raises(ValueError, "does not support differentiable=True", optim.SGD, [p],
            differentiable=True)
    _raises(ValueError, "does not support capturable=True", optim.Adam, [p], capturable=True)
    q = lucid.zeros(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    _raises(ValueError, "some parameters appear in more than one parameter group",
            opt.add_param_group, {"params": [p]})
    _raises(TypeError, "param_group must be a dict", opt.add_param_group, [q])
    _raises(ValueError, "cannot add param group with names", opt.add_param_group,
            {"params": [("q", q)]})
    opt_named = optim.SGD([("p", p)], lr=0.1)
    _raises(ValueError, "Some param names are missing", opt_named.add_param_group,
            {"params": [("q", q), lucid.zeros(1, requires_grad=True)]})
    _raises(ValueError, "didn't specify a value of required optimization parameter lr",
            optim.Optimizer, [p], {"lr": optim.optimizer.required})


def test_load_state_dict_errors() -> None:
    a, b = lucid.zeros(2, requires_grad=True), lucid.zeros(2, requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1)
    two_groups = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    _raises(ValueError, "different number of parameter groups", opt.load_state_dict,
            two_groups.state_dict())
    single = optim.SGD([a], lr=0.1)
    _raises(ValueError, "doesn't match the size of optimizer's group", opt.load_state_dict,
            single.state_dict())
    _raises(NotImplementedError, "does not implement step",
            optim.Optimizer([a], {}).step)


def test_zero_grad_detaches_a_gradient_with_history() -> None:
    w = lucid.tensor([2.0], requires_grad=True)
    (g,) = lucid.autograd.grad((w ** 3).sum(), w, create_graph=True)
    w.grad = g
    assert w.grad.grad_fn is not None
    opt = optim.SGD([w], lr=0.1)
    opt.zero_grad(set_to_none=False)
    assert w.grad is g and g.grad_fn is None and not g.requires_grad and g.tolist() == [0.0]
    with pytest.raises(RuntimeError, match=r"gradient of a parameter of shape \[1\] has shape"):
        w.grad = lucid.ones(3)
        opt.step()
