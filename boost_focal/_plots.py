"""Figures for ``boost-focal compare --output``: PR curves, reliability diagrams, focal loss vs p_t.

Drawn with matplotlib's object API on an Agg canvas (no pyplot, so no global backend change).
matplotlib is optional: :func:`have_matplotlib` says whether the figures can be drawn.
"""

import numpy as np

from .focal import FocalLoss

TITLES = {"xgboost": "XGBoost", "lightgbm": "LightGBM"}


def have_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def focal_curves(p_t, gammas):
    """FL(p_t) = -(1 - p_t)^gamma log p_t for each gamma (alpha = 1), from FocalLoss itself.

    The margin whose true-class probability is p_t is logit(p_t) with label 1.
    """
    margin = np.log(p_t) - np.log1p(-p_t)
    ones = np.ones_like(p_t)
    return {g: FocalLoss(gamma=g).loss(margin, ones) for g in gammas}


def plot_focal_loss(path, gammas=(0.0, 0.5, 1.0, 2.0, 5.0)):
    """Figure 1 of Lin et al. (2017): focal loss against the probability of the true class."""
    p_t = np.linspace(1e-3, 1 - 1e-6, 600)
    fig = _figure(6.0, 4.2)
    ax = fig.add_subplot()
    for g, loss in focal_curves(p_t, gammas).items():
        ax.plot(p_t, loss, label=f"gamma = {g:g}" + (" (cross-entropy)" if g == 0 else ""))
    ax.axvspan(0.6, 1.0, color="0.92", zorder=0)
    ax.text(0.8, 4.6, "well-classified\nexamples", ha="center", va="top", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 5)
    ax.set_xlabel("probability of the true class, p_t")
    ax.set_ylabel("loss")
    ax.set_title("Focal loss FL(p_t) = -(1 - p_t)^gamma log(p_t)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def _best_focal(result, summary, advice, engine, metric):
    """The focal setting the recommendation names for ``engine`` (else the best mean ``metric``)."""
    entry = (advice or {}).get("engines", {}).get(engine, {})
    configs = [c for c in result.configs if c.engine == engine and c.loss == "focal"]
    if entry.get("best_focal"):
        return next(c for c in configs if c.name == entry["best_focal"])
    by_name = {(s["engine"], s["config"]): s for s in summary}
    finite = [c for c in configs if np.isfinite(by_name[(engine, c.name)][metric])]
    return max(finite, key=lambda c: by_name[(engine, c.name)][metric]) if finite else None


def _engines(result):
    return list(dict.fromkeys(c.engine for c in result.configs))


def plot_pr_curves(result, summary, path, metric="pr_auc", classes=None, advice=None):
    """Precision-recall curves of the pooled out-of-fold predictions, one panel per engine:
    logloss, weighted logloss and the best focal setting. Multiclass: the rarest class against the
    rest. The legend gives the table's fold-mean PR-AUC and the pooled curve's own AP."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    engines = _engines(result)
    fig = _figure(5.2 * len(engines), 4.6)
    by_name = {(s["engine"], s["config"]): s for s in summary}
    rows = result.scored
    y = result.y[rows]
    if result.n_classes == 2:
        cls, key, what = 1, "pr_auc", "PR-AUC"
    else:
        counts = np.bincount(result.y, minlength=result.n_classes)
        cls = int(np.argmin(counts))
        key, what = f"ap_{cls}", "PR-AUC"
    hit = y == cls
    for i, engine in enumerate(engines):
        ax = fig.add_subplot(1, len(engines), i + 1)
        shown = [c for c in result.configs if c.engine == engine and c.loss != "focal"]
        best = _best_focal(result, summary, advice, engine, metric)
        shown += [best] if best is not None else []
        for c in shown:
            p = result.oof[c][rows]
            p = p if p.ndim == 1 else p[:, cls]
            if not np.all(np.isfinite(p)):
                continue
            precision, recall, _ = precision_recall_curve(hit, p)
            ap = average_precision_score(hit, p)
            mean = by_name[(engine, c.name)].get(key, np.nan)
            ax.plot(recall, precision, label=f"{c.name}: {what} {mean:.3f} (table), pooled AP {ap:.3f}")
        ax.axhline(hit.mean(), color="0.6", lw=0.8, ls="--", label=f"prevalence {hit.mean():.3f}")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        target = "" if result.n_classes == 2 else f", class {classes[cls] if classes else cls} vs rest"
        ax.set_title(f"{TITLES.get(engine, engine)}: pooled out-of-fold PR curves{target}", fontsize=9)
        ax.legend(fontsize=6.5, loc="lower left")
    partial = " (PARTIAL: finished folds only)" if result.partial else ""
    fig.suptitle("Table values are means over folds; each curve pools all folds' predictions" + partial, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def plot_calibration(result, summary, advice, path, bins=10):
    """Reliability diagram per engine: logloss and the best focal setting's default, raw and
    posterior probabilities (pooled out-of-fold, bins of equal row counts), with the table's
    fold-mean log loss, Brier and ECE in the legend. Multiclass: top-label confidence vs accuracy."""
    from ._scores import reliability

    engines = _engines(result)
    fig = _figure(5.2 * len(engines), 4.8)
    by_name = {(s["engine"], s["config"]): s for s in summary}
    rows = result.scored
    y = result.y[rows]
    link = "sigmoid" if result.n_classes == 2 else "softmax"
    for i, engine in enumerate(engines):
        ax = fig.add_subplot(1, len(engines), i + 1)
        best = _best_focal(result, summary, advice, engine, advice.get("metric", "pr_auc") if advice else "pr_auc")
        curves = []
        base = next((c for c in result.configs if c.engine == engine and c.loss == "logloss"), None)
        if base is not None:
            s = by_name[(engine, base.name)]
            curves.append(("logloss", result.oof[base], (s["logloss"], s["brier"], s["ece"]), dict(color="k")))
        if best is not None:
            s = by_name[(engine, best.name)]
            short = best.name.replace("focal ", "")
            default = result.oof[best]
            same = np.allclose(default[rows], result.oof_posterior[best][rows], equal_nan=True)
            from .compare import default_probability

            mode = default_probability(engine)
            curves.append((f"focal {short} default ({mode}" + (", = posterior)" if same else ")"), default,
                           (s["logloss"], s["brier"], s["ece"]), dict(color="C0", lw=4, alpha=0.35)))
            curves.append((f"focal {short} raw {link}", result.oof_raw[best],
                           (s["raw_logloss"], s["raw_brier"], s["raw_ece"]), dict(color="C3", ls="--")))
            curves.append((f"focal {short} posterior", result.oof_posterior[best],
                           (s["post_logloss"], s["post_brier"], s["post_ece"]), dict(color="C2")))
        top = 0.0
        for label, p, (ll, br, ec), style in curves:
            p = p[rows]
            if not np.all(np.isfinite(p)):
                continue
            x, obs, _ = reliability(y, p, bins)
            top = max(top, float(np.max(x)), float(np.max(obs)))
            ax.plot(x, obs, marker="o", ms=3, label=f"{label}: log loss {ll:.3f}, Brier {br:.3f}, ECE {ec:.3f}",
                    **style)
        top = min(1.0, max(top * 1.08, 0.05))
        low = 0.0 if result.n_classes == 2 else max(0.0, min(1.0 / result.n_classes, top) - 0.02)
        ax.plot([low, top], [low, top], color="0.6", lw=0.8, ls=":", label="perfect calibration")
        ax.set_xlim(low, top)
        ax.set_ylim(low, top)
        if result.n_classes == 2:
            ax.set_xlabel("predicted P(positive), mean per bin")
            ax.set_ylabel("observed frequency of the positive class")
        else:
            ax.set_xlabel("top-class probability, mean per bin")
            ax.set_ylabel("accuracy of the top class")
        ax.set_title(f"{TITLES.get(engine, engine)}: reliability (pooled out-of-fold, {bins} equal-count bins)",
                     fontsize=9)
        ax.legend(fontsize=6.5, loc="upper left")
    partial = " (PARTIAL: finished folds only)" if result.partial else ""
    fig.suptitle("Legend: means over folds, as in the table; curves pool all folds' predictions" + partial, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
