"""Stateless neural-network operations (``lucid.nn.functional``, usually imported as ``F``)."""

from lucid._ops.elementwise import relu, sigmoid, tanh  # noqa: F401
from lucid._ops.reduction import log_softmax, softmax  # noqa: F401
from lucid.nn.functional._activation import *  # noqa: F403
from lucid.nn.functional._conv import *  # noqa: F403
from lucid.nn.functional._dropout import *  # noqa: F403
from lucid.nn.functional._interp import *  # noqa: F403
from lucid.nn.functional._linear import *  # noqa: F403
from lucid.nn.functional._loss import *  # noqa: F403
from lucid.nn.functional._norm import *  # noqa: F403
from lucid.nn.functional._pad import *  # noqa: F403
from lucid.nn.functional._pool import *  # noqa: F403
