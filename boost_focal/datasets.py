"""Tables in, (X, y) out: the bundled dataset and the user's CSV or Parquet files.

Only reading a Parquet file needs pyarrow (or fastparquet); the bundled data is a gzip-compressed
CSV read with pandas. Problems with the user's input raise :class:`DataError`, a ``ValueError``
whose message is one line naming the problem and the fix (the CLI prints it without a traceback).
"""

from importlib import resources
from pathlib import Path


class DataError(ValueError):
    """Unusable input data: the message is one line that names the problem and the fix."""


#: Categorical columns of the bundled Lending Club table (stored as strings in the CSV).
LENDING_CLUB_CATEGORICAL = ("term", "sub_grade", "addr_state", "verification_status", "emp_length")
BUNDLED = {"lending_club": ("lending_club.csv.gz", LENDING_CLUB_CATEGORICAL)}
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zip", ".xz", ".zst")
PARQUET_SUFFIXES = (".parquet", ".pq")


def _pandas():
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is in the cli extra
        raise DataError("reading tables needs pandas: pip install 'boost-focal[cli]'") from exc
    return pd


def bundled_path(name="lending_club"):
    """Path of a dataset shipped inside the package (``boost_focal/data``)."""
    if name not in BUNDLED:
        raise DataError(f"unknown bundled dataset {name!r}; available: {', '.join(sorted(BUNDLED))}")
    return resources.files("boost_focal").joinpath("data", BUNDLED[name][0])


def load_bundled(name="lending_club"):
    """The bundled table as a pandas DataFrame (features plus the label column ``target``).

    Categorical columns come back as pandas categoricals with sorted categories.
    Source and licence: ``boost_focal/data/README.md``.
    """
    pd = _pandas()
    categorical = BUNDLED[name][1] if name in BUNDLED else ()
    with resources.as_file(bundled_path(name)) as path:
        frame = pd.read_csv(path, dtype={c: "category" for c in categorical})
    for c in categorical:
        frame[c] = frame[c].cat.reorder_categories(sorted(frame[c].cat.categories))
    return frame


def load_lending_club():
    """(X, y) of the bundled Lending Club loans: 9,857 rows, 22 features, y = 1 for a bad loan (5.25%).

    Data: R package modeldata (MIT), Lending Club 2016 Q1; see ``boost_focal/data/README.md``.
    """
    frame = load_bundled("lending_club")
    y = frame.pop("target")
    return frame, y


def _kind(path):
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in PARQUET_SUFFIXES:
        return "parquet"
    if last in CSV_SUFFIXES:
        return "tsv" if last == ".tsv" else "csv"
    return None


def read_table(path):
    """Read a CSV (optionally compressed) or Parquet file into a DataFrame, by its file suffix."""
    pd = _pandas()
    path = Path(path)
    if not path.exists():
        raise DataError(f"file not found: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder; give a .csv or .parquet file")
    kind = _kind(path)
    if kind is None:
        raise DataError(f"cannot tell the format of {path.name}: name it .csv, .csv.gz, .tsv or .parquet")
    if kind == "parquet":
        try:
            return pd.read_parquet(path)
        except ImportError as exc:
            raise DataError(
                f"reading {path.name} needs pyarrow (pip install pyarrow), or convert it to CSV"
            ) from exc
        except Exception as exc:  # noqa: BLE001 - any reader failure is a one-line input error
            raise DataError(f"could not read {path} as Parquet: {_first_line(exc)}") from exc
    try:
        return pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path} is empty") from exc
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"could not read {path} as CSV: {_first_line(exc)}") from exc


def split_target(frame, target, drop=()):
    """(X, y): the column ``target`` as y, every other column except ``drop`` as X."""
    columns = [str(c) for c in frame.columns]
    if target not in frame.columns:
        raise DataError(f"target column {target!r} not found; columns are: {_preview(columns)}")
    unknown = [c for c in drop if c not in frame.columns]
    if unknown:
        raise DataError(f"cannot drop {', '.join(map(repr, unknown))}: no such column; columns are: {_preview(columns)}")
    if target in drop:
        raise DataError(f"--drop names the target column {target!r}; remove it from --drop")
    X = frame.drop(columns=[target, *drop])
    if X.shape[1] == 0:
        raise DataError("no feature columns left besides the target")
    return X, frame[target]


def _preview(columns, limit=12):
    shown = ", ".join(columns[:limit])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > limit else "")


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


__all__ = [
    "DataError",
    "bundled_path",
    "load_bundled",
    "load_lending_club",
    "read_table",
    "split_target",
]
