"""``Optimizer``: parameter groups, per-parameter state and the state-dict format.

Optimizers update parameters *in place*: the step writes into each parameter's own array,
so the tensors a model holds (and a lazy module's placeholders once materialized) are the
ones that change. The update arithmetic runs directly on NumPy arrays, outside autograd.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from itertools import chain
from typing import Any

import numpy as np

from lucid._tensor import Tensor, bump_version
from lucid.autograd.grad_mode import enable_grad

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marker for a hyper-parameter every parameter group must give (no default)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj: Any) -> str:
    cls = type(obj)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__name__}"


class Optimizer:
    """Base class of all optimizers.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        The tensors to optimize, or parameter groups: dicts with a ``'params'`` entry and
        any per-group hyper-parameters (which override ``defaults``). Named parameters
        (``(name, tensor)`` pairs, as ``module.named_parameters()`` yields) are accepted;
        their names are kept in the group's ``'param_names'``.
    defaults : dict
        Default hyper-parameters of every group.

    Attributes
    ----------
    param_groups : list of dict
        The groups: each holds ``'params'`` (a list of tensors) and its hyper-parameters.
    state : dict
        Per-parameter state (momentum buffers, running averages), keyed by the tensor.
    defaults : dict
        The default hyper-parameters.

    Notes
    -----
    Subclasses implement :meth:`step`. Parameters whose ``grad`` is ``None`` are skipped,
    so an optimizer built from a lazy module's uninitialized parameters updates them once
    the first forward has materialized them and a backward has given them gradients.
    """

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {_typename(params)}"
            )
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        text = f"{type(self).__name__} ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            text += "".join(f"    {k}: {group[k]}\n" for k in sorted(group) if k != "params")
        return text + ")"

    # -- groups -------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, with its own hyper-parameters, to the optimizer.

        Parameters
        ----------
        param_group : dict
            ``{'params': tensors, **hyper_parameters}``; missing hyper-parameters take the
            optimizer's defaults.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {_typename(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list "
                "instead."
            )
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names and len(names) != len(params):
            raise ValueError(
                "all optimizer params should be with/without names. Some param names are "
                "missing"
            )
        param_group["params"] = params
        if names:
            param_group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is "
                    f"{_typename(p)}"
                )
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)
        ids = [id(p) for p in params]
        if len(ids) != len(set(ids)):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, "
                "this will cause an error; see github.com/pytorch/pytorch/issues/40967 for "
                "more information",
                UserWarning,
                stacklevel=3,
            )
        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                kind = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. cannot add "
                    f"param group {kind} to the optimizer"
                )
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if taken.intersection(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # -- gradients and steps ------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors.

        Parameters
        ----------
        set_to_none : bool, default True
            Set each ``grad`` to ``None`` (the parameter is then skipped by the next step
            unless a backward gives it a gradient) instead of filling it with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                if grad.grad_fn is not None:
                    grad.detach_()
                else:
                    grad.requires_grad_(False)
                if grad._data.flags.writeable:
                    grad._data.fill(0)
                    bump_version(grad)
                else:
                    grad._data = np.zeros_like(grad._data)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step; returns the closure's loss if one is given.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss (run with gradients enabled).
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    @staticmethod
    def _evaluate(closure: Callable[[], Any] | None) -> Any:
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _params_with_grad(self, group: dict[str, Any]) -> Iterable[tuple[Tensor, np.ndarray,
                                                                        np.ndarray]]:
        """``(param, param array, grad array)`` for the group's params that have a grad.

        The param array is the parameter's own writeable storage (C-ordered when complex, so
        that it has a real view): updating it in place updates the parameter. The version
        counter is bumped, as for any in-place change.
        """
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            data = p._data
            if grad.shape != data.shape:
                raise RuntimeError(
                    f"{type(self).__name__}: the gradient of a parameter of shape "
                    f"{list(data.shape)} has shape {list(grad.shape)}"
                )
            if not data.flags.writeable or (data.dtype.kind == "c"
                                            and not data.flags.c_contiguous):
                data = p._data = np.array(data, order="C")
            bump_version(p)
            yield p, data, grad._data

    # -- state dict ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as a dict, in PyTorch's format.

        Returns
        -------
        dict
            ``{'state': {index: {name: value}}, 'param_groups': [{..., 'params': [index]}]}``
            where parameters are replaced by their position across all groups. The state
            tensors are the optimizer's own (not copies).
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {
            (index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state produced by :meth:`state_dict` (of lucid or, converted, PyTorch).

        State tensors are copied and cast to their parameter's floating dtype (``'step'``
        counters are kept as they are). Hyper-parameters come from the loaded groups.

        Parameters
        ----------
        state_dict : dict
            ``{'state': ..., 'param_groups': ...}`` as returned by :meth:`state_dict`.
        """
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        id_map = dict(zip(chain.from_iterable(s["params"] for s in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                param = id_map[key]
                state[param] = {k: _cast_state(param, v, k) for k, v in value.items()}
            else:
                state[key] = deepcopy(value)
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
        self.state = state
        self.param_groups = saved_groups


def _cast_state(param: Tensor, value: Any, key: Any) -> Any:
    """A copy of ``value`` with tensors moved to ``param``'s floating dtype (not 'step')."""
    if isinstance(value, Tensor):
        arr = value._data
        if key != "step" and param.is_floating_point() and arr.dtype != param.dtype.np:
            return Tensor._make(arr.astype(param.dtype.np))
        return Tensor._make(arr.copy())
    if isinstance(value, dict):
        return {k: _cast_state(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(param, v, None) for v in value)
    return deepcopy(value)


# -- array helpers shared by the update rules ---------------------------------------------
def _real_view(arr: np.ndarray) -> np.ndarray:
    """A complex array viewed as interleaved reals (PyTorch's ``view_as_real``)."""
    if arr.dtype.kind != "c":
        return arr
    return np.ascontiguousarray(arr).reshape(-1).view(arr.real.dtype)


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``start += weight * (end - start)`` in place, with PyTorch's two-sided formula."""
    diff = end - start
    if abs(weight) < 0.5:
        diff *= weight
        start += diff
    else:
        diff *= 1 - weight
        np.subtract(end, diff, out=start)


def _check_flags(name: str, **flags: bool) -> None:
    """Reject the PyTorch execution modes that have no meaning here."""
    for flag, value in flags.items():
        if value:
            raise ValueError(f"{name} does not support {flag}=True in lucid")


def _check_lr(lr: Any) -> None:
    if isinstance(lr, Tensor):
        raise TypeError("lr must be a Python number in lucid, not a Tensor")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
