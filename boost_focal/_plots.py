"""Figures for ``boost-focal compare --output``: PR curves and the focal-loss-vs-p_t curves.

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


def plot_pr_curves(result, summary, path, metric="pr_auc"):
    """Precision-recall curves of the pooled out-of-fold predictions, one panel per engine:
    logloss, weighted logloss and the focal setting with the best mean ``metric``."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    engines = list(dict.fromkeys(c.engine for c in result.configs))
    fig = _figure(5.0 * len(engines), 4.4)
    by_name = {(s["engine"], s["config"]): s for s in summary}
    for i, engine in enumerate(engines):
        ax = fig.add_subplot(1, len(engines), i + 1)
        configs = [c for c in result.configs if c.engine == engine]
        focal = [c for c in configs if c.loss == "focal" and np.isfinite(by_name[(engine, c.name)][metric])]
        shown = [c for c in configs if c.loss != "focal"]
        if focal:
            shown.append(max(focal, key=lambda c: by_name[(engine, c.name)][metric]))
        for c in shown:
            p = result.oof[c]
            if not np.all(np.isfinite(p)):
                continue
            precision, recall, _ = precision_recall_curve(result.y, p)
            ap = average_precision_score(result.y, p)
            ax.plot(recall, precision, label=f"{c.name} (pooled AP {ap:.3f})")
        ax.axhline(result.y.mean(), color="0.6", lw=0.8, ls="--", label=f"prevalence {result.y.mean():.3f}")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(f"{TITLES.get(engine, engine)}: out-of-fold PR curves")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
