"""``python -m boost_focal warmup``: after it, fits of the warmed combinations compile nothing."""

import numpy as np
import pytest

from boost_focal import FocalLGBMClassifier, FocalXGBClassifier, cli
from boost_focal.warmup import warm_one, warmup


@pytest.mark.parametrize(
    "make, task, k",
    [
        (lambda: FocalXGBClassifier(gamma=1.5, hessian="exact", n_estimators=3, n_jobs=1), "binary", 2),
        (lambda: FocalLGBMClassifier(gamma=1.5, n_estimators=3, n_jobs=1, min_child_samples=2), "multiclass", 3),
    ],
)
def test_a_fit_after_warm_one_needs_no_new_kernel(new_signatures, make, task, k):
    model = make()
    warm_one(model.gamma, model.hessian, task)
    new_signatures.clear()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = rng.integers(0, k, 300)
    w = rng.uniform(0.5, 2.0, 300)
    model.fit(X, y, sample_weight=w, eval_set=[(X[:50], y[:50])]).predict_proba(X)
    assert new_signatures == []


def test_warmup_reports_each_combination_and_checks_tasks():
    lines = []
    warmup([2.0], ["bohning"], ["binary"], progress=lines.append)
    assert len(lines) == 1 and lines[0].startswith("binary, gamma=2, hessian=bohning")
    with pytest.raises(ValueError, match="task must be one of"):
        warmup([2.0], ["bohning"], ["regression"])


def test_cli_warmup_passes_its_lists(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr("boost_focal.warmup.warmup", lambda g, h, progress=None: calls.append((g, h)) or 1.5)
    assert cli.main(["warmup", "--gammas", "0.5,2", "--hessians", "exact"]) == 0
    assert calls == [([0.5, 2.0], ["exact"])]
    assert "compiled and cached in 1.5 s" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["warmup", "--hessians", "newton"])
