"""What ``boost-focal compare`` makes of a user's table: engine-ready features and class labels.

:func:`prepare_features` turns a DataFrame into one that XGBoost and LightGBM both split natively:
numeric and boolean columns as float64 (NaN = missing), text and categorical columns as pandas
categoricals (both engines' native categorical splits), datetime columns as numbers. Every
choice it makes is reported in :class:`Features` so the CLI can say it in one line each:

* text / pandas categorical / ``categorical=`` columns -> native categorical features;
* text columns whose values are all numbers, apart from at most two placeholder tokens such as
  ``"?"`` or ``"-"`` (or numbers written with a decimal comma) -> numbers, the tokens missing;
* datetime columns (datetime64 dtypes, or text in ISO 8601 form ``2024-05-31[ 12:00[:00]]``)
  -> days since 1970-01-01 as a float, so trees can split on time; timedeltas -> days;
* text columns with a distinct value in every row (identifiers) and all-missing columns -> left
  out (``categorical=`` keeps an identifier-like column);
* anything else (periods, intervals, complex numbers, infinities) -> a :class:`DataError`.

:func:`prepare_target` checks the label column and codes it 0..K-1: binary, multiclass, or one
class against the rest (``positive=``), with one-line errors for targets that cannot be
compared (no rows, missing labels, a single class, values that look continuous, too many
classes, a class with a single row).
"""

import math
import re
from dataclasses import dataclass, field

import numpy as np

from .datasets import DataError

#: more classes than this is not a classification target compare can fit in reasonable time
MAX_CLASSES = 50
#: a numeric target with more distinct values than this, and fractional values, looks continuous
CONTINUOUS_FRACTIONAL = 10
#: a whole-number target with more distinct values than this looks like a count or an identifier
CONTINUOUS_INTEGER = MAX_CLASSES
#: at most this many distinct non-numeric tokens in an otherwise numeric text column become missing
MAX_PLACEHOLDERS = 2

_ISO_DATE = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+(,\d+)?$")


def label_text(value):
    """A class label as a user wrote it: 'bad', 3, 1.5 (no NumPy repr such as np.str_('0'))."""
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, str):
        return repr(str(value))
    return str(value)


# ---------------------------------------------------------------------------------------- features
@dataclass
class Features:
    """Engine-ready features and what was done to each column.

    ``frame`` has safe column names (``c0``, ``c1``, ...: XGBoost and LightGBM reject some
    characters in feature names); ``names`` are the user's names in the same order.
    """

    frame: object
    names: list
    categorical: list = field(default_factory=list)
    datetime: list = field(default_factory=list)
    numeric_text: dict = field(default_factory=dict)  # column -> tokens read as missing, or "decimal comma"
    dropped: dict = field(default_factory=dict)  # column -> reason

    def notes(self):
        """One line per kind of choice made, for the CLI (empty when nothing needed saying)."""
        lines = []
        if self.categorical:
            lines.append(f"categorical (split natively by both engines): {_names(self.categorical)}")
        if self.datetime:
            lines.append(f"dates used as numbers (days since 1970-01-01): {_names(self.datetime)}")
        for name, tokens in self.numeric_text.items():
            if tokens == "decimal comma":
                what = " (decimal commas)"
            else:
                what = f", {', '.join(map(repr, tokens))} as missing" if tokens else ""
            lines.append(f"text column {name!r} read as numbers{what}")
        for name, reason in self.dropped.items():
            lines.append(f"left out {name!r}: {reason}")
        return lines


def _names(names, limit=8):
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def prepare_features(X, categorical=()):
    """:class:`Features` of a DataFrame (see the module docstring for the rules)."""
    import pandas as pd

    if not isinstance(X, pd.DataFrame):
        raise DataError("prepare_features needs a pandas DataFrame")
    unknown = [c for c in categorical if c not in X.columns]
    if unknown:
        raise DataError(f"--categorical names unknown column(s): {', '.join(map(repr, unknown))}")
    if X.columns.duplicated().any():
        dup = X.columns[X.columns.duplicated()][0]
        raise DataError(f"the column name {str(dup)!r} appears twice; rename one of them")
    result = Features(frame=None, names=[])
    columns = {}
    for name, col in X.items():
        name = str(name)
        converted = _column(name, col, name in set(map(str, categorical)), result, pd)
        if converted is not None:
            result.names.append(name)
            columns[f"c{len(columns)}"] = converted
    if not columns:
        raise DataError("no usable feature columns left (see the notes above); check --drop and the table")
    result.frame = pd.DataFrame(columns, index=pd.RangeIndex(len(X)))
    return result


def _column(name, col, forced, result, pd):
    """One column converted (float64 or categorical Series), or None when it is left out."""
    dtype = col.dtype
    if forced:
        result.categorical.append(name)
        return _as_category(col, pd)
    if isinstance(dtype, pd.CategoricalDtype):
        result.categorical.append(name)
        return _as_category(col, pd)
    if pd.api.types.is_bool_dtype(dtype):
        return pd.Series(col.to_numpy(dtype=np.float64, na_value=np.nan))
    if pd.api.types.is_datetime64_any_dtype(dtype):
        result.datetime.append(name)
        return _days(col, pd)
    if pd.api.types.is_timedelta64_dtype(dtype):
        result.datetime.append(name)
        return pd.Series(col.to_numpy() / np.timedelta64(1, "D"), dtype=np.float64)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(values).any():
            raise DataError(
                f"feature column {name!r} contains infinite values; replace them (e.g. by an empty cell) or --drop {name}"
            )
        return pd.Series(values)
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        return _text_column(name, col, result, pd)
    raise DataError(
        f"feature column {name!r} has dtype {dtype}, which compare cannot use; "
        f"convert it to numbers or text, or leave it out with --drop {name}"
    )


def _as_category(col, pd):
    """A categorical Series with text categories (missing stays missing)."""
    values = col.to_numpy(dtype=object)
    missing = np.asarray(pd.isna(values), dtype=bool)
    text = values.astype(str).astype(object)
    text[missing] = None
    return pd.Series(pd.Categorical(text))


def _days(col, pd):
    values = pd.to_datetime(col)
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    epoch = pd.Timestamp("1970-01-01")
    return pd.Series(((values - epoch) / pd.Timedelta(days=1)).to_numpy(dtype=np.float64, na_value=np.nan))


def _text_column(name, col, result, pd):
    present = col.dropna()
    if present.empty:
        result.dropped[name] = "only missing values"
        return None
    text = present.astype(str).str.strip()
    distinct = text.unique()
    if all(_ISO_DATE.match(v) for v in distinct):
        parsed = pd.to_datetime(col.astype(object).where(col.notna(), None), errors="coerce", format="ISO8601")
        if parsed.notna().sum() == len(present):
            result.datetime.append(name)
            return _days(parsed, pd)
    number = pd.to_numeric(pd.Series(text), errors="coerce")
    bad = pd.Series(text)[number.isna().to_numpy()].unique()
    if len(bad) == 0 or (len(bad) <= MAX_PLACEHOLDERS and number.notna().mean() >= 0.9 and
                         all(len(token) <= 3 or not any(ch.isdigit() for ch in token) for token in bad)):
        result.numeric_text[name] = sorted(map(str, bad))
        return _numbers(col, set(bad), pd)
    if all(_DECIMAL_COMMA.match(v) for v in distinct) and any("," in v for v in distinct):
        result.numeric_text[name] = "decimal comma"
        values = col.astype(object).where(col.notna(), None)
        return pd.Series([math.nan if v is None else float(str(v).strip().replace(",", ".")) for v in values],
                         dtype=np.float64)
    if len(distinct) == len(present) and len(present) > 50:
        result.dropped[name] = (f"text with a different value in each of its {len(present)} rows (an identifier?); "
                                f"--categorical {name} keeps it")
        return None
    result.categorical.append(name)
    return _as_category(col, pd)


def _numbers(col, tokens, pd):
    values = col.astype(object).where(col.notna(), None)
    out = [math.nan if v is None or str(v).strip() in tokens else float(str(v).strip()) for v in values]
    arr = np.asarray(out, dtype=np.float64)
    if np.isinf(arr).any():
        raise DataError(f"feature column {col.name!r} contains infinite values; replace them or --drop it")
    return pd.Series(arr)


# ---------------------------------------------------------------------------------------- target
@dataclass
class Target:
    """Class labels coded 0..K-1.

    ``classes`` are the user's labels in code order; for one class against the rest of a
    multiclass target (``positive=``) they are ``["rest", positive]``. ``positive`` is the class coded 1 in a binary comparison (None for
    multiclass).
    """

    codes: np.ndarray
    classes: list
    counts: list
    positive: object = None
    one_vs_rest: bool = False

    @property
    def n_classes(self):
        return len(self.classes)

    @property
    def binary(self):
        return self.n_classes == 2

    def describe(self):
        """'positive class 'bad': 517 rows (5.25%)' or '4 classes: 'VF' 2211, ... (smallest 5.98%)'."""
        n = len(self.codes)
        if self.binary:
            k = self.counts[1]
            rest = " (one vs rest)" if self.one_vs_rest else ""
            return f"positive class {label_text(self.positive)}{rest}: {k} rows ({k / n:.2%})"
        parts = ", ".join(f"{label_text(c)} {k}" for c, k in zip(self.classes, self.counts))
        if len(parts) > 60:
            parts = parts[:57].rsplit(",", 1)[0] + ", ..."
        return f"{self.n_classes} classes ({parts}; smallest {min(self.counts) / n:.2%})"

    def rarest(self, k=3):
        """Codes of the k rarest classes, rarest first."""
        order = sorted(range(self.n_classes), key=lambda c: (self.counts[c], c))
        return order[:k]


def _missing(values):
    try:
        import pandas as pd

        return np.asarray(pd.isna(values), dtype=bool)
    except ImportError:  # pragma: no cover
        return np.array([v is None or (isinstance(v, float) and math.isnan(v)) for v in values], dtype=bool)


def _check_not_continuous(y, name):
    """A numeric target with many distinct values is a regression target, not classes."""
    import pandas as pd

    if not (pd.api.types.is_numeric_dtype(y.dtype) and not pd.api.types.is_bool_dtype(y.dtype)):
        return
    values = y.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[np.isfinite(values)]
    distinct = np.unique(values)
    fractional = bool(np.any(distinct != np.round(distinct)))
    if (fractional and distinct.size > CONTINUOUS_FRACTIONAL) or distinct.size > CONTINUOUS_INTEGER:
        examples = ", ".join(f"{v:g}" for v in distinct[np.linspace(0, distinct.size - 1, 3).astype(int)])
        raise DataError(
            f"the target {name!r} looks continuous ({distinct.size} distinct numeric values, e.g. {examples}); "
            "compare needs class labels: choose a label column with --target, or bin this one into classes"
        )


def prepare_target(y, positive=None, name="target"):
    """:class:`Target` of a label Series (see the module docstring for the checks)."""
    import pandas as pd

    y = pd.Series(y) if not isinstance(y, pd.Series) else y
    if len(y) == 0:
        raise DataError("the data has no rows")
    missing = _missing(y)
    if missing.any():
        raise DataError(f"the target {name!r} has {int(missing.sum())} missing value(s); drop those rows first")
    _check_not_continuous(y, name)
    if isinstance(y.dtype, pd.CategoricalDtype):
        present = set(y.astype(str))
        order = [str(c) for c in y.cat.categories if str(c) in present]
        originals = {str(c): c for c in y.cat.categories}
    else:
        values = y.to_numpy(dtype=object)
        keys = np.array([str(v) for v in values])
        order = sorted(set(keys.tolist()), key=_sort_key(y))
        originals = {}
        for k, v in zip(keys, values):
            originals.setdefault(k, v.item() if hasattr(v, "item") else v)
    keys = y.astype(str).to_numpy()
    counts = {k: int(c) for k, c in zip(*np.unique(keys, return_counts=True))}
    if positive is not None:
        key = str(positive)
        if key not in counts:
            shown = ", ".join(label_text(originals[k]) for k in order[:20])
            raise DataError(f"--positive {positive!r} is not a class of the target; classes are: {shown}")
        if len(order) < 2:
            raise _single_class(originals[order[0]], len(y))
        codes = (keys == key).astype(np.int64)
        rest = "rest" if len(order) > 2 else originals[next(k for k in order if k != key)]
        return Target(codes, [rest, originals[key]], [len(y) - counts[key], counts[key]], originals[key],
                      one_vs_rest=len(order) > 2)
    if len(order) < 2:
        raise _single_class(originals[order[0]], len(y))
    if len(order) > MAX_CLASSES:
        raise DataError(
            f"the target {name!r} has {len(order)} classes, more than compare handles ({MAX_CLASSES}); "
            "is it an identifier? choose another --target, or compare one class against the rest with --positive"
        )
    if len(order) == 2:
        if set(order) in ({"0", "1"}, {"False", "True"}, {"0.0", "1.0"}):
            pos = order[1] if order[1] in ("1", "True", "1.0") else order[0]
        else:
            a, b = order
            pos = b if counts[a] == counts[b] else min(order, key=lambda k: counts[k])
        neg = order[0] if order[1] == pos else order[1]
        codes = (keys == pos).astype(np.int64)
        return Target(codes, [originals[neg], originals[pos]], [counts[neg], counts[pos]], originals[pos])
    single = [k for k in order if counts[k] < 2]
    if single:
        raise DataError(
            f"class {label_text(originals[single[0]])} of the target has a single row; cross-validation needs at "
            "least 2 rows per class: drop or relabel that row, or compare one class against the rest with --positive"
        )
    index = {k: i for i, k in enumerate(order)}
    codes = np.array([index[k] for k in keys], dtype=np.int64)
    return Target(codes, [originals[k] for k in order], [counts[k] for k in order])


def _sort_key(y):
    import pandas as pd

    if pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype):
        return lambda k: (0, float(k)) if _is_float(k) else (1, k)
    return lambda k: (0, k)


def _is_float(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _single_class(label, n):
    return DataError(
        f"the target has a single class ({label_text(label)} in all {n} rows); compare needs at least two classes"
    )


__all__ = ["Features", "Target", "label_text", "prepare_features", "prepare_target"]
