"""Datasets, samplers and the ``DataLoader`` (``lucid.utils.data``, like ``torch.utils.data``)."""

from lucid.utils.data.dataloader import DataLoader, default_collate, default_convert
from lucid.utils.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from lucid.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
)

__all__ = [
    "BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "RandomSampler", "Sampler",
    "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset", "default_collate",
    "default_convert", "random_split",
]
