"""Figures for reports as PNG bytes (matplotlib's Agg canvas; no pyplot, no global state).

Every figure is drawn from aggregate tables only (rows that passed the minimum cell size) and
shows intervals. No figure orders areas by risk (that would be a league table).
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_BLUE = "#154273"
_GREY = "#9aa5b1"
_RED = "#b42318"


def _png(fig: Figure, dpi: int) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def plot_calibration(cal: pd.DataFrame, *, title: str, dpi: int) -> bytes:
    """Reliability diagram: observed rate against mean predicted risk per bin, with intervals."""
    c = cal[cal["status"] == "ok"]
    fig = Figure(figsize=(4.8, 4.2), layout="constrained")
    ax = fig.add_subplot()
    top = float(np.nanmax(np.r_[c["observed_rate_hi"].to_numpy(float), c["mean_predicted"].to_numpy(float), 0.01]))
    ax.plot([0, top], [0, top], color=_GREY, lw=1, ls="--", label="perfect calibration")
    if len(c):
        x = c["mean_predicted"].to_numpy(float)
        y = c["observed_rate"].to_numpy(float)
        yerr = np.vstack([y - c["observed_rate_lo"].to_numpy(float), c["observed_rate_hi"].to_numpy(float) - y])
        xerr = np.vstack([x - c["mean_predicted_lo"].to_numpy(float), c["mean_predicted_hi"].to_numpy(float) - x])
        ax.errorbar(
            x,
            y,
            yerr=np.maximum(yerr, 0),
            xerr=np.maximum(xerr, 0),
            fmt="o",
            color=_BLUE,
            ms=4,
            capsize=2,
            label="bins (95% interval)",
        )
    ax.set_xlabel("mean predicted risk")
    ax.set_ylabel("observed rate")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return _png(fig, dpi)


def plot_disparities(
    metrics: pd.DataFrame,
    *,
    title: str,
    band: tuple[float, float],
    dpi: int,
    metric_names: tuple[str, ...] | None = None,
    attributes: tuple[str, ...] | None = None,
    label_of: Callable[[str, str, str], str] | None = None,
    xlabel: str = "ratio to reference (calibration: observed / expected)",
) -> bytes:
    """Forest plot of disparity ratios (with intervals) per group for ratio metrics.

    ``metric_names`` and ``attributes`` restrict the rows (default: all ratio metrics and all
    attributes in ``metrics``). ``label_of(metric, attribute, group)`` gives the readable row
    label (default: the codes).
    """
    m = metrics[metrics["comparison"].isin(["ratio to reference", "observed / expected within group"])]
    if metric_names is not None:
        m = m[m["metric"].isin(metric_names)]
    if attributes is not None:
        m = m[m["attribute"].isin(attributes)]
    m = m[m["status"] == "ok"].dropna(subset=["disparity"])
    multi = m["attribute"].nunique() > 1
    if label_of is not None:
        labels = [
            label_of(str(a), str(b), str(c)) for a, b, c in zip(m["metric"], m["attribute"], m["group"], strict=True)
        ]
    else:
        labels = (m["metric"] + " | " + (m["attribute"] + "=" if multi else "") + m["group"].astype(str)).tolist()
    fig = Figure(figsize=(6.4, max(2.0, 0.22 * len(labels) + 1.0)), layout="constrained")
    ax = fig.add_subplot()
    ax.axvspan(band[0], band[1], color="#e8f5e9", zorder=0, label=f"tolerance {band[0]:g}\u2013{band[1]:g}")
    ax.axvline(1.0, color=_GREY, lw=1)
    if len(m):
        y = np.arange(len(m))[::-1]
        x = m["disparity"].to_numpy(float)
        err = np.maximum(np.vstack([x - m["disparity_lo"].to_numpy(float), m["disparity_hi"].to_numpy(float) - x]), 0)
        out = m["verdict"].eq("outside").to_numpy()
        ax.errorbar(x[~out], y[~out], xerr=err[:, ~out], fmt="o", ms=3, color=_BLUE, lw=1.2, label="within / uncertain")
        if out.any():
            ax.errorbar(x[out], y[out], xerr=err[:, out], fmt="o", ms=3, color=_RED, lw=1.2, label="outside")
        ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig, dpi)


def plot_importance(imp: pd.DataFrame, *, title: str, dpi: int, top: int = 20) -> bytes:
    """Mean |SHAP| per feature with intervals (features, not areas)."""
    d = imp.dropna(subset=["mean_abs_shap"]).head(top).iloc[::-1]
    fig = Figure(figsize=(6.0, max(2.0, 0.3 * len(d) + 1.0)), layout="constrained")
    ax = fig.add_subplot()
    if len(d):
        y = np.arange(len(d))
        x = d["mean_abs_shap"].to_numpy(float)
        err = np.vstack([x - d["ci_lo"].to_numpy(float), d["ci_hi"].to_numpy(float) - x])
        ax.barh(y, x, xerr=np.maximum(err, 0), color=_BLUE, alpha=0.85, capsize=2)
        ax.set_yticks(y, d["feature"].tolist(), fontsize=7)
    ax.set_xlabel("mean |SHAP| (log-odds)")
    ax.set_title(title, fontsize=10)
    return _png(fig, dpi)


def plot_label_bias(areas: pd.DataFrame, *, title: str, dpi: int) -> bytes:
    """Registration intensity per area against the alternative rate (no area names)."""
    fig = Figure(figsize=(5.2, 4.0), layout="constrained")
    ax = fig.add_subplot()
    if len(areas):
        x = areas["rate_alternative"].to_numpy(float) if "rate_alternative" in areas else np.arange(len(areas))
        y = areas["registration_intensity"].to_numpy(float)
        lo = areas["registration_intensity_lo"].to_numpy(float)
        hi = areas["registration_intensity_hi"].to_numpy(float)
        shown = np.isfinite(y)
        lo, hi = np.where(np.isfinite(lo), lo, y), np.where(np.isfinite(hi), hi, y)  # open ends: no bar
        x, y, lo, hi = x[shown], y[shown], lo[shown], hi[shown]
        over = areas["registration"].eq("over").to_numpy()[shown]
        ax.errorbar(
            x[~over],
            y[~over],
            yerr=np.maximum(np.vstack([y - lo, hi - y])[:, ~over], 0),
            fmt="o",
            ms=3,
            color=_GREY,
            alpha=0.7,
            label="within / under",
        )
        ax.errorbar(
            x[over],
            y[over],
            yerr=np.maximum(np.vstack([y - lo, hi - y])[:, over], 0),
            fmt="o",
            ms=4,
            color=_RED,
            label="over-registered",
        )
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no areas to show", ha="center", va="center", transform=ax.transAxes, color=_GREY)
    ax.axhline(1.0, color=_GREY, lw=1, ls="--")
    has_rate = "rate_alternative" in areas
    ax.set_xlabel("alternative (intensity-free) rate" if has_rate else "areas, in code order (not ranked)")
    if not has_rate:
        ax.set_xticks([])
    ax.set_ylabel("relative registration intensity")
    ax.set_title(title, fontsize=10)
    return _png(fig, dpi)


def plot_rank_widths(widths: np.ndarray, *, title: str, dpi: int) -> bytes:
    """Histogram of the widths of areas' rank intervals (no ranks per area)."""
    fig = Figure(figsize=(5.0, 3.2), layout="constrained")
    ax = fig.add_subplot()
    w = np.asarray(widths, dtype=float)
    if len(w):
        ax.hist(w, bins=min(30, max(5, len(w) // 3)), color=_BLUE, alpha=0.85)
    ax.set_xlabel("width of 95% rank interval (positions)")
    ax.set_ylabel("areas")
    ax.set_title(title, fontsize=10)
    return _png(fig, dpi)
