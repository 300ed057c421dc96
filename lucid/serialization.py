"""Checkpoints: :func:`save` and :func:`load`, safe by construction (no pickle).

A checkpoint is a standard `safetensors <https://github.com/huggingface/safetensors>`_ file:

- every tensor of the saved object is a named safetensors entry. A dict of tensors keyed by
  strings (a model's ``state_dict``) uses its keys as the names, so the file is a regular
  safetensors state dict that other tools (``safetensors.torch.load_file``) read directly;
  nested tensors are named by their path (``state.0.exp_avg``);
- the structure of the object (dicts with ``str``/``int``/``float``/``bool``/``None`` keys,
  lists, tuples, numbers, strings, booleans, ``None``) is JSON stored in the header's
  ``__metadata__`` under ``"lucid.structure"``, next to ``"lucid.format": "1"``. Every JSON
  object in it is a one-key tag: ``{"__dict__": [[key, value], ...]}``,
  ``{"__tuple__": [...]}``, ``{"__tensor__": name}`` (plus ``"dtype": "complex128"`` for
  complex128 data, stored as float64 pairs since safetensors has no such type),
  ``{"__ndarray__": name}`` for NumPy arrays and ``{"__float__": "inf"}`` for non-finite
  floats.

Loading parses JSON and raw little-endian numbers only, so a checkpoint cannot run code.
A safetensors file without lucid's metadata (written by PyTorch, say) loads as a flat
``{name: tensor}`` dict. Writes to a path are atomic: the data goes to a temporary file in
the same directory, is flushed to disk, then replaces the destination, so a crash leaves
the previous file intact.

``safetensors`` is an optional dependency (``pip install 'lucid[checkpoint]'``).
"""

from __future__ import annotations

import io
import json
import math
import os
import secrets
import struct
from typing import IO, Any

import numpy as np

from lucid._backend import DeviceLike, as_device
from lucid._tensor import Tensor

__all__ = ["load", "save"]

FileLike = str | os.PathLike | IO[bytes]

_FORMAT_KEY, _STRUCTURE_KEY, _FORMAT_VERSION = "lucid.format", "lucid.structure", "1"
_SUPPORTED = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "I32": np.int32,
    "I64": np.int64, "F16": np.float16, "F32": np.float32, "F64": np.float64,
    "C64": np.complex64,
}
_MAX_HEADER = 100_000_000  # safetensors' own limit on the JSON header


def _safetensors_numpy() -> Any:
    try:
        import safetensors.numpy as st
    except ImportError:
        raise ImportError(
            "lucid.save and lucid.load need the 'safetensors' package: install it with "
            "pip install 'lucid[checkpoint]' (or pip install safetensors)"
        ) from None
    return st


# --------------------------------------------------------------------------- encoding
class _Encoder:
    """Split an object into safetensors arrays and a JSON-able structure."""

    def __init__(self, flat_names: bool) -> None:
        self.flat_names = flat_names
        self.arrays: dict[str, np.ndarray] = {}
        self.seen: dict[int, dict[str, str]] = {}

    def encode(self, obj: Any, path: tuple[str, ...]) -> Any:
        if obj is None or isinstance(obj, (bool, int, str)):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"__float__": repr(float(obj))}
        if isinstance(obj, Tensor):
            return self._array(obj._data, path, "__tensor__", obj)
        if isinstance(obj, np.ndarray):
            return self._array(obj, path, "__ndarray__", obj)
        if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
            return self.encode(obj.item(), path)
        if isinstance(obj, dict):
            return {"__dict__": [[self._key(k, path), self.encode(v, path + (str(k),))]
                                 for k, v in obj.items()]}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, path + (str(i),)) for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, path + (str(i),)) for i, v in enumerate(obj)]
        raise TypeError(
            f"lucid.save cannot store an object of type {type(obj).__name__} (at "
            f"{_where(path)}); checkpoints hold tensors, NumPy arrays, numbers, strings, "
            "booleans, None, and dicts, lists and tuples of them"
        )

    def _key(self, key: Any, path: tuple[str, ...]) -> Any:
        if key is None or isinstance(key, (bool, int, str)):
            return key
        if isinstance(key, float):
            return self.encode(key, path)
        raise TypeError(
            f"lucid.save cannot store a dict key of type {type(key).__name__} (at "
            f"{_where(path)}); keys must be str, int, float, bool or None"
        )

    def _array(self, arr: np.ndarray, path: tuple[str, ...], tag: str, owner: Any) -> Any:
        if id(owner) in self.seen:
            return self.seen[id(owner)]
        if arr.dtype not in _SUPPORTED.values() and arr.dtype != np.complex128:
            raise TypeError(f"lucid.save cannot store an array of dtype {arr.dtype} (at "
                            f"{_where(path)})")
        name = self._name(path)
        ref = {tag: name}
        if arr.dtype == np.complex128:
            arr = _c_order(arr).view(np.float64).reshape(arr.shape + (2,))
            ref["dtype"] = "complex128"
        self.arrays[name] = _c_order(arr)
        self.seen[id(owner)] = ref
        return ref

    def _name(self, path: tuple[str, ...]) -> str:
        base = (path[-1] if self.flat_names else ".".join(path)) or "tensor"
        name, n = base, 1
        while name in self.arrays or name == "__metadata__":  # reserved by safetensors
            name, n = f"{base}#{n}", n + 1
        return name


def _c_order(arr: np.ndarray) -> np.ndarray:
    """``arr`` in C order (copied only if needed; unlike ``np.ascontiguousarray`` this keeps
    0-d arrays 0-d)."""
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def _where(path: tuple[str, ...]) -> str:
    return "the top level" if not path else "'" + ".".join(path) + "'"


def _is_flat_state_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())


# --------------------------------------------------------------------------- save
def save(obj: Any, f: FileLike) -> None:
    """Save ``obj`` (a state dict, an optimizer state, or nested containers of tensors and
    plain values) as a safetensors checkpoint.

    Parameters
    ----------
    obj : object
        Tensors, NumPy arrays, numbers, strings, booleans, ``None``, and dicts (keys ``str``,
        ``int``, ``float``, ``bool`` or ``None``), lists and tuples of them. Tensors are
        stored detached (``requires_grad`` is not kept); a tensor referenced twice is stored
        once and loads as one tensor.
    f : str, os.PathLike or binary file object
        Destination. A path is written atomically (temporary file, fsync, rename).

    Examples
    --------
    >>> import os, tempfile
    >>> import lucid
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> lucid.save({"weight": lucid.ones(2, 2), "step": 3, "name": "demo"}, path)
    >>> ckpt = lucid.load(path)
    >>> ckpt["step"], ckpt["name"], ckpt["weight"].shape
    (3, 'demo', (2, 2))
    """
    st = _safetensors_numpy()
    encoder = _Encoder(flat_names=_is_flat_state_dict(obj))
    structure = encoder.encode(obj, ())
    metadata = {
        _FORMAT_KEY: _FORMAT_VERSION,
        _STRUCTURE_KEY: json.dumps(structure, separators=(",", ":"), allow_nan=False),
    }
    if hasattr(f, "write"):
        f.write(st.save(encoder.arrays, metadata=metadata))
        return
    _atomic_write(os.fspath(f), encoder.arrays, metadata)


def _atomic_write(path: str, arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory,
                       f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # created with O_EXCL so the default permissions (umask) apply, like a plain open()
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        _safetensors_numpy().save_file(arrays, tmp, metadata=metadata)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Persist the rename itself (POSIX; a no-op where directories can't be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- load
def load(f: FileLike, map_location: DeviceLike = None) -> Any:
    """Load a checkpoint written by :func:`save`, or any safetensors file.

    Parameters
    ----------
    f : str, os.PathLike or binary file object
        The checkpoint.
    map_location : str or lucid.device, optional
        Where to put the tensors; only the CPU exists.

    Returns
    -------
    object
        The saved object (a safetensors file from another library gives a flat
        ``{name: tensor}`` dict, in the file's order).

    Raises
    ------
    RuntimeError
        The file is truncated, corrupted, or not a safetensors file (a pickled PyTorch
        checkpoint, for instance).
    ValueError
        The file holds a dtype lucid has no equivalent for (``bfloat16``, unsigned 16-64
        bit integers, float8).

    Examples
    --------
    >>> import io
    >>> import lucid
    >>> buf = io.BytesIO()
    >>> lucid.save({"state": {0: {"step": 2.0}}, "param_groups": [{"lr": 0.1}]}, buf)
    >>> lucid.load(io.BytesIO(buf.getvalue()))
    {'state': {0: {'step': 2.0}}, 'param_groups': [{'lr': 0.1}]}
    """
    as_device(map_location)
    st = _safetensors_numpy()
    if hasattr(f, "read"):
        name = getattr(f, "name", "<file object>")
        data = f.read()
        metadata, entries = _parse_header(io.BytesIO(data), len(data), name)
        arrays = _guarded(name, lambda: st.load(data))
    else:
        name = os.fspath(f)
        with open(name, "rb") as fh:
            metadata, entries = _parse_header(fh, os.fstat(fh.fileno()).st_size, name)
        arrays = _guarded(name, lambda: st.load_file(name))
    arrays = {k: _writeable(arrays[k]) for k in entries}
    if _FORMAT_KEY not in metadata:
        return {k: Tensor._make(v) for k, v in arrays.items()}
    if metadata[_FORMAT_KEY] != _FORMAT_VERSION or _STRUCTURE_KEY not in metadata:
        raise RuntimeError(f"{name}: unsupported lucid checkpoint format "
                           f"{metadata[_FORMAT_KEY]!r} (this lucid reads format "
                           f"{_FORMAT_VERSION!r})")
    try:
        structure = json.loads(metadata[_STRUCTURE_KEY])
        return _Decoder(arrays, name).decode(structure)
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise RuntimeError(f"{name}: the checkpoint's structure is corrupted ({e})") from None


def _writeable(arr: np.ndarray) -> np.ndarray:
    return arr if arr.flags.writeable else arr.copy()


def _guarded(name: str, read: Any) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError

    try:
        return read()
    except SafetensorError as e:
        raise RuntimeError(f"{name}: corrupted safetensors file ({e})") from None


def _parse_header(fh: IO[bytes], size: int, name: str) -> tuple[dict[str, str], list[str]]:
    """Validate the safetensors header; return its metadata and tensor names (file order).

    Catches what would otherwise surface as an obscure error: a file that is not
    safetensors at all, a truncated one, and dtypes lucid cannot represent.
    """
    not_safetensors = (
        f"{name} is not a safetensors checkpoint (PyTorch's .pt/.pth files are pickles, "
        "which lucid never loads because they can run code; convert them with "
        "safetensors.torch.save_file)"
    )
    if size < 8:
        raise RuntimeError(f"{name}: file too short to be a checkpoint ({size} bytes); it is "
                           "truncated or not a safetensors file")
    (n,) = struct.unpack("<Q", fh.read(8))
    if n > _MAX_HEADER:
        raise RuntimeError(not_safetensors)
    if 8 + n > size:
        raise RuntimeError(f"{name}: truncated checkpoint (header of {n} bytes, file of "
                           f"{size} bytes)")
    try:
        header = json.loads(fh.read(n).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise RuntimeError(not_safetensors) from None
    if not isinstance(header, dict):
        raise RuntimeError(not_safetensors)
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise RuntimeError(f"{name}: corrupted safetensors header (__metadata__ is not a dict)")
    data_size = size - 8 - n
    for key, info in header.items():
        _check_entry(name, key, info, data_size)
    return metadata, list(header)


def _check_entry(name: str, key: str, info: Any, data_size: int) -> None:
    corrupted = f"{name}: corrupted header entry for tensor '{key}'"
    try:
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        valid = isinstance(dtype, str) and all(
            isinstance(v, int) and v >= 0 for v in (*shape, begin, end))
    except (TypeError, KeyError, ValueError):
        valid = False
    if not valid:
        raise RuntimeError(corrupted)
    if dtype not in _SUPPORTED:
        raise ValueError(
            f"{name}: tensor '{key}' has dtype {dtype}, which lucid does not support "
            f"(supported: {', '.join(_SUPPORTED)}); convert it before saving, e.g. "
            "tensor.float() for bfloat16"
        )
    if end > data_size:
        raise RuntimeError(f"{name}: truncated checkpoint (tensor '{key}' ends at byte {end} "
                           f"of a {data_size}-byte data section)")
    if end - begin != math.prod(shape) * np.dtype(_SUPPORTED[dtype]).itemsize:
        raise RuntimeError(f"{corrupted} (size mismatch)")


class _Decoder:
    """Rebuild a saved object from its JSON structure and the loaded arrays."""

    def __init__(self, arrays: dict[str, np.ndarray], name: str) -> None:
        self.arrays = arrays
        self.name = name
        self.built: dict[str, Any] = {}

    def decode(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 0:
            raise ValueError("empty tag")
        tag = next(iter(node))
        if tag == "__dict__":
            return {self.decode(k): self.decode(v) for k, v in node[tag]}
        if tag == "__tuple__":
            return tuple(self.decode(v) for v in node[tag])
        if tag == "__float__":
            return float(node[tag])
        if tag in ("__tensor__", "__ndarray__"):
            return self._array(node, tag)
        raise ValueError(f"unknown tag {tag!r}")

    def _array(self, node: dict[str, Any], tag: str) -> Any:
        key = node[tag]
        if key not in self.built:
            if key not in self.arrays:
                raise KeyError(f"missing tensor {key!r}")
            arr = self.arrays[key]
            if node.get("dtype") == "complex128":
                arr = np.ascontiguousarray(arr).view(np.complex128).reshape(arr.shape[:-1])
            self.built[key] = Tensor._make(arr) if tag == "__tensor__" else arr
        return self.built[key]
