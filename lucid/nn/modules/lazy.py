"""``LazyModuleMixin``: modules whose parameter shapes are inferred from the first input."""

from __future__ import annotations

import itertools
from typing import Any

from lucid._tensor import Tensor
from lucid.nn.parameter import is_lazy

__all__ = ["LazyModuleMixin"]


class LazyModuleMixin:
    """Mixin for modules that infer their parameter shapes from the first input.

    A lazy module creates :class:`~lucid.nn.UninitializedParameter` (or
    :class:`~lucid.nn.UninitializedBuffer`) placeholders in ``__init__`` and implements
    :meth:`initialize_parameters`, which receives the arguments of the first call and
    materializes them (``param.materialize(shape)``). The mixin runs it from a forward
    pre-hook; once nothing is left uninitialized, the hooks are removed and the module's
    class becomes :attr:`cls_to_become` (when set), so a ``LazyConv2d`` turns into a plain
    ``Conv2d``. Materialization is in place: an optimizer built from ``parameters()``
    before the first call holds the very objects that receive the values.

    Loading a ``state_dict`` into a lazy module materializes the placeholders from the
    checkpoint's shapes first (and completes the transition when everything is
    materialized). ``module.to(dtype)`` / ``double()`` before the first call set the dtype
    the placeholders will be materialized with.

    Put the mixin first in the bases: ``class LazyThing(LazyModuleMixin, Thing)``.

    Attributes
    ----------
    cls_to_become : type or None
        The class the module turns into once fully initialized (``None``: keep its class).

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn as nn
    >>> from lucid.nn.modules.lazy import LazyModuleMixin
    >>> class LazyScale(LazyModuleMixin, nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.scale = nn.UninitializedParameter()
    ...     def initialize_parameters(self, x):
    ...         with lucid.no_grad():
    ...             self.scale.materialize((x.shape[-1],))
    ...             self.scale.fill_(2.0)
    ...     def forward(self, x):
    ...         return x * self.scale
    >>> m = LazyScale()
    >>> m.has_uninitialized_params()
    True
    >>> m(lucid.ones(2, 3))
    tensor([[2., 2., 2.],
            [2., 2., 2.]], grad_fn=<MulBackward0>)
    >>> m.has_uninitialized_params(), m.scale.shape
    (False, (3,))
    """

    cls_to_become: type | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reg: Any = self
        self._load_hook = reg._register_load_state_dict_pre_hook(self._lazy_load_hook)
        self._load_post_hook = reg.register_load_state_dict_post_hook(self._lazy_load_done)
        self._initialize_hook = reg.register_forward_pre_hook(self._infer_parameters,
                                                              with_kwargs=True)

    def _lazy_load_hook(self, state_dict: dict[str, Any], prefix: str,
                        local_metadata: dict[str, Any], strict: bool,
                        missing_keys: list[str], unexpected_keys: list[str],
                        error_msgs: list[str]) -> None:
        """Materialize placeholders from the shapes of the tensors about to be loaded."""
        me: Any = self
        for name, param in itertools.chain(me._parameters.items(), me._buffers.items()):
            key = prefix + name
            if param is None or key not in state_dict or not is_lazy(param):
                continue
            value = state_dict[key]
            if isinstance(value, Tensor) and not is_lazy(value):
                param.materialize(value.shape)

    def _lazy_load_done(self, module: Any, incompatible_keys: Any) -> None:
        if not self.has_uninitialized_params():
            self._finish_lazy_initialization()

    def initialize_parameters(self, *args: Any, **kwargs: Any) -> None:
        """Materialize the placeholders from the first call's arguments (override this)."""
        raise NotImplementedError(
            f"initialize_parameters is not implemented for {type(self).__name__}"
        )

    def has_uninitialized_params(self) -> bool:
        """Whether some parameter or buffer is still an uninitialized placeholder."""
        me: Any = self
        return any(is_lazy(t) for t in itertools.chain(me._parameters.values(),
                                                       me._buffers.values()))

    def _infer_parameters(self, module: Any, args: tuple[Any, ...],
                          kwargs: dict[str, Any] | None = None) -> None:
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")  # type: ignore[attr-defined]
        module._finish_lazy_initialization()

    def _finish_lazy_initialization(self) -> None:
        """Drop the lazy hooks and become ``cls_to_become``."""
        for name in ("_initialize_hook", "_load_hook", "_load_post_hook"):
            getattr(self, name).remove()
            delattr(self, name)
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become
