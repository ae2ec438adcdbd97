#!/usr/bin/env python3
"""einsim's sweep report: DIR/results.sqlite -> one self-contained HTML file (plots by matplotlib, embedded as
PNG). `einsim report DIR -o report.html` runs this script.
Usage: scripts/report.py DIR -o report.html"""
import argparse
import base64
import html
import io
import json
import math
import re
import os
import sqlite3
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import pandas as pd  # noqa: E402
from jinja2 import Template  # noqa: E402

plt.rcParams.update({"figure.dpi": 100, "font.size": 9, "axes.grid": True, "grid.alpha": 0.3})


class PlainLogFormatter(matplotlib.ticker.Formatter):
    """Log-axis tick labels as plain numbers (2.6, 1000), not 2.6x10^0. Minor ticks get labels (at 2, 3 and 5
    times a power of ten) only when the axis spans less than a decade, where the major ticks alone say little."""

    def __init__(self, minor):
        self.minor = minor

    def __call__(self, v, pos=None):
        if v <= 0:
            return ""
        if self.minor:
            lo, hi = sorted(self.axis.get_view_interval())
            if lo <= 0 or hi / lo > 10:
                return ""
            mantissa = v / 10 ** math.floor(math.log10(v) + 1e-9)
            if round(mantissa) not in (2, 3, 5) or abs(mantissa - round(mantissa)) > 1e-6:
                return ""
        return f"{v:g}"


LEGEND_ROWS = 18  # entries per legend column: longer legends get more columns, never run off the figure


def readable(fig):
    """Every plot the same way: plain numbers on log axes, and legends beside the axes instead of over the
    lines they name. A figure of several panels gets one legend beside them all (beside the first panel, it
    would cover the next)."""
    for ax in fig.axes:
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale == "log":
                axis.set_major_formatter(PlainLogFormatter(minor=False))
                axis.set_minor_formatter(PlainLogFormatter(minor=True))
    with_legend = [ax for ax in fig.axes if ax.get_legend() is not None]
    for ax in with_legend:
        handles, labels = ax.get_legend_handles_labels()
        old = list(ax.get_legend().legendHandles)
        columns = max(1, math.ceil(len(labels) / LEGEND_ROWS))
        if len(fig.axes) > 1:
            ax.get_legend().remove()
            right = max(a.get_position().x1 for a in fig.axes)
            moved = fig.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(right + 0.01, 0.95),
                               borderaxespad=0, ncol=columns)
        else:
            moved = ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0,
                              ncol=columns)
        for new_handle, old_handle in zip(moved.legendHandles, old):  # keep sizes a plot set on its legend
            if hasattr(old_handle, "get_sizes"):
                new_handle.set_sizes(old_handle.get_sizes())


MAX_PANELS = 8  # panels (or line styles) per facet axis; a longer axis shows this many of its values, evenly spread


def some(values, most=MAX_PANELS):
    """At most `most` of `values`, evenly spread, the first and last included."""
    if len(values) <= most:
        return list(values)
    return [values[round(i * (len(values) - 1) / (most - 1))] for i in range(most)]


def say_shown(fig, facet, shown, values):
    """The figure's title says so when it shows only some of a facet axis' values."""
    if len(shown) < len(values):
        fig.suptitle(f"{len(shown)} of the {len(values)} values of {facet}", fontsize=9)


def png(fig):
    readable(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def numeric(values):
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def table(df, floatfmt="{:.4g}"):
    """An HTML table of a data frame (escaped)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for _, r in df.iterrows():
        cells = []
        for v in r:
            if isinstance(v, float):
                cells.append("" if pd.isna(v) else floatfmt.format(v))
            else:
                cells.append(html.escape(str(v)))
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def span(values):
    """One value when all are equal, else "min–max" (3 significant digits)."""
    lo, hi = f"{values.min():.3g}", f"{values.max():.3g}"
    return lo if lo == hi else f"{lo}–{hi}"


class NoResults(Exception):
    """A results database with no rows yet: a sweep that has not committed its first batch."""


class Report:
    def __init__(self, directory, points=None):
        self.dir = directory
        self.points = points or []  # the points whose candidate mappings to show (--point); none: a few
        db = sqlite3.connect(f"{directory}/results.sqlite")
        self.meta = json.loads(db.execute("SELECT value FROM meta WHERE key = 'sweep'").fetchone()[0])
        self.version = (db.execute("SELECT value FROM meta WHERE key = 'einsim_version'").fetchone() or [""])[0]
        self.df = pd.read_sql_query("SELECT * FROM results ORDER BY point, fidelity", db)
        if self.df.empty:
            raise NoResults()
        self.axes = [a["name"] for a in self.meta["axes"]]
        self.values = {a["name"]: a["values"] for a in self.meta["axes"]}
        self.derived = [c["name"] for c in self.meta.get("columns", [])]  # the sweep's own result columns
        self.ok = self.df[self.df.status == "ok"].copy()
        # The x axis of line plots: the numeric axis with the most values (a sequence length, a size).
        candidates = [a for a in self.axes if numeric(self.values[a]) and len(self.values[a]) > 1]
        self.x = max(candidates, key=lambda a: len(self.values[a])) if candidates else None
        if self.x:
            self.ok[self.x] = pd.to_numeric(self.ok[self.x])
        # The series of line plots: the first comparison's axis, else the first axis with several values.
        several = [a for a in self.axes if len(self.values[a]) > 1 and a != self.x]
        self.series = self.meta["compare"][0]["axis"] if self.meta["compare"] else (several[0] if several else None)
        self.facets = [a for a in self.axes if a not in (self.x, self.series) and len(self.values[a]) > 1]

    def columns(self, prefix, suffix=""):
        return [c for c in self.df.columns if c.startswith(prefix) and c.endswith(suffix)]

    def lines(self, ycol_fn, ylabel, title, fidelity="analytical", logy=False):
        """One panel per value of the first facet axis, one line per series value, y against the x axis."""
        d = self.ok[self.ok.fidelity == fidelity]
        if d.empty or not self.x:
            return None
        facet = self.facets[0] if self.facets else None
        panels = some(self.values[facet]) if facet else [None]
        cols = min(4, len(panels))
        rows = math.ceil(len(panels) / cols)
        fig, axs = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
        for ax in axs.flat[len(panels):]:
            ax.remove()
        for ax, p in zip(axs.flat, panels):
            dp = d if p is None else d[d[facet] == p]
            for s in (self.values[self.series] if self.series else [None]):
                ds = dp if s is None else dp[dp[self.series] == s]
                if ds.empty:
                    continue
                y = ycol_fn(ds)
                g = pd.DataFrame({"x": ds[self.x], "y": y}).groupby("x").mean()
                ax.plot(g.index, g.y, marker="o", ms=3, label=str(s))
            ax.set_xscale("log", base=2)
            if logy:
                ax.set_yscale("log")
            ax.set_xlabel(self.x)
            ax.set_ylabel(ylabel)
            ax.set_title(f"{title}" + (f" ({facet} = {p})" if p is not None else ""))
        axs[0][0].legend(fontsize=7)
        if facet:
            say_shown(fig, facet, panels, self.values[facet])
        fig.tight_layout()
        return png(fig)

    def comparisons(self):
        """Ratios of every value against the baseline at equal values of every other axis."""
        out = []
        for c in self.meta["compare"]:
            others = [a for a in self.axes if a != c["axis"]] + ["fidelity"]
            base = self.ok[self.ok[c["axis"]] == c["baseline"]].set_index(others)
            rows = []
            for v in c.get("values") or self.values[c["axis"]]:
                if v == c["baseline"]:
                    continue
                d = self.ok[self.ok[c["axis"]] == v].set_index(others)
                j = d.join(base, rsuffix="_base", how="inner")
                if j.empty:
                    continue
                r = pd.DataFrame({"speedup": j.cycles_base / j.cycles, "energy_ratio": j.energy_pJ / j.energy_pJ_base})
                # The sweep's own columns, as ratios to the baseline's (a cache's bytes, tokens per second).
                for col in self.derived:
                    if col in j.columns:
                        r[col] = pd.to_numeric(j[col]) / pd.to_numeric(j[col + "_base"])
                r[c["axis"]] = v
                rows.append(r.reset_index())
            out.append((c, pd.concat(rows) if rows else pd.DataFrame()))
        return out

    def render(self):
        sections = []
        fidelities = list(self.df.fidelity.unique())
        failed = self.df[self.df.status == "error"]
        infeasible = self.df[self.df.status == "infeasible"]

        # Summary.
        cols = ["point"] + self.axes + ["fidelity", "status", "cycles", "latency_s", "energy_pJ", "area_mm2", "bound"]
        summary = self.df[[c for c in cols if c in self.df.columns]].copy()
        expected = self.meta.get("points")
        missing = (f" <strong>{expected - len(self.df)} of the sweep's {expected} results are missing</strong> (a "
                   "sweep still running, stopped, or one shard of several): every figure below covers the results "
                   "present only." if expected and len(self.df) < expected else "")
        sections.append(("Summary", f"<p>{len(self.df)} results ({len(self.ok)} ok, {len(infeasible)} infeasible, "
                         f"{len(failed)} failed). Infeasible points say why in the CSV's <code>reason</code>.{missing}</p>"
                         + table(summary).replace("<table>", '<table id="summary">'), []))

        # Comparisons against their baselines.
        published = self.meta.get("published", [])
        comparisons = self.comparisons()
        for c, r in comparisons:
            if r.empty:
                continue
            body = f"<p>Every value of <code>{c['axis']}</code> against <code>{c['baseline']}</code> at equal values of every other axis: speedup = baseline cycles / cycles; energy ratio = energy / baseline energy.</p>"
            keys = ["fidelity", c["axis"]] + [a for a in self.axes if a != c["axis"] and len(self.values[a]) == 2]
            avg = r.groupby(keys, sort=False)[["speedup", "energy_ratio"] + [col for col in self.derived if col in r.columns]].mean().reset_index()
            body += table(avg).replace("<table>", f'<table class="comparison" data-name="{html.escape(c["name"])}">')
            imgs = []
            for f in fidelities:
                d = r[r.fidelity == f]
                if d.empty or not self.x:
                    continue
                facet = next((a for a in self.axes if a not in (c["axis"], self.x) and len(self.values[a]) > 1), None)
                fig, axs = plt.subplots(1, 2, figsize=(9, 3.2))
                shown = some(self.values[facet]) if facet else [None]
                for v in d[c["axis"]].unique():
                    for ax, metric in zip(axs, ["speedup", "energy_ratio"]):
                        for p in shown:
                            dd = d[(d[c["axis"]] == v) & ((d[facet] == p) if facet else True)]
                            g = dd.assign(x=pd.to_numeric(dd[self.x])).groupby("x")[metric].mean()
                            ax.plot(g.index, g.values, marker="o", ms=3, ls="-" if p is None or p == self.values[facet][0] else "--",
                                    label=f"{v}" + (f", {facet}={p}" if p is not None else ""))
                for ax, metric in zip(axs, ["speedup", "energy ratio"]):
                    ax.set_xscale("log", base=2)
                    ax.set_xlabel(self.x)
                    ax.set_ylabel(metric)
                    ax.set_title(f"{metric} {c['name']} ({f})")
                axs[0].set_yscale("log")
                axs[0].legend(fontsize=7)
                if facet:
                    say_shown(fig, facet, shown, self.values[facet])
                fig.tight_layout()
                imgs.append(png(fig))
            sections.append((f"Comparison: {c['name']}", body, imgs))

        # Beside the published figures.
        if published:
            rows = []
            comps = {c["name"]: r for c, r in comparisons}
            for p in published:
                r = comps.get(p["compare"], pd.DataFrame())
                cmp_axis = next(c["axis"] for c in self.meta["compare"] if c["name"] == p["compare"])
                for f in fidelities:
                    if r.empty:  # a partial sweep may not have run this comparison's points yet
                        continue
                    d = r[(r.fidelity == f) & (r[cmp_axis] == p["value"])]
                    for k, v in p["where"].items():
                        d = d[d[k].astype(str) == str(v)] if k in d.columns else d.iloc[0:0]
                    if d.empty:
                        continue
                    ours = d[p["metric"]].mean()
                    diff = ours / p["figure"] - 1
                    rows.append({"comparison": p["compare"], "value": p["value"], "where": ", ".join(f"{k}={v}" for k, v in p["where"].items()),
                                 "metric": p["metric"], "fidelity": f, "points": len(d), "einsim": ours, "published": p["figure"],
                                 "difference": f"{100 * diff:+.0f}%", "why": p["explain"] if abs(diff) > 0.10 else "(within 10%)",
                                 "source": p["source"]})
            if rows:
                sections.append(("Against the published figures",
                                 "<p>einsim's average over this sweep's points beside the paper's average (its source says over which points). A difference over 10% is explained.</p>"
                                 + table(pd.DataFrame(rows)).replace("<table>", '<table id="published">'), []))
        if self.meta.get("notes"):
            notes = pd.DataFrame(self.meta["notes"])
            notes = notes[[c for c in ["topic", "einsim", "paper", "why"] if c in notes] + [c for c in notes if c not in ("topic", "einsim", "paper", "why")]]
            sections.append(("Where einsim's model differs from the paper's, and why", table(notes).replace("<table>", '<table id="notes">'), []))

        placement = self.placement()
        if placement:
            sections.append(("Placement", placement, []))
        candidates = self.candidates()
        if candidates:
            sections.append(("Candidate mappings",) + candidates)

        # Utilization, traffic, energy.
        util_cols = self.columns("utilization_")
        imgs = []
        for u in util_cols:
            imgs.append(self.lines(lambda d, u=u: d[u] * 100, "% busy", f"{u[len('utilization_'):]} utilization"))
        sections.append(("Per-unit utilization", "<p>The share of each unit's op slots used over the whole run (analytical).</p>", imgs))
        read_cols = self.columns("traffic_", "_read")
        imgs = []
        for rc in read_cols:
            level = rc[len("traffic_"):-len("_read")]
            imgs.append(self.lines(lambda d, level=level: (d[f"traffic_{level}_read"] + d[f"traffic_{level}_write"]) / 2**30, "GiB moved",
                                   f"{level} traffic", logy=True))
        sections.append(("Traffic", "<p>Bytes read and written per memory level (analytical).</p>", imgs))
        sections.append(("Energy breakdown", "<p>Each component's share of the energy, averaged over the points of each series value (analytical).</p>",
                         [self.energy_breakdown()]))
        sections.append(("Roofline", "<p>Attained throughput against operational intensity (ops per DRAM byte); each series under its roof (the highest peak and DRAM bandwidth among its points).</p>",
                         [self.roofline()]))
        sections.append(("Pareto front", "<p>Latency against energy; marker size is area. Filled markers are Pareto-optimal (no other design is at least as good in latency, energy and area) among the designs evaluated at the same values of the other axes.</p>",
                         [self.pareto()]))
        if "cycle" in fidelities and "analytical" in fidelities and "gap_vs_analytical" in self.df.columns:
            d = self.ok[self.ok.fidelity == "cycle"]
            keys = [a for a in [self.series] + self.facets if a]
            gap = d.groupby(keys)["gap_vs_analytical"].agg(["mean", "min", "max"]).reset_index() if keys else d[["gap_vs_analytical"]].describe()
            sections.append(("Analytical vs cycle-level", "<p>(cycle − analytical) / analytical cycles, per point: what the analytical model leaves out (DRAM latency, port contention, pipeline fill).</p>"
                             + table(gap).replace("<table>", '<table id="gap">'),
                             [self.lines(lambda d: d["gap_vs_analytical"] * 100, "gap %", "cycle vs analytical", fidelity="cycle")]))
        return TEMPLATE.render(meta=self.meta, version=self.version, sections=[(t, b, [i for i in imgs if i]) for t, b, imgs in sections])

    def candidates(self):
        """The mapper's candidates at some points of the parts a sweep mapped (`mapping: auto`): the search saved
        beside each point's mapping (mappings/POINT-PART.json), its best few and its Pareto front side by side."""
        mapped = [c for c in self.df.columns if c.startswith("mapped_")]
        d = self.df[self.df.fidelity == self.df.fidelity.iloc[0]]
        if not mapped:
            return None
        if self.points:  # every mapped part of each point asked for
            shown = [(p, c) for p in self.points if p in set(d.point) for c in mapped]
        else:  # for each part mapped, its first point at each of a few values of the first axis
            first = self.axes[0]
            shown = sorted({(int(d[(d[first] == v) & d[c].notna()].point.min()), c) for c in mapped
                            for v in some(self.values[first], 4) if ((d[first] == v) & d[c].notna()).any()})
        chosen = sorted({p for p, _ in shown})
        body = ("<p>At each point a sweep maps, the mapper ranks every combination of the tiles, orders and settings "
                "the constraints leave open (and each alternative they list) and keeps the best for latency; its best "
                "few and its Pareto front of latency against energy are saved beside the point's mapping "
                "(<code>mappings/POINT-PART.json</code>). Shown for points " + ", ".join(str(p) for p in chosen)
                + " (<code>einsim report --point N</code> chooses others).</p>")
        imgs = []
        for point, column in shown:
            row = d[d.point == point].iloc[0]
            where = ", ".join(f"{a}={row[a]}" for a in self.axes)
            if not isinstance(row[column], str):
                continue
            part = column[len("mapped_"):]
            try:
                with open(os.path.join(self.dir, os.path.splitext(row[column])[0] + ".json")) as f:
                    search = json.load(f)
            except (OSError, ValueError):
                body += f"<p>Point {point}, part {html.escape(part)}: its search is not there.</p>"
                continue
            # A candidate is its loop nests and the group settings it chose (spills, passes, the spread over cores).
            def settings_of(c):
                return " ".join(f"{k}={v}" for k, v in c.get("settings", {}).items())

            rows, seen = [], {}
            for rank, c in enumerate(search["top"], 1):
                seen[(c["loops"], settings_of(c))] = len(rows)
                rows.append(dict(c, rank=str(rank), front=""))
            for c in search.get("pareto", []):
                key = (c["loops"], settings_of(c))
                if key in seen:
                    rows[seen[key]]["front"] = "yes"
                else:
                    seen[key] = len(rows)
                    rows.append(dict(c, rank="-", front="yes"))
            with_settings = any(settings_of(c) for c in rows)
            units = sorted({u for c in rows for u in c["utilization"]})
            memories = sorted({m for c in rows for m in c["traffic"]})
            t = pd.DataFrame([{"rank": c["rank"], "Pareto": c["front"], "cycles": c["cycles"], "energy (pJ)": c["energy_pJ"],
                               "bound": c["bound"],
                               **{f"{u} util.": c["utilization"].get(u, 0.0) for u in units},
                               **{f"{m} MiB": (c["traffic"].get(m, {}).get("read", 0) + c["traffic"].get(m, {}).get("write", 0)) / 2**20
                                  for m in memories},
                               **({"settings": settings_of(c)} if with_settings else {}),
                               "loop nests": c["loops"]} for c in rows])
            cert = search["certificate"]
            alternatives = "".join(
                f"; alternative {html.escape(a['constraints'])}: "
                + (f"best {a['cycles']:,} cycles" if "cycles" in a else "no feasible mapping")
                for a in search.get("alternatives", []))
            body += (f"<h3>Point {point} ({html.escape(where)}), part {html.escape(part)}</h3>"
                     f"<p>{html.escape(search['chosen'])}: {cert['combinations']:,} combinations, {cert['evaluated']:,} "
                     f"evaluated ({html.escape(cert['search'])}){alternatives}. Rank 1 is the mapping the point "
                     f"evaluated (<code>{html.escape(row[column])}</code>).</p>")
            body += table(t).replace("<table>", f'<table class="candidates" data-name="candidates-{point}-{html.escape(part)}">')
            fig, ax = plt.subplots(figsize=(5.5, 3.4))
            front = sorted((c for c in rows if c["front"]), key=lambda c: c["cycles"])
            ax.scatter([c["cycles"] for c in rows], [c["energy_pJ"] for c in rows], s=18, facecolors="none",
                       edgecolors="C0", label="candidates")
            if front:
                ax.step([c["cycles"] for c in front], [c["energy_pJ"] for c in front], where="post", color="C1",
                        marker="o", ms=4, label="Pareto front")
            ax.scatter([rows[0]["cycles"]], [rows[0]["energy_pJ"]], marker="*", s=120, color="C3", zorder=3,
                       label="chosen (rank 1)")
            ax.ticklabel_format(useOffset=False)
            ax.set_xlabel("cycles")
            ax.set_ylabel("energy (pJ)")
            ax.set_title(f"point {point}, {part}", fontsize=9)
            ax.legend(fontsize=7)
            fig.tight_layout()
            imgs.append(png(fig))
        return body, imgs

    def placement(self):
        """Where each `place: auto` group ran (place_<group>) and why: its Op/B against each candidate's ridge."""
        d = self.ok[self.ok.fidelity == ("analytical" if "analytical" in set(self.ok.fidelity) else self.ok.fidelity.iloc[0])] if not self.ok.empty else self.ok
        suffixes = ("_op_per_byte", "_ridge_op_per_byte", "_roofline_s")
        groups = sorted(c[len("place_"):] for c in self.columns("place_") if not c.endswith(suffixes))
        if d.empty or not groups:
            return None
        by = [self.series] if self.series else []
        series_values = [v for v in self.values[self.series] if v in set(d[self.series])] if self.series else []

        def owner(column):  # the longest group name that prefixes a candidate's column
            return max((g for g in groups if column.startswith(f"place_{g}_")), key=len, default=None)

        # Column names sanitize a place's name ("tensor+cuda" -> tensor_cuda): show the name as the results have it.
        sanitized = {}
        for g in groups:
            for p in d[f"place_{g}"].dropna().unique():
                sanitized[re.sub(r"[^A-Za-z0-9_]", "_", p)] = p
        candidates = {g: [] for g in groups}
        for c in self.columns("place_", "_ridge_op_per_byte"):
            g = owner(c)
            if g:
                candidates[g].append(c[len(f"place_{g}_"):-len("_ridge_op_per_byte")])

        # Points per (group, where it ran), one column per series value.
        rows = []
        for g in groups:
            dg = d[d[f"place_{g}"].notna()]
            for place in sorted(dg[f"place_{g}"].unique()):
                row = {"group": g, "ran on": place}
                here = dg[dg[f"place_{g}"] == place]
                for v in series_values:
                    row[v] = int((here[self.series] == v).sum())
                if not by:
                    row["points"] = len(here)
                rows.append(row)
        counts = pd.DataFrame(rows)

        # Per group (and series value): its Op/B range, and per candidate its ridge, how often it won, how often
        # the group was memory-bound there (Op/B below the ridge), and its roofline time range.
        rows = []
        for g in groups:
            dg = d[d[f"place_{g}"].notna()]
            for v, dv in (dg.groupby(self.series, sort=False) if by else [(None, dg)]):
                opb = dv[f"place_{g}_op_per_byte"]
                for cand in candidates[g]:
                    ridge = dv[f"place_{g}_{cand}_ridge_op_per_byte"]
                    present = ridge.notna()
                    if not present.any():
                        continue
                    t = dv[f"place_{g}_{cand}_roofline_s"][present]
                    row = {"group": g}
                    if by:
                        row[self.series] = v
                    row.update({"points": int(present.sum()), "Op/B min": opb[present].min(), "Op/B max": opb[present].max(),
                                "candidate": sanitized.get(cand, cand), "ridge Op/B": span(ridge[present]),
                                "memory-bound at (points)": int((opb[present] < ridge[present]).sum()),
                                "ran there (points)": int((dv[f"place_{g}"][present] == sanitized.get(cand, cand)).sum()),
                                "roofline s min": t.min(), "roofline s max": t.max()})
                    rows.append(row)
        why = pd.DataFrame(rows)
        if by:
            order = {v: k for k, v in enumerate(series_values)}
            why = why.sort_values(["group", self.series], key=lambda c: c.map(order) if c.name == self.series else c, kind="stable")

        # Each Einsum's unit: counts per series value, one cell per value ("pim 12, tensor 4").
        units = []
        for c in self.columns("einsum_", "_unit"):
            row = {"einsum": c[len("einsum_"):-len("_unit")]}
            for v, dv in (d.groupby(self.series, sort=False) if by else [("points", d)]):
                n = dv[c].dropna().value_counts()
                row[v] = ", ".join(f"{u} {k}" for u, k in sorted(n.items()))
            units.append(row)
        units = pd.DataFrame(units)
        if by and not units.empty:
            units = units[["einsum"] + [v for v in series_values if v in units.columns]]

        body = ("<p>A group with <code>place: auto</code> runs on the candidate (its own units, or a PIM beside the backing "
                "memory) whose roofline time, max(ops / peak, bytes / bandwidth), is least; a tie goes to its own units. "
                "A group does the same ops and moves the same bytes on every candidate, so its one Op/B meets each "
                "candidate's ridge (peak / bandwidth): below it, the candidate is memory-bound and its bandwidth decides. "
                f"Counts are points ({d.fidelity.iloc[0]} results"
                + (f", by <code>{self.series}</code>" if by else "") + "). Groups of a sweep's parts are named part_group.</p>")
        body += "<h3>Where each group ran</h3>" + table(counts).replace("<table>", '<table id="placement">')
        body += ("<h3>Why: Op/B against each candidate's ridge</h3>"
                 + table(why, "{:.3g}").replace("<table>", '<table id="placement-why">'))
        if not units.empty:
            body += "<h3>Each Einsum's unit</h3>" + table(units).replace("<table>", '<table id="einsum-units">')
        return body

    def energy_breakdown(self):
        d = self.ok[self.ok.fidelity == "analytical"]
        comps = [c for c in self.columns("energy_", "_pJ") if c.count("_") == 2 and c != "energy_pJ"]
        if d.empty or not comps or not self.series:
            return None
        share = d[comps].fillna(0).div(d["energy_pJ"], axis=0)  # a component a point lacks spends 0% there
        share[self.series] = d[self.series]
        mean = share.groupby(self.series, sort=False).mean().reindex([v for v in self.values[self.series] if v in set(d[self.series])])
        fig, ax = plt.subplots(figsize=(6, 3.2))
        bottom = None
        for c in comps:
            ax.bar(mean.index, mean[c] * 100, bottom=bottom, label=c[len("energy_"):-len("_pJ")])
            bottom = mean[c] * 100 if bottom is None else bottom + mean[c] * 100
        ax.set_ylabel("% of energy")
        ax.legend(fontsize=7, bbox_to_anchor=(1, 1))
        return png(fig)

    def roofline(self):
        d = self.ok[self.ok.fidelity == "analytical"].copy()
        ops_cols = [c for c in d.columns if c.startswith("einsum_") and "_ops_" in c]
        dram_r = [c for c in self.columns("traffic_", "_read") if "dram" in c]
        if d.empty or not ops_cols or not dram_r:
            return None
        level = dram_r[0][len("traffic_"):-len("_read")]
        ops = d[ops_cols].fillna(0).sum(axis=1)
        bytes_ = d[f"traffic_{level}_read"] + d[f"traffic_{level}_write"]
        d["oi"] = ops / bytes_
        d["perf"] = ops / d["latency_s"]
        clock = d["cycles"] / d["latency_s"]
        d["peak"] = ops / (d["roofline_compute_cycles"] / clock)
        d["bw"] = bytes_ / (d["roofline_memory_cycles"] / clock)
        fig, ax = plt.subplots(figsize=(6, 4))
        lo, hi = d.oi.min() / 4, d.oi.max() * 4
        xs = [lo * (hi / lo) ** (k / 200) for k in range(201)]  # log-spaced, so the ridge shows
        # One roof per series value (its highest peak and bandwidth over its points), in its points' colour: a roof
        # per point drew hundreds of unlabelled lines.
        for s in (self.values[self.series] if self.series else [None]):
            ds = d if s is None else d[d[self.series] == s]
            if ds.empty:
                continue
            dots = ax.scatter(ds.oi, ds.perf, s=10, label=str(s) if s is not None else "points")
            peak, bw = ds.peak.max(), ds.bw.max()
            ax.plot(xs, [min(peak, bw * x) for x in xs], color=dots.get_facecolor()[0], lw=0.8, alpha=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("ops per DRAM byte")
        ax.set_ylabel("ops per second (lines: each series' roof)")
        ax.legend(fontsize=7)
        return png(fig)

    def pareto(self):
        d = self.ok[self.ok.fidelity == "analytical"].copy()
        if d.empty or not self.series:
            return None
        others = [a for a in self.axes if a != self.series]
        d["optimal"] = False
        # One grouper by name, not a list of one: pandas warns that a list's keys will become tuples.
        for _, g in d.groupby(others if len(others) > 1 else others[0]) if others else [(None, d)]:
            for i, r in g.iterrows():
                dominated = ((g.latency_s <= r.latency_s) & (g.energy_pJ <= r.energy_pJ) & (g.area_mm2 <= r.area_mm2)
                             & ((g.latency_s < r.latency_s) | (g.energy_pJ < r.energy_pJ) | (g.area_mm2 < r.area_mm2))).any()
                d.loc[i, "optimal"] = not dominated
        fig, ax = plt.subplots(figsize=(6, 4))
        size = 10 + 60 * d.area_mm2 / max(d.area_mm2.max(), 1e-9)
        for k, s in enumerate(self.values[self.series]):
            ds = d[d[self.series] == s]
            color = f"C{k % 10}"
            ax.scatter(ds.latency_s[ds.optimal], ds.energy_pJ[ds.optimal], s=size[ds.index][ds.optimal], color=color, label=str(s))
            ax.scatter(ds.latency_s[~ds.optimal], ds.energy_pJ[~ds.optimal], s=size[ds.index][~ds.optimal], facecolors="none", edgecolors=color)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("latency (s)")
        ax.set_ylabel("energy (pJ)")
        legend = ax.legend(fontsize=7)
        for handle in legend.legendHandles:
            handle.set_sizes([30])
        return png(fig)


TEMPLATE = Template("""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>einsim report: {{ meta.name }}</title>
<script>window.einsimErrors = []; window.addEventListener("error", e => window.einsimErrors.push(String(e.message)));</script>
<style>
body { font-family: sans-serif; margin: 2em; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 12px; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; vertical-align: top; }
#published td:nth-child(10), #notes td { text-align: left; max-width: 420px; }
th { background: #f0f0f0; }
#summary, #placement-why, #einsum-units { display: block; max-height: 400px; overflow: auto; }
img { max-width: 100%; margin: 0.3em; }
code { background: #f4f4f4; }
</style></head><body>
<h1>{{ meta.name }}</h1>
<p>{{ meta.description }} &middot; sweep file <code>{{ meta.file }}</code> &middot; einsim {{ version }} &middot; fidelity: {{ meta.fidelities | join(", ") }}</p>
{% for title, body, images in sections %}
<section>
<h2>{{ title }}</h2>
{{ body }}
{% for src in images %}<img src="{{ src }}" alt="{{ title }}">{% endfor %}
</section>
{% endfor %}
<pre id="selfcheck" hidden></pre>
<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  // Where each section and plot was laid out (page coordinates), for a test to compare with a screenshot.
  const box = e => { const r = e.getBoundingClientRect();
                     return { top: r.top + window.scrollY, left: r.left, width: r.width, height: r.height }; };
  document.getElementById("selfcheck").textContent = JSON.stringify({
    images: imgs.length, loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length, errors: window.einsimErrors,
    page: { width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight },
    sections: Array.from(document.querySelectorAll("section")).map(s => Object.assign(box(s), {
      title: s.querySelector("h2").textContent,
      plots: Array.from(s.querySelectorAll("img")).map(i => Object.assign(box(i), { natural: i.naturalWidth })) })) });
});
</script>
</body></html>
""")


def error(where, message):
    """One line on stderr, like einsim's own errors: control characters in what the input held escaped."""
    text = f"{where}: error: {message}"
    print("".join(c if c.isprintable() else repr(c)[1:-1] for c in text), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dir")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--point", type=int, action="append", default=[],
                    help="a point whose candidate mappings to show (repeatable; default: a few)")
    args = ap.parse_args()
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
        error(args.out, "-o: cannot write there (no such directory, or not writable)")
        return 2
    try:
        report = Report(args.dir, args.point)
    except NoResults:
        error(f"{args.dir}/results.sqlite", "no results yet (a sweep that has not committed its first batch)")
        return 2
    except (sqlite3.Error, TypeError, KeyError) as e:
        error(f"{args.dir}/results.sqlite", f"not an einsim sweep's results ({e})")
        return 2
    text = report.render()
    try:
        with open(args.out, "w") as f:
            f.write(text)
    except OSError as e:
        error(args.out, f"-o: cannot write the report: {e.strerror}")
        return 2
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
