"""Fixtures shared by the test suite."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
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


def _assert_close(actual: np.ndarray, expected: np.ndarray, tol: float) -> None:
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-30)
    err = float(np.abs(actual.astype(np.float64) - expected).max(initial=0.0)) / scale
    assert err <= tol, f"relative error {err:.3g} > {tol:.3g}"


@pytest.fixture
def assert_close() -> Callable[[np.ndarray, np.ndarray, float], None]:
    """``assert_close(actual, expected, tol)``: same shape and dtype, and a max abs error
    of at most ``tol`` times the max abs value of ``expected`` (real arrays)."""
    return _assert_close
