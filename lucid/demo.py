"""lucid's main job: train lazy convolutional networks on scikit-learn's digits.

Two models are built from lazy layers, so no channel count is written by hand:

* a classifier (``LazyConv2d`` → pooling → ``LazyLinear``) that predicts the digit;
* an autoencoder (``LazyConv2d`` encoder, ``LazyConvTranspose2d`` decoder) that rebuilds the
  8x8 image from a 32x2x2 code.

Each epoch shows a ``tqdm`` progress bar. At the end the held-out accuracy and reconstruction
error are printed, both models and their optimizers are saved to one checkpoint, and PNG figures
(loss curves; original vs. reconstructed digits) are written to the output directory.

Run ``lucid-demo --help`` (or ``python -m lucid.demo --help``) for the options.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
from lucid.optim import Adam
from lucid.utils.data import DataLoader, TensorDataset


def build_classifier() -> nn.Module:
    """A small lazy CNN for 1x8x8 digits: two conv blocks and a two-layer head."""
    return nn.Sequential(
        nn.LazyConv2d(32, kernel_size=3, padding=1),
        nn.LazyBatchNorm2d(),
        nn.ReLU(),
        nn.LazyConv2d(64, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.25),
        nn.LazyLinear(128),
        nn.ReLU(),
        nn.LazyLinear(10),
    )


def build_autoencoder() -> nn.Module:
    """A lazy conv autoencoder: 1x8x8 → 32x2x2 → 1x8x8."""
    return nn.Sequential(
        nn.LazyConv2d(16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.LazyConv2d(32, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.LazyConvTranspose2d(16, kernel_size=4, stride=2, padding=1),
        nn.ReLU(),
        nn.LazyConvTranspose2d(1, kernel_size=4, stride=2, padding=1),
        nn.Sigmoid(),
    )


def load_digits(seed: int, test_fraction: float = 0.2) -> tuple[lucid.Tensor, ...]:
    """The digits images scaled to [0, 1] as (N, 1, 8, 8), split into train and test sets."""
    from sklearn.datasets import load_digits as sk_digits

    data = sk_digits()
    x = (data.images.astype(np.float32) / 16.0)[:, None]
    y = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return (lucid.tensor(x[train]), lucid.tensor(y[train]),
            lucid.tensor(x[test]), lucid.tensor(y[test]))


def _epoch(model: nn.Module, loader: DataLoader, opt: Adam, loss_fn: Any, desc: str,
           progress: bool) -> float:
    from tqdm import tqdm

    model.train()
    total, count = 0.0, 0
    bar = tqdm(loader, desc=desc, leave=False, disable=not progress, unit="batch")
    for xb, yb in bar:
        opt.zero_grad()
        loss = loss_fn(model, xb, yb)
        loss.backward()
        opt.step()
        total += loss.item() * len(xb)
        count += len(xb)
        bar.set_postfix(loss=f"{total / count:.4f}")
    return total / count


def _classify_loss(model: nn.Module, xb: lucid.Tensor, yb: lucid.Tensor) -> lucid.Tensor:
    return F.cross_entropy(model(xb), yb)


def _reconstruct_loss(model: nn.Module, xb: lucid.Tensor, yb: lucid.Tensor) -> lucid.Tensor:
    return F.mse_loss(model(xb), xb)


@lucid.no_grad()
def evaluate(classifier: nn.Module, autoencoder: nn.Module, x: lucid.Tensor,
             y: lucid.Tensor) -> tuple[float, float]:
    """Held-out accuracy of the classifier and mean squared reconstruction error."""
    classifier.eval()
    autoencoder.eval()
    acc = (classifier(x).argmax(dim=1) == y).float().mean().item()
    mse = F.mse_loss(autoencoder(x), x).item()
    return acc, mse


def save_figures(out: Path, history: dict[str, list[float]], autoencoder: nn.Module,
                 x: lucid.Tensor) -> list[Path]:
    """Write the loss curves and an original-vs-reconstruction grid as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key, title in ((axes[0], "classifier", "classifier (cross-entropy)"),
                           (axes[1], "autoencoder", "autoencoder (MSE)")):
        ax.plot(range(1, len(history[key]) + 1), history[key], marker="o")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(out / "loss_curves.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    with lucid.no_grad():
        autoencoder.eval()
        rec = autoencoder(x[:10]).numpy()
    orig = x[:10].numpy()
    fig, axes = plt.subplots(2, 10, figsize=(10, 2.4))
    for i in range(10):
        for row, img in ((0, orig[i, 0]), (1, rec[i, 0])):
            axes[row, i].imshow(img, cmap="gray_r", vmin=0, vmax=1)
            axes[row, i].axis("off")
    axes[0, 0].set_title("original", fontsize=8, loc="left")
    axes[1, 0].set_title("reconstructed", fontsize=8, loc="left")
    fig.tight_layout()
    paths.append(out / "reconstructions.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def run(epochs: int = 15, batch_size: int = 64, seed: int = 0,
        out: str | Path = "lucid-demo-output", lr: float = 2e-3,
        progress: bool = True) -> dict[str, Any]:
    """Train both models and write the checkpoint, figures and a JSON summary.

    Parameters
    ----------
    epochs : int, default 15
        Passes over the training set for each model.
    batch_size : int, default 64
        Mini-batch size.
    seed : int, default 0
        Seeds the split, the initialisation, dropout and shuffling.
    out : str or Path
        Output directory (created if needed).
    lr : float, default 2e-3
        Adam's learning rate.
    progress : bool, default True
        Show a tqdm progress bar per epoch.

    Returns
    -------
    dict
        ``accuracy``, ``reconstruction_mse``, ``seconds`` and the written file paths.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lucid.manual_seed(seed)
    x_train, y_train, x_test, y_test = load_digits(seed)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True,
                        generator=lucid.Generator().manual_seed(seed))

    classifier, autoencoder = build_classifier(), build_autoencoder()
    # Optimizers are built before the first forward: the lazy parameters are filled in place.
    opt_c = Adam(classifier.parameters(), lr=lr)
    opt_a = Adam(autoencoder.parameters(), lr=lr * 2.5)
    history: dict[str, list[float]] = {"classifier": [], "autoencoder": []}
    for epoch in range(1, epochs + 1):
        lc = _epoch(classifier, loader, opt_c, _classify_loss,
                    f"epoch {epoch}/{epochs} classifier", progress)
        la = _epoch(autoencoder, loader, opt_a, _reconstruct_loss,
                    f"epoch {epoch}/{epochs} autoencoder", progress)
        history["classifier"].append(lc)
        history["autoencoder"].append(la)
        acc, mse = evaluate(classifier, autoencoder, x_test, y_test)
        print(f"epoch {epoch:2d}/{epochs}  classifier loss {lc:.4f}  autoencoder loss {la:.4f}  "
              f"held-out accuracy {acc:.2%}  reconstruction MSE {mse:.4f}", flush=True)

    acc, mse = evaluate(classifier, autoencoder, x_test, y_test)
    ckpt = out / "checkpoint.safetensors"
    lucid.save({"classifier": classifier.state_dict(), "autoencoder": autoencoder.state_dict(),
                "opt_classifier": opt_c.state_dict(), "opt_autoencoder": opt_a.state_dict(),
                "epochs": epochs, "seed": seed}, ckpt)
    figures = save_figures(out, history, autoencoder, x_test)
    seconds = time.perf_counter() - start
    summary = {"accuracy": acc, "reconstruction_mse": mse, "seconds": seconds,
               "checkpoint": str(ckpt), "figures": [str(p) for p in figures],
               "history": history}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"held-out accuracy: {acc:.2%} ({len(y_test)} test digits)")
    print(f"reconstruction MSE: {mse:.4f}")
    print(f"checkpoint: {ckpt}")
    print(f"figures: {', '.join(str(p) for p in figures)}")
    print(f"wall time: {seconds:.1f} s")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (``lucid-demo``)."""
    p = argparse.ArgumentParser(prog="lucid-demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=15, help="training epochs (default 15)")
    p.add_argument("--batch-size", type=int, default=64, help="mini-batch size (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", default="lucid-demo-output", help="output directory")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 2e-3)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    args = p.parse_args(argv)
    try:
        run(args.epochs, args.batch_size, args.seed, args.out, args.lr, not args.no_progress)
    except ValueError as e:
        p.error(str(e))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
