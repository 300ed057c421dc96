"""Optimizers (``SGD``, ``Adam``, ``AdamW``, ``RMSprop``) and learning-rate schedulers."""

from lucid.optim import lr_scheduler
from lucid.optim.adam import Adam
from lucid.optim.adamw import AdamW
from lucid.optim.optimizer import Optimizer
from lucid.optim.rmsprop import RMSprop
from lucid.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
