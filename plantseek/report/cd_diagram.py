"""Critical-difference diagrams (Demšar 2006) of the comparisons of :mod:`plantseek.stats.comparisons`, drawn from
stored results alone.

One diagram per (protocol, task or all tasks, quantity): the mean-rank axis (1 = best, on the left), each method
at its mean rank, the Nemenyi critical difference as a scale bar, and thick bars joining methods that are not
significantly different (every method when the Friedman test does not reject). File names:
``cd_{comparison key}.{fmt}``, e.g. ``cd_single-shot-weak-metric.svg``.
"""

from __future__ import annotations

import math
from pathlib import Path

from plantseek.core.errors import ConfigError
from plantseek.stats.comparisons import Comparison

FORMATS = ("png", "svg", "pdf")
QUANTITY_LABELS = {"weak_metric": "weak metric", "recall": "recall"}


def _t(text) -> str:
    return str(text).replace("\\", "\\\\").replace("$", r"\$")


def comparison_title(c: Comparison) -> str:
    """``protocol · [family ·] [training ·] task or all tasks · quantity``."""
    parts = [c.protocol, c.family, f"{c.training} training" if c.training else "", c.task or "all tasks",
             QUANTITY_LABELS.get(c.quantity, c.quantity)]
    return " · ".join(p for p in parts if p)


def cd_title(c: Comparison) -> str:
    """What the diagram compares and the Friedman test's verdict, in one line."""
    fr = c.friedman
    test = (f"Friedman p = {fr.p:.3g}" if math.isfinite(fr.p) else "no Friedman test (2 methods)")
    return (f"{comparison_title(c)}: {c.instances} instances, {test}, CD = {fr.cd:.2f}")


def figure_cd(c: Comparison):
    """The diagram of one comparison as a matplotlib Figure (None with fewer than two methods)."""
    from matplotlib.figure import Figure

    ranks = c.friedman.mean_ranks
    k = len(ranks)
    if k < 2 or not math.isfinite(c.friedman.cd):
        return None
    names = sorted(ranks, key=lambda m: (ranks[m], m))
    half = (k + 1) // 2
    rows = max(half, k - half)
    fig = Figure(figsize=(7.0, 1.3 + 0.26 * (rows + len(c.cliques))), dpi=100)
    ax = fig.add_axes((0.22, 0.05, 0.56, 0.75))
    ax.set_xlim(1, k)
    bottom = -0.35 * (rows + 1) - 0.2 * len(c.cliques)
    ax.set_ylim(bottom, 1.3)
    ax.axis("off")
    ax.plot([1, k], [0, 0], color="black", lw=1)
    for r in range(1, k + 1):
        ax.plot([r, r], [0, 0.12], color="black", lw=1)
        ax.text(r, 0.2, str(r), ha="center", va="bottom", fontsize=8)
    cd = c.friedman.cd
    ax.plot([1, min(k, 1 + cd)], [1.05, 1.05], color="black", lw=1.5)
    ax.text(1, 1.15, f"CD = {cd:.2f}", ha="left", va="bottom", fontsize=8)
    for i, m in enumerate(names):
        left = i < half
        j = i if left else k - 1 - i
        y = -0.35 * (j + 1) - 0.2 * len(c.cliques)
        end = 1 - 0.05 * k if left else k + 0.05 * k
        ax.plot([ranks[m], ranks[m], end], [0, y, y], color="#444444", lw=0.8, clip_on=False)
        ax.text(end + (-0.02 * k if left else 0.02 * k), y, f"{_t(m)} ({ranks[m]:.2f})",
                ha="right" if left else "left", va="center", fontsize=8, clip_on=False)
    for g, group in enumerate(c.cliques):
        lo, hi = ranks[group[0]], ranks[group[-1]]
        y = -0.12 - 0.2 * g
        ax.plot([lo - 0.03, hi + 0.03], [y, y], color="black", lw=3, solid_capstyle="butt")
    fig.suptitle(_t(cd_title(c)), fontsize=8.5, y=0.99)
    return fig


def write_cd_diagrams(comparisons: list[Comparison], out_dir: str | Path, fmt: str = "svg",
                      dpi: int = 110) -> dict[str, Path]:
    """Write the diagram of every comparison into ``out_dir``; return ``{comparison key: path}``."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown plot format {fmt!r} (choose from {', '.join(FORMATS)})")
    from matplotlib import rc_context

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    meta = {"Date": None} if fmt in ("svg", "pdf") else {"Software": None}
    with rc_context({"svg.hashsalt": "plantseek", "svg.fonttype": "path"}):
        for c in comparisons:
            fig = figure_cd(c)
            if fig is None:
                continue
            path = out / f"cd_{c.key}.{fmt}"
            fig.savefig(path, format=fmt, dpi=dpi, metadata=meta, bbox_inches="tight")
            written[c.key] = path
    return written
