"""boost-focal: focal loss as a first-class objective for XGBoost and LightGBM."""

from .estimators import FocalLGBMClassifier, FocalXGBClassifier
from ._frameworks import lgb_init_score, xgb_base_score
from .focal import FocalLoss
from .metric import FocalMetric
from ._xgb_loop import train as xgb_train

from ._version import __version__

__all__ = ["FocalLGBMClassifier", "FocalLoss", "FocalMetric", "FocalXGBClassifier", "__version__", "lgb_init_score", "xgb_base_score", "xgb_train"]
