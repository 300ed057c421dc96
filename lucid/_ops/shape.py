"""Shape and layout operations: views, permutations, joins, splits, repeats.

Operations PyTorch defines as views (``reshape`` when no copy is needed, ``view``,
``permute``/``transpose``, ``squeeze``/``unsqueeze``, ``expand``, basic indexing and the
splits built on it) return tensors sharing memory with their input and registered as views
(see :mod:`lucid._tensor`), so in-place changes through them behave as in PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lucid._ops._util import result_dtype, unbroadcast
from lucid._tensor import Tensor, link_view, norm_dim
from lucid.autograd.function import Function


def _sizes(args: tuple[Any, ...], what: str = "size") -> tuple[int, ...]:
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    out = []
    for a in args:
        if isinstance(a, Tensor) and a.numel() == 1:
            a = a.item()
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"{what} must be a sequence of ints, got {a!r} of type "
                            f"{type(a).__name__}")
        out.append(int(a))
    return tuple(out)


def as_view(fn: type[Function], x: Tensor, *extra: Any) -> Tensor:
    """``fn.apply(x, *extra)``, registered as a view of ``x`` when it shares its memory."""
    out = fn.apply(x, *extra)
    if out._data.size and np.may_share_memory(out._data, x._data):
        link_view(out, x, fn, extra)
    return out


def norm_dim_list(dims: Sequence[Any], ndim: int, fn: str) -> tuple[int, ...]:
    """Normalise a sequence of dims keeping its order; repeated dims are an error."""
    out = tuple(norm_dim(d, ndim) for d in dims)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{fn}(): duplicate dims are not allowed (got {tuple(dims)})")
    return out


# --------------------------------------------------------------------------- reshape family
class View(Function):
    """A new shape over the same elements (``reshape``, ``view``, ``squeeze``...)."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, shape, name):
        ctx.shape, ctx.node_name = x.shape, name
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None, None


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


def _reshaped(x: Tensor, shape: tuple[int, ...], name: str = "ViewBackward0") -> Tensor:
    return as_view(View, x, shape, name)


def reshape(x: Tensor, *shape: Any) -> Tensor:
    """The same elements in a new shape (one size may be -1); a view when the memory layout
    allows, else a copy.

    Examples
    --------
    >>> import lucid
    >>> lucid.arange(6).reshape(2, -1)
    tensor([[0, 1, 2],
            [3, 4, 5]])
    """
    return _reshaped(x, _resolve_shape(_sizes(shape, "shape"), x._data.size))


def view(x: Tensor, *shape: Any) -> Tensor:
    """Like :func:`reshape`, but always a view: an error when the layout needs a copy."""
    out = reshape(x, *shape)
    if out._data.size and not np.may_share_memory(out._data, x._data):
        raise RuntimeError(
            f"view size is not compatible with input tensor's size and stride (a tensor of "
            f"shape {x.shape} with strides {x._data.strides} can't be viewed as "
            f"{out.shape}). Use .reshape(...) instead."
        )
    return out


def view_as(x: Tensor, other: Tensor) -> Tensor:
    """``x`` viewed with ``other``'s shape."""
    return view(x, other.shape)


def reshape_as(x: Tensor, other: Tensor) -> Tensor:
    """``x`` reshaped to ``other``'s shape."""
    return reshape(x, other.shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one (a 0-d tensor becomes shape ``(1,)``)."""
    if x.ndim == 0:
        return _reshaped(x, (1,))
    s, e = norm_dim(start_dim, x.ndim), norm_dim(end_dim, x.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shp = x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:]
    return _reshaped(x, shp)


def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one may be -1)."""
    d = norm_dim(dim, x.ndim)
    sizes = _sizes((sizes,), "sizes")
    try:
        full = _resolve_shape(sizes, x.shape[d])
    except RuntimeError:
        raise RuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim "
            f"{dim} ({x.shape[d]}) in the input tensor"
        ) from None
    return _reshaped(x, x.shape[:d] + full + x.shape[d + 1:])


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    """Remove size-1 dims (all of them, or those among ``dim``)."""
    if dim is None:
        shp = tuple(s for s in x.shape if s != 1)
        return _reshaped(x, shp, "SqueezeBackward0")
    several = isinstance(dim, (tuple, list))
    dims = norm_dim_list(dim if several else (dim,), x.ndim, "squeeze")
    shp = tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1))
    return _reshaped(x, shp, "SqueezeBackward2" if several else "SqueezeBackward1")


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim``."""
    d = norm_dim(dim, x.ndim + 1)
    return _reshaped(x, x.shape[:d] + (1,) + x.shape[d:], "UnsqueezeBackward0")


# --------------------------------------------------------------------------- permutations
class Permute(Function):
    """Reordered dimensions (a view)."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, dims, name):
        ctx.dims, ctx.node_name = dims, name
        return np.transpose(x, dims)

    @staticmethod
    def backward(ctx, g):
        return g.permute(*np.argsort(ctx.dims).tolist()), None, None


def permute(x: Tensor, *dims: Any) -> Tensor:
    """Reorder dimensions (a view)."""
    d = _sizes(dims, "dims")
    if len(d) != x.ndim:
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {x.ndim} is not "
            f"equal to len(dims) = {len(d)}"
        )
    return as_view(Permute, x, norm_dim_list(d, x.ndim, "permute"), "PermuteBackward0")


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions (a view)."""
    a, b = norm_dim(dim0, x.ndim), norm_dim(dim1, x.ndim)
    order = list(range(x.ndim))
    if x.ndim:
        order[a], order[b] = order[b], order[a]
    return as_view(Permute, x, tuple(order), "TransposeBackward0")


swapaxes = swapdims = transpose


def t(x: Tensor) -> Tensor:
    """Transpose a tensor of at most 2 dims."""
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return as_view(Permute, x, tuple(range(x.ndim))[::-1], "TBackward0")


def movedim(x: Tensor, source: Any, destination: Any) -> Tensor:
    """Move dims ``source`` to positions ``destination`` (ints or sequences)."""
    src = norm_dim_list(source if isinstance(source, (tuple, list)) else (source,), x.ndim,
                        "movedim")
    dst = norm_dim_list(destination if isinstance(destination, (tuple, list))
                        else (destination,), x.ndim, "movedim")
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
            f"contain the same number of dims as destination ({list(dst)} dims)"
        )
    order = [i for i in range(x.ndim) if i not in src]
    for s, d in sorted(zip(dst, src)):
        order.insert(s, d)
    return permute(x, order)


# --------------------------------------------------------------------------- expand
class Expand(Function):
    """Broadcast to a larger shape (a view)."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.view() if shape == x.shape else np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape), None


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to a larger shape without copying (-1 keeps a size); a read-only view."""
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
                f"non-existing dimension {i}"
            )
        full.append(s)
    return as_view(Expand, x, tuple(full))


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """:func:`expand` to ``shape``."""
    return expand(x, tuple(shape))


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    """``x`` expanded to ``other``'s shape."""
    return expand(x, other.shape)


# --------------------------------------------------------------------------- copies
class Contiguous(Function):
    """A C-contiguous copy."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x):
        ctx.node_name = "CloneBackward0"
        return np.ascontiguousarray(x)

    @staticmethod
    def backward(ctx, g):
        return g


def contiguous(x: Tensor) -> Tensor:
    """``x`` itself when its memory is C-contiguous, else a contiguous copy."""
    return x if x._data.flags.c_contiguous else Contiguous.apply(x)


class Clone(Function):
    """A copy of the data."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x):
        return np.array(x, copy=True)

    @staticmethod
    def backward(ctx, g):
        return g


def clone(x: Tensor) -> Tensor:
    """A copy of the data that stays connected to the graph."""
    return Clone.apply(x)


# --------------------------------------------------------------------------- joins
class Cat(Function):
    """Join along an existing dim."""

    _array_forward = True

    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] for a in xs]
        return np.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return (None, *split(g, ctx.sizes, ctx.dim))


def _common_dtype(ts: list[Tensor]) -> list[Tensor]:
    from lucid._ops.elementwise import cast

    dt = result_dtype(*[Tensor._make(np.empty((1,), a._data.dtype)) for a in ts])
    return [cast(a, dt) for a in ts]


def _tensor_list(tensors: Any, fn: str) -> list[Tensor]:
    if isinstance(tensors, Tensor):
        raise TypeError(f"{fn}(): argument 'tensors' must be a sequence of Tensors, not Tensor")
    ts = list(tensors)
    if not ts:
        raise RuntimeError(f"{fn}(): expected a non-empty list of Tensors")
    for i, a in enumerate(ts):
        if not isinstance(a, Tensor):
            raise TypeError(f"{fn}(): expected a sequence of Tensors, but element {i} is "
                            f"{type(a).__name__}")
    return ts


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim (dtypes are promoted; 1-d empty tensors are
    skipped, as in PyTorch).

    Examples
    --------
    >>> import lucid
    >>> lucid.cat([lucid.zeros(1, 2), lucid.ones(2, 2)]).shape
    (3, 2)
    """
    ts = _tensor_list(tensors, "cat")
    ts = [a for a in ts if a.shape != (0,)] or ts[:1]
    ref = ts[0]
    if ref.ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    d = norm_dim(dim, ref.ndim)
    for i, a in enumerate(ts):
        if a.ndim != ref.ndim:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {ref.ndim} and {a.ndim}"
            )
        for k in range(ref.ndim):
            if k != d and a.shape[k] != ref.shape[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref.shape[k]} but got size {a.shape[k]} for tensor number {i} in the list "
                    f"(shapes {tuple(ref.shape)} and {tuple(a.shape)})."
                )
    return Cat.apply(d, *_common_dtype(ts))


concatenate = concat = cat


class Stack(Function):
    """Join along a new dim."""

    _array_forward = True

    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        return np.stack(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return (None, *unbind(g, ctx.dim))


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join equally shaped tensors along a new dim."""
    ts = _tensor_list(tensors, "stack")
    shp = ts[0].shape
    for i, a in enumerate(ts):
        if a.shape != shp:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(shp)} at entry 0 "
                f"and {list(a.shape)} at entry {i}"
            )
    return Stack.apply(norm_dim(dim, len(shp) + 1), *_common_dtype(ts))


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along dim 1 (dim 0 for 1-d tensors)."""
    ts = _tensor_list(tensors, "hstack")
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along dim 0, treating 1-d tensors as rows."""
    return cat([a.reshape(1, -1) if a.ndim == 1 else a for a in _tensor_list(tensors, "vstack")])


# --------------------------------------------------------------------------- splits
def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The slice ``start:start + length`` of dim ``dim`` (a view)."""
    d = norm_dim(dim, x.ndim)
    size = x.shape[d]
    if start < 0:
        start += size
    if not 0 <= start <= size or length < 0 or start + length > size:
        raise IndexError(
            f"start ({start}) + length ({length}) exceeds dimension size ({size}) of dim {d}"
        )
    idx: list[Any] = [slice(None)] * x.ndim
    idx[d] = slice(start, start + length)
    return x[tuple(idx)]


def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into chunks of a given size (the last may be smaller), or of the given list
    of sizes (views)."""
    d = norm_dim(dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        s = int(split_size_or_sections)
        if s < 0 or (s == 0 and n > 0):
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got {s}")
        sizes = [s] * (n // s) + ([n % s] if n % s else []) if s > 0 else [0]
    else:
        sizes = list(_sizes((split_size_or_sections,), "split_sizes"))
        if sum(sizes) != n or any(v < 0 for v in sizes):
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
    """Split into at most ``chunks`` pieces of equal size (the last may be smaller)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = x.shape[norm_dim(dim, x.ndim)]
    return split(x, -(-n // chunks) if n else 0, dim)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along ``dim``, with that dim removed."""
    d = norm_dim(dim, x.ndim)
    return tuple(select(x, d, i) for i in range(x.shape[d]))


def select(x: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim``, with that dim removed (a view)."""
    d = norm_dim(dim, x.ndim)
    idx: list[Any] = [slice(None)] * x.ndim
    idx[d] = index
    return x[tuple(idx)]


# --------------------------------------------------------------------------- reorders
class Flip(Function):
    """Reverse elements along dims."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return np.flip(x, dims).copy()

    @staticmethod
    def backward(ctx, g):
        return flip(g, ctx.dims), None


def flip(x: Tensor, *dims: Any) -> Tensor:
    """Reverse the order of elements along ``dims`` (a copy)."""
    return Flip.apply(x, norm_dim_list(_sizes(dims, "dims"), x.ndim, "flip"))


class Roll(Function):
    """Rotate elements along dims."""

    _array_forward = True

    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return np.roll(x, shifts, dims)

    @staticmethod
    def backward(ctx, g):
        return Roll.apply(g, tuple(-s for s in ctx.shifts), ctx.dims), None, None


def roll(x: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Rotate elements along ``dims`` (the flattened tensor when ``dims`` is None)."""
    shifts_t = _sizes((shifts,) if not isinstance(shifts, (list, tuple)) else (shifts,),
                      "shifts")
    if dims is None:
        if len(shifts_t) != 1:
            raise RuntimeError(f"roll: shifts must be a single int when dims is None, got "
                               f"{list(shifts_t)}")
        return Roll.apply(x.flatten(), shifts_t, (0,)).reshape(x.shape)
    dims_t = _sizes((dims,) if not isinstance(dims, (list, tuple)) else (dims,), "dims")
    if len(shifts_t) != len(dims_t):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts_t)}, "
                           f"dims:{len(dims_t)}")
    return Roll.apply(x, shifts_t, tuple(norm_dim(d, x.ndim) for d in dims_t))


class Repeat(Function):
    """Tile the data (``Tensor.repeat``)."""

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
    reps = _sizes(sizes, "repeats")
    if len(reps) < x.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions "
            f"of tensor (repeats {list(reps)} for a tensor of shape {tuple(x.shape)})"
        )
    if any(r < 0 for r in reps):
        raise RuntimeError(f"Trying to create tensor with negative dimension: repeats {reps}")
    return Repeat.apply(x, reps)


def tile(x: Tensor, *dims: Any) -> Tensor:
    """Like :func:`repeat`, but fewer ``dims`` than the tensor has are padded with 1s."""
    reps = _sizes(dims, "dims")
    return repeat(x, (1,) * (x.ndim - len(reps)) + reps)


def repeat_interleave(x: Tensor, repeats: int, dim: int | None = None) -> Tensor:
    """Repeat each element ``repeats`` times along ``dim`` (the flattened tensor if None)."""
    if not isinstance(repeats, (int, np.integer)) or repeats < 0:
        raise RuntimeError(f"repeat_interleave: repeats must be a non-negative int, got "
                           f"{repeats!r}")
    if dim is None:
        x, dim = x.flatten(), 0
    d = norm_dim(dim, x.ndim)
    return x.unsqueeze(d + 1).expand(*x.shape[:d + 1], repeats, *x.shape[d + 1:]).flatten(d, d + 1)

