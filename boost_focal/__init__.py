"""boost-focal: focal loss as a first-class objective for XGBoost and LightGBM."""

from .focal import FocalLoss

__version__ = "0.1.0"

__all__ = ["FocalLoss", "__version__"]
