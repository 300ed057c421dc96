"""lucid: a deep-learning framework on NumPy with PyTorch's API.

>>> import lucid
>>> x = lucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4., 6.])
"""

from __future__ import annotations

from lucid import _ops  # noqa: F401  (attaches operators to Tensor)
from lucid._backend import device
from lucid._creation import (
    arange, as_tensor, bernoulli, empty, empty_like, eye, from_numpy, full, full_like,
    linspace, logspace, multinomial, normal, ones, ones_like, rand, rand_like, randint,
    randint_like, randn, randn_like, randperm, tensor, zeros, zeros_like,
)
from lucid._dtype import (
    bool, cdouble, cfloat, complex64, complex128, double, dtype, float, float16, float32,
    float64, get_default_dtype, half, int, int8, int16, int32, int64, long, promote_types,
    set_default_dtype, short, uint8,
)
from lucid._format import set_printoptions
from lucid._ops.elementwise import (
    abs, add, addcdiv, addcmul, ceil, clamp, clip, conj, cos, div, eq, exp, expm1, floor,
    floor_divide, ge, gt, imag, isfinite, isinf, isnan, le, lerp, log, log1p, log2, log10,
    logical_and, logical_not, logical_or, logical_xor, lt, maximum, minimum, mul, ne, neg,
    pow, real, reciprocal, relu, remainder, round, rsqrt, sigmoid, sign, sin, sqrt, sub, tan,
    tanh, trunc, where,
)
from lucid._ops.indexing import gather, index_select, masked_fill, nonzero
from lucid._ops.linalg import bmm, dot, matmul, mm, outer
from lucid._ops.reduction import (
    all, amax, amin, any, argmax, argmin, cumsum, log_softmax, logsumexp, max, mean, min,
    norm, prod, softmax, std, sum, var,
)
from lucid._ops.shape import (
    broadcast_to, cat, chunk, concat, concatenate, flatten, flip, hstack, movedim, narrow,
    permute, repeat_interleave, reshape, roll, select, split, squeeze, stack, swapaxes, t,
    tile, transpose, unbind, unflatten, unsqueeze, vstack,
)
from lucid._ops.shape import clone as clone
from lucid._tensor import Tensor
from lucid.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from lucid.random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state

from lucid import autograd  # noqa: E402  isort: skip


def is_tensor(obj: object) -> builtins_bool:
    """Whether ``obj`` is a lucid tensor."""
    return isinstance(obj, Tensor)


def numel(x: Tensor) -> builtins_int:
    return x.numel()


def result_type(a: object, b: object) -> dtype:
    from lucid._ops._util import result_dtype

    return result_dtype(a, b)


import builtins as _builtins  # noqa: E402

builtins_bool, builtins_int = _builtins.bool, _builtins.int

__version__ = "0.1.0"
