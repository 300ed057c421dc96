"""Random number generation: one default generator, reproducible with ``manual_seed``."""

from __future__ import annotations

import numpy as np


class Generator:
    """A random number generator (wraps NumPy's PCG64).

    Parameters
    ----------
    device : str, optional
        Accepted for API compatibility; only the CPU exists.

    Examples
    --------
    >>> import lucid
    >>> g = lucid.Generator().manual_seed(0)
    >>> a = lucid.rand(2, generator=g)
    >>> _ = g.manual_seed(0)
    >>> bool((a == lucid.rand(2, generator=g)).all())
    True
    """

    def __init__(self, device: str | None = None) -> None:
        self._seed = 67280421310721
        self.rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        """Reset the generator to a state determined by ``seed``; returns ``self``."""
        if not isinstance(seed, (int, np.integer)):
            raise TypeError(f"manual_seed expected an int, got {type(seed).__name__}")
        self._seed = int(seed)
        self.rng = np.random.Generator(np.random.PCG64(self._seed & (2**128 - 1)))
        return self

    def initial_seed(self) -> int:
        """The seed the generator was last seeded with."""
        return self._seed

    def seed(self) -> int:
        """Seed the default generator from fresh entropy; returns the seed."""
        s = int(np.random.SeedSequence().entropy) & (2**63 - 1)
        self.manual_seed(s)
        return s

    def get_state(self) -> dict:
        """The generator's state (a dict)."""
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        """Restore a state from :meth:`get_state`; returns ``self``."""
        self.rng.bit_generator.state = state
        return self


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (everything random in lucid draws from it)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from fresh entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed the generator was last seeded with."""
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    """The default generator's state (for :func:`set_rng_state`)."""
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    """Restore the default generator's state."""
    default_generator.set_state(state)


def rng(generator: Generator | None = None) -> np.random.Generator:
    """The NumPy generator behind ``generator`` (or the default one)."""
    if generator is None:
        return default_generator.rng
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a lucid.Generator, got {type(generator).__name__}")
    return generator.rng
