"""Charts of the reports (matplotlib, without pyplot: no global state, safe in threads),
drawn only from what a report shows — a suppressed cell is a gap, never its number."""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib import rc_context
from matplotlib.figure import Figure

FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
# Colour-blind-safe palette (Okabe–Ito) for up to eight series.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def render(figure: Figure, fmt: str) -> bytes:
    """The figure as SVG or PNG; no timestamp inside, so the same data gives the same file."""
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    # Text stays text in SVG (screen readers, search), not outlines.
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "hub"}):
        figure.savefig(buffer, format=fmt, metadata=metadata, bbox_inches="tight", dpi=110)
    return buffer.getvalue()


def stacked_bars(
    rows: Sequence[Mapping[str, Any]], series: str, measure: str, title: str
) -> Figure:
    """Bars per period, stacked by ``series`` (a channel, a service)."""
    periods = sorted({r["period"] for r in rows})
    values: dict[str, dict[str, int]] = defaultdict(dict)
    for r in rows:
        if r.get(measure) is not None:
            values[str(r[series])][r["period"]] = r[measure]
    figure = Figure(figsize=(8, 4))
    axes = figure.subplots()
    bottom = [0] * len(periods)
    for i, (name, found) in enumerate(sorted(values.items())):
        heights = [found.get(p, 0) for p in periods]
        axes.bar(periods, heights, bottom=bottom, label=name, color=COLOURS[i % len(COLOURS)])
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    _finish(figure, axes, title, legend=bool(values))
    return figure


def line(points: Mapping[str, int | None], title: str, label: str) -> Figure:
    """One value per period; a hidden one is a gap in the line."""
    periods = sorted(points)
    figure = Figure(figsize=(8, 3.5))
    axes = figure.subplots()
    ys = [math.nan if points[p] is None else points[p] for p in periods]
    axes.plot(periods, ys, marker="o", color=COLOURS[0], label=label)
    axes.set_ylim(bottom=0)
    _finish(figure, axes, title, legend=False)
    return figure


def bars(labels: Sequence[str], values: Sequence[float | None], title: str, unit: str) -> Figure:
    """Horizontal bars (utilisation per office, cost per case per Einsatz)."""
    figure = Figure(figsize=(8, 0.9 + 0.45 * max(1, len(labels))))
    axes = figure.subplots()
    shown = [0 if v is None else v for v in values]
    axes.barh(list(labels), shown, color=COLOURS[2])
    for y, v in enumerate(values):
        axes.annotate("–" if v is None else f"{v:g} {unit}".strip(), (shown[y], y),
                      xytext=(4, 0), textcoords="offset points", va="center")  # fmt: skip
    axes.invert_yaxis()
    _finish(figure, axes, title, legend=False)
    return figure


def places(points: Sequence[tuple[str, float, float, int | None]], title: str) -> Figure:
    """The Einsätze where they were (longitude, latitude; no map tiles: nothing is fetched),
    each circle as large as its cases; a place whose count is hidden is an open ring."""
    figure = Figure(figsize=(7, 6))
    axes = figure.subplots()
    for name, lat, lon, n in points:
        size = 40 + 12 * math.sqrt(n or 0)
        face = "none" if n is None else COLOURS[0]
        axes.scatter([lon], [lat], s=size, facecolors=face, edgecolors=COLOURS[0], alpha=0.8)
        label = name if n is None else f"{name} ({n})"
        axes.annotate(label, (lon, lat), xytext=(5, 5), textcoords="offset points", fontsize=8)
    if points:
        mean_lat = sum(p[1] for p in points) / len(points)
        axes.set_aspect(1 / math.cos(math.radians(mean_lat)))  # degrees of longitude shrink
    axes.set_xlabel("Längengrad")
    axes.set_ylabel("Breitengrad")
    _finish(figure, axes, title, legend=False)
    return figure


def _finish(figure: Figure, axes: Any, title: str, *, legend: bool) -> None:
    axes.set_title(title)
    axes.grid(axis="y", alpha=0.3)
    for label in axes.get_xticklabels():
        label.set_rotation(45)
        label.set_horizontalalignment("right")
    if legend:
        # Beside the plot, not loc="best": stacked bars leave it no free corner, and searching
        # for one takes matplotlib seconds on a busy CPU. Top entry = top of the stack.
        handles, labels = axes.get_legend_handles_labels()
        axes.legend(
            handles[::-1],
            labels[::-1],
            fontsize=8,
            frameon=False,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
        )
    figure.tight_layout()


__all__ = ["FORMATS", "bars", "line", "places", "render", "stacked_bars"]
