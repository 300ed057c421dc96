"""Fixtures shared by the test suite."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest


@pytest.fixture
def record_calls(monkeypatch) -> Callable[..., list[str]]:
    """``record_calls(module, *names)`` wraps those functions of ``module`` (for the test)
    so that every call appends its name to the returned list, then runs the original.

    Several calls share one list, in call order."""
    calls: list[str] = []

    def watch(module: ModuleType, *names: str) -> list[str]:
        for name in names:
            orig = getattr(module, name)
            monkeypatch.setattr(module, name, lambda *a, _o=orig, _n=name, **k:
                                calls.append(_n) or _o(*a, **k))
        return calls

    return watch
