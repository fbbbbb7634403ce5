"""scikit-learn classifiers trained on the focal loss: XGBoost and LightGBM back ends.

Neither library is imported until ``fit`` (both are optional dependencies).
"""

from .lgbm import FocalLGBMClassifier
from .xgb import FocalXGBClassifier

__all__ = ["FocalLGBMClassifier", "FocalXGBClassifier"]
