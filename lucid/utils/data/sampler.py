"""Samplers: the order in which a :class:`DataLoader` visits a dataset's indices."""

from __future__ import annotations

from collections.abc import Iterator, Sequence, Sized
from typing import Any, Generic, TypeVar

from lucid import random as _random
from lucid.random import Generator

__all__ = ["BatchSampler", "RandomSampler", "Sampler", "SequentialSampler",
           "SubsetRandomSampler"]

T_co = TypeVar("T_co", covariant=True)


class Sampler(Generic[T_co]):
    """Base class of samplers: iterables of dataset indices (or of batches of indices).

    Subclasses implement ``__iter__`` and, when the number of indices is known,
    ``__len__``.
    """

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} does not implement __iter__")


class SequentialSampler(Sampler[int]):
    """Indices ``0, 1, ..., len(data_source) - 1`` in order.

    Parameters
    ----------
    data_source : Sized
        The dataset (only its length is used).

    Examples
    --------
    >>> from lucid.utils.data import SequentialSampler
    >>> list(SequentialSampler("abc"))
    [0, 1, 2]
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """Indices in random order: a permutation, or draws with replacement.

    Parameters
    ----------
    data_source : Sized
        The dataset (only its length is used).
    replacement : bool, default False
        Draw indices independently (with replacement) instead of permuting them.
    num_samples : int, optional
        Number of indices per pass (default: the dataset's length; without replacement a
        larger number chains several permutations).
    generator : lucid.Generator, optional
        Source of randomness (lucid's default generator, seeded by ``lucid.manual_seed``,
        when omitted). Each pass draws a new order from it.

    Examples
    --------
    >>> import lucid
    >>> from lucid.utils.data import RandomSampler
    >>> order = list(RandomSampler(range(5), generator=lucid.Generator().manual_seed(0)))
    >>> sorted(order)
    [0, 1, 2, 3, 4]
    """

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: Generator | None = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(
                f"replacement should be a boolean value, but got replacement={replacement}")
        n = self.num_samples
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got num_samples={n}")

    @property
    def num_samples(self) -> int:
        """The number of indices each pass yields."""
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def __iter__(self) -> Iterator[int]:
        rng = _random.rng(self.generator)
        n, total = len(self.data_source), self.num_samples
        if self.replacement:
            yield from rng.integers(0, n, size=total).tolist()
            return
        for _ in range(total // n):
            yield from rng.permutation(n).tolist()
        yield from rng.permutation(n)[: total % n].tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given indices in a random order (a new permutation each pass).

    Parameters
    ----------
    indices : sequence of int
        The indices to sample from.
    generator : lucid.Generator, optional
        Source of randomness (lucid's default generator when omitted).

    Examples
    --------
    >>> from lucid.utils.data import SubsetRandomSampler
    >>> sorted(SubsetRandomSampler([7, 3, 5]))
    [3, 5, 7]
    """

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in _random.rng(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class BatchSampler(Sampler[list[int]]):
    """Group the indices of another sampler into lists of ``batch_size``.

    Parameters
    ----------
    sampler : Sampler or iterable of int
        The indices to group.
    batch_size : int
        Size of each batch (positive).
    drop_last : bool
        Drop the last batch when it is smaller than ``batch_size``.

    Examples
    --------
    >>> from lucid.utils.data import BatchSampler, SequentialSampler
    >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    >>> len(BatchSampler(range(5), batch_size=2, drop_last=True))
    2
    """

    def __init__(self, sampler: Any, batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(
                f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
