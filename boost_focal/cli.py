"""The ``boost-focal`` command line (also ``python -m boost_focal``).

``boost-focal compare [DATA --target COLUMN]`` cross-validates logloss, weighted logloss and focal
loss for XGBoost and LightGBM and prints a table and a recommendation; the work is done by
:mod:`boost_focal.compare`. Input problems exit with status 2 and one line on stderr.
"""

import argparse
import csv
import json
import math
import sys
from pathlib import Path

from ._version import __version__

DEFAULT_DATA = "lending_club"


# ---------------------------------------------------------------------------------------- parsing
def _float_list(text):
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(not math.isfinite(v) or v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"gammas must be finite numbers >= 0, got {text!r}")
    return values


def _alpha_list(text):
    out = []
    for item in (v.strip().lower() for v in text.split(",") if v.strip()):
        if item in ("none", "null"):
            out.append(None)
        elif item == "balanced":
            out.append("balanced")
        else:
            try:
                a = float(item)
            except ValueError:
                raise argparse.ArgumentTypeError(f"alpha must be none, balanced or a number in [0, 1], got {item!r}") from None
            if not 0.0 < a < 1.0:
                raise argparse.ArgumentTypeError(f"a numeric alpha must lie strictly between 0 and 1, got {item!r}")
            out.append(a)
    if not out:
        raise argparse.ArgumentTypeError("give at least one alpha")
    return out


def _hessian_list(text):
    modes = [v.strip().lower() for v in text.split(",") if v.strip()]
    bad = [m for m in modes if m not in ("bohning", "exact", "abs", "clip")]
    if bad or not modes:
        raise argparse.ArgumentTypeError(f"Hessian modes are bohning, exact, abs, clip; got {text!r}")
    return modes


def _name_list(text):
    return [v.strip() for v in text.split(",") if v.strip()]


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {v}")
    return v


def build_parser():
    parser = argparse.ArgumentParser(
        prog="boost-focal",
        description="Focal loss for XGBoost and LightGBM. Run 'boost-focal compare' to see whether it helps on your data.",
    )
    parser.add_argument("--version", action="version", version=f"boost-focal {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    cmp = sub.add_parser(
        "compare",
        help="cross-validate logloss, weighted logloss and focal loss on a dataset",
        description=(
            "Stratified k-fold comparison of logloss, class-weighted logloss and focal loss over a small "
            "gamma/alpha grid, for XGBoost and LightGBM. Without DATA it runs on the bundled Lending Club "
            "loans (modeldata, MIT licence; 9,857 rows, 5.3%% bad loans)."
        ),
    )
    cmp.add_argument("data", nargs="?", help="CSV (.csv, .csv.gz, .tsv) or Parquet file; default: the bundled data")
    cmp.add_argument("--target", help="label column (required with DATA; the bundled data uses 'target')")
    cmp.add_argument("--positive", help="the positive class label (default: 1 for 0/1 labels, else the rarer class); "
                     "with more than two classes, compares this class against the rest")
    cmp.add_argument("--drop", type=_name_list, default=[], metavar="COLS", help="comma-separated columns to leave out")
    cmp.add_argument("--categorical", type=_name_list, default=[], metavar="COLS",
                     help="comma-separated text columns to encode as categories (pandas categoricals are always encoded)")
    cmp.add_argument("--engines", type=_name_list, default=None, metavar="LIST",
                     help="xgboost,lightgbm (default: whichever are installed)")
    cmp.add_argument("--gammas", type=_float_list, default=None, metavar="LIST", help="focal gammas (default 0.5,1,2; quick 1,2)")
    cmp.add_argument("--alphas", type=_alpha_list, default=None, metavar="LIST",
                     help="focal alphas: none, balanced or numbers in (0, 1) (default none,0.25,0.75; quick none,0.25)")
    cmp.add_argument("--hessians", type=_hessian_list, default=None, metavar="LIST",
                     help="focal Hessian modes to try: bohning, exact, abs, clip (default: the estimators' default)")
    cmp.add_argument("--folds", type=_positive_int, default=None, help="CV folds (default 5; quick 3)")
    cmp.add_argument("--n-estimators", type=_positive_int, default=None,
                     help="most boosting rounds with early stopping (default 1000; quick 300), else the rounds (200; quick 100)")
    cmp.add_argument("--early-stopping", type=int, default=30, metavar="ROUNDS",
                     help="stop each fit when its own loss on a held-out 20%% of its training rows has not improved for "
                          "ROUNDS rounds (default 30; 0 = train a fixed number of rounds)")
    cmp.add_argument("--learning-rate", type=float, default=0.1, help="learning rate (default 0.1)")
    cmp.add_argument("--max-depth", type=_positive_int, default=4, help="tree depth (default 4)")
    cmp.add_argument("--n-jobs", type=_positive_int, default=1,
                     help="threads per fit, for the engines and the focal kernels (default 1: fastest for small data; "
                          "raise it for large data)")
    cmp.add_argument("--seed", type=int, default=0, help="seed for the folds and the models (default 0)")
    cmp.add_argument("--metric", choices=["pr_auc", "roc_auc", "logloss", "brier", "best_f1"], default="pr_auc",
                     help="metric the recommendation ranks by (default pr_auc)")
    cmp.add_argument("--quick", action="store_true", help="3 folds, gammas 1,2 x alphas none,0.25, at most 300 rounds")
    cmp.add_argument("--output", type=Path, metavar="DIR", help="write results.csv, summary.csv, summary.json and plots here")
    cmp.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    from .datasets import DataError

    try:
        return run_compare(args)
    except DataError as exc:
        print(f"boost-focal: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("boost-focal: interrupted", file=sys.stderr)
        return 130


# ---------------------------------------------------------------------------------------- compare
def load_input(args):
    """(X frame, y series, a one-line description of the data)."""
    from .datasets import DataError, load_bundled, read_table, split_target

    if args.data is None:
        frame = load_bundled(DEFAULT_DATA)
        target = args.target or "target"
        label = "bundled Lending Club loans 2016Q1 (R package modeldata, MIT licence)"
    else:
        if not args.target:
            frame = read_table(args.data)  # report a missing file before a missing option
            raise DataError(f"--target is required with a data file: name the label column of {args.data}")
        frame = read_table(args.data)
        target = args.target
        label = str(args.data)
    X, y = split_target(frame, target, args.drop)
    return X, y, label


def run_compare(args, out=None):
    from . import compare as C
    from .datasets import DataError

    out = out or sys.stdout
    quick = args.quick
    folds = args.folds or (3 if quick else 5)
    gammas = args.gammas or list(C.QUICK_GAMMAS if quick else C.DEFAULT_GAMMAS)
    alphas = args.alphas or list(C.QUICK_ALPHAS if quick else C.DEFAULT_ALPHAS)
    installed = C.available_engines()
    engines = args.engines or installed
    unknown = [e for e in engines if e not in C.ENGINES]
    if unknown:
        raise DataError(f"unknown engine {unknown[0]!r}; choose from {', '.join(C.ENGINES)}")
    missing = [e for e in engines if e not in installed]
    if missing:
        raise DataError(f"engine {missing[0]} is not installed: pip install 'boost-focal[{missing[0]}]'")
    if not engines:
        raise DataError("neither xgboost nor lightgbm is installed: pip install 'boost-focal[cli]'")
    if args.early_stopping < 0:
        raise DataError(f"--early-stopping must be 0 (off) or a number of rounds, got {args.early_stopping}")
    if not (args.learning_rate > 0 and math.isfinite(args.learning_rate)):
        raise DataError(f"--learning-rate must be a positive number, got {args.learning_rate}")

    X, y, label = load_input(args)
    matrix, names, coded = C.encode_features(X, args.categorical)
    y01, positive, counts = C.encode_target(y, args.positive)
    stopping = args.early_stopping or None
    rounds = args.n_estimators or ((300 if quick else 1000) if stopping else (100 if quick else 200))
    settings = C.Settings(n_estimators=rounds, learning_rate=args.learning_rate, max_depth=args.max_depth,
                          n_jobs=args.n_jobs, random_state=args.seed, early_stopping=stopping)
    configs = C.make_grid(engines, gammas, alphas, hessians=args.hessians or (None,))
    C.folds_for(y01, folds, args.seed, min_train=2 if stopping else 1)  # fail on tiny classes before any fitting

    n_pos = int(y01.sum())
    print(f"Data: {label}", file=out)
    print(f"  {len(y01)} rows, {len(names)} features"
          + (f" ({len(coded)} categorical, coded as integers)" if coded else "")
          + f"; positive class {positive!r}: {n_pos} rows ({n_pos / len(y01):.2%})", file=out)
    schedule = (f"early stopping after {stopping} rounds without gain on a held-out 20% of each training fold, "
                f"at most {rounds} rounds" if stopping else f"{rounds} rounds, no early stopping")
    print(f"Models: {len(configs)} configurations x {folds} folds = {len(configs) * folds} fits "
          f"({schedule}; depth {settings.max_depth}, learning rate {settings.learning_rate:g}); "
          f"baselines are the engines' built-in objectives", file=out)
    out.flush()

    with _progress(len(configs) * folds, disable=args.no_progress) as tick:
        result = C.cross_validate(matrix, y01, configs, settings, n_splits=folds, seed=args.seed, progress=tick)
    summary = C.summarize(result)
    advice = C.recommend(result, args.metric)
    print("", file=out)
    print(f"Mean over {folds} folds (± = sd over folds); log loss and Brier of focal rows use the recovered posterior,", file=out)
    print("'raw log loss' is the uncorrected sigmoid of the focal margin; best F1 is at the best threshold per fold.", file=out)
    print(C.format_table(summary, args.metric), file=out)
    print("", file=out)
    print("Recommendation:", file=out)
    for line in advice["lines"]:
        print(f"  {line}", file=out)
    if args.output is not None:
        written = write_outputs(args.output, result, summary, advice,
                                {"data": label, "rows": len(y01), "features": names, "categorical_coded": coded,
                                 "positive_class": str(positive), "positives": n_pos,
                                 "class_counts": {str(k): v for k, v in counts.items()}}, out)
        print(f"Wrote {', '.join(written)} to {args.output}", file=out)
    return 0


class _progress:
    """A tqdm bar on stderr when tqdm is installed and not disabled; the context value is ``update``."""

    def __init__(self, total, disable=False):
        self.bar = None
        if not disable:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, desc="compare", unit="fit", file=sys.stderr, leave=False)

    def __enter__(self):
        return (lambda: self.bar.update(1)) if self.bar is not None else None

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        return False


def _clean(value):
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_csv(path, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})


def write_outputs(folder, result, summary, advice, data_info, out):
    """results.csv (per fold), summary.csv, summary.json and, with matplotlib, two PNG figures."""
    from . import compare as C
    from ._plots import have_matplotlib, plot_focal_loss, plot_pr_curves
    from .datasets import DataError

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the output folder {folder}: {exc.strerror}") from exc
    _write_csv(folder / "results.csv", result.rows)
    _write_csv(folder / "summary.csv", summary)
    payload = {"boost_focal_version": __version__, "data": data_info, "settings": C.settings_dict(result),
               "configs": [c.name for c in result.configs], "summary": summary, "recommendation": advice}
    (folder / "summary.json").write_text(json.dumps(_clean(payload), indent=2) + "\n")
    written = ["results.csv", "summary.csv", "summary.json"]
    if have_matplotlib():
        plot_pr_curves(result, summary, folder / "pr_curves.png", advice["metric"] if advice["metric"] in ("pr_auc", "roc_auc", "best_f1") else "pr_auc")
        plot_focal_loss(folder / "focal_loss.png")
        written += ["pr_curves.png", "focal_loss.png"]
    else:
        print("matplotlib is not installed: skipping plots (pip install matplotlib)", file=out)
    return written


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
