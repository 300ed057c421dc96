"""The main job: the demo trains both lazy models and writes its outputs."""

from __future__ import annotations

import json

import pytest

import lucid
from lucid import demo


def test_demo_one_epoch_writes_everything(tmp_path, capsys):
    summary = demo.run(epochs=1, batch_size=128, seed=3, out=tmp_path, progress=False)
    out = capsys.readouterr().out
    assert "held-out accuracy" in out and "reconstruction MSE" in out
    assert summary["accuracy"] > 0.6
    assert 0 < summary["reconstruction_mse"] < 0.2
    for name in ("checkpoint.safetensors", "loss_curves.png", "reconstructions.png",
                 "summary.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "summary.json").read_text())["accuracy"] == summary["accuracy"]

    # the checkpoint restores both models (the lazy layers materialize from the state dict)
    state = lucid.load(tmp_path / "checkpoint.safetensors")
    clf = demo.build_classifier()
    clf.load_state_dict(state["classifier"])
    clf.eval()
    _, _, x_test, y_test = demo.load_digits(3)
    with lucid.no_grad():
        acc = (clf(x_test).argmax(dim=1) == y_test).float().mean().item()
    assert acc == pytest.approx(summary["accuracy"])
    assert state["epochs"] == 1 and state["seed"] == 3


def test_demo_models_are_lazy():
    clf, ae = demo.build_classifier(), demo.build_autoencoder()
    assert clf[0].has_uninitialized_params() and ae[-2].has_uninitialized_params()
    assert clf[0].in_channels is None and ae[0].in_channels is None
    y = ae(lucid.zeros(2, 1, 8, 8))
    assert y.shape == (2, 1, 8, 8)
    assert clf(lucid.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert clf[0].in_channels == 1


@pytest.mark.parametrize("args", [["--epochs", "0"], ["--batch-size", "0"]])
def test_demo_cli_rejects_bad_options(args, tmp_path):
    with pytest.raises(SystemExit) as e:
        demo.main(args + ["--out", str(tmp_path)])
    assert e.value.code == 2
