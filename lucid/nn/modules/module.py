"""``Module``: the base class of every layer and model.

A module owns parameters, buffers and child modules, registered simply by assigning them as
attributes. It can list them (``parameters()``, ``named_modules()``...), save and load them
(``state_dict()`` / ``load_state_dict()``), convert them (``to()``, ``double()``), switch
between training and evaluation mode, and run hooks around ``forward``.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import numpy as np

from lucid import _dtype as D
from lucid._backend import as_device
from lucid._backend import device as _device
from lucid._tensor import Tensor
from lucid.autograd.grad_mode import no_grad
from lucid.nn.parameter import Buffer, Parameter, is_lazy

__all__ = ["Module"]

T = TypeVar("T", bound="Module")

_EXTRA_STATE_KEY_SUFFIX = "_extra_state"


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``remove()`` unregisters the hook.

    Also a context manager: the hook is removed when the ``with`` block ends.

    Parameters
    ----------
    hooks_dict : dict
        The dict the hook is stored in (under ``handle.id``).
    extra_dict : dict or list of dict, optional
        Further dicts keyed by the same id (per-hook flags) to clean up on removal.
    """

    next_id = 0

    def __init__(self, hooks_dict: dict[int, Any],
                 extra_dict: dict[int, Any] | list[dict[int, Any]] | None = None) -> None:
        self.hooks_dict = hooks_dict
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        if extra_dict is None:
            extra_dict = []
        self.extra_dicts = extra_dict if isinstance(extra_dict, list) else [extra_dict]

    @staticmethod
    def _reserve(used_ids: Any) -> None:
        """Make sure new handles never reuse ``used_ids`` (e.g. after unpickling)."""
        for i in used_ids:
            if isinstance(i, int) and i >= RemovableHandle.next_id:
                RemovableHandle.next_id = i + 1

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        RemovableHandle._reserve([self.id])

    def remove(self) -> None:
        """Unregister the hook (a no-op if it is already gone)."""
        for d in (self.hooks_dict, *self.extra_dicts):
            d.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it could not match."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(s: str, num_spaces: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    first = lines.pop(0)
    rest = [(num_spaces * " ") + line if line.strip() else "" for line in lines]
    return first + "\n" + "\n".join(rest)


def _typename(obj: Any) -> str:
    if isinstance(obj, Tensor):
        return "lucid." + type(obj).__name__
    module = type(obj).__module__
    if module in ("builtins", "__builtin__", None):
        return type(obj).__qualname__
    return f"{module}.{type(obj).__qualname__}"


def _forward_unimplemented(self: Module, *args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError(
        f'Module [{type(self).__name__}] is missing the required "forward" function'
    )


class Module:
    """Base class for all neural-network modules.

    Subclasses call ``super().__init__()`` first, then assign parameters, buffers and
    submodules as attributes, and implement :meth:`forward`. Call the module itself
    (``m(x)``), not ``forward``, so that hooks run.

    Attributes
    ----------
    training : bool
        Whether the module is in training mode (see :meth:`train` / :meth:`eval`).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> class Model(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.conv = nn.Conv2d(1, 4, 3)
    ...         self.act = nn.ReLU()
    ...     def forward(self, x):
    ...         return self.act(self.conv(x))
    >>> m = Model()
    >>> m
    Model(
      (conv): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1))
      (act): ReLU()
    )
    >>> list(m.state_dict().keys())
    ['conv.weight', 'conv.bias']
    >>> m(lucid.zeros(2, 1, 5, 5)).shape
    (2, 4, 3, 3)
    """

    _version: int = 1
    training: bool
    forward: Callable[..., Any] = _forward_unimplemented

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got an unexpected keyword argument "
                f"'{next(iter(kwargs))}'"
            )
        if args:
            raise TypeError(
                f"{type(self).__name__}.__init__() takes 1 positional argument but "
                f"{len(args) + 1} were given"
            )
        setattr_ = object.__setattr__
        setattr_(self, "training", True)
        setattr_(self, "_parameters", {})
        setattr_(self, "_buffers", {})
        setattr_(self, "_non_persistent_buffers_set", set())
        setattr_(self, "_forward_hooks", OrderedDict())
        setattr_(self, "_forward_hooks_with_kwargs", OrderedDict())
        setattr_(self, "_forward_hooks_always_called", OrderedDict())
        setattr_(self, "_forward_pre_hooks", OrderedDict())
        setattr_(self, "_forward_pre_hooks_with_kwargs", OrderedDict())
        setattr_(self, "_state_dict_hooks", OrderedDict())
        setattr_(self, "_state_dict_pre_hooks", OrderedDict())
        setattr_(self, "_load_state_dict_pre_hooks", OrderedDict())
        setattr_(self, "_load_state_dict_post_hooks", OrderedDict())
        setattr_(self, "_modules", {})

    # -- registration ---------------------------------------------------------------------
    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: module state that is not a parameter (e.g. running statistics).

        Parameters
        ----------
        name : str
            Attribute name of the buffer.
        tensor : Tensor or None
            The buffer. ``None`` registers the name but stores nothing (not in the
            ``state_dict``).
        persistent : bool, default True
            Whether the buffer is part of the ``state_dict``.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_member_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                "(lucid Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter, accessible as an attribute under ``name``.

        Parameters
        ----------
        name : str
            Attribute name of the parameter.
        param : Parameter or None
            The parameter. ``None`` registers the name but stores nothing (not in the
            ``state_dict``).
        """
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_member_name(name, "parameter", self._parameters)
        if param is None:
            self._parameters[name] = None
        elif not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                "(lucid.nn.Parameter or None required)"
            )
        elif param.grad_fn is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must "
                f"be created explicitly. To express '{name}' as a function of another Tensor, "
                "compute the value in the forward() method."
            )
        else:
            self._parameters[name] = param

    def _check_member_name(self, name: Any, kind: str, own: dict[str, Any]) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in own:
            raise KeyError(f"attribute '{name}' already exists")

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module, accessible as an attribute under ``name``.

        Parameters
        ----------
        name : str
            Attribute name of the child.
        module : Module or None
            The child module.
        """
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        self._check_member_name(name, "module", self._modules)
        self._modules[name] = module

    def register_module(self, name: str, module: Module | None) -> None:
        """Alias of :meth:`add_module`."""
        self.add_module(name, module)

    def get_submodule(self, target: str) -> Module:
        """The submodule at the dotted path ``target`` (``""`` is the module itself).

        Parameters
        ----------
        target : str
            Fully qualified name such as ``"encoder.0.conv"``.

        Returns
        -------
        Module

        Raises
        ------
        AttributeError
            If a step of the path does not exist or is not a module.
        """
        if target == "":
            return self
        mod: Module = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(mod._get_name() + " has no attribute `" + item + "`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError("`" + item + "` is not an nn.Module")
        return mod

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Replace (or, unless ``strict``, add) the submodule at the dotted path ``target``.

        Parameters
        ----------
        target : str
            Fully qualified name of the submodule.
        module : Module
            The new submodule.
        strict : bool, default False
            Only replace an existing submodule; raise ``AttributeError`` otherwise.
        """
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent_path, _, leaf = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        if strict and not hasattr(parent, leaf):
            raise AttributeError(parent._get_name() + " has no attribute `" + leaf + "`")
        if hasattr(parent, leaf) and not isinstance(getattr(parent, leaf), Module):
            raise AttributeError("`" + leaf + "` is not an nn.Module")
        setattr(parent, leaf, module)

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at the dotted path ``target`` (e.g. ``"net.0.weight"``).

        Parameters
        ----------
        target : str
            Fully qualified name of the parameter.

        Returns
        -------
        Parameter
        """
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
        param = getattr(mod, name)
        if not isinstance(param, Parameter):
            raise AttributeError("`" + name + "` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at the dotted path ``target`` (e.g. ``"bn.running_mean"``).

        Parameters
        ----------
        target : str
            Fully qualified name of the buffer.

        Returns
        -------
        Tensor
        """
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
        if name not in mod._buffers:
            raise AttributeError("`" + name + "` is not a buffer")
        return mod._buffers[name]

    def get_extra_state(self) -> Any:
        """Extra (non-tensor) state to save in the ``state_dict``; override with
        :meth:`set_extra_state`."""
        raise RuntimeError(
            "Reached a code path in Module.get_extra_state() that should never be called."
        )

    def set_extra_state(self, state: Any) -> None:
        """Restore what :meth:`get_extra_state` returned; override with it."""
        raise RuntimeError(
            "Reached a code path in Module.set_extra_state() that should never be called."
        )

    # -- attribute protocol -------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            members = d.get(store)
            if members is not None and name in members:
                return members[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._remove_member(name, d, self._buffers, self._modules,
                                self._non_persistent_buffers_set)
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as parameter '{name}' "
                    "(lucid.nn.Parameter or None expected)"
                )
            self.register_parameter(name, value)
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._remove_member(name, d, self._parameters, self._buffers,
                                self._non_persistent_buffers_set)
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as child module '{name}' "
                    "(lucid.nn.Module or None expected)"
                )
            modules[name] = value
            return
        buffers = d.get("_buffers")
        if isinstance(value, Buffer) or (buffers is not None and name in buffers):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as buffer '{name}' "
                    "(lucid.nn.Buffer, lucid.Tensor or None expected)"
                )
            if isinstance(value, Buffer):
                persistent = value.__dict__.get("persistent", True)
            else:
                persistent = name not in self._non_persistent_buffers_set
            self.register_buffer(name, value, persistent)
            return
        object.__setattr__(self, name, value)

    @staticmethod
    def _remove_member(name: str, *stores: Any) -> None:
        for s in stores:
            if name in s:
                if isinstance(s, dict):
                    del s[name]
                else:
                    s.discard(name)

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = [*dir(type(self)), *self.__dict__, *self._parameters, *self._modules,
                *self._buffers]
        return sorted(k for k in keys if not k[0].isdigit())

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        defaults: dict[str, Callable[[], Any]] = {
            "_forward_pre_hooks": OrderedDict, "_forward_pre_hooks_with_kwargs": OrderedDict,
            "_forward_hooks": OrderedDict, "_forward_hooks_with_kwargs": OrderedDict,
            "_forward_hooks_always_called": OrderedDict, "_state_dict_hooks": OrderedDict,
            "_state_dict_pre_hooks": OrderedDict, "_load_state_dict_pre_hooks": OrderedDict,
            "_load_state_dict_post_hooks": OrderedDict, "_non_persistent_buffers_set": set,
        }
        for key, make in defaults.items():
            if key not in self.__dict__:
                object.__setattr__(self, key, make())
        for key in defaults:
            if key.endswith("hooks"):
                RemovableHandle._reserve(self.__dict__[key])

    # -- iteration ------------------------------------------------------------------------
    def _named_members(self, get_members: Callable[[Module], Any], prefix: str = "",
                       recurse: bool = True,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for k, v in get_members(module):
                if v is None or id(v) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield module_prefix + ("." if module_prefix else "") + k, v

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Iterate over the parameters (each shared parameter once).

        Parameters
        ----------
        recurse : bool, default True
            Include the parameters of all submodules, not only this module's own.
        """
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Iterate over ``(dotted name, parameter)`` pairs.

        Parameters
        ----------
        prefix : str, default ""
            Prepended to every name.
        recurse : bool, default True
            Include submodules.
        remove_duplicate : bool, default True
            Yield a parameter shared by several modules only once.
        """
        yield from self._named_members(lambda m: m._parameters.items(), prefix=prefix,
                                       recurse=recurse, remove_duplicate=remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Iterate over the buffers.

        Parameters
        ----------
        recurse : bool, default True
            Include submodules.
        """
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """Iterate over ``(dotted name, buffer)`` pairs.

        Parameters
        ----------
        prefix : str, default ""
            Prepended to every name.
        recurse : bool, default True
            Include submodules.
        remove_duplicate : bool, default True
            Yield a shared buffer only once.
        """
        yield from self._named_members(lambda m: m._buffers.items(), prefix=prefix,
                                       recurse=recurse, remove_duplicate=remove_duplicate)

    def children(self) -> Iterator[Module]:
        """Iterate over the immediate child modules."""
        for _, module in self.named_children():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Iterate over ``(name, child)`` pairs of the immediate child modules."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def modules(self, remove_duplicate: bool = True) -> Iterator[Module]:
        """Iterate over all modules of the tree, this one first (depth first).

        Parameters
        ----------
        remove_duplicate : bool, default True
            Yield a module that appears several times only once.
        """
        for _, module in self.named_modules(remove_duplicate=remove_duplicate):
            yield module

    def named_modules(self, memo: set[Module] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """Iterate over ``(dotted name, module)`` pairs of the whole tree (``""`` is self).

        Parameters
        ----------
        memo : set, optional
            Modules already yielded (used by the recursion).
        prefix : str, default ""
            Prepended to every name.
        remove_duplicate : bool, default True
            Yield a module that appears several times only once.
        """
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name,
                                            remove_duplicate)

    # -- modes and gradients -------------------------------------------------------------
    def train(self: T, mode: bool = True) -> T:
        """Set training mode (``True``) or evaluation mode (``False``) recursively.

        Parameters
        ----------
        mode : bool, default True

        Returns
        -------
        Module
            ``self``.
        """
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self: T) -> T:
        """Set evaluation mode (same as ``train(False)``); returns ``self``."""
        return self.train(False)

    def requires_grad_(self: T, requires_grad: bool = True) -> T:
        """Set ``requires_grad`` on every parameter in place; returns ``self``.

        Parameters
        ----------
        requires_grad : bool, default True
        """
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters.

        Parameters
        ----------
        set_to_none : bool, default True
            Set ``.grad`` to ``None`` instead of filling it with zeros.
        """
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                if p.grad.grad_fn is not None:
                    p.grad.detach_()
                else:
                    p.grad.requires_grad_(False)
                p.grad.zero_()

    def apply(self: T, fn: Callable[[Module], None]) -> T:
        """Call ``fn`` on every submodule (children first) and then on ``self``.

        Parameters
        ----------
        fn : callable
            Function of one module (e.g. a weight initialiser).

        Returns
        -------
        Module
            ``self``.
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- conversion -----------------------------------------------------------------------
    def _apply(self: T, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> T:
        if recurse:
            for module in self.children():
                module._apply(fn)
        for param in self._parameters.values():
            if param is None:
                continue
            with no_grad():
                applied = fn(param)
            if applied is not param:
                param.data = applied
            grad = param.grad
            if grad is not None:
                with no_grad():
                    grad_applied = fn(grad)
                if grad_applied is not grad:
                    grad.data = grad_applied
        for key, buf in self._buffers.items():
            if buf is not None:
                self._buffers[key] = fn(buf)
        return self

    def to(self: T, *args: Any, **kwargs: Any) -> T:
        """Cast floating-point parameters and buffers to a dtype and/or move them.

        Called as ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(tensor)`` or
        with keywords ``device=`` / ``dtype=``. Integer tensors keep their dtype. The
        parameter objects stay the same (their data is replaced), so an optimizer built
        before the call keeps working. Placeholders of lazy modules take the new dtype.

        Returns
        -------
        Module
            ``self``.
        """
        dev, dtype = _parse_to(args, kwargs)
        as_device(dev)
        if dtype is not None and not (dtype.is_floating_point or dtype.is_complex):
            raise TypeError(
                "nn.Module.to only accepts floating point or complex dtypes, but got desired "
                f"dtype={dtype}"
            )

        def convert(t: Tensor) -> Tensor:
            if dtype is not None and (t.is_floating_point() or t.is_complex()):
                return t.to(dtype)
            return t

        return self._apply(convert)

    def _cast_floating(self: T, dtype: D.dtype) -> T:
        return self._apply(lambda t: t.to(dtype) if t.is_floating_point() else t)

    def float(self: T) -> T:
        """Cast floating-point parameters and buffers to ``float32``; returns ``self``."""
        return self._cast_floating(D.float32)

    def double(self: T) -> T:
        """Cast floating-point parameters and buffers to ``float64``; returns ``self``."""
        return self._cast_floating(D.float64)

    def half(self: T) -> T:
        """Cast floating-point parameters and buffers to ``float16``; returns ``self``."""
        return self._cast_floating(D.float16)

    def type(self: T, dst_type: D.DTypeLike) -> T:
        """Cast all parameters and buffers to ``dst_type``; returns ``self``."""
        dt = D.as_dtype(dst_type)
        return self._apply(lambda t: t.to(dt))

    def cpu(self: T) -> T:
        """Move everything to the CPU (where it already is); returns ``self``."""
        return self._apply(lambda t: t.cpu())

    def cuda(self: T, device: Any = None) -> T:
        """Not available: this build of lucid runs on the CPU only (raises)."""
        as_device("cuda")
        return self  # pragma: no cover

    # -- hooks and calling ------------------------------------------------------------------
    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Register ``hook(module, args)`` to run before every ``forward``.

        The hook may return replacement positional arguments (a tuple, or a single value
        that gets wrapped). With ``with_kwargs=True`` it is called as
        ``hook(module, args, kwargs)`` and may return a new ``(args, kwargs)`` pair.

        Parameters
        ----------
        hook : callable
        prepend : bool, default False
            Run before the hooks already registered.
        with_kwargs : bool, default False
            Pass the keyword arguments too.

        Returns
        -------
        RemovableHandle
        """
        handle = RemovableHandle(self._forward_pre_hooks,
                                 extra_dict=self._forward_pre_hooks_with_kwargs)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                              with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Register ``hook(module, args, output)`` to run after every ``forward``.

        A non-``None`` return value replaces the output. With ``with_kwargs=True`` the hook
        is called as ``hook(module, args, kwargs, output)``.

        Parameters
        ----------
        hook : callable
        prepend : bool, default False
            Run before the hooks already registered.
        with_kwargs : bool, default False
            Pass the keyword arguments too.
        always_call : bool, default False
            Run the hook even when ``forward`` raises.

        Returns
        -------
        RemovableHandle
        """
        handle = RemovableHandle(
            self._forward_hooks,
            extra_dict=[self._forward_hooks_with_kwargs, self._forward_hooks_always_called],
        )
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (self._forward_hooks or self._forward_pre_hooks):
            return self.forward(*args, **kwargs)
        called: set[int] = set()
        result = None
        try:
            args, kwargs = self._run_forward_pre_hooks(args, kwargs)
            result = self.forward(*args, **kwargs)
            for hook_id, hook in list(self._forward_hooks.items()):
                called.add(hook_id)
                result = self._run_forward_hook(hook_id, hook, args, kwargs, result)
            return result
        except Exception:
            for hook_id, hook in list(self._forward_hooks.items()):
                if hook_id in self._forward_hooks_always_called and hook_id not in called:
                    result = self._run_forward_hook(hook_id, hook, args, kwargs, result)
            raise

    def _run_forward_pre_hooks(self, args: tuple[Any, ...],
                               kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        for hook_id, hook in list(self._forward_pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                out = hook(self, args, kwargs)
                if out is not None:
                    if not (isinstance(out, tuple) and len(out) == 2):
                        raise RuntimeError(
                            "forward pre-hook must return None or a tuple of (new_args, "
                            f"new_kwargs), but got {out}."
                        )
                    args, kwargs = out
            else:
                out = hook(self, args)
                if out is not None:
                    args = out if isinstance(out, tuple) else (out,)
        return args, kwargs

    def _run_forward_hook(self, hook_id: int, hook: Callable[..., Any], args: tuple[Any, ...],
                          kwargs: dict[str, Any], result: Any) -> Any:
        if hook_id in self._forward_hooks_with_kwargs:
            out = hook(self, args, kwargs, result)
        else:
            out = hook(self, args, result)
        return result if out is None else out

    # -- state dict ---------------------------------------------------------------------
    def register_state_dict_pre_hook(self, hook: Callable[..., None]) -> RemovableHandle:
        """Register ``hook(module, prefix, keep_vars)`` to run before :meth:`state_dict`."""
        handle = RemovableHandle(self._state_dict_pre_hooks)
        self._state_dict_pre_hooks[handle.id] = hook
        return handle

    def register_state_dict_post_hook(self, hook: Callable[..., None]) -> RemovableHandle:
        """Register ``hook(module, state_dict, prefix, local_metadata)`` to run after
        :meth:`state_dict`; it may modify the dict in place (and must return ``None``)."""
        handle = RemovableHandle(self._state_dict_hooks)
        self._state_dict_hooks[handle.id] = hook
        return handle

    def register_load_state_dict_pre_hook(self, hook: Callable[..., None]) -> RemovableHandle:
        """Register ``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` to run before this module loads its entries."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def _register_load_state_dict_pre_hook(self, hook: Callable[..., None],
                                           with_module: bool = False) -> RemovableHandle:
        handle = RemovableHandle(self._load_state_dict_pre_hooks)
        self._load_state_dict_pre_hooks[handle.id] = (
            _WithModule(hook, self) if with_module else hook
        )
        return handle

    def register_load_state_dict_post_hook(self, hook: Callable[..., None]) -> RemovableHandle:
        """Register ``hook(module, incompatible_keys)`` to run after this module and its
        children loaded their entries. The hook may edit the key lists in place (clearing
        them avoids the strict-mode error)."""
        handle = RemovableHandle(self._load_state_dict_post_hooks)
        self._load_state_dict_post_hooks[handle.id] = hook
        return handle

    def _save_to_state_dict(self, destination: dict[str, Any], prefix: str,
                            keep_vars: bool) -> None:
        """Store this module's own parameters and persistent buffers (not its children's)."""
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = _detach_unless(param, keep_vars)
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = _detach_unless(buf, keep_vars)
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + _EXTRA_STATE_KEY_SUFFIX] = self.get_extra_state()

    def state_dict(self, *, destination: dict[str, Any] | None = None, prefix: str = "",
                   keep_vars: bool = False) -> dict[str, Any]:
        """An ordered dict of all parameters and persistent buffers, keyed by dotted names.

        Parameters
        ----------
        destination : dict, optional
            Filled and returned instead of a new ``OrderedDict``.
        prefix : str, default ""
            Prepended to every key.
        keep_vars : bool, default False
            Store the parameter objects themselves instead of detached tensors.

        Returns
        -------
        dict
            Tensors share memory with the module's parameters and buffers.
        """
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()  # type: ignore[attr-defined]
        local_metadata = {"version": self._version}
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            if hook(self, destination, prefix, local_metadata) is not None:
                raise RuntimeError("state_dict post-hook must return None")
        return destination

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              local_metadata: dict[str, Any], strict: bool,
                              missing_keys: list[str], unexpected_keys: list[str],
                              error_msgs: list[str]) -> None:
        """Load this module's own entries of ``state_dict`` (not its children's).

        Override to customise loading (e.g. to convert an old checkpoint layout); report
        problems by appending to ``missing_keys`` / ``unexpected_keys`` / ``error_msgs``
        rather than raising, so that :meth:`load_state_dict` can reject the whole load.

        Parameters
        ----------
        state_dict : dict
            The entries (a copy: it may be modified).
        prefix : str
            This module's key prefix, e.g. ``"encoder.0."``.
        local_metadata : dict
            Metadata saved for this module (``version``, ...).
        strict : bool
            Record missing and unexpected keys.
        missing_keys, unexpected_keys, error_msgs : list of str
            Accumulators shared by the whole load.
        """
        for hook in list(self._load_state_dict_pre_hooks.values()):
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                 error_msgs)
        persistent_buffers = {k: v for k, v in self._buffers.items()
                              if k not in self._non_persistent_buffers_set}
        local_state = {k: v for k, v in itertools.chain(self._parameters.items(),
                                                         persistent_buffers.items())
                       if v is not None}
        assign = local_metadata.get("assign_to_params_buffers", False)
        for name, param in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            input_param = state_dict[key]
            error = _load_error(key, param, input_param)
            if error is not None:
                error_msgs.append(error)
            elif assign:
                self._assign_loaded(name, param, input_param)
            elif not is_lazy(param):
                _stage_copy(param, input_param)
        extra_key = prefix + _EXTRA_STATE_KEY_SUFFIX
        if type(self).set_extra_state is not Module.set_extra_state:
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        elif strict and extra_key in state_dict:
            unexpected_keys.append(extra_key)
        if strict:
            for key in state_dict:
                if not key.startswith(prefix) or key == extra_key:
                    continue
                head = key[len(prefix):].split(".", 1)
                if len(head) > 1:
                    if head[0] not in self._modules:
                        unexpected_keys.append(key)
                elif head[0] not in local_state:
                    unexpected_keys.append(key)

    def _assign_loaded(self, name: str, param: Tensor, input_param: Tensor) -> None:
        if isinstance(param, Parameter):
            if isinstance(input_param, Parameter):
                input_param.requires_grad_(param.requires_grad)
            else:
                input_param = Parameter(input_param, param.requires_grad)
        setattr(self, name, input_param)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copy parameters and buffers from ``state_dict`` into this module and its children.

        The load is all or nothing: when it raises, the module is left exactly as it was.
        Lazy modules are materialized from the shapes in ``state_dict``.

        Parameters
        ----------
        state_dict : Mapping[str, Tensor]
            Typically the result of :meth:`state_dict` (of this or an equivalent model).
        strict : bool, default True
            Require the keys to match this module's ``state_dict`` keys exactly.
        assign : bool, default False
            Store the checkpoint's tensors themselves (wrapped in new ``Parameter``
            objects where needed) instead of copying values into the existing ones.

        Returns
        -------
        IncompatibleKeys
            Named tuple ``(missing_keys, unexpected_keys)``.

        Raises
        ------
        RuntimeError
            Listing every missing / unexpected key (when ``strict``), shape mismatch
            (``size mismatch for weight: copying a param with shape ...``) and bad entry.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys: list[str] = []
        unexpected_keys: list[str] = []
        error_msgs: list[str] = []
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)
        if metadata is not None:
            state_dict._metadata = metadata  # type: ignore[attr-defined]
        snapshot = _Snapshot(self)

        def load(module: Module, local_state: dict[str, Any], prefix: str = "") -> None:
            local_metadata = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
            if assign:
                local_metadata["assign_to_params_buffers"] = True
            module._load_from_state_dict(local_state, prefix, local_metadata, True,
                                         missing_keys, unexpected_keys, error_msgs)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local_state.items()
                                 if k.startswith(child_prefix)}, child_prefix)
            incompatible = _IncompatibleKeys(missing_keys, unexpected_keys)
            for hook in list(module._load_state_dict_post_hooks.values()):
                if hook(module, incompatible) is not None:
                    raise AssertionError(
                        "Hooks registered with ``register_load_state_dict_post_hook`` are not "
                        "expected to return new values, if incompatible_keys need to be "
                        "modified, it should be done inplace."
                    )

        try:
            load(self, state_dict)
        except BaseException:
            snapshot.restore()
            raise
        if strict:
            if unexpected_keys:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected_keys)))
            if missing_keys:
                error_msgs.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing_keys)))
        if error_msgs:
            snapshot.restore()
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(error_msgs)))
        snapshot.commit()
        return _IncompatibleKeys(missing_keys, unexpected_keys)

    # -- printing -------------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The module-specific part of ``repr`` (one line or several); override it."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(module), 2)
                       for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


class _WithModule:
    """A load-state-dict pre-hook bound to its module (picklable, unlike a closure)."""

    def __init__(self, hook: Callable[..., Any], module: Module) -> None:
        self.hook = hook
        self.module = module

    def __call__(self, *args: Any) -> Any:
        return self.hook(self.module, *args)


def _detach_unless(t: Tensor, keep_vars: bool) -> Tensor:
    if keep_vars or is_lazy(t):
        return t
    return t.detach()


def _load_error(key: str, param: Tensor, input_param: Any) -> str | None:
    """Why ``input_param`` can't be loaded into ``param`` (``None`` when it can)."""
    if not isinstance(input_param, Tensor):
        return (f'While copying the parameter named "{key}", expected lucid.Tensor or '
                f"Tensor-like object from checkpoint but received {type(input_param)}")
    if is_lazy(param):
        return None
    if is_lazy(input_param):
        return (f'While copying the parameter named "{key}": the checkpoint holds an '
                f"uninitialized parameter ({type(input_param).__name__}, saved from a lazy "
                "module before its first forward), which can't be loaded into an initialized "
                f"one of shape {param.shape}.")
    if input_param.shape != param.shape:
        return (f"size mismatch for {key}: copying a param with shape {input_param.shape} "
                f"from checkpoint, the shape in current model is {param.shape}.")
    if input_param.is_complex() and not param.is_complex():
        return (f'While copying the parameter named "{key}": can\'t copy a complex tensor '
                f"({input_param.dtype}) into a real one ({param.dtype}).")
    return None


def _stage_copy(param: Tensor, input_param: Tensor) -> None:
    """Give ``param`` a fresh array holding ``input_param``'s values (cast to its dtype).

    The old array is written only when the whole load succeeds (``_Snapshot.commit``).
    """
    param._data = np.array(input_param._data, dtype=param._data.dtype, copy=True)


_MISSING = object()


class _Snapshot:
    """The state a load may change, so that a failed load can be undone completely.

    Records every module's class and attribute dict (with the contents of its member and
    hook dicts) and every parameter/buffer's class, data array and attributes. Staged
    copies give tensors new arrays; :meth:`commit` writes them into the original arrays so
    that loading stays an in-place update.
    """

    def __init__(self, root: Module) -> None:
        self.modules = []
        self.tensors: dict[int, tuple[Any, ...]] = {}
        for m in root.modules():
            d = m.__dict__
            containers = {k: (v, v.copy()) for k, v in d.items()
                          if isinstance(v, (dict, set))}
            self.modules.append((m, type(m), dict(d), containers))
            for t in itertools.chain(m._parameters.values(), m._buffers.values()):
                if t is not None and id(t) not in self.tensors:
                    self.tensors[id(t)] = (t, type(t), _data_or_missing(t),
                                           t._requires_grad, dict(t.__dict__))

    def restore(self) -> None:
        for m, cls, d, containers in self.modules:
            for container, saved in containers.values():
                container.clear()
                container.update(saved)
            m.__dict__.clear()
            m.__dict__.update(d)
            if type(m) is not cls:
                m.__class__ = cls
        for t, cls, data, requires_grad, d in self.tensors.values():
            if type(t) is not cls:
                t.__class__ = cls
            if data is _MISSING:
                if _data_or_missing(t) is not _MISSING:
                    Tensor._data.__delete__(t)  # type: ignore[attr-defined]
            else:
                t._data = data
            t._requires_grad = requires_grad
            t.__dict__.clear()
            t.__dict__.update(d)

    def commit(self) -> None:
        for t, _cls, old, _rg, _d in self.tensors.values():
            new = _data_or_missing(t)
            if (old is _MISSING or new is old or new is _MISSING
                    or old.shape != new.shape or old.dtype != new.dtype
                    or not old.flags.writeable):
                continue
            t._data = old
            with no_grad():
                t.copy_(Tensor._make(new))


def _data_or_missing(t: Tensor) -> Any:
    try:
        return Tensor._data.__get__(t)  # type: ignore[attr-defined]
    except AttributeError:
        return _MISSING


def _parse_to(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, D.dtype | None]:
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dtype = a.device, a.dtype
        elif isinstance(a, bool):
            continue  # non_blocking
        elif isinstance(a, (str, _device)):
            dev = a
        else:
            try:
                dtype = D.as_dtype(a)
            except TypeError:
                raise TypeError(
                    f"to() received an invalid combination of arguments: {a!r} is neither a "
                    "device nor a dtype"
                ) from None
    return dev, (D.as_dtype(dtype) if dtype is not None else None)
