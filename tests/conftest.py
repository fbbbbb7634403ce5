import os
from pathlib import Path

import pytest

try:
    import xgboost as _xgb
except ImportError:  # the tests that need it skip themselves
    _xgb = None

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BOOST_FOCAL_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data():
    """Folder of real datasets (../shared/data beside the checkout, as in CI)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data folder not found at {SHARED_DATA}; set BOOST_FOCAL_SHARED_DATA")
    return SHARED_DATA


_XGB_CONFIG = _xgb.get_config() if _xgb is not None else None


@pytest.fixture(autouse=True)
def _xgboost_global_config():
    """XGBoost applies a train() call's "verbosity" process-wide; give every test the global
    configuration the session started with, so that one test training with {"verbosity": 0}
    (the benchmark's settings do) cannot silence the warnings another test expects."""
    yield
    if _xgb is not None:
        _xgb.set_config(**_XGB_CONFIG)


@pytest.fixture
def new_signatures(monkeypatch):
    """Names of the Numba functions asked for a signature they did not have yet in this process
    (what a fresh process would compile or load from the cache)."""
    from numba.core import dispatcher

    seen = []
    real = dispatcher.Dispatcher._compile_for_args

    def spy(self, *args, **kwargs):
        seen.append(self.py_func.__qualname__)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(dispatcher.Dispatcher, "_compile_for_args", spy)
    return seen
