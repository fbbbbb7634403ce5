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
        raise DataError("reading tables needs pandas: pip install pandas pyarrow (or install boost-focal "
                        "with its [cli] extra: pip install '.[cli]' in its checkout)") from exc
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


SEPARATORS = (",", ";", "\t", "|")
_SEP_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}


def sniff_separator(header):
    """The separator of a CSV header line: the most frequent of , ; tab | (',' when none occurs)."""
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _header_line(path):
    import bz2
    import gzip
    import lzma

    suffix = path.suffix.lower()
    if suffix in (".zip", ".zst"):
        return ""  # no header sniffing for these: ',' unless --sep says otherwise
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(suffix, open)
    try:
        with opener(path, "rt", errors="replace") as fh:
            return fh.readline()
    except (OSError, EOFError, lzma.LZMAError):
        return ""


def read_table(path, sep=None):
    """Read a CSV (optionally compressed) or Parquet file into a DataFrame, by its file suffix.

    ``sep=None`` detects a CSV's separator from its header line (``,`` ``;`` tab or ``|``; a .tsv
    file is tab-separated); the separator used is in ``frame.attrs["separator"]``. A file with
    a header but no rows, or one read as a single column whose name contains another separator
    (the wrong ``sep``), is a :class:`DataError`.
    """
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
            frame = pd.read_parquet(path)
        except ImportError as exc:
            raise DataError(
                f"reading {path.name} needs pyarrow (pip install pyarrow), or convert it to CSV"
            ) from exc
        except Exception as exc:  # noqa: BLE001 - any reader failure is a one-line input error
            raise DataError(f"could not read {path} as Parquet: {_first_line(exc)}") from exc
        if len(frame) == 0:
            raise DataError(f"{path} has columns but no rows")
        return frame
    header = _header_line(path)
    detected = sep is None
    if sep is None:
        sep = "\t" if kind == "tsv" else sniff_separator(header)
    try:
        frame = pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path} is empty") from exc
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"could not read {path} as CSV: {_first_line(exc)}"
                        + ("" if detected else f" (with --sep {_SEP_NAMES.get(sep, repr(sep))})")) from exc
    if frame.shape[1] == 1:
        others = [s for s in SEPARATORS if s != sep and s in str(frame.columns[0])]
        if others:
            raise DataError(
                f"{path} was read as a single column named {_short(frame.columns[0])}: it looks separated by "
                f"{_SEP_NAMES[others[0]]}, not {_SEP_NAMES.get(sep, repr(sep))}; use --sep "
                + ("tab" if others[0] == "\t" else repr(others[0]))
            )
    if len(frame) == 0:
        raise DataError(f"{path} has a header line ({_short(header.strip())}) but no data rows")
    frame.attrs["separator"] = sep
    frame.attrs["separator_detected"] = detected and kind != "tsv"
    return frame


def separator_name(sep):
    """',' -> "','", tab -> 'tab'."""
    return _SEP_NAMES.get(sep, repr(sep))


def _short(text, limit=40):
    text = str(text)
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def split_target(frame, target, drop=()):
    """(X, y): the column ``target`` as y, every other column except ``drop`` as X."""
    columns = [str(c) for c in frame.columns]
    if target not in frame.columns:
        import difflib

        close = [c for c in columns if c.strip().lower() == target.strip().lower()]
        close = close or difflib.get_close_matches(target, columns, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise DataError(f"target column {target!r} not found; {hint}columns are: {_preview(columns)}")
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
    "separator_name",
    "sniff_separator",
    "split_target",
]
