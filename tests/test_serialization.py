"""Checkpoints: lucid.save / lucid.load round trips, atomic writes, bad files, PyTorch files."""

from __future__ import annotations

import io
import json
import math
import os
import struct

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import lucid
import lucid.nn as nn

DTYPES = [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.float16, np.float32,
          np.float64, np.complex64, np.complex128]


def _tensor(dtype, shape=(2, 3), seed=0) -> lucid.Tensor:
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape) * 10
    if np.dtype(dtype).kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    return lucid.tensor(values.astype(dtype))


def _equal(a, b) -> None:
    assert type(a) is type(b), (a, b)
    if isinstance(a, lucid.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b) and [type(k) for k in a] == [type(k) for k in b]
        for k in a:
            _equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _equal(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def test_round_trip_of_nested_objects(tmp_path) -> None:
    shared = lucid.randn(3)
    obj = {
        "tensors": {np.dtype(dt).name: _tensor(dt, seed=i) for i, dt in enumerate(DTYPES)},
        "scalar": lucid.tensor(2.5), "empty": lucid.zeros(0, 4), "view": lucid.randn(3, 4).T,
        "state": {0: {"step": lucid.tensor(3.0), "buf": shared}, 7: {"buf": shared}},
        "groups": [{"lr": 0.1, "betas": (0.9, 0.999), "nesterov": False, "fused": None,
                    "params": [0, 7], "name": "main"}],
        "numbers": [1, -2**70, 0.5, math.inf, -math.inf, math.nan, True],
        "keys": {1.5: "float", False: "bool", None: "none", "": "empty"},
        "array": np.arange(6, dtype=np.int32).reshape(2, 3), "np_scalar": np.float32(1.5),
        "nested": ((), [[]], {}),
    }
    path = tmp_path / "ckpt.safetensors"
    lucid.save(obj, path)
    back = lucid.load(path)
    expected = dict(obj, np_scalar=1.5)
    _equal(back, expected)
    assert back["state"][0]["buf"] is back["state"][7]["buf"]
    assert back["view"]._data.flags.writeable
    with open(path, "rb") as fh:  # the file is plain safetensors with JSON metadata
        (n,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(n))
    assert header["__metadata__"]["lucid.format"] == "1"
    assert "state.0.step" in header


def test_flat_state_dict_is_a_standard_safetensors_state_dict(tmp_path) -> None:
    sd = {"conv.weight": lucid.randn(4, 3, 3, 3), "conv.bias": lucid.randn(4)}
    path = tmp_path / "model.safetensors"
    lucid.save(sd, path)
    theirs = safetensors.torch.load_file(path)
    assert sorted(theirs) == sorted(sd)
    for k in sd:
        np.testing.assert_array_equal(theirs[k].numpy(), sd[k].numpy())
    assert list(lucid.load(path)) == list(sd)


def test_file_objects_and_map_location(tmp_path) -> None:
    buf = io.BytesIO()
    lucid.save({"w": lucid.ones(2), "n": 3}, buf)
    buf.seek(0)
    back = lucid.load(buf, map_location="cpu")
    assert back["n"] == 3 and back["w"].tolist() == [1.0, 1.0]
    back["w"].add_(1)  # loaded tensors own writeable memory
    with pytest.raises(RuntimeError, match="not available"):
        lucid.load(io.BytesIO(buf.getvalue()), map_location="cuda")


def test_write_is_atomic(tmp_path, monkeypatch) -> None:
    path = tmp_path / "ckpt.safetensors"
    lucid.save({"w": lucid.ones(3)}, path)
    mode = os.stat(path).st_mode

    def crash(tensors, filename, metadata=None):
        with open(filename, "wb") as fh:
            fh.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"w\": {\"dty")
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        lucid.save({"w": lucid.zeros(3)}, path)
    monkeypatch.undo()
    assert lucid.load(path)["w"].tolist() == [1.0, 1.0, 1.0]
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]
    lucid.save({"w": lucid.zeros(3)}, path)
    assert lucid.load(path)["w"].tolist() == [0.0, 0.0, 0.0]
    assert os.stat(path).st_mode == mode


def _valid_bytes() -> bytes:
    buf = io.BytesIO()
    lucid.save({"w": lucid.arange(10.0), "meta": {"k": 1}}, buf)
    return buf.getvalue()


@pytest.mark.parametrize("cut", [0, 5, 8, 20, -1, -41])
def test_truncated_file_is_a_clear_error(tmp_path, cut: int) -> None:
    data = _valid_bytes()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data[:cut])
    with pytest.raises(RuntimeError, match=r"bad\.safetensors.*(truncated|too short)"):
        lucid.load(path)


def test_corrupted_and_foreign_files(tmp_path) -> None:
    data = bytearray(_valid_bytes())
    (n,) = struct.unpack("<Q", data[:8])
    cases = {}
    garbled = bytearray(data)
    garbled[9:12] = b"\xff\xfe\x00"
    cases["garbled.safetensors"] = bytes(garbled)
    header = json.loads(data[8:8 + n])
    header["w"]["data_offsets"][1] -= 8
    raw = json.dumps(header).encode()
    cases["offsets.safetensors"] = struct.pack("<Q", len(raw)) + raw + bytes(data[8 + n:])
    header = json.loads(data[8:8 + n])
    header["__metadata__"]["lucid.structure"] = "{not json"
    raw = json.dumps(header).encode()
    cases["structure.safetensors"] = struct.pack("<Q", len(raw)) + raw + bytes(data[8 + n:])
    cases["text.safetensors"] = b"hello, this is not a checkpoint at all"
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(RuntimeError, match=name.replace(".", r"\.")):
            lucid.load(tmp_path / name)
    torch.save({"w": torch.ones(2)}, tmp_path / "model.pt")
    with pytest.raises(RuntimeError, match=r"model\.pt is not a safetensors checkpoint"):
        lucid.load(tmp_path / "model.pt")
    header = json.loads(data[8:8 + n])
    header["__metadata__"]["lucid.format"] = "99"
    raw = json.dumps(header).encode()
    (tmp_path / "future.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw
                                                  + bytes(data[8 + n:]))
    with pytest.raises(RuntimeError, match="unsupported lucid checkpoint format '99'"):
        lucid.load(tmp_path / "future.safetensors")


def test_unsupported_dtypes_in_foreign_files(tmp_path) -> None:
    for dtype in (torch.bfloat16, torch.uint16, torch.float8_e4m3fn):
        path = tmp_path / f"{dtype}.safetensors"
        safetensors.torch.save_file({"w": torch.zeros(2, dtype=dtype)}, path)
        with pytest.raises(ValueError, match=r"tensor 'w' has dtype \w+, which lucid does not"):
            lucid.load(path)


def test_unsupported_objects() -> None:
    for obj, where in [({"a": {"b": object()}}, "'a.b'"), ([{1, 2}], "'0'"),
                       ({(1, 2): lucid.ones(1)}, "the top level")]:
        with pytest.raises(TypeError, match=f"cannot store .* \\(at {where}\\)"):
            lucid.save(obj, io.BytesIO())


def test_missing_safetensors_is_a_clear_error(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match=r"pip install 'lucid\[checkpoint\]'"):
        lucid.save({"w": lucid.ones(1)}, io.BytesIO())
    with pytest.raises(ImportError, match="need the 'safetensors' package"):
        lucid.load(io.BytesIO(b""))


def _torch_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(4 * 5 * 5, 2),
    )


def _lucid_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
        nn.Linear(4 * 5 * 5, 2),
    )


def test_pytorch_safetensors_loads_into_lucid_model(tmp_path) -> None:
    tmodel = _torch_model()
    with torch.no_grad():  # non-trivial running statistics
        tmodel[1].running_mean.uniform_(-1, 1)
        tmodel[1].running_var.uniform_(0.5, 2)
    tmodel.eval()
    path = tmp_path / "torch_model.safetensors"
    safetensors.torch.save_file(tmodel.state_dict(), path)
    lmodel = _lucid_model()
    result = lmodel.load_state_dict(lucid.load(path))
    assert not result.missing_keys and not result.unexpected_keys
    lmodel.eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    with torch.no_grad():
        want = tmodel(torch.tensor(x)).numpy()
    got = lmodel(lucid.tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # and back: lucid's checkpoint of the model is a state dict PyTorch loads
    lucid.save(lmodel.state_dict(), tmp_path / "lucid_model.safetensors")
    tmodel2 = _torch_model()
    tmodel2.load_state_dict(safetensors.torch.load_file(tmp_path / "lucid_model.safetensors"))
    tmodel2.eval()
    with torch.no_grad():
        np.testing.assert_allclose(tmodel2(torch.tensor(x)).numpy(), want, rtol=1e-6)


@pytest.mark.parametrize("entry", [
    {"dtype": "F32", "shape": "ab", "data_offsets": [0, 8]},
    {"dtype": ["F32"], "shape": [2], "data_offsets": [0, 8]},
    {"dtype": "F32", "shape": [2], "data_offsets": [0]},
    {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]},
    {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]},
    "not an entry",
])
def test_malformed_header_entries(entry) -> None:
    raw = json.dumps({"w": entry}).encode()
    with pytest.raises(RuntimeError, match="corrupted header entry for tensor 'w'"):
        lucid.load(io.BytesIO(struct.pack("<Q", len(raw)) + raw + bytes(8)))


def test_bad_metadata_and_reserved_names() -> None:
    raw = json.dumps({"__metadata__": 5}).encode()
    with pytest.raises(RuntimeError, match="__metadata__ is not a dict"):
        lucid.load(io.BytesIO(struct.pack("<Q", len(raw)) + raw))
    deep = "[" * 100_000 + "]" * 100_000
    raw = json.dumps({"__metadata__": {"lucid.format": "1", "lucid.structure": deep}}).encode()
    with pytest.raises(RuntimeError, match="structure is corrupted"):
        lucid.load(io.BytesIO(struct.pack("<Q", len(raw)) + raw))
    buf = io.BytesIO()
    lucid.save({"__metadata__": lucid.ones(2)}, buf)
    assert lucid.load(io.BytesIO(buf.getvalue()))["__metadata__"].tolist() == [1.0, 1.0]
