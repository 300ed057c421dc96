"""Datasets: indexable collections of samples, and ways to combine and split them."""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from lucid._creation import randperm
from lucid._tensor import Tensor
from lucid.random import Generator

__all__ = ["ConcatDataset", "Dataset", "Subset", "TensorDataset", "random_split"]

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """An indexable collection of samples: subclasses implement ``__getitem__`` (and usually
    ``__len__``, which samplers and the :class:`DataLoader` need).

    Examples
    --------
    >>> from lucid.utils.data import Dataset
    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 4
    ...     def __getitem__(self, i):
    ...         return i * i
    >>> ds = Squares()
    >>> [ds[i] for i in range(len(ds))]
    [0, 1, 4, 9]
    >>> len(ds + ds)
    8
    """

    def __getitem__(self, index: Any) -> T_co:
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: Dataset[T_co]) -> ConcatDataset[T_co]:
        return ConcatDataset([self, other])


class TensorDataset(Dataset[tuple[Tensor, ...]]):
    """Samples are slices of tensors along their first dimension.

    Parameters
    ----------
    *tensors : Tensor
        Tensors with the same first-dimension size; sample ``i`` is
        ``tuple(t[i] for t in tensors)``.

    Examples
    --------
    >>> import lucid
    >>> from lucid.utils.data import TensorDataset
    >>> ds = TensorDataset(lucid.arange(6).reshape(3, 2), lucid.tensor([0, 1, 0]))
    >>> len(ds), ds[1]
    (3, (tensor([2, 3]), tensor(1)))
    """

    def __init__(self, *tensors: Tensor) -> None:
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(
                    f"TensorDataset expects tensors, but argument {i} is {type(t).__name__}")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {i} is 0-d and cannot be indexed")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) > 1:
            raise ValueError(f"Size mismatch between tensors: first dimensions are {sizes}")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0] if self.tensors else 0

    def _collated_batch(self, indices: Sequence[int]) -> list[Tensor]:
        """What ``default_collate`` makes of the samples at ``indices``, in one gather."""
        index = np.asarray(indices, dtype=np.int64)
        return [t[index] for t in self.tensors]


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``, in that order.

    Parameters
    ----------
    dataset : Dataset
        The whole dataset.
    indices : sequence of int
        The positions kept.

    Examples
    --------
    >>> from lucid.utils.data import Subset
    >>> sub = Subset(["a", "b", "c", "d"], [3, 0])
    >>> len(sub), sub[0], sub[1]
    (2, 'd', 'a')
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: Any) -> T_co:
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)

    def _collated_batch(self, indices: Sequence[int]) -> Any:
        gather = getattr(self.dataset, "_collated_batch", None)
        if gather is None:
            return None
        return gather([self.indices[i] for i in indices])


class ConcatDataset(Dataset[T_co]):
    """The samples of several datasets, one after another.

    Parameters
    ----------
    datasets : iterable of Dataset
        Datasets with a length, concatenated in order.

    Examples
    --------
    >>> from lucid.utils.data import ConcatDataset
    >>> ds = ConcatDataset([[1, 2], [3, 4, 5]])
    >>> len(ds), ds[2], ds[-1]
    (5, 3, 5)
    """

    def __init__(self, datasets: Any) -> None:
        self.datasets = list(datasets)
        if len(self.datasets) == 0:
            raise ValueError("datasets should not be an empty iterable")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> T_co:
        if index < 0:
            if -index > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            index += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        if which == len(self.datasets):
            raise IndexError(f"index {index} is out of range for a dataset of length {len(self)}")
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def random_split(dataset: Any, lengths: Sequence[int | float],
                 generator: Generator | None = None) -> list[Subset[Any]]:
    """Split a dataset into non-overlapping random subsets.

    Parameters
    ----------
    dataset : Dataset
        The dataset to split (it needs a length).
    lengths : sequence of int or float
        The sizes of the splits, or fractions summing to 1 (each split gets
        ``floor(len * fraction)`` samples; the remainder goes round-robin to the first
        splits).
    generator : lucid.Generator, optional
        Source of the permutation (lucid's default generator when omitted).

    Returns
    -------
    list of Subset

    Examples
    --------
    >>> import lucid
    >>> from lucid.utils.data import random_split
    >>> train, val = random_split(range(10), [0.7, 0.3], generator=lucid.Generator())
    >>> len(train), len(val), sorted(list(train) + list(val)) == list(range(10))
    (7, 3, True)
    """
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _fractions_to_lengths(lengths, n)
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    indices = randperm(n, generator=generator).tolist()
    return [Subset(dataset, indices[end - length:end])
            for end, length in zip(itertools.accumulate(lengths), lengths)]


def _fractions_to_lengths(fractions: Sequence[float], n: int) -> list[int]:
    lengths = []
    for i, frac in enumerate(fractions):
        if frac < 0 or frac > 1:
            raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        lengths.append(int(math.floor(n * frac)))
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(
                f"Length of split at index {i} is 0. This might result in an empty dataset.",
                UserWarning,
                stacklevel=3,
            )
    return lengths
