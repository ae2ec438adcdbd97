#!/usr/bin/env python3
"""The report's plots read well: log axes labelled with plain numbers (a small range gets minor labels, never
2.6x10^0), and legends beside the axes rather than over the lines they name."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import report  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots()
ax.plot([2.2, 2.4, 2.6, 2.9], [2.1, 2.5, 2.7, 3.1], label="a")
ax.plot([2.2, 2.9], [3.0, 2.2], label="b")
ax.set_xscale("log")
ax.set_yscale("log")
ax.legend()
report.readable(fig)
fig.canvas.draw()
lo, hi = ax.get_ylim()
labels = [t.get_text() for t in ax.yaxis.get_ticklabels(which="both") if t.get_text() and lo <= t.get_position()[1] <= hi]
assert labels, "a log axis spanning 2.1 to 3.1 has no tick labels"
for t in labels:
    float(t)  # a plain number: no mathtext such as 2.6x10^0
assert "3" in labels, labels
renderer = fig.canvas.get_renderer()
legend_box = ax.get_legend().get_window_extent(renderer)
axes_box = ax.get_window_extent(renderer)
assert legend_box.x0 >= axes_box.x1, (legend_box, axes_box)

fig, ax = plt.subplots()
ax.plot([1, 1e6], [1, 1e6])
ax.set_xscale("log")
report.readable(fig)
fig.canvas.draw()
lo, hi = ax.get_xlim()
labels = [t.get_text() for t in ax.xaxis.get_ticklabels(which="both") if t.get_text() and lo <= t.get_position()[0] <= hi]
assert "1000" in labels and "1e+06" in labels, labels  # majors only over six decades
assert not any(t.startswith(("2", "3", "5")) for t in labels), labels
# Two panels side by side, a legend of 40 lines: one legend beside both panels, in columns of at most
# LEGEND_ROWS entries, covering neither panel.
fig, axs = plt.subplots(1, 2, figsize=(9, 3.2))
for k in range(40):
    axs[0].plot([1, 2], [k, k + 1], label=f"line {k}")
    axs[1].plot([1, 2], [k + 1, k], label=f"line {k}")
axs[0].legend()
report.readable(fig)
fig.canvas.draw()
renderer = fig.canvas.get_renderer()
legends = fig.legends + [a.get_legend() for a in fig.axes if a.get_legend() is not None]
assert len(legends) == 1, legends
box = legends[0].get_window_extent(renderer)
for a in fig.axes:
    panel = a.get_window_extent(renderer)
    assert box.x0 >= panel.x1 or box.x1 <= panel.x0 or box.y0 >= panel.y1 or box.y1 <= panel.y0, (box, panel)
columns = getattr(legends[0], "_ncols", getattr(legends[0], "_ncol", None))  # matplotlib 3.6 / older
assert columns == 3, columns  # 40 entries, 18 a column
print("plots OK:", labels)
