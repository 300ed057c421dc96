"""One training step of the demo's classifier (batch 64, Adam): lucid vs PyTorch.

Run: ``python benchmarks/train_step.py``. Prints the median per-step time of each and the median
of the per-pair ratios lucid/PyTorch (2 threads, A B A B alternation).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import compare, limit_threads  # noqa: E402


def measure(repeats: int = 9) -> dict[str, float]:
    """Time one training step of each library (``compare``'s dict: medians and ratio)."""
    import torch
    import torch.nn as tnn

    import lucid
    import lucid.nn.functional as F
    from lucid.demo import build_classifier
    from lucid.optim import Adam

    limit_threads(2)
    rng = np.random.default_rng(0)
    x_np = rng.random((64, 1, 8, 8), dtype=np.float32)
    y_np = rng.integers(0, 10, 64)

    model = build_classifier()
    x, y = lucid.tensor(x_np), lucid.tensor(y_np)
    model(x)  # materialize the lazy layers
    opt = Adam(model.parameters(), lr=1e-3)

    tmodel = tnn.Sequential(
        tnn.Conv2d(1, 32, 3, padding=1), tnn.BatchNorm2d(32), tnn.ReLU(),
        tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
        tnn.Dropout(0.25), tnn.Linear(64 * 4 * 4, 128), tnn.ReLU(), tnn.Linear(128, 10),
    )
    topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
    tx, ty = torch.from_numpy(x_np), torch.from_numpy(y_np)

    def lucid_step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    def torch_step() -> None:
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(tx), ty).backward()
        topt.step()

    return compare(lucid_step, torch_step, repeats=repeats)


def main() -> None:
    r = measure()
    print("training step: demo classifier, batch 64, Adam, 2 threads")
    print(f"{'lucid ms':>10} {'torch ms':>10} {'ratio':>7}")
    print(f"{r['lucid'] * 1e3:10.2f} {r['torch'] * 1e3:10.2f} {r['ratio']:7.2f}")


if __name__ == "__main__":
    main()
