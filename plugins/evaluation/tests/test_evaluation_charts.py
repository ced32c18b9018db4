"""Chart layout: a stacked chart's legend reads like its stack and stays off the bars."""

from __future__ import annotations

from hub_evaluation.charts import stacked_bars


def test_the_legend_lists_the_stack_from_the_top_beside_the_plot() -> None:
    channels = ["portal", "koffer", "buergermobil"]
    rows = [
        {"period": f"2026-{month:02d}", "channel": channel, "cases": 10 * month + i}
        for month in range(1, 13)
        for i, channel in enumerate(channels)
    ]
    figure = stacked_bars(rows, "channel", "cases", "Fälle nach Kanal")
    axes = figure.axes[0]
    legend = axes.get_legend()
    shown = [text.get_text() for text in legend.get_texts()]
    stacked = [c.get_label() for c in axes.containers]  # bottom first
    assert stacked == sorted(channels)
    assert shown == stacked[::-1]
    figure.canvas.draw()  # lay out, then the legend must lie right of the plot
    assert legend.get_window_extent().x0 >= axes.get_window_extent().x1
