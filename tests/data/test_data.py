"""Datasets, samplers, collation and the DataLoader (PyTorch's behaviour, lucid's RNG)."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import lucid
from lucid.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
    default_convert,
    random_split,
)


def _as_torch(obj):
    """Convert lucid tensors inside a collated batch to torch, for comparisons."""
    if isinstance(obj, lucid.Tensor):
        return torch.tensor(obj.numpy())
    if isinstance(obj, dict):
        return {k: _as_torch(v) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_as_torch(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_as_torch(v) for v in obj)
    return obj


def _same(a, b) -> None:
    assert type(a) is type(b), (a, b)
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert a == b


Point = namedtuple("Point", "x y")

BATCHES = [
    [1.0, 2.5], [1, 2], [True, False], ["a", "b"], [np.float32(1), np.float32(2)],
    [np.array([1, 2]), np.array([3, 4])], [Point(1, 2.0), Point(3, 4.0)],
    [{"a": 1, "b": [1.0, 2.0]}, {"a": 2, "b": [3.0, 4.0]}], [(1, "x"), (2, "y")],
    [np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32)],
]


@pytest.mark.parametrize("batch", BATCHES)
def test_default_collate_matches_torch(batch) -> None:
    _same(_as_torch(default_collate(batch)), tdata.default_collate(batch))


def test_default_collate_tensors_and_errors() -> None:
    out = default_collate([lucid.tensor([1.0, 2.0]), lucid.tensor([3.0, 4.0])])
    assert out.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="found <class 'NoneType'>"):
        default_collate([None, None])
    with pytest.raises(TypeError, match="batch must contain tensors, numpy arrays"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(RuntimeError):
        default_collate([lucid.zeros(2), lucid.zeros(3)])


@pytest.mark.parametrize("sample", [np.array([1.0, 2.0]), (np.int64(3), "s"), {"k": [np.ones(2)]},
                                    Point(np.float32(1), 2), "text"])
def test_default_convert_matches_torch(sample) -> None:
    _same(_as_torch(default_convert(sample)), tdata.default_convert(sample))


def test_tensor_dataset() -> None:
    x, y = lucid.arange(12.0).reshape(4, 3), lucid.tensor([0, 1, 0, 1])
    ds = TensorDataset(x, y)
    assert len(ds) == 4
    xi, yi = ds[2]
    assert xi.tolist() == [6.0, 7.0, 8.0] and yi.item() == 0
    with pytest.raises(ValueError, match="Size mismatch between tensors"):
        TensorDataset(x, lucid.zeros(5))
    with pytest.raises(TypeError, match="argument 1 is list"):
        TensorDataset(x, [1, 2, 3, 4])


@pytest.mark.parametrize("batch_size", [1, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_batches_match_torch(batch_size: int, drop_last: bool) -> None:
    data = np.arange(22.0).reshape(11, 2)
    labels = np.arange(11)
    loader = DataLoader(TensorDataset(lucid.tensor(data), lucid.tensor(labels)),
                        batch_size=batch_size, drop_last=drop_last)
    tloader = tdata.DataLoader(tdata.TensorDataset(torch.tensor(data), torch.tensor(labels)),
                               batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == len(tloader)
    got = [_as_torch(b) for b in loader]
    assert len(got) == len(tloader)
    for a, b in zip(got, tloader):
        _same(a, b)


def test_loader_over_plain_dataset_and_collate_fn() -> None:
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": np.full(2, i, np.float32), "y": i * i}

    batches = list(DataLoader(Squares(), batch_size=2))
    assert [b["y"].tolist() for b in batches] == [[0, 1], [4, 9], [16]]
    assert batches[0]["x"].dtype == lucid.float32
    joined = list(DataLoader(Squares(), batch_size=3, collate_fn=lambda s: [d["y"] for d in s]))
    assert joined == [[0, 1, 4], [9, 16]]
    unbatched = list(DataLoader(Squares(), batch_size=None))
    assert len(unbatched) == 5 and unbatched[3]["x"].tolist() == [3.0, 3.0]


def test_shuffle_is_seeded_by_generator() -> None:
    ds = TensorDataset(lucid.arange(20))

    def epoch(loader):
        return [v for (b,) in loader for v in b.tolist()]

    g = lucid.Generator().manual_seed(7)
    loader = DataLoader(ds, batch_size=6, shuffle=True, generator=g)
    first, second = epoch(loader), epoch(loader)
    assert sorted(first) == list(range(20)) and first != list(range(20)) and first != second
    again = DataLoader(ds, batch_size=6, shuffle=True, generator=lucid.Generator().manual_seed(7))
    assert epoch(again) == first and epoch(again) == second
    lucid.manual_seed(3)
    a = epoch(DataLoader(ds, batch_size=4, shuffle=True))
    lucid.manual_seed(3)
    assert epoch(DataLoader(ds, batch_size=4, shuffle=True)) == a


def test_samplers() -> None:
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    g = lucid.Generator().manual_seed(0)
    rs = RandomSampler(range(5), generator=g)
    assert len(rs) == 5 and sorted(rs) == [0, 1, 2, 3, 4]
    more = list(RandomSampler(range(3), num_samples=8, generator=g))
    assert len(more) == 8 and sorted(more[:6]) == [0, 0, 1, 1, 2, 2]
    drawn = list(RandomSampler(range(3), replacement=True, num_samples=50, generator=g))
    assert len(drawn) == 50 and set(drawn) <= {0, 1, 2}
    assert sorted(SubsetRandomSampler([5, 9, 2], generator=g)) == [2, 5, 9]
    batches = BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False)
    assert list(batches) == [[0, 1, 2], [3, 4, 5], [6]] and len(batches) == 3
    assert len(BatchSampler(range(7), 3, drop_last=True)) == 2
    loader = DataLoader(list("abcdef"), batch_sampler=BatchSampler(range(6), 4, False))
    assert list(loader) == [["a", "b", "c", "d"], ["e", "f"]] and len(loader) == 2
    custom = DataLoader(list("abc"), sampler=[2, 0], batch_size=2)
    assert list(custom) == [["c", "a"]]
    with pytest.raises(NotImplementedError):
        iter(Sampler())


def test_sampler_and_loader_errors() -> None:
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler([])
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but "
                       "got batch_size=0"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        BatchSampler(range(3), 2, "no")
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(range(3), sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(range(3), batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="batch_size=None option disables auto-batching"):
        DataLoader(range(3), batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(range(3), num_workers=-1)


def test_random_split_subset_and_concat() -> None:
    ds = TensorDataset(lucid.arange(10))
    a, b = random_split(ds, [7, 3], generator=lucid.Generator().manual_seed(1))
    seen = sorted(v.item() for part in (a, b) for (v,) in part)
    assert len(a) == 7 and len(b) == 3 and seen == list(range(10))
    again = random_split(ds, [7, 3], generator=lucid.Generator().manual_seed(1))
    assert list(again[0].indices) == list(a.indices)
    parts = random_split(range(10), [0.5, 0.3, 0.2], generator=lucid.Generator())
    assert [len(p) for p in parts] == [5, 3, 2]
    parts = random_split(range(11), [0.5, 0.5])
    assert [len(p) for p in parts] == [6, 5]
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(2), [1.0, 0.0])
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(range(10), [5, 4])
    with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
        random_split(range(10), [1.5, -0.5])
    batches = list(DataLoader(a, batch_size=4))
    assert [len(x) for (x,) in batches] == [4, 3]
    assert [v.item() for (x,) in batches for v in x] == [a[i][0].item() for i in range(7)]
    sub = Subset(list("abcdef"), [5, 1, 3])
    assert [sub[i] for i in range(3)] == ["f", "b", "d"] and len(sub) == 3
    assert Subset(ds, [4, 2])[[0, 1]][0].tolist() == [4, 2]
    cat = ConcatDataset([list("ab"), list("cde")])
    assert len(cat) == 5 and [cat[i] for i in range(-5, 5)] == list("abcde") * 2
    assert len(sub + cat) == 8
    with pytest.raises(ValueError, match="should not exceed dataset length"):
        cat[-6]
    with pytest.raises(IndexError):
        cat[5]
    with pytest.raises(ValueError, match="datasets should not be an empty iterable"):
        ConcatDataset([])
    with pytest.raises(NotImplementedError, match="should implement __getitem__"):
        Dataset()[0]
