"""Self-describing model files: the focal parameters stored inside XGBoost's and LightGBM's own files.

A booster trained on the focal loss is not enough to predict with: the probabilities need
gamma, alpha and the probability mode, LightGBM's raw scores need the starting score added
back (LightGBM never stores ``init_score``), and an estimator needs its ``classes_``. This
module writes all of it, as one versioned JSON document, INTO the library's own model file:

* XGBoost (JSON ``.json`` or UBJSON ``.ubj``): a booster attribute (``Booster.set_attr``),
  which both formats keep (checked on xgboost 3.2).
* LightGBM (its text format): one line ``boost_focal:{...}`` just before LightGBM's own last
  line ``pandas_categorical:...``. LightGBM's loader stops reading after its
  ``end of parameters`` section and the Python wrapper reads the last line(s) for the pandas
  categories (checked on lightgbm 4.7), so the file loads in plain LightGBM unchanged.

Nothing else is needed in the new process: no pickle, no boost-focal state outside the file.
For boosters trained by hand (``xgb.train(obj=FocalLoss(...))``, ``lgb.train``) use
:func:`save_booster` and :func:`load_booster`; the estimators' ``save_model``/``load_model``
store their parameters and fitted attributes in the same document (``"estimator"``).

The document (``FORMAT_VERSION`` 1)::

    {"format": "boost-focal", "format_version": 1, "boost_focal_version": "...",
     "engine": "xgboost" | "lightgbm",
     "loss": {"gamma": ..., "alpha": ..., "hessian": ...},
     "margin_offset": null | float | [K floats],   # added to the booster's raw margin
     "n_classes": K, "probability": "calibrated" | "posterior" | "raw",
     "temperature": float, "margin_shift": float | [K floats],  # calibrated: margin / T + shift
     "estimator": null | {"class": ..., "params": {...}, "attributes": {...},
                          "unsaved_params": [...]}}

Values inside ``params``/``attributes`` go through :func:`encode`/:func:`decode`, which keep
NumPy arrays (dtype and shape), tuples and dicts with non-string keys.
"""

import json
import numbers
import os

import numpy as np

from .focal import FocalLoss

FORMAT = "boost-focal"
FORMAT_VERSION = 1
XGB_ATTRIBUTE = "boost_focal"  # the booster attribute that holds the document
LGB_PREFIX = "boost_focal:"  # the LightGBM model-text line that holds it
_LGB_LAST = "pandas_categorical:"


# ---------------------------------------------------------------------------- generic values
def encode(value):
    """A JSON-ready form of ``value`` (None, bool, numbers, str, NumPy arrays/scalars, lists,
    tuples, dicts); :func:`decode` inverts it. Anything else raises TypeError."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufUO":
            raise TypeError(f"cannot store an array of dtype {value.dtype}")
        return {
            "__ndarray__": [encode(v) for v in value.ravel().tolist()],
            "dtype": "object" if value.dtype.kind == "O" else value.dtype.str,
            "shape": list(value.shape),
        }
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[encode(k), encode(v)] for k, v in value.items()]}
    raise TypeError(f"cannot store a value of type {type(value).__name__} in a model file")


def decode(obj):
    """The value :func:`encode` was given."""
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tuple__" in obj:
        return tuple(decode(v) for v in obj["__tuple__"])
    if "__dict__" in obj:
        return {_hashable(decode(k)): decode(v) for k, v in obj["__dict__"]}
    if "__ndarray__" in obj:
        items = [decode(v) for v in obj["__ndarray__"]]
        if obj["dtype"] == "object":
            out = np.empty(len(items), dtype=object)
            out[:] = items
        else:
            out = np.array(items, dtype=np.dtype(obj["dtype"]))
        return out.reshape(obj["shape"])
    raise ValueError(f"unknown stored value {obj!r}")


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def encodable(value):
    """True when :func:`encode` can store ``value``."""
    try:
        encode(value)
    except TypeError:
        return False
    return True


# ---------------------------------------------------------------------------- the document
def loss_state(loss):
    """FocalLoss -> its constructor arguments (alpha as a list or float)."""
    alpha = loss.alpha.tolist() if isinstance(loss.alpha, np.ndarray) else loss.alpha
    return {"gamma": float(loss.gamma), "alpha": alpha, "hessian": loss.hessian}


def make_document(engine, loss, n_classes, margin_offset=None, probability="posterior", estimator=None,
                  temperature=1.0, margin_shift=0.0):
    """The metadata dict written into a model file (see the module docstring)."""
    from ._version import __version__

    if engine not in ("xgboost", "lightgbm"):
        raise ValueError(f"engine must be 'xgboost' or 'lightgbm', got {engine!r}")
    if not isinstance(loss, FocalLoss):
        raise TypeError(f"loss must be a boost_focal.FocalLoss, got {type(loss).__name__}")
    if isinstance(loss.alpha, str):
        raise ValueError(
            "alpha='balanced' depends on the training labels and cannot be stored; save "
            "loss.resolve_alpha(y_train), the weights the model was trained with"
        )
    if probability not in ("calibrated", "posterior", "raw"):
        raise ValueError(f"probability must be 'calibrated', 'posterior' or 'raw', got {probability!r}")
    shift = np.asarray(margin_shift, dtype=np.float64)
    if not (np.isfinite(temperature) and temperature > 0 and np.all(np.isfinite(shift)) and shift.ndim <= 1):
        raise ValueError(f"temperature must be a positive number and margin_shift finite (a number, or one value "
                         f"per class), got {temperature!r}, {margin_shift!r}")
    offset = None if margin_offset is None else np.asarray(margin_offset, dtype=np.float64)
    if offset is not None and offset.ndim > 1:
        raise ValueError(f"margin_offset must be a number or one value per class, got shape {offset.shape}")
    n_classes = int(n_classes)
    for name, value in (("margin_shift", shift), ("margin_offset", offset)):
        problem = _per_class_problem(value, n_classes)
        if problem:
            raise ValueError(f"{name} {problem}")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "boost_focal_version": __version__,
        "engine": engine,
        "loss": loss_state(loss),
        "margin_offset": None if offset is None else (float(offset) if offset.ndim == 0 else offset.tolist()),
        "n_classes": int(n_classes),
        "probability": probability,
        # probability="calibrated": the posterior of margin / temperature + margin_shift
        "temperature": float(temperature),
        "margin_shift": float(shift) if shift.ndim == 0 else shift.tolist(),
        "estimator": estimator,
    }


def _per_class_problem(value, n_classes):
    """Why ``value`` (None, a number, or a vector) cannot be a per-class margin term of an
    ``n_classes``-class model, or None: a binary model has one margin (a number), a K-class one
    a number (the same for every class) or exactly K values."""
    if value is None or np.ndim(value) == 0:
        return None
    size = np.shape(value)[0]
    if n_classes == 2:
        return f"must be a number for a binary model (one margin), got {size} values"
    if size != n_classes:
        return f"must be a number or {n_classes} values (one per class), got {size} values"
    return None


def check_document(doc, source):
    """The document, or a ValueError saying why ``source`` holds no usable one."""
    if doc is None:
        raise ValueError(
            f"{source} holds no boost-focal metadata: it was not saved by boost-focal's save_model or "
            "save_booster (a plain booster file needs the FocalLoss and starting score it was trained with)"
        )
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{source}: the boost-focal metadata is malformed")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{source} was saved with boost-focal metadata format {version!r}, newer than this "
            f"boost-focal reads ({FORMAT_VERSION}); upgrade boost-focal"
        )
    n_classes = doc.get("n_classes")
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"{source}: the boost-focal metadata is malformed (n_classes {n_classes!r})")
    for name in ("margin_shift", "margin_offset"):
        value = doc.get(name)
        ok = value is None or isinstance(value, (int, float)) or (
            isinstance(value, list) and all(isinstance(v, (int, float)) for v in value)
        )
        problem = _per_class_problem(value, n_classes) if ok else "must be a number or a list of numbers"
        if problem:
            raise ValueError(f"{source}: the boost-focal metadata is malformed ({name} {problem})")
    return doc


def dumps(doc):
    return json.dumps(doc, separators=(",", ":"), allow_nan=True)


# ---------------------------------------------------------------------------- the files
def engine_of(booster):
    """'xgboost' or 'lightgbm' from a Booster instance."""
    module = type(booster).__module__.partition(".")[0]
    if module not in ("xgboost", "lightgbm"):
        raise TypeError(f"booster must be an xgboost.Booster or a lightgbm.Booster, got {type(booster).__name__}")
    return module


def write(booster, path, doc):
    """Save ``booster`` to ``path`` in its library's format with ``doc`` inside."""
    path = os.fspath(path)
    if engine_of(booster) == "xgboost":
        booster = booster.copy()  # the caller's booster keeps its attributes
        booster.set_attr(**{XGB_ATTRIBUTE: dumps(doc)})
        booster.save_model(path)
        return
    text = booster.model_to_string()
    head, sep, tail = text.rpartition(_LGB_LAST)
    if not sep:  # pragma: no cover - every lightgbm 4.x model string ends with that line
        head, tail = text, ""
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{head}{LGB_PREFIX}{dumps(doc)}\n{sep}{tail}")


def read(path, engine):
    """(booster, document or None) from a model file of ``engine``."""
    path = os.fspath(path)
    found = sniff_engine(path)
    if found != engine:
        raise ValueError(f"{path} is a {found} model file, not a {engine} one; load it with the {found} estimator")
    if engine == "xgboost":
        import xgboost

        booster = xgboost.Booster(model_file=path)
        raw = booster.attr(XGB_ATTRIBUTE)
        return booster, None if raw is None else json.loads(raw)
    import lightgbm

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a LightGBM text model file") from None
    doc = None
    for line in reversed(text.splitlines()[-3:]):
        if line.startswith(LGB_PREFIX):
            doc = json.loads(line[len(LGB_PREFIX):])
            break
    return lightgbm.Booster(model_str=text), doc


def sniff_engine(path):
    """'lightgbm' for a LightGBM text model, else 'xgboost' (JSON or UBJSON)."""
    with open(os.fspath(path), "rb") as f:
        start = f.read(64)
    return "lightgbm" if start.startswith(b"tree\n") or start.startswith(b"tree\r\n") else "xgboost"


# ---------------------------------------------------------------------------- raw boosters
class FocalBooster:
    """A booster loaded with :func:`load_booster`: the library's Booster plus its focal metadata.

    ``booster``: the ``xgboost.Booster`` / ``lightgbm.Booster``; ``loss``: the FocalLoss it was
    trained on; ``margin_offset``: what is added to the booster's raw margin (LightGBM's starting
    score; 0 for XGBoost boosters that store it as ``base_score``); ``probability``: "posterior"
    or "raw"; ``rounds``: the boosting rounds predictions use (an estimator's ``n_estimators_``,
    its best round when it was early-stopped; None: all the booster holds); ``metadata``: the
    whole stored document.
    """

    def __init__(self, booster, metadata):
        self.booster = booster
        self.metadata = metadata
        self.engine = metadata["engine"]
        self.loss = FocalLoss(**metadata["loss"])
        self.n_classes = int(metadata["n_classes"])
        offset = metadata["margin_offset"]
        self.margin_offset = 0.0 if offset is None else np.asarray(offset, dtype=np.float64)
        self.probability = metadata["probability"]
        self.temperature = float(metadata.get("temperature", 1.0))
        shift = metadata.get("margin_shift", 0.0)
        self.margin_shift = float(shift) if np.ndim(shift) == 0 else np.asarray(shift, dtype=np.float64)
        # an early-stopped estimator keeps the rounds after its best one in the booster
        rounds = ((metadata.get("estimator") or {}).get("attributes") or {}).get("n_estimators_")
        self.rounds = int(rounds) if rounds else None

    def __repr__(self):
        return f"FocalBooster({self.engine}, {self.loss!r}, n_classes={self.n_classes}, probability={self.probability!r})"

    def decision_function(self, X):
        """Raw margins of the first ``rounds`` rounds, starting score included: (n,) for 2 classes, else (n, K)."""
        if self.engine == "xgboost":
            import xgboost

            data = X if isinstance(X, xgboost.DMatrix) else xgboost.DMatrix(X)
            margin = self.booster.predict(data, output_margin=True, iteration_range=(0, self.rounds or 0))
        else:
            margin = self.booster.predict(X, raw_score=True, num_iteration=self.rounds)
        margin = np.asarray(margin, dtype=np.float64)
        if self.n_classes > 2:
            margin = margin.reshape(-1, self.n_classes)
        return margin + self.margin_offset

    def predict_proba(self, X):
        """Class probabilities (n, K): the posterior recovered from the focal margin (for
        ``probability="calibrated"``: of margin / temperature + margin_shift), or sigmoid/softmax of
        it (``probability="raw"``)."""
        margin = self.decision_function(X)
        if self.probability == "calibrated":
            margin = margin / self.temperature + self.margin_shift
        if self.probability in ("calibrated", "posterior"):
            p = self.loss.posterior(margin)
        else:
            from scipy import special

            p = special.expit(margin) if margin.ndim == 1 else special.softmax(margin, axis=1)
        return np.column_stack([1.0 - p, p]) if p.ndim == 1 else p


def _n_classes_of(booster, engine):
    if engine == "xgboost":
        config = json.loads(booster.save_config())
        return max(2, int(config["learner"]["learner_model_param"]["num_class"]))
    return max(2, int(booster.num_model_per_iteration()))


def save_booster(booster, path, loss, init_score=None, probability="posterior", temperature=1.0, margin_shift=0.0):
    """Save a booster trained on ``loss`` so that :func:`load_booster` predicts probabilities.

    ``booster``: from ``xgb.train(..., obj=loss)`` or ``lgb.train({"objective": loss}, ...)``;
    ``path``: XGBoost picks JSON or UBJSON from the extension (``.json`` / ``.ubj``), LightGBM
    writes its text format. ``init_score``: the starting margin the training data had but the
    booster does NOT include, i.e. the LightGBM ``init_score`` constant
    (``loss.init_score(y_train)`` when you used :func:`boost_focal.lgb_init_score`); leave it
    None for XGBoost trained with ``base_score=xgb_base_score(loss, y)``, which stores it.
    alpha="balanced" must be resolved first (``loss.resolve_alpha(y_train)``).
    """
    engine = engine_of(booster)
    if init_score is not None:
        offset = np.asarray(init_score, dtype=np.float64)
        if not np.all(np.isfinite(offset)):
            raise ValueError(f"init_score must be finite, got {init_score!r}")
    doc = make_document(engine, loss, _n_classes_of(booster, engine), init_score, probability,
                        temperature=temperature, margin_shift=margin_shift)
    write(booster, path, doc)


def load_booster(path):
    """A :class:`FocalBooster` from a file written by :func:`save_booster` or an estimator's
    ``save_model`` (for the latter, prefer the estimator's ``load_model``)."""
    engine = sniff_engine(path)
    booster, doc = read(path, engine)
    return FocalBooster(booster, check_document(doc, os.fspath(path)))



__all__ = ["FocalBooster", "FORMAT_VERSION", "decode", "encode", "load_booster", "save_booster"]
