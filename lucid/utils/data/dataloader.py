"""``DataLoader``: iterate over a dataset in (shuffled) batches, and the default collation."""

from __future__ import annotations

import collections.abc
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from lucid._creation import as_tensor, tensor
from lucid._dtype import float64
from lucid._ops.shape import stack
from lucid._tensor import Tensor
from lucid.random import Generator
from lucid.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert"]

_COLLATE_ERROR = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
    "found {}"
)


def _is_numeric_array(value: Any) -> bool:
    return isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind not in "SUOV"


def default_convert(data: Any) -> Any:
    """Turn NumPy arrays and scalars inside ``data`` into tensors (used without batching).

    Mappings, named tuples, tuples and lists are converted element by element (a plain
    tuple becomes a list, like PyTorch); anything else is returned unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from lucid.utils.data import default_convert
    >>> default_convert({"x": np.array([1.0, 2.0]), "name": "a"})
    {'x': tensor([1., 2.], dtype=lucid.float64), 'name': 'a'}
    """
    if _is_numeric_array(data):
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {k: default_convert(v) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, (list, tuple)):
        return [default_convert(v) for v in data]
    return data


def _rebuild_mapping(original: Any, items: dict[Any, Any]) -> Any:
    try:
        return type(original)(items)
    except TypeError:
        return items


def default_collate(batch: Sequence[Any]) -> Any:
    """Combine a list of samples into a batch, PyTorch's way.

    Tensors (and NumPy arrays) are stacked along a new first dimension; Python floats
    become a ``float64`` tensor and ints (or bools) an ``int64`` (``bool``) tensor; strings
    stay a list; mappings, named tuples and sequences are collated field by field (a tuple
    of fields becomes a list, like PyTorch).

    Parameters
    ----------
    batch : sequence
        Samples of the same structure.

    Returns
    -------
    The batch, with the samples' structure.

    Examples
    --------
    >>> import lucid
    >>> from lucid.utils.data import default_collate
    >>> default_collate([(lucid.tensor([1.0, 2.0]), 0), (lucid.tensor([3.0, 4.0]), 1)])
    [tensor([[1., 2.],
            [3., 4.]]), tensor([0, 1])]
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if isinstance(elem, (np.ndarray, np.generic)):
        if not _is_numeric_array(elem):
            raise TypeError(_COLLATE_ERROR.format(elem.dtype))
        return stack([as_tensor(b) for b in batch], 0)
    if isinstance(elem, float):
        return tensor(batch, dtype=float64)
    if isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild_mapping(elem, {k: default_collate([d[k] for d in batch]) for k in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [default_collate(s) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return fields
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise TypeError(_COLLATE_ERROR.format(type(elem)))


class DataLoader:
    """Iterate over a dataset in batches, optionally shuffled.

    Parameters
    ----------
    dataset : Dataset
        Any indexable dataset with a length.
    batch_size : int or None, default 1
        Samples per batch; ``None`` disables batching (samples are only converted by
        :func:`default_convert`).
    shuffle : bool, optional
        Visit the samples in a new random order each epoch.
    sampler : Sampler or iterable, optional
        The order of the indices (exclusive with ``shuffle``).
    batch_sampler : Sampler or iterable, optional
        Yields whole batches of indices (exclusive with ``batch_size``, ``shuffle``,
        ``sampler`` and ``drop_last``).
    num_workers : int, default 0
        Accepted for PyTorch compatibility; lucid loads every batch in the calling
        process.
    collate_fn : callable, optional
        Combines a list of samples into a batch (default :func:`default_collate`).
    pin_memory : bool, default False
        Accepted for PyTorch compatibility (no effect: lucid runs on the CPU).
    drop_last : bool, default False
        Drop the last, incomplete batch.
    generator : lucid.Generator, optional
        Source of the shuffling order (lucid's default generator when omitted).

    Examples
    --------
    >>> import lucid
    >>> from lucid.utils.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(lucid.arange(10.0).reshape(5, 2), lucid.arange(5))
    >>> loader = DataLoader(ds, batch_size=2)
    >>> len(loader)
    3
    >>> [tuple(y.tolist()) for _, y in loader]
    [(0, 1), (2, 3), (4,)]
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler[Any] | Any = None,
        batch_sampler: Sampler[Any] | Any = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        *,
        generator: Generator | None = None,
    ) -> None:
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                "multiprocessing."
            )
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive "
                "with drop_last"
            )
        if sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn

    def __iter__(self) -> Iterator[Any]:
        if self.batch_sampler is None:
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])
            return
        gather = getattr(self.dataset, "_collated_batch", None)
        fast = gather if self.collate_fn is default_collate else None
        for indices in self.batch_sampler:
            batch = fast(indices) if fast is not None else None
            yield batch if batch is not None else self.collate_fn(
                [self.dataset[i] for i in indices])

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)
