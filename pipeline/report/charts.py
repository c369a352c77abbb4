"""The report's charts as PNG bytes (matplotlib's object API, no pyplot state, no screen).

Every chart has a French title and axis labels and the domains' French labels.
"""
from __future__ import annotations

import io
import re
import textwrap

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from mpl_toolkits.axes_grid1 import make_axes_locatable

from pipeline.quantify.intervals import MIN_GROUP
from pipeline.report.frformat import decimals_of_step, fr_int, fr_minus, fr_num, fr_pct, fr_rate, fr_signed

# Bars and points stand out from the white at 3:1 or more, text at 4.5:1 (WCAG 1.4.11, 1.4.3): the orange
# of the marks (3.9:1) is too light for text, written in ORANGE_INK (5:1).
BLUE = "#1f5fa8"
ORANGE = "#c26b1a"
ORANGE_INK = "#a85d00"
DPI = 200  # print quality: a 10-inch chart is 2,000 pixels wide
CONFIDENCE_BINS = np.linspace(0, 1, 41)  # the confidence histogram's bars (and its table in the annex)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.25, facecolor="white")
    return buf.getvalue()


def _ink(background) -> str:
    """Black or white, whichever contrasts more with `background` (WCAG's ratios tie at luminance 0.179)."""
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(background))
    return "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.179 else "black"


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


def short_group(label) -> str:
    """A group label for an axis: "1 000 à 1 999" -> "1 000–1 999", numbers never cut across lines."""
    text = str(label).replace("moins de ", "< ").replace(" et plus", " et +").replace(" à ", "–")
    return re.sub(r"(?<=\d) (?=\d)|(?<=\d) (?=%)", "\u00a0", text)


_int_ticks = FuncFormatter(lambda x, _: fr_int(x))
_pct_ticks = FuncFormatter(lambda x, _: f"{fr_num(x, 0)} %")


def domain_bars(labels: list[str], counts: pd.Series, title: str, xlabel: str = "Part des initiatives (%)",
                color: str = BLUE, adjusted: pd.DataFrame | None = None) -> bytes:
    """Horizontal bars of each domain's share, largest first, labelled "22,5 % (17 258)".

    `adjusted` (the domains table's part_ajustee, ci_low, ci_high, fractions, in the order of `labels`):
    the share corrected for the model's errors, drawn as a point with its 95 % interval over each bar
    (none where NaN: not computed).
    """
    frame = pd.DataFrame({"n": np.asarray(counts, dtype=float)}, index=labels)
    if adjusted is not None:
        for col in ("part_ajustee", "ci_low", "ci_high"):
            frame[col] = 100 * np.asarray(adjusted[col], dtype=float)
    frame = frame.sort_values("n", kind="stable")
    total = frame["n"].sum()
    shares = 100 * frame["n"] / total if total else frame["n"] * 0
    fig = Figure(figsize=(10, 6.2))
    ax = fig.add_subplot()
    y = np.arange(len(frame))
    bars = ax.barh(y, shares.to_numpy(), color=color, label="part comptée (domaines prédits)")
    ends = shares.to_numpy(float)
    if adjusted is not None and frame["part_ajustee"].notna().any():
        a = frame["part_ajustee"].to_numpy(float)
        ax.errorbar(a, y, xerr=[a - frame["ci_low"].to_numpy(float), frame["ci_high"].to_numpy(float) - a],
                    fmt="D", color="#222", markersize=3.5, elinewidth=1.2, capsize=3,
                    label="part corrigée des erreurs du modèle, IC 95 %")
        ends = np.fmax(ends, frame["ci_high"].to_numpy(float))
        ax.legend(loc="lower right", fontsize=8.5)
    ax.set_yticks(y, [_wrap(label, 40) for label in frame.index], fontsize=9)
    top = float(np.nanmax(ends)) if len(ends) else 1.0
    for bar, end, share, n in zip(bars, ends, shares, frame["n"]):
        ax.text(end + top * 0.01, bar.get_y() + bar.get_height() / 2,
                f"{fr_pct(share / 100)} ({fr_int(n)})", va="center", fontsize=8.5)
    ax.set_xlim(0, top * 1.28 if top else 1)
    ax.xaxis.set_major_formatter(_pct_ticks)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Domaine")
    ax.set_title(title, fontsize=12, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def group_intervals(table: pd.DataFrame, domains: list[tuple[str, str]], groups: list[str], title: str,
                    xlabel: str) -> bytes:
    """One small panel per domain: its adjusted share in each group with the 95 % interval as error bars,
    the counted share as a tick; "n.c." (non calculé) where the group was too small to be adjusted.

    table: rows group, domain, share, share_adjusted, ci_low, ci_high (fractions); domains: (code, label).
    """
    cols = 4
    rows = -(-len(domains) // cols)
    fig = Figure(figsize=(12, 2.7 * rows + 0.9))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    x = np.arange(len(groups))
    for ax, (code, label) in zip(axes, domains):
        t = table[table["domain"] == code].set_index("group").reindex(groups)
        adj, lo, hi = (100 * t[c].to_numpy(float) for c in ("share_adjusted", "ci_low", "ci_high"))
        ok = np.isfinite(adj)
        ax.bar(x[ok], adj[ok], color=BLUE, width=0.6, yerr=[adj[ok] - lo[ok], hi[ok] - adj[ok]], capsize=3,
               error_kw={"elinewidth": 1, "ecolor": "#222"})
        ax.scatter(x, 100 * t["share"].to_numpy(float), marker="_", s=180, color=ORANGE, zorder=3)
        top = float(np.nanmax(np.r_[hi[ok], 100 * t["share"].to_numpy(float), 0.1])) if len(t) else 1.0
        for xi in x[~ok]:
            ax.text(xi, top * 0.04, "n.c.", ha="center", va="bottom", fontsize=7.5, color="#555")
        ax.set_ylim(0, top * 1.15)
        ax.set_xlim(-0.6, len(groups) - 0.4)  # a group without bar keeps its place
        ax.set_title(_wrap(label, 34), fontsize=8.5, loc="left")
        ax.set_xticks(x, [short_group(g) for g in groups], fontsize=6.5, rotation=45, ha="right",
                      rotation_mode="anchor")
        ax.yaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 5, 10]))
        digits = 2 if top < 0.5 else 1 if top < 5 else 0  # 0,05 % or 0,5 % steps: or two ticks read the same
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _, d=digits: f"{fr_num(v, d)} %"))
        ax.tick_params(axis="y", labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes[len(domains):]:
        ax.set_visible(False)
    fig.suptitle(f"{title}\nbarres : part corrigée des erreurs du modèle, IC 95 % ; trait orange : part comptée ; "
                 f"n.c. : non calculé (moins de {MIN_GROUP} initiatives)", fontsize=10.5, x=0.01, ha="left")
    fig.supxlabel(xlabel, fontsize=9)
    fig.tight_layout()
    return _png(fig)


def confidence_histogram(confidence: pd.Series, threshold: float | None) -> bytes:
    """Histogram of the chosen domain's probability, with the review threshold."""
    fig = Figure(figsize=(10, 4.6))
    ax = fig.add_subplot()
    heights, _, _ = ax.hist(np.clip(confidence.to_numpy(dtype=float), 0, 1), bins=CONFIDENCE_BINS,
                            color=BLUE, edgecolor="white", linewidth=0.5)
    ax.set_ylim(0, max(float(np.max(heights)) if len(heights) else 1, 1) * 1.3)  # room for the label
    if threshold is not None:
        below = float((confidence < threshold).mean()) if len(confidence) else float("nan")
        ax.axvline(threshold, color=ORANGE, linewidth=2)
        ax.text(threshold + 0.01, 0.98, f"seuil de revue : {fr_num(threshold, 2)} ; {fr_pct(below)} en dessous",
                transform=ax.get_xaxis_transform(), va="top", ha="left", fontsize=9, color=ORANGE_INK,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.9, "pad": 2})
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: fr_num(x, 1)))
    ax.yaxis.set_major_formatter(_int_ticks)
    ax.set_xlabel("Confiance : probabilité du domaine choisi")
    ax.set_ylabel("Nombre d'initiatives")
    ax.set_title("Distribution de la confiance du modèle", fontsize=12, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def rate_bars(rates: pd.DataFrame, title: str, xlabel: str) -> bytes:
    """Two panels by group: initiatives per commune, and per 1,000 inhabitants."""
    fig = Figure(figsize=(11, 4.8))
    axes = fig.subplots(1, 2)
    names = [_wrap(short_group(i), 24) for i in rates.index]
    x = np.arange(len(rates))
    panels = [("initiatives_par_commune", "Initiatives par commune", BLUE),
              ("initiatives_pour_1000_hab", "Initiatives pour 1 000 habitants", ORANGE)]
    for ax, (col, ylabel, color) in zip(axes, panels):
        values = rates[col].to_numpy(dtype=float)
        bars = ax.bar(x, np.nan_to_num(values), color=color)
        top = np.nanmax(values) if np.isfinite(values).any() else 1
        for bar, v in zip(bars, values):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + top * 0.015, fr_rate(v),
                    ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, top * 1.15 if top else 1)
        ax.set_xticks(x, names, fontsize=8, rotation=30, ha="right", rotation_mode="anchor")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ticks = ax.get_yticks()  # as many decimals as their step needs, or two ticks read the same
        digits = decimals_of_step(ticks[1] - ticks[0]) if len(ticks) > 1 else 2
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _, d=digits: fr_minus(fr_num(v, d))))
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_title(ylabel, fontsize=10)
    fig.suptitle(title, fontsize=12, x=0.01, ha="left")
    fig.tight_layout()
    return _png(fig)


def heatmap(shares: pd.DataFrame, row_labels: list[str], title: str, xlabel: str,
            ylabel: str = "Domaine") -> bytes:
    """Domains (rows) × groups (columns): each cell the domain's share of the group, annotated."""
    values = 100 * shares.to_numpy(dtype=float)
    n_rows, n_cols = values.shape
    fig = Figure(figsize=(max(7.5, 2.4 + 1.05 * n_cols + 2.6), 0.42 * n_rows + 2.6))
    ax = fig.add_subplot()
    vmax = np.nanmax(values) if np.isfinite(values).any() else 1
    im = ax.imshow(values, cmap="Blues", vmin=0, vmax=vmax, aspect="auto")
    ax.set_xticks(range(n_cols), [_wrap(short_group(c), 16) for c in shares.columns], fontsize=8.5)
    ax.set_yticks(range(n_rows), [_wrap(label, 36) for label in row_labels], fontsize=8.5)
    for i in range(n_rows):
        for j in range(n_cols):
            v = values[i, j]
            if np.isfinite(v):
                ax.text(j, i, fr_minus(fr_num(v, 1)), ha="center", va="center", fontsize=8,
                        color=_ink(im.cmap(im.norm(v))))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(_wrap(title, 64), fontsize=12, loc="left")
    cax = make_axes_locatable(ax).append_axes("right", size=0.22, pad=0.15)
    bar = fig.colorbar(im, cax=cax)
    bar.set_label("Part des initiatives du groupe (%)")
    return _png(fig)


def group_bars(counts: pd.Series, title: str, ylabel: str, xlabel: str = "Nombre d'initiatives",
               color: str = BLUE) -> bytes:
    """Horizontal bars of counts per group (e.g. région), largest on top."""
    counts = counts.sort_values()
    fig = Figure(figsize=(10, 0.32 * len(counts) + 1.8))
    ax = fig.add_subplot()
    bars = ax.barh(range(len(counts)), counts.to_numpy(dtype=float), color=color)
    ax.set_yticks(range(len(counts)), [_wrap(str(i), 40) for i in counts.index], fontsize=9)
    top = float(counts.max()) if len(counts) else 1.0
    for bar, n in zip(bars, counts):
        ax.text(bar.get_width() + top * 0.01, bar.get_y() + bar.get_height() / 2, fr_int(n),
                va="center", fontsize=8.5)
    ax.set_xlim(0, top * 1.12 if top else 1)
    ax.xaxis.set_major_formatter(_int_ticks)
    ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=12, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def amount_bars(labels: list[str], subsidy: pd.Series, title: str) -> bytes:
    """Total subsidy per domain, in millions of euros."""
    values = pd.Series(np.asarray(subsidy, dtype=float), index=labels).fillna(0).sort_values() / 1e6
    fig = Figure(figsize=(10, 6.2))
    ax = fig.add_subplot()
    bars = ax.barh(range(len(values)), values.to_numpy(), color=BLUE)
    ax.set_yticks(range(len(values)), [_wrap(label, 40) for label in values.index], fontsize=9)
    top = float(values.max()) if len(values) else 1.0
    for bar, v in zip(bars, values):
        ax.text(bar.get_width() + top * 0.01, bar.get_y() + bar.get_height() / 2, f"{fr_num(v, 1)} M€",
                va="center", fontsize=8.5)
    ax.set_xlim(0, top * 1.18 if top else 1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fr_int(v)))
    ax.set_xlabel("Subventions accordées (millions d'euros)")
    ax.set_ylabel("Domaine")
    ax.set_title(title, fontsize=12, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def change_bars(labels: list[str], change: pd.Series, low: pd.Series, high: pd.Series, title: str,
                xlabel: str) -> bytes:
    """Each domain's change in percentage points, with its 95 % interval as a whisker, largest rise on top."""
    frame = pd.DataFrame({"c": np.asarray(change, float), "lo": np.asarray(low, float),
                          "hi": np.asarray(high, float)}, index=labels).sort_values("c")
    fig = Figure(figsize=(10, 0.42 * len(frame) + 1.8))
    ax = fig.add_subplot()
    y = np.arange(len(frame))
    colors = [BLUE if v >= 0 else ORANGE for v in frame["c"]]
    ax.barh(y, frame["c"], color=colors, height=0.6)
    ax.errorbar(frame["c"], y, xerr=[frame["c"] - frame["lo"], frame["hi"] - frame["c"]], fmt="none",
                ecolor="#333", elinewidth=1, capsize=3)
    span = float(np.nanmax(np.abs(frame[["lo", "hi"]].to_numpy()))) if len(frame) else 1.0
    span = span if np.isfinite(span) and span > 0 else 1.0
    for yi, (v, hi, lo) in enumerate(zip(frame["c"], frame["hi"], frame["lo"])):
        x = (hi if v >= 0 else lo) + (0.03 if v >= 0 else -0.03) * span
        ax.text(x, yi, fr_minus(fr_signed(v)), va="center", ha="left" if v >= 0 else "right",
                fontsize=8.5)
    ax.set_xlim(-span * 1.3, span * 1.3)
    ax.axvline(0, color="#333", linewidth=0.8)
    ax.set_yticks(y, [_wrap(label, 40) for label in frame.index], fontsize=9)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 5, 10]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fr_minus(fr_num(v, 0 if float(v).is_integer() else 1))))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Domaine")
    ax.set_title(_wrap(title, 80), fontsize=12, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def share_panels(panels: list[tuple[str, pd.Series]], title: str, ylabel: str) -> bytes:
    """One small bar panel per grouping (year, size band, age quartile), each bar a share labelled in %."""
    fig = Figure(figsize=(max(5.0 * len(panels), 6.0), 4.6))
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
    top = max((float(np.nanmax(s.to_numpy(float))) for _, s in panels if len(s)), default=0.0) or 1.0
    for ax, (xlabel, shares) in zip(axes, panels):
        values = 100 * shares.to_numpy(float)
        x = np.arange(len(shares))
        bars = ax.bar(x, np.nan_to_num(values), color=ORANGE)
        for bar, v in zip(bars, values):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + top * 1.5, fr_num(v, 1),
                    ha="center", va="bottom", fontsize=8)
        ax.set_xticks(x, [_wrap(short_group(i), 14) for i in shares.index], fontsize=8, rotation=30, ha="right",
                      rotation_mode="anchor")
        ax.set_xlabel(xlabel)
        ax.set_ylim(0, 100 * top * 1.2)
        ax.yaxis.set_major_formatter(_pct_ticks)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_ylabel(ylabel)
    fig.suptitle(title, fontsize=12, x=0.01, ha="left")
    fig.tight_layout()
    return _png(fig)
