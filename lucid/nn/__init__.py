"""Neural-network building blocks: modules, parameters, initialisation, functional ops."""

from lucid.nn import functional, init  # noqa: F401
from lucid.nn.modules import *  # noqa: F403
from lucid.nn.parameter import (  # noqa: F401
    Buffer,
    Parameter,
    UninitializedBuffer,
    UninitializedParameter,
)
