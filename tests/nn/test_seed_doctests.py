"""The examples of lucid's seed pages (LazyConv2d, LazyConvTranspose2d) are in the class
docstrings verbatim and run as doctests printing exactly what the pages show."""

import doctest

import pytest

import lucid.nn as nn

SEED_001 = """\
>>> import lucid
>>> import lucid.nn as nn
>>> model = nn.Sequential(
... nn.LazyConv2d(out_channels=64, kernel_size=3, padding=1),
... nn.ReLU(),
... nn.LazyConv2d(out_channels=128, kernel_size=3, padding=1),
... )
>>> x = lucid.zeros(2, 3, 32, 32) # in_channels=3 inferred here
>>> y = model(x)
>>> y.shape
(2, 128, 32, 32)
>>> import lucid
>>> import lucid.nn as nn
>>> lazy = nn.LazyConv2d(out_channels=16, kernel_size=3, padding=1)
>>> _ = lazy(lucid.zeros(1, 8, 16, 16))
>>> print(lazy.in_channels)
8
"""

SEED_004 = """\
>>> import lucid
>>> import lucid.nn as nn
>>> decoder = nn.LazyConvTranspose2d(
... out_channels=64, kernel_size=4, stride=2, padding=1
... )
>>> z = lucid.zeros(4, 128, 8, 8) # in_channels=128 inferred
>>> y = decoder(z)
>>> y.shape
(4, 64, 16, 16)
>>> import lucid
>>> import lucid.nn as nn
>>> lazy = nn.LazyConvTranspose2d(out_channels=32, kernel_size=3)
>>> _ = lazy(lucid.zeros(1, 64, 4, 4))
>>> print(lazy.in_channels)
64
"""


def _example_lines(doc):
    lines = [line.strip() for line in doc.splitlines()]
    start = lines.index(">>> import lucid")
    return [line for line in lines[start:] if line and not line.endswith(":")]


@pytest.mark.parametrize("cls, seed", [(nn.LazyConv2d, SEED_001),
                                       (nn.LazyConvTranspose2d, SEED_004)])
def test_seed_examples_are_in_the_docstring(cls, seed):
    assert _example_lines(cls.__doc__) == seed.splitlines()


@pytest.mark.parametrize("seed", [SEED_001, SEED_004])
def test_seed_examples_run_verbatim(seed):
    test = doctest.DocTestParser().get_doctest(seed, {}, "seed", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    result = runner.run(test)
    assert result.failed == 0 and result.attempted == seed.count(">>>")


@pytest.mark.parametrize("cls", [nn.LazyConv2d, nn.LazyConvTranspose2d])
def test_docstring_doctests_pass(cls):
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(cls, cls.__name__, globs={})
    assert tests and all(runner.run(t).failed == 0 for t in tests)


@pytest.mark.parametrize("cls, heading", [
    (nn.LazyConv2d, ("Parameters", "Attributes", "Notes", "Examples")),
    (nn.LazyConvTranspose2d, ("Parameters", "Attributes", "Notes", "Examples")),
    (nn.Conv2d, ("Parameters", "Attributes", "Shape", "Examples")),
])
def test_numpy_docstring_sections(cls, heading):
    for section in heading:
        assert f"\n    {section}\n    {'-' * len(section)}\n" in cls.__doc__
