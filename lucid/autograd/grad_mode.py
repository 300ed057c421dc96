"""Global switches for gradient recording: ``no_grad``, ``enable_grad``, ``set_grad_enabled``."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State(threading.local):
    """Per-thread grad mode, like PyTorch's (every thread starts with gradients on)."""

    def __init__(self) -> None:
        self.enabled = True


_state = _State()


def is_grad_enabled() -> bool:
    """Whether operations are currently recorded for autograd."""
    return _state.enabled


class _GradMode:
    """Base for the grad-mode context managers; each is also a decorator."""

    _mode: bool = True

    def __enter__(self) -> None:
        self._prev = _state.enabled
        _state.enabled = self._mode

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self._prev

    def __call__(self, fn: F) -> F:
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = _state.enabled
            _state.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _state.enabled = prev

        return wrapper  # type: ignore[return-value]


class _BareDecorator(_GradMode):
    """Also usable as a decorator without parentheses (``@no_grad``)."""

    def __new__(cls, orig_func: Callable[..., Any] | None = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_BareDecorator):  # noqa: N801
    """Context manager / decorator that disables gradient recording.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.ones(2, requires_grad=True)
    >>> with lucid.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    _mode = False


class enable_grad(_BareDecorator):  # noqa: N801
    """Context manager / decorator that enables gradient recording (inside ``no_grad``)."""

    _mode = True


class set_grad_enabled(_GradMode):  # noqa: N801
    """Set gradient recording on or off; usable as a function, context manager or decorator.

    Parameters
    ----------
    mode : bool
        Whether to record operations.
    """

    def __init__(self, mode: bool) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(): mode must be a bool, got {mode!r}")
        self._mode = mode
        self._prev = _state.enabled
        _state.enabled = mode

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self._prev

    def __call__(self, fn: F) -> F:
        _state.enabled = self._prev
        return super().__call__(fn)
