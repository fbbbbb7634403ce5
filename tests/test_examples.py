"""Every script in examples/ runs to completion (each checks its own result with asserts).

They run in this process with runpy (one import of xgboost/lightgbm for all), and one of them
also as a real subprocess, the way a user runs it.
"""

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# One script per training API (docs/frameworks.md); each takes well under a second of training.
API_EXAMPLES = ("xgb_train", "xgb_train_multiclass", "xgb_sklearn", "lgb_train", "lgb_sklearn")
SCRIPTS = [EXAMPLES / f"{name}.py" for name in API_EXAMPLES]


def test_there_is_one_example_per_api():
    assert all(p.is_file() for p in SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_example_runs(script, capsys):
    text = script.read_text()
    assert "/work/shared" not in text and "shared_data" not in text  # examples are self-contained
    runpy.run_path(str(script), run_name="__main__")
    assert capsys.readouterr().out.strip()  # it reports something


def test_example_runs_as_a_script():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "xgb_train.py")], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "best round" in done.stdout
