"""Utilities: ``lucid.utils.data`` (datasets, samplers and the ``DataLoader``)."""

from lucid.utils import data

__all__ = ["data"]
