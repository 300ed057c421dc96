"""Shape and layout operations: views, permutations, joins, splits, repeats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lucid._ops._util import norm_dims, unbroadcast
from lucid._tensor import Tensor, _norm_dim
from lucid.autograd.function import Function


def _sizes(args: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    out = []
    for a in args:
        if isinstance(a, Tensor):
            a = a.item()
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"sizes must be ints, got {a!r} of type {type(a).__name__}")
        out.append(int(a))
    return tuple(out)


class Reshape(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None


def _resolve_shape(shape: tuple[int, ...], numel: int) -> tuple[int, ...]:
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def reshape(x: Tensor, *shape: Any) -> Tensor:
    """The same data with a new shape (one size may be -1)."""
    shp = _resolve_shape(_sizes(shape), x._data.size)
    if shp == x.shape:
        return x
    return Reshape.apply(x, shp)


view = reshape


def view_as(x: Tensor, other: Tensor) -> Tensor:
    return reshape(x, other.shape)


def reshape_as(x: Tensor, other: Tensor) -> Tensor:
    return reshape(x, other.shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one."""
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = _norm_dim(start_dim, x.ndim), _norm_dim(end_dim, x.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shp = x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:]
    return reshape(x, shp)


def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one may be -1)."""
    d = _norm_dim(dim, x.ndim)
    sizes = tuple(sizes)
    try:
        full = _resolve_shape(sizes, x.shape[d])
    except RuntimeError:
        raise RuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim "
            f"{dim} ({x.shape[d]}) in the input tensor"
        ) from None
    return reshape(x, x.shape[:d] + full + x.shape[d + 1:])


class Permute(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return np.transpose(x, dims)

    @staticmethod
    def backward(ctx, g):
        return g.permute(*np.argsort(ctx.dims).tolist()), None


def permute(x: Tensor, *dims: Any) -> Tensor:
    """Reorder dimensions."""
    d = _sizes(dims)
    if len(d) != x.ndim:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {x.ndim} is not "
            f"equal to len(dims) = {len(d)}"
        )
    nd = norm_dims(d, x.ndim)
    if nd == tuple(range(x.ndim)):
        return x
    return Permute.apply(x, nd)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions."""
    if x.ndim == 0:
        return x
    a, b = _norm_dim(dim0, x.ndim), _norm_dim(dim1, x.ndim)
    order = list(range(x.ndim))
    order[a], order[b] = order[b], order[a]
    return permute(x, order)


swapaxes = swapdims = transpose


def t(x: Tensor) -> Tensor:
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return transpose(x, 0, 1) if x.ndim == 2 else x


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    """Remove size-1 dims (all of them, or those in ``dim``)."""
    if dim is None:
        shp = tuple(s for s in x.shape if s != 1)
    else:
        dims = norm_dims(dim, x.ndim)
        shp = tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1))
    return reshape(x, shp)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim``."""
    d = _norm_dim(dim, x.ndim + 1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


class Expand(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape), None


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to a larger shape without copying (-1 keeps a size)."""
    shp = _sizes(sizes)
    if len(shp) < x.ndim:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(shp)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({x.ndim})"
        )
    lead = len(shp) - x.ndim
    full = []
    for i, s in enumerate(shp):
        if i >= lead:
            cur = x.shape[i - lead]
            if s == -1:
                s = cur
            elif cur != 1 and cur != s:
                raise RuntimeError(
                    f"The expanded size of the tensor ({s}) must match the existing size ({cur}) "
                    f"at non-singleton dimension {i}.  Target sizes: {list(shp)}.  Tensor "
                    f"sizes: {list(x.shape)}"
                )
        elif s < 0:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) isn't allowed in a leading, "
                "non-existing dimension 0"
            )
        full.append(s)
    full_t = tuple(full)
    if full_t == x.shape:
        return x
    return Expand.apply(x, full_t)


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    return expand(x, tuple(shape))


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    return expand(x, other.shape)


class Contiguous(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x):
        return np.ascontiguousarray(x)

    @staticmethod
    def backward(ctx, g):
        return g


def contiguous(x: Tensor) -> Tensor:
    return x if x._data.flags.c_contiguous else Contiguous.apply(x)


class Clone(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g


def clone(x: Tensor) -> Tensor:
    """A copy of the data that stays connected to the graph."""
    return Clone.apply(x)


class Cat(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] for a in xs]
        return np.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        parts = split(g, ctx.sizes, ctx.dim)
        return (None, *parts)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim."""
    from lucid._ops._util import result_dtype
    from lucid._ops.elementwise import cast

    ts = list(tensors)
    if not ts:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    for i, a in enumerate(ts):
        if not isinstance(a, Tensor):
            raise TypeError(f"cat(): expected a sequence of Tensors, but element {i} is "
                            f"{type(a).__name__}")
    ts = [a for a in ts if not (a.ndim == 1 and a.shape[0] == 0)] or ts[:1]
    ref = ts[0]
    d = _norm_dim(dim, ref.ndim)
    for i, a in enumerate(ts):
        if a.ndim != ref.ndim:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {ref.ndim} and {a.ndim}"
            )
        for k in range(ref.ndim):
            if k != d and a.shape[k] != ref.shape[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref.shape[k]} but got size {a.shape[k]} for tensor number {i} in the list."
                )
    dt = result_dtype(*[Tensor._make(np.empty((1,), a._data.dtype)) for a in ts])
    ts = [cast(a, dt) for a in ts]
    return Cat.apply(d, *ts)


concatenate = concat = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along a new dim."""
    ts = list(tensors)
    if not ts:
        raise RuntimeError("stack expects a non-empty TensorList")
    shp = ts[0].shape
    for i, a in enumerate(ts):
        if a.shape != shp:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(shp)} at entry 0 "
                f"and {list(a.shape)} at entry {i}"
            )
    d = _norm_dim(dim, len(shp) + 1)
    return cat([unsqueeze(a, d) for a in ts], d)


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    ts = list(tensors)
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    return cat([a.reshape(1, -1) if a.ndim == 1 else a for a in tensors], 0)


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    d = _norm_dim(dim, x.ndim)
    idx = [slice(None)] * x.ndim
    idx[d] = slice(start, start + length)
    return x[tuple(idx)]


def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into chunks of a given size, or of the given list of sizes."""
    d = _norm_dim(dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        s = int(split_size_or_sections)
        if s <= 0 and n > 0:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got {s}")
        sizes = [s] * (n // s) + ([n % s] if n % s else []) if s > 0 else [0]
    else:
        sizes = [int(v) for v in split_size_or_sections]
        if sum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                f"at dimension {d}), but got split_sizes={sizes}"
            )
    out = []
    start = 0
    for s in sizes:
        out.append(narrow(x, d, start, s))
        start += s
    return tuple(out)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` nearly equal pieces."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = x.shape[_norm_dim(dim, x.ndim)]
    size = -(-n // chunks) if n else 1
    return split(x, max(size, 1), dim) if n else (x,)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    d = _norm_dim(dim, x.ndim)
    return tuple(select(x, d, i) for i in range(x.shape[d]))


def select(x: Tensor, dim: int, index: int) -> Tensor:
    d = _norm_dim(dim, x.ndim)
    idx: list[Any] = [slice(None)] * x.ndim
    idx[d] = index
    return x[tuple(idx)]


class Flip(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return np.flip(x, dims).copy()

    @staticmethod
    def backward(ctx, g):
        return flip(g, ctx.dims), None


def flip(x: Tensor, *dims: Any) -> Tensor:
    """Reverse the order of elements along ``dims``."""
    d = norm_dims(_sizes(dims), x.ndim)
    return Flip.apply(x, d)


class Roll(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return np.roll(x, shifts, dims)

    @staticmethod
    def backward(ctx, g):
        neg = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return roll(g, neg, ctx.dims), None, None


def roll(x: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Rotate elements along ``dims`` (the flattened tensor when ``dims`` is None)."""
    if dims is None:
        return Roll.apply(x.flatten(), shifts, 0).reshape(x.shape)
    if isinstance(shifts, (list, tuple)) != isinstance(dims, (list, tuple)) or (
        isinstance(shifts, (list, tuple)) and len(shifts) != len(dims)
    ):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {shifts}, dims: {dims}")
    if isinstance(dims, (list, tuple)):
        return Roll.apply(x, tuple(shifts), norm_dims(tuple(dims), x.ndim))
    return Roll.apply(x, int(shifts), _norm_dim(dims, x.ndim))


class Repeat(Function):
    _array_forward = True

    @staticmethod
    def forward(ctx, x, reps):
        ctx.shape, ctx.reps = x.shape, reps
        return np.tile(x, reps)

    @staticmethod
    def backward(ctx, g):
        shape, reps = ctx.shape, ctx.reps
        full = (1,) * (len(reps) - len(shape)) + shape
        inter = []
        for r, s in zip(reps, full):
            inter += [r, s]
        gi = g.reshape(inter).sum(tuple(range(0, 2 * len(reps), 2)))
        return gi.reshape(shape), None


def repeat(x: Tensor, *sizes: Any) -> Tensor:
    """Tile the tensor ``sizes`` times along each dim (PyTorch's ``Tensor.repeat``)."""
    reps = _sizes(sizes)
    if len(reps) < x.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions "
            "of tensor"
        )
    return Repeat.apply(x, reps)


def tile(x: Tensor, *dims: Any) -> Tensor:
    reps = _sizes(dims)
    reps = (1,) * (x.ndim - len(reps)) + reps
    return Repeat.apply(x, reps)


def repeat_interleave(x: Tensor, repeats: int, dim: int | None = None) -> Tensor:
    if dim is None:
        x, dim = x.flatten(), 0
    d = _norm_dim(dim, x.ndim)
    return x.unsqueeze(d + 1).expand(*x.shape[:d + 1], repeats, *x.shape[d + 1:]).flatten(d, d + 1)


def movedim(x: Tensor, source: Any, destination: Any) -> Tensor:
    src = norm_dims(source if isinstance(source, (tuple, list)) else (source,), x.ndim)
    dst = norm_dims(destination if isinstance(destination, (tuple, list)) else (destination,),
                    x.ndim)
    order = [i for i in range(x.ndim) if i not in src]
    for s, dd in sorted(zip(dst, src)):
        order.insert(s, dd)
    return permute(x, order)
