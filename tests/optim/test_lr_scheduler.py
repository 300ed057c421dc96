"""Learning-rate schedulers against PyTorch, step by step, and their state dicts."""

from __future__ import annotations

import math

import pytest
import torch

import lucid
import lucid.optim as optim
from lucid.optim import lr_scheduler as L

STEPS = 20


def _optimizers(name: str = "SGD", **kw):
    """Two-group optimizers (lucid, torch) with the same hyper-parameters."""
    kw = {"lr": 0.1, **kw}
    lgroups = [{"params": [lucid.zeros(2, requires_grad=True)]},
               {"params": [lucid.zeros(1, requires_grad=True)], "lr": 0.03}]
    tgroups = [{"params": [torch.zeros(2, requires_grad=True)]},
               {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.03}]
    return getattr(optim, name)(lgroups, **kw), getattr(torch.optim, name)(tgroups, **kw)


def _assert_same_groups(lopt, topt) -> None:
    for lg, tg in zip(lopt.param_groups, topt.param_groups):
        for key in ("lr", "momentum", "betas"):
            if key in tg:
                assert lg[key] == pytest.approx(tg[key], rel=1e-14, abs=1e-300), key


SCHEDULES = [
    ("StepLR", {"step_size": 3}), ("StepLR", {"step_size": 1, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 11], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.85}),
    ("CosineAnnealingLR", {"T_max": 7}), ("CosineAnnealingLR", {"T_max": 5, "eta_min": 0.01}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": STEPS + 1}),
    ("OneCycleLR", {"max_lr": [1.0, 0.2], "total_steps": STEPS + 1,
                    "anneal_strategy": "linear", "pct_start": 0.25}),
    ("OneCycleLR", {"max_lr": 0.5, "epochs": 3, "steps_per_epoch": 7, "three_phase": True,
                    "div_factor": 10.0, "final_div_factor": 100.0}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": STEPS + 1, "cycle_momentum": False}),
]


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize(("name", "kwargs"), SCHEDULES)
def test_schedule_matches_torch(name: str, kwargs: dict, optimizer: str) -> None:
    extra = {"momentum": 0.9} if optimizer == "SGD" else {}
    lopt, topt = _optimizers(optimizer, **extra)
    lsched, tsched = getattr(L, name)(lopt, **kwargs), getattr(torch.optim.lr_scheduler,
                                                               name)(topt, **kwargs)
    assert lsched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-14)
    _assert_same_groups(lopt, topt)
    for _ in range(STEPS):
        lopt.step()
        topt.step()
        lsched.step()
        tsched.step()
        assert lsched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-14)
        assert lsched.last_epoch == tsched.last_epoch
        _assert_same_groups(lopt, topt)


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULES)
def test_schedule_state_round_trip(name: str, kwargs: dict, tmp_path) -> None:
    """Stop halfway, checkpoint optimizer and scheduler, resume: same rates as a straight run."""
    lopt, _ = _optimizers(momentum=0.9)
    sched = getattr(L, name)(lopt, **kwargs)
    ref_opt, _ = _optimizers(momentum=0.9)
    ref = getattr(L, name)(ref_opt, **kwargs)
    for _ in range(STEPS // 2):
        for o, s in ((lopt, sched), (ref_opt, ref)):
            o.step()
            s.step()
    lucid.save({"optimizer": lopt.state_dict(), "scheduler": sched.state_dict()},
               tmp_path / "ckpt.safetensors")
    ckpt = lucid.load(tmp_path / "ckpt.safetensors")
    new_opt, _ = _optimizers(momentum=0.9)
    new_sched = getattr(L, name)(new_opt, **kwargs)
    new_opt.load_state_dict(ckpt["optimizer"])
    new_sched.load_state_dict(ckpt["scheduler"])
    for _ in range(STEPS - STEPS // 2):
        for o, s in ((new_opt, new_sched), (ref_opt, ref)):
            o.step()
            s.step()
        assert new_sched.get_last_lr() == ref.get_last_lr()
        assert [g["lr"] for g in new_opt.param_groups] == [g["lr"] for g in ref_opt.param_groups]


PLATEAU = [
    {}, {"patience": 2, "factor": 0.5}, {"mode": "max", "patience": 1, "threshold": 0.1},
    {"threshold_mode": "abs", "threshold": 0.05, "patience": 1, "cooldown": 2},
    {"patience": 0, "min_lr": [0.02, 0.001], "factor": 0.3},
    {"patience": 0, "min_lr": 0.05, "eps": 1e-3},
]


@pytest.mark.parametrize("kwargs", PLATEAU)
def test_reduce_on_plateau_matches_torch(kwargs: dict, tmp_path) -> None:
    lopt, topt = _optimizers()
    lsched = L.ReduceLROnPlateau(lopt, **kwargs)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.5, 0.49, 0.5, 0.5, 0.5, 0.6, 0.7, 0.2, 0.2,
               0.21, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.1, 0.1]
    for i, m in enumerate(metrics):
        lsched.step(lucid.tensor(m, dtype=lucid.float64) if i % 2 else m)
        tsched.step(m)
        assert lsched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-14)
        if i == 10:
            lucid.save(lsched.state_dict(), tmp_path / "plateau.safetensors")
            lsched = L.ReduceLROnPlateau(lopt, **kwargs)
            lsched.load_state_dict(lucid.load(tmp_path / "plateau.safetensors"))
    state = lsched.state_dict()
    for key in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch", "mode_worse"):
        assert state[key] == tsched.state_dict()[key]


def test_resume_with_last_epoch_and_chained_changes() -> None:
    lopt, topt = _optimizers()
    for opt in (lopt, topt):
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"]
    lsched = L.CosineAnnealingLR(lopt, T_max=10, last_epoch=4)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=10, last_epoch=4)
    for _ in range(8):
        lopt.param_groups[0]["lr"] *= 0.9  # someone else changes the rate: chained form
        topt.param_groups[0]["lr"] *= 0.9
        lopt.step()
        topt.step()
        lsched.step()
        tsched.step()
        assert lsched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-14)


def test_multistep_milestones_survive_checkpoint(tmp_path) -> None:
    lopt, _ = _optimizers()
    sched = L.MultiStepLR(lopt, milestones=[3, 3, 6])
    lucid.save(sched.state_dict(), tmp_path / "s.safetensors")
    sched.load_state_dict(lucid.load(tmp_path / "s.safetensors"))
    assert sched.milestones == {3: 2, 6: 1}
    for _ in range(3):
        sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(0.1 * 0.1**2)


def test_scheduler_errors() -> None:
    lopt, _ = _optimizers()
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        L.StepLR([], step_size=1)
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified"):
        L.ExponentialLR(lopt, gamma=0.9, last_epoch=3)
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        L.OneCycleLR(lopt, max_lr=1.0)
    with pytest.raises(ValueError, match="Expected positive integer total_steps, but got 0"):
        L.OneCycleLR(lopt, max_lr=1.0, total_steps=0)
    with pytest.raises(ValueError, match="Expected positive integer epochs"):
        L.OneCycleLR(lopt, max_lr=1.0, epochs=-1, steps_per_epoch=2)
    with pytest.raises(ValueError, match="Expected float between 0 and 1 pct_start"):
        L.OneCycleLR(lopt, max_lr=1.0, total_steps=5, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear'"):
        L.OneCycleLR(lopt, max_lr=1.0, total_steps=5, anneal_strategy="exp")
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        L.OneCycleLR(lopt, max_lr=[1.0], total_steps=5)
    rms = optim.RMSprop([lucid.zeros(1, requires_grad=True)])
    rms.defaults.pop("momentum")
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        L.OneCycleLR(rms, max_lr=1.0, total_steps=5)
    sched = L.OneCycleLR(lopt, max_lr=1.0, total_steps=2)
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        sched.step()
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        L.ReduceLROnPlateau(lopt, factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown"):
        L.ReduceLROnPlateau(lopt, mode="avg")
    with pytest.raises(ValueError, match="threshold mode x is unknown"):
        L.ReduceLROnPlateau(lopt, threshold_mode="x")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        L.ReduceLROnPlateau(lopt, min_lr=[0.1])
    plateau = L.ReduceLROnPlateau(lopt, patience=0, min_lr=[0.0, 0.0])
    lopt.add_param_group({"params": [lucid.zeros(1, requires_grad=True)]})
    plateau.step(1.0)
    with pytest.raises(RuntimeError, match="number of param groups"):
        plateau.step(2.0)
    with pytest.raises(NotImplementedError, match="does not implement get_lr"):
        L.LRScheduler(lopt)
    assert math.isinf(L.ReduceLROnPlateau(lopt).best)
