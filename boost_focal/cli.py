"""The ``boost-focal`` command line (also ``python -m boost_focal``).

``boost-focal compare [DATA --target COLUMN]`` cross-validates logloss, weighted logloss and focal
loss for XGBoost and LightGBM, on a binary or multiclass target, and prints tables and one
recommendation per engine; the work is done by :mod:`boost_focal.compare`. Every argument, the
``--output`` folder and the data are checked before the first fit: input problems exit with
status 2 and one line on stderr. Ctrl-C during the fits keeps the folds that finished: their
results are printed and written (marked partial), and the exit status is 130.
"""

import argparse
import csv
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

from ._version import __version__

DEFAULT_DATA = "lending_club"
METRIC_CHOICES = ("pr_auc", "roc_auc", "logloss", "brier", "ece", "best_f1", "balanced_accuracy")


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


def _separator(text):
    names = {"auto": None, "tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    if text.lower() in names:
        return names[text.lower()]
    if len(text) != 1:
        raise argparse.ArgumentTypeError(f"expected one character, tab or auto, got {text!r}")
    return text


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {v}")
    return v


def _seed(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= v < 2**32:
        raise argparse.ArgumentTypeError(f"a seed must be between 0 and 2**32 - 1, got {v}")
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
            "gamma/alpha grid, for XGBoost and LightGBM, on a binary or multiclass target. Text and "
            "categorical columns are used as native categorical features. Without DATA it runs on the "
            "bundled Lending Club loans (modeldata, MIT licence; 9,857 rows, 5.3% bad loans)."
        ),
    )
    cmp.add_argument("data", nargs="?", help="CSV (.csv, .csv.gz, .tsv) or Parquet file; default: the bundled data")
    cmp.add_argument("--target", help="label column (required with DATA; the bundled data uses 'target')")
    cmp.add_argument("--positive", help="binary targets: the positive class (default: 1 for 0/1 labels, else the "
                     "rarer class); with more than two classes, compare this class against the rest instead of "
                     "all classes (the default)")
    cmp.add_argument("--sep", type=_separator, default=None, metavar="CHAR",
                     help="CSV separator: auto (default: detected from the header line), ',', ';', tab or '|'")
    cmp.add_argument("--drop", type=_name_list, default=[], metavar="COLS", help="comma-separated columns to leave out")
    cmp.add_argument("--categorical", type=_name_list, default=[], metavar="COLS",
                     help="comma-separated columns to use as categorical features even if numeric or identifier-like "
                          "(text and pandas categorical columns are categorical by default)")
    cmp.add_argument("--engines", type=_name_list, default=None, metavar="LIST",
                     help="xgboost,lightgbm (default: whichever are installed)")
    cmp.add_argument("--gammas", type=_float_list, default=None, metavar="LIST", help="focal gammas (default 0.5,1,2; quick 1,2)")
    cmp.add_argument("--alphas", type=_alpha_list, default=None, metavar="LIST",
                     help="focal alphas: none, balanced or (binary only) numbers in (0, 1) (default binary none,0.25,0.75, "
                          "quick none,0.25; multiclass none,balanced)")
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
    cmp.add_argument("--seed", type=_seed, default=0, help="seed for the folds and the models (default 0)")
    cmp.add_argument("--metric", choices=list(METRIC_CHOICES), default="pr_auc",
                     help="metric the recommendation ranks by (default pr_auc; macro over classes for multiclass; "
                          "best_f1 is binary only)")
    cmp.add_argument("--quick", action="store_true", help="3 folds, gammas 1,2 x alphas none,0.25, at most 300 rounds")
    cmp.add_argument("--output", type=Path, metavar="DIR",
                     help="write results.csv, summary.csv, summary.json and the figures pr_curves.png, "
                          "calibration.png, focal_loss.png here (checked before any fit)")
    cmp.add_argument("--no-progress", action="store_true", help="no progress bar")
    warm = sub.add_parser(
        "warmup",
        help="compile the Numba kernels now (e.g. while building a container), not in the first fits",
        description="Compile (into Numba's cache) the kernels of every gamma x Hessian x binary/multiclass "
        "combination listed, so that the first fits of those combinations compile nothing.",
    )
    warm.add_argument("--gammas", type=_float_list, default=None, metavar="LIST",
                      help="focal gammas (default 0.5,1,2,2.5,3; one compiled kernel serves every gamma, so one gamma warms them all)")
    warm.add_argument("--hessians", type=_hessian_list, default=None, metavar="LIST",
                      help="Hessian modes: bohning, exact, abs, clip (default bohning,exact)")
    return parser


def run_warmup(args):
    from .warmup import DEFAULT_GAMMAS, DEFAULT_HESSIANS, warmup

    seconds = warmup(
        args.gammas or DEFAULT_GAMMAS, args.hessians or DEFAULT_HESSIANS, progress=lambda line: print(line, flush=True)
    )
    print(f"boost-focal: kernels compiled and cached in {seconds:.1f} s")
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "warmup":
        return run_warmup(args)
    from .datasets import DataError

    try:
        return run_compare(args)
    except DataError as exc:
        print(f"boost-focal: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("boost-focal: interrupted before any fold finished; nothing was written", file=sys.stderr)
        return 130


# ---------------------------------------------------------------------------------------- checks
def check_options(args):
    """Argument problems that do not depend on the data, before anything is read or fitted."""
    from . import compare as C
    from .datasets import DataError

    installed = C.available_engines()
    engines = args.engines or installed
    unknown = [e for e in engines if e not in C.ENGINES]
    if unknown:
        raise DataError(f"unknown engine {unknown[0]!r}; choose from {', '.join(C.ENGINES)}")
    missing = [e for e in engines if e not in installed]
    if missing:
        raise DataError(f"engine {missing[0]} is not installed: pip install xgboost lightgbm "
                        "(or install boost-focal with its [cli] extra)")
    if not engines:
        raise DataError("neither xgboost nor lightgbm is installed: pip install xgboost lightgbm")
    if args.early_stopping < 0:
        raise DataError(f"--early-stopping must be 0 (off) or a number of rounds, got {args.early_stopping}")
    if not (args.learning_rate > 0 and math.isfinite(args.learning_rate)):
        raise DataError(f"--learning-rate must be a positive number, got {args.learning_rate}")
    if args.data is not None and not args.target:
        from .datasets import read_table

        read_table(args.data, args.sep)  # report a missing or unreadable file before a missing option
        raise DataError(f"--target is required with a data file: name the label column of {args.data}")
    if args.output is not None:
        check_output(args.output)
    return list(dict.fromkeys(engines))


def check_output(folder):
    """Fail now, not after the fits, if ``folder`` cannot be created or written to.

    Folders created for the check are removed again (nothing is left behind when the run stops
    on a data error); :func:`write_outputs` creates them for real.
    """
    from .datasets import DataError

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"--output {folder} is a file, not a folder; give a folder path")
    missing, parent = [], folder
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    if not parent.is_dir():
        raise DataError(f"--output {folder} cannot be created: {parent} is a file, not a folder")
    created = []
    try:
        for path in reversed(missing):
            path.mkdir()
            created.append(path)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise DataError(f"--output {folder} is not writable ({exc.strerror or exc}); choose another folder") from None
    finally:
        for path in reversed(created):
            try:
                path.rmdir()
            except OSError:
                pass


# ---------------------------------------------------------------------------------------- compare
def load_input(args):
    """(X frame, y series, a one-line description of the data, notes about reading it)."""
    from .datasets import load_bundled, read_table, separator_name, split_target

    notes = []
    if args.data is None:
        frame = load_bundled(DEFAULT_DATA)
        target = args.target or "target"
        label = "bundled Lending Club loans 2016Q1 (R package modeldata, MIT licence)"
    else:
        frame = read_table(args.data, args.sep)
        target = args.target
        label = str(args.data)
        if frame.attrs.get("separator_detected") and frame.attrs.get("separator") != ",":
            notes.append(f"separator {separator_name(frame.attrs['separator'])} (detected from the header line; "
                         "--sep to choose another)")
    X, y = split_target(frame, target, args.drop)
    return X, y, label, notes


def _plan(args, target, engines):
    """(configs, folds, settings) for this target."""
    from . import compare as C
    from .datasets import DataError

    quick = args.quick
    folds = args.folds or (3 if quick else 5)
    gammas = args.gammas or list(C.QUICK_GAMMAS if quick else C.DEFAULT_GAMMAS)
    if target.binary:
        alphas = args.alphas or list(C.QUICK_ALPHAS if quick else C.DEFAULT_ALPHAS)
    else:
        alphas = args.alphas or list(C.MULTICLASS_ALPHAS)
        C.check_alphas(alphas, target.n_classes)
        if args.metric in C.BINARY_ONLY_METRICS:
            raise DataError(f"--metric {args.metric} is for binary targets; this one has {target.n_classes} classes "
                            "(try pr_auc, logloss or balanced_accuracy, or --positive LABEL for one vs rest)")
    stopping = args.early_stopping or None
    rounds = args.n_estimators or ((300 if quick else 1000) if stopping else (100 if quick else 200))
    settings = C.Settings(n_estimators=rounds, learning_rate=args.learning_rate, max_depth=args.max_depth,
                          n_jobs=args.n_jobs, random_state=args.seed, early_stopping=stopping)
    configs = C.make_grid(engines, gammas, alphas, hessians=args.hessians or (None,))
    return configs, folds, settings


def run_compare(args, out=None):
    from . import compare as C
    from ._inputs import prepare_features, prepare_target

    out = out or sys.stdout
    say = lambda text="": print(C.wrap(text) if text else "", file=out)  # noqa: E731
    engines = check_options(args)
    X, y, label, notes = load_input(args)
    target = prepare_target(y, args.positive, name=args.target or "target")
    features = prepare_features(X, args.categorical)
    configs, folds, settings = _plan(args, target, engines)
    C.folds_for(target.codes, folds, args.seed, min_train=2 if settings.early_stopping else 1)

    say(f"Data: {label}")
    say(f"  {len(target.codes)} rows, {len(features.names)} features; {target.describe()}")
    for note in notes + features.notes():
        say(f"  {note}")
    if not target.binary:
        small = [k for k in range(target.n_classes) if target.counts[k] < folds]
        if small:
            say(f"  class(es) {', '.join(C.label_text(target.classes[k]) for k in small)} have fewer rows than the "
                f"{folds} folds: their per-class PR-AUC averages over the folds that test them")
    stopping = settings.early_stopping
    schedule = (f"early stopping after {stopping} rounds without gain on a held-out 20% of each training fold, "
                f"at most {settings.n_estimators} rounds" if stopping
                else f"{settings.n_estimators} rounds, no early stopping")
    say(f"Models: {len(configs)} configurations x {folds} folds = {len(configs) * folds} fits ({schedule}; depth "
        f"{settings.max_depth}, learning rate {settings.learning_rate:g}); baselines are the engines' built-in "
        f"{'binary' if target.binary else 'multiclass'} logloss objectives")
    print(C.wrap("Preparing the focal-loss kernels (Numba compiles them on the first run, a few seconds; later "
                 "runs load them from its cache)..."), end=" ", file=out, flush=True)
    seconds = C.warm_up(engines, target.n_classes, configs, settings)
    print(f"ready in {seconds:.1f} s, not counted in the fit times.", file=out, flush=True)

    result = None
    try:
        with _progress(len(configs) * folds, disable=args.no_progress) as tick:
            result = C.cross_validate(features.frame, target.codes, configs, settings, n_splits=folds,
                                      seed=args.seed, progress=tick)
    except C.CVInterrupted as exc:
        result = exc.result
        if result is None:
            print("boost-focal: interrupted before any fold finished; nothing was written", file=sys.stderr)
            return 130
    report(result, target, features, label, args, out)
    if result.partial:
        where = f"; partial results written to {args.output}" if args.output is not None else ""
        print(f"boost-focal: interrupted after {result.completed_folds} of {folds} folds{where}", file=sys.stderr)
        return 130
    return 0


def report(result, target, features, label, args, out):
    """Tables, recommendation and (with --output) files for a finished or interrupted run."""
    from . import compare as C

    say = lambda text="": print(C.wrap(text) if text else "", file=out)  # noqa: E731
    summary = C.summarize(result)
    metric = args.metric
    done, folds = result.completed_folds, result.n_splits
    say()
    if result.partial:
        say(f"PARTIAL RESULTS: interrupted after {done} of {folds} folds; the tables use those folds only.")
    modes = sorted({C.default_probability(e) for e in dict.fromkeys(c.engine for c in result.configs)})
    say(f"Mean over {done} folds; sd = standard deviation over folds of {C.metric_title(metric, target.n_classes)}."
        f" Focal rows use the estimators' default probabilities (probability={'/'.join(map(repr, modes))})"
        + ("; best F1 is at each fold's best threshold." if target.binary else
           "; PR-AUC and ROC-AUC are macro means of one-vs-rest scores, bal. acc is balanced accuracy."))
    print(C.format_table(summary, metric, target.n_classes), file=out)
    if not target.binary:
        say()
        say("PR-AUC per class (one vs rest), rarest classes first (rows in the data):")
        print(C.format_per_class(summary, target.classes, target.counts, target.rarest(4)), file=out)
    for text, n in C.fit_warnings(result).items():
        say()
        say(f"Warning from {n} fit(s): {text if len(text) <= 300 else text[:297] + '...'}")
    advice = C.recommend(result, metric) if done >= 2 else None
    if advice is not None:
        say()
        say("Probabilities (mean over folds; lower is better; ECE = expected calibration error, 15 bins"
            + ("" if target.binary else ", top-label") + "):")
        print(C.format_calibration(C.calibration_rows(result, summary, advice)), file=out)
        for note in _weighted_notes(summary):
            say(note)
        say()
        say(f"Recommendation (by {C.metric_title(metric, target.n_classes)}):")
        for line in advice["lines"]:
            say(f"  {line}")
    else:
        say()
        say("No recommendation: fold-paired comparisons need at least 2 finished folds.")
    if args.output is not None:
        info = {"data": label, "rows": len(target.codes), "features": features.names,
                "categorical": features.categorical, "datetime": features.datetime,
                "numeric_text": features.numeric_text, "dropped": features.dropped,
                "classes": [str(c) for c in target.classes], "class_counts": target.counts,
                "positive_class": None if target.positive is None else str(target.positive),
                "one_vs_rest": target.one_vs_rest}
        written = write_outputs(args.output, result, summary, advice, info, out, target)
        say(f"Wrote {', '.join(written)} to {args.output}" + (" (PARTIAL: marked \"partial\": true in summary.json)"
                                                               if result.partial else ""))


def _weighted_notes(summary):
    """Weighted logloss's probabilities are shifted toward the rare class(es): say so when it shows."""
    from . import compare as C

    ratios = []
    by = {(s["engine"], s["config"]): s for s in summary}
    for engine in dict.fromkeys(s["engine"] for s in summary):
        w, b = by.get((engine, "weighted logloss")), by.get((engine, "logloss"))
        if w and b and np.isfinite(w["logloss"]) and np.isfinite(b["logloss"]) and w["logloss"] > b["logloss"]:
            ratios.append(f"{w['logloss'] / b['logloss']:.2f}x ({C.ENGINE_TITLES.get(engine, engine)})")
    if not ratios:
        return []
    return [f"Weighted logloss has {' and '.join(ratios)} the log loss of logloss: class weights train it for "
            "balanced classes, so its probabilities over-predict the rare class(es). Use it for ranking, not "
            "for probabilities."]


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
    fields = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})


def write_outputs(folder, result, summary, advice, data_info, out, target=None):
    """results.csv (per fold), summary.csv, summary.json and, with matplotlib, three PNG figures."""
    from . import compare as C
    from ._plots import have_matplotlib, plot_calibration, plot_focal_loss, plot_pr_curves
    from .datasets import DataError

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the output folder {folder}: {exc.strerror}") from exc
    _write_csv(folder / "results.csv", result.rows)
    _write_csv(folder / "summary.csv", summary)
    payload = {"boost_focal_version": __version__, "partial": result.partial,
               "completed_folds": result.completed_folds, "data": data_info, "settings": C.settings_dict(result),
               "configs": [c.name for c in result.configs], "summary": summary, "recommendation": advice}
    (folder / "summary.json").write_text(json.dumps(_clean(payload), indent=2) + "\n")
    written = ["results.csv", "summary.csv", "summary.json"]
    if not have_matplotlib():
        print("matplotlib is not installed: skipping the figures (pip install matplotlib)", file=out)
        return written
    classes = list(target.classes) if target is not None else None
    rank = advice["metric"] if advice and advice["metric"] in ("pr_auc", "roc_auc", "best_f1") else "pr_auc"
    plot_pr_curves(result, summary, folder / "pr_curves.png", rank, classes=classes, advice=advice)
    written.append("pr_curves.png")
    if advice is not None:
        plot_calibration(result, summary, advice, folder / "calibration.png")
        written.append("calibration.png")
    plot_focal_loss(folder / "focal_loss.png")
    written.append("focal_loss.png")
    return written


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
