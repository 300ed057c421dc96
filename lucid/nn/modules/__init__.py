"""Layers: ``Module`` and everything built on it."""

from lucid.nn.modules.activation import *  # noqa: F403
from lucid.nn.modules.basic import *  # noqa: F403
from lucid.nn.modules.batchnorm import *  # noqa: F403
from lucid.nn.modules.container import *  # noqa: F403
from lucid.nn.modules.conv import *  # noqa: F403
from lucid.nn.modules.dropout import *  # noqa: F403
from lucid.nn.modules.flatten import *  # noqa: F403
from lucid.nn.modules.lazy import *  # noqa: F403
from lucid.nn.modules.linear import *  # noqa: F403
from lucid.nn.modules.loss import *  # noqa: F403
from lucid.nn.modules.module import *  # noqa: F403
from lucid.nn.modules.normalization import *  # noqa: F403
from lucid.nn.modules.pooling import *  # noqa: F403
from lucid.nn.modules.upsampling import *  # noqa: F403
