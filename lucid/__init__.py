"""lucid: a deep-learning framework on NumPy with PyTorch's API.

>>> import lucid
>>> x = lucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4., 6.])
"""

from __future__ import annotations

import builtins as _builtins

from lucid import _ops  # noqa: F401  (attaches operators to Tensor)
from lucid._backend import device
from lucid._creation import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from lucid._dtype import (
    bool,
    cdouble,
    cfloat,
    complex64,
    complex128,
    double,
    dtype,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    promote_types,
    set_default_dtype,
    short,
    uint8,
)
from lucid._format import get_printoptions, set_printoptions
from lucid._ops.elementwise import (
    abs,
    add,
    addcdiv,
    addcmul,
    ceil,
    clamp,
    clip,
    conj,
    cos,
    div,
    eq,
    exp,
    expm1,
    floor,
    floor_divide,
    ge,
    gt,
    imag,
    isfinite,
    isinf,
    isnan,
    le,
    lerp,
    log,
    log1p,
    log2,
    log10,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    real,
    reciprocal,
    relu,
    remainder,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    sub,
    tan,
    tanh,
    trunc,
    where,
)
from lucid._ops.indexing import gather, index_select, masked_fill, nonzero
from lucid._ops.linalg import bmm, dot, matmul, mm, outer
from lucid._ops.reduction import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    cumsum,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    softmax,
    std,
    sum,
    var,
)
from lucid._ops.shape import (
    broadcast_to,
    cat,
    chunk,
    clone,
    concat,
    concatenate,
    flatten,
    flip,
    hstack,
    movedim,
    narrow,
    permute,
    repeat_interleave,
    reshape,
    roll,
    select,
    split,
    squeeze,
    stack,
    swapaxes,
    swapdims,
    t,
    tile,
    transpose,
    unbind,
    unflatten,
    unsqueeze,
    vstack,
)
from lucid._tensor import Tensor
from lucid.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from lucid.random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state

from lucid import autograd  # noqa: E402  isort: skip
from lucid import optim, utils  # noqa: E402  isort: skip
from lucid.serialization import load, save  # noqa: E402  isort: skip

# The public names. A module added to ``lucid`` with one import line above also adds its
# names here.
__all__ = [
    "__version__", "abs", "add", "addcdiv", "addcmul", "all", "amax", "amin", "any", "arange",
    "argmax", "argmin", "as_tensor", "autograd", "bernoulli", "bmm", "bool", "broadcast_to",
    "cat", "cdouble", "ceil", "cfloat", "chunk", "clamp", "clip", "clone", "complex128",
    "complex64", "concat", "concatenate", "conj", "cos", "cumsum", "device", "div", "dot",
    "double", "dtype", "empty", "empty_like", "enable_grad", "eq", "exp", "expm1", "eye",
    "flatten", "flip", "float", "float16", "float32", "float64", "floor", "floor_divide",
    "from_numpy", "full", "full_like", "gather", "ge", "Generator", "get_default_dtype",
    "get_printoptions", "get_rng_state", "gt", "half", "hstack", "imag", "index_select",
    "initial_seed", "int", "int16", "int32", "int64", "int8", "is_complex", "is_floating_point",
    "is_grad_enabled", "is_tensor", "isfinite", "isinf", "isnan", "le", "lerp", "linspace",
    "load",
    "log", "log10", "log1p", "log2", "log_softmax", "logical_and", "logical_not", "logical_or",
    "logical_xor", "logspace", "logsumexp", "long", "lt", "manual_seed", "masked_fill",
    "matmul", "max", "maximum", "mean", "min", "minimum", "mm", "movedim", "mul", "multinomial",
    "narrow", "ne", "neg", "no_grad", "nonzero", "norm", "normal", "numel", "ones", "ones_like",
    "optim", "outer", "permute", "pow", "prod", "promote_types", "rand", "rand_like", "randint",
    "randint_like", "randn", "randn_like", "randperm", "real", "reciprocal", "relu",
    "remainder", "repeat_interleave", "reshape", "result_type", "roll", "round", "rsqrt",
    "save", "seed", "select", "set_default_dtype", "set_grad_enabled", "set_printoptions",
    "set_rng_state", "short", "sigmoid", "sign", "sin", "softmax", "split", "sqrt", "square",
    "squeeze", "stack", "std", "sub", "sum", "swapaxes", "swapdims", "t", "tan", "tanh",
    "Tensor", "tensor", "tile", "transpose", "trunc", "uint8", "unbind", "unflatten",
    "unsqueeze", "utils", "var", "vstack", "where", "zeros", "zeros_like",
]


def is_tensor(obj: object) -> _builtins.bool:
    """Whether ``obj`` is a lucid tensor."""
    return isinstance(obj, Tensor)


def is_floating_point(x: Tensor) -> _builtins.bool:
    """Whether ``x`` has a floating-point dtype."""
    return x.is_floating_point()


def is_complex(x: Tensor) -> _builtins.bool:
    """Whether ``x`` has a complex dtype."""
    return x.is_complex()


def numel(x: Tensor) -> _builtins.int:
    """The number of elements of ``x``."""
    return x.numel()


def result_type(a: object, b: object) -> dtype:
    """The dtype an operation on ``a`` and ``b`` (tensors or numbers) produces.

    Examples
    --------
    >>> import lucid
    >>> lucid.result_type(lucid.tensor([1, 2]), 1.0)
    lucid.float32
    """
    from lucid._ops._util import result_dtype

    return result_dtype(a, b)


__version__ = "0.1.0"
