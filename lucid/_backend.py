"""The array-module seam: the one place that decides which array library backs tensors.

Everything above the kernels reaches NumPy through :data:`xp` or :func:`array_module`, so a
GPU backend (CuPy) can be added here without touching the rest of the framework.
"""

from __future__ import annotations

from typing import Any

import numpy as np

xp = np
"""The array module used for CPU tensors."""

_KNOWN_TYPES = ("cpu", "cuda", "mps", "xla", "meta", "hip", "xpu")


class device:  # noqa: N801 - mirrors torch.device
    """Where a tensor's data lives.

    Parameters
    ----------
    type : str or device
        ``"cpu"`` (optionally ``"cpu:0"``). Other device types are recognised but not
        available in this build and raise a ``RuntimeError``.
    index : int, optional
        Device index; only ``0``/``None`` is meaningful for the CPU.

    Examples
    --------
    >>> import lucid
    >>> lucid.device("cpu")
    device(type='cpu')
    """

    __slots__ = ("type", "index")

    def __init__(self, type: str | device, index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if not isinstance(type, str):
            raise TypeError(f"device(): expected a string like 'cpu', but got {type!r}")
        name, _, idx = type.partition(":")
        if idx:
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: {type!r}")
            index = int(idx)
        if name not in _KNOWN_TYPES:
            raise RuntimeError(
                f"Expected one of {', '.join(_KNOWN_TYPES)} device type at start of device "
                f"string: {type!r}"
            )
        if name != "cpu":
            raise RuntimeError(
                f"device {type!r} is not available: this build of lucid supports only 'cpu'"
            )
        self.type = name
        self.index = index

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
        return isinstance(other, device) and other.type == self.type

    def __hash__(self) -> int:
        return hash(self.type)

    def __reduce__(self) -> tuple[Any, ...]:
        return (device, (self.type, self.index))


CPU = device("cpu")

DeviceLike = str | device | None


def as_device(dev: DeviceLike) -> device:
    """Resolve a user-given device (``None`` means the CPU)."""
    if dev is None:
        return CPU
    if isinstance(dev, device):
        return dev
    if isinstance(dev, int):
        raise RuntimeError(f"device {dev!r} is not available: this build supports only 'cpu'")
    return device(dev)


def array_module(dev: device) -> Any:
    """The array module that stores data on ``dev``."""
    return xp
