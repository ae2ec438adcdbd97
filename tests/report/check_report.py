#!/usr/bin/env python3
"""ctest: runs a sweep, renders its report, loads the report in headless Chromium and checks that every image
loaded, no script error occurred, a screenshot shows every section and plot drawn where the layout put it, and
the tables hold the expected rows.
Usage: check_report.py EINSIM SWEEP WORKDIR [fusemax-quick|pim-placement|large|linear-attention|sqa|lean-attention|spatten|splitk-cores]  (which rows to expect; default the first)"""
import csv
import json
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser


class Tables(HTMLParser):
    """Rows of each table by id (or class + data-name)."""

    def __init__(self):
        super().__init__()
        self.rows, self.current, self.in_body = {}, None, False
        self.cells, self.cell = {}, None  # table -> rows of cell texts; the cell being read

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.current = a.get("id") or a.get("data-name")
            self.rows.setdefault(self.current, 0)
            self.cells.setdefault(self.current, [])
        elif tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body and self.current:
            self.rows[self.current] += 1
            self.cells[self.current].append([])
        elif tag == "td" and self.in_body and self.current:
            self.cell = ""

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

    def handle_endtag(self, tag):
        if tag == "tbody":
            self.in_body = False
        elif tag == "table":
            self.current = None
        elif tag == "td" and self.cell is not None:
            self.cells[self.current][-1].append(self.cell)
            self.cell = None


def check_fusemax_quick(tables):
    # One row per (fidelity, compared value, scope): 2 x 4 x 2 against each baseline.
    assert tables.rows["vs FLAT"] == 16 and tables.rows["vs unfused"] == 16, tables.rows
    assert tables.rows["gap"] == 10, tables.rows  # config x scope
    assert "placement" not in tables.rows, "a sweep without place: auto groups has no Placement section"
    # The GEMMs are mapped at every end-to-end point: their candidates at the first such point of 4 of the 5
    # configurations (points 1, 11, 31, 41: 10 points a configuration), ranked, best first, rank 1 the mapping the
    # point evaluated (its file named in the row).
    candidates = {name: rows for name, rows in tables.cells.items() if name and name.startswith("candidates-")}
    assert sorted(candidates) == [f"candidates-{p}-gemms" for p in (1, 11, 31, 41)], sorted(candidates)
    for name, rows in candidates.items():
        ranked = [r for r in rows if r[0] != "-"]
        assert [r[0] for r in ranked] == [str(i) for i in range(1, len(ranked) + 1)], (name, rows)
        cycles = [float(r[2]) for r in ranked]
        assert cycles == sorted(cycles), (name, cycles)
        assert any(r[1] == "yes" for r in rows), (name, "no candidate on the Pareto front")


def check_splitk_cores(tables, results):
    """The split-K study: the mapper chose each point's spread over the cores (cores: auto), and the candidate
    tables show the setting beside the loop nests (for the first point of each reducers: N = 1,024, K = 2,048):
    split-K with the fast reducers, the blocks of n alone with the slow ones (their 10 GB/s would take longer than
    the HBM)."""
    assert all(r["status"] == "ok" for r in results), [r for r in results if r["status"] != "ok"][:1]
    candidates = {name: rows for name, rows in tables.cells.items() if name and name.startswith("candidates-")}
    assert candidates, "no candidate tables"
    point = {(r["N"], r["K"], r["reducers"]): r["point"] for r in results}
    for name, rows in candidates.items():
        ranked = [r for r in rows if r[0] != "-"]
        assert [r[0] for r in ranked] == [str(i) for i in range(1, len(ranked) + 1)], (name, rows)
        assert all(r[-2].startswith("z.cores=[") for r in rows), (name, "no settings column", rows[0])
    best = {name: next(r for r in rows if r[0] == "1")[-2] for name, rows in candidates.items()}
    fast = f"candidates-{point[('1024', '2048', 'fast')]}-gemm"
    slow = f"candidates-{point[('1024', '2048', 'slow')]}-gemm"
    assert best.get(fast) == "z.cores=[n, k]" and best.get(slow) == "z.cores=[n]", best
    print("split-K OK", best)


def check_large(tables):
    # 10,000 points: one comparison row per (fidelity, compared value) and the figures drawn (checked above).
    assert tables.rows["vs ws"] == 1, tables.rows


def check_pim_placement(tables):
    # Points per (group, where it ran) by system (xpu, bank_pim, logic_pim), of 4 each (batch x L): decode
    # attention goes to either PIM; the projections and experts to Logic-PIM at batch 32 only (sweep_test.cpp).
    counts = {(r[0], r[1]): r[2:] for r in tables.cells["placement"]}
    assert counts[("attention_attention", "cuda")] == ["4", "0", "0"], counts
    assert counts[("attention_attention", "pim")] == ["0", "4", "4"], counts
    assert counts[("attention_q_projection", "tensor")] == ["4", "4", "2"], counts
    assert counts[("attention_q_projection", "pim")] == ["0", "0", "2"], counts
    assert counts[("moe_other_experts", "pim")] == ["0", "0", "2"], counts
    assert counts[("moe_other_experts", "tensor+cuda")] == ["4", "4", "2"], counts
    # Why: per (group, system, candidate), with the candidate's ridge; the PIM candidates exist beside PIM only.
    header = ["group", "system", "points", "Op/B min", "Op/B max", "candidate", "ridge Op/B", "memory-bound at (points)", "ran there (points)"]
    why = {(r[0], r[1], r[5]): dict(zip(header, r)) for r in tables.cells["placement-why"]}
    pim = why[("attention_attention", "logic_pim", "pim")]
    assert pim["ridge Op/B"] == "7.7–7.71" and pim["ran there (points)"] == "4" and pim["memory-bound at (points)"] == "4", pim
    assert why[("moe_other_experts", "bank_pim", "pim")]["ridge Op/B"] == "1.28", why  # 1.25 before nRFC was 350 ns
    assert ("attention_attention", "xpu", "pim") not in why, why
    units = {r[0]: r[1:] for r in tables.cells["einsum-units"]}
    assert units["attention_QK"] == ["cuda 4", "pim 4", "pim 4"], units
    assert units["attention_Q"] == ["tensor 4", "tensor 4", "pim 2, tensor 2"], units
    print("placement OK")


def check_linear_attention(tables, results):
    """The linear-attention study: every point ran, the papers' figures are set beside einsim's, and the ratios
    follow from the models' layers and bytes."""
    assert all(r["status"] == "ok" for r in results), [r for r in results if r["status"] != "ok"][:1]
    published = tables.cells["published"]
    assert len(published) == 5, published
    # KV cache and states at 1M: 7 MLA layers' latent cache and 20 KDA states, against 27 MLA layers'.
    cache = float(next(r for r in published if r[3] == "cache_bytes_per_seq")[6])
    want = (7 * 1152 * 2**20 + 20 * 2**21) / (27 * 1152 * 2**20)
    assert abs(cache - want) < 1e-3, (cache, want)
    cycles = {(r["system"], r["model"], int(r["context"]), int(r["batch"])): float(r["cycles"]) for r in results}
    contexts = sorted({k[2] for k in cycles})
    mamba = []
    for system in ("xpu", "spatial"):
        for batch in (1, 16, 128):
            # Kimi Linear's gain grows with the context and stays under the bound the layer counts set, 27/7.
            gains = [cycles[(system, "full_mla", c, batch)] / cycles[(system, "kimi_linear", c, batch)] for c in contexts]
            assert gains == sorted(gains) and gains[-1] <= 27 / 7, (system, batch, gains)
            assert gains[-1] > 3.5, (system, batch, gains)
            # Mamba's step does not depend on the context.
            assert len({cycles[(system, "mamba", c, batch)] for c in contexts}) == 1, (system, batch)
        # Against the Transformer, the gain grows with the batch (the KV cache read per step) at 2K.
        gains = [cycles[(system, "transformer", 2048, b)] / cycles[(system, "mamba", 2048, b)] for b in (1, 16, 128)]
        assert gains == sorted(gains) and gains[0] > 1, (system, gains)
        mamba += gains
    print("linear attention OK", [round(g, 2) for g in mamba])


def check_sqa(tables, results):
    """The SQA study: prefill attention's time follows the query heads, not the key/value heads."""
    assert all(r["status"] == "ok" for r in results), [r for r in results if r["status"] != "ok"][:1]
    assert len(tables.cells["published"]) == 2, tables.cells["published"]
    cycles = {(r["variant"], int(r["seq"])): float(r["cycles"]) for r in results}
    for seq in {k[1] for k in cycles}:
        mha = cycles[("mha", seq)]
        for variant, heads in (("gqa", 16), ("mqa", 16), ("sqa", 8), ("ssqa", 8), ("xsqa", 4)):
            # The work is 16 / heads times smaller; the pipeline's fill and the K and V loads add a little.
            assert abs(mha / cycles[(variant, seq)] - 16 / heads) < 0.01 * 16 / heads, (variant, seq)
    print("sqa OK")


def check_lean_attention(tables, results):
    """The Lean Attention study: splitting the KV cache over the cores helps exactly where FlashAttention-2 leaves
    cores idle, by at most what the HBM allows, and more as the context grows."""
    assert all(r["status"] == "ok" for r in results), [r for r in results if r["status"] != "ok"][:1]
    assert len(tables.cells["published"]) == 3, tables.cells["published"]
    cycles = {(r["kernel"], int(r["context"]), int(r["batch"])): float(r["cycles"]) for r in results}
    contexts = sorted({k[1] for k in cycles})
    # Batch 1: 32 heads on 132 cores. The gain over FlashAttention-2 grows with the context and stays under the
    # bound the HBM sets: FlashAttention-2's time over the cache's bytes at 3.35 TB/s (1.83 GHz).
    gains = [cycles[("fa2", c, 1)] / cycles[("lean", c, 1)] for c in contexts]
    assert gains == sorted(gains) and gains[0] > 1.5, gains
    for c, g in zip(contexts, gains):
        hbm = 32 * c * 128 * 2 * 2 / 3.35e12 * 1.83e9
        assert g <= cycles[("fa2", c, 1)] / hbm, (c, g)
    # Batch 4 and 8 give every core an item already: no split helps.
    for b in (4, 8):
        for c in contexts:
            assert cycles[("fa2", c, b)] <= cycles[("flashdecoding", c, b)] <= cycles[("lean", c, b)], (b, c)
    print("lean attention OK", [round(g, 2) for g in gains])


def check_spatten(tables, results):
    """The SpAtten study: the traffic follows the tokens and heads kept and the bits fetched (K and V dominate),
    and no scheme is slower than the dense step; progressive quantization beats fetching all 12 bits."""
    assert all(r["status"] == "ok" for r in results), [r for r in results if r["status"] != "ok"][:1]
    assert len(tables.cells["published"]) == 2, tables.cells["published"]
    heads = 11 / 12
    # bytes a value: 1 (the MSB plane) + 0.5 (the LSB plane) for the heads that fetch it, of 1.5 at 12 bits
    progressive = (1 + 0.5 * round(11 * 0.059) / 11) / 1.5
    want = {"dense": 1, "half": 1 / 2, "quarter": 1 / 4, "eighth": 1 / 8, "sixteenth": 1 / 16,
            "quarter-heads": heads / 4, "spatten": heads / 4 * progressive}
    rows = {(r["scheme"], int(r["context"])): r for r in results}
    assert set(s for s, _ in rows) == set(want), sorted(rows)
    for (scheme, context), r in rows.items():
        dense = rows[("dense", context)]
        ratio = float(r["dram_bytes"]) / float(dense["dram_bytes"])
        assert want[scheme] <= ratio < want[scheme] + 0.01, (scheme, context, ratio, want[scheme])
        assert float(r["cycles"]) <= float(dense["cycles"]), (scheme, context)
        assert float(rows[("spatten", context)]["cycles"]) < float(rows[("quarter-heads", context)]["cycles"])
    print("spatten OK")


WIDTH = 1280  # the browser window's width for both the layout and the screenshot


def check_screenshot(chrome, work, check):
    """Renders the whole page to a PNG and checks every section where the layout put it: its heading and body
    drew something, each plot drew a figure (not a blank or one-colour box) at no less than half its size, no
    two plots overlap, and nothing is wider than the window."""
    import matplotlib.image
    page = check["page"]
    assert page["width"] <= WIDTH, f"the page is {page['width']} px wide in a {WIDTH} px window"
    shot = f"{work}/report.png"
    subprocess.run(chrome + [f"--window-size={WIDTH},{page['height']}", f"--screenshot={shot}", f"file://{work}/report.html"],
                   check=True, capture_output=True, timeout=120)
    pixels = matplotlib.image.imread(shot)[:, :, :3]  # rows x columns x RGB in [0, 1]
    assert pixels.shape[0] >= page["height"] - 1, f"screenshot {pixels.shape[0]} px tall, page {page['height']} px"

    def ink(top, left, width, height):  # the share of the box's pixels that are not background white
        box = pixels[int(top):int(top + height), int(left):int(left + width)]
        return float((box.min(axis=2) < 0.9).mean()) if box.size else 0.0, box

    assert check["sections"], "the report has no sections"
    for s in check["sections"]:
        share, _ = ink(s["top"], s["left"], s["width"], s["height"])
        assert s["height"] > 20 and share > 0.005, f"section '{s['title']}' drew nothing ({share:.2%} ink, {s['height']} px)"
        plots = s["plots"]
        for i, p in enumerate(plots):
            # Shrunk to fit the page, a figure's text stays legible down to about half its drawn size.
            assert p["width"] >= 0.5 * p["natural"], f"a plot of '{s['title']}' is shown at {p['width'] / p['natural']:.0%} of its size"
            share, box = ink(p["top"], p["left"], p["width"], p["height"])
            assert share > 0.02, f"a plot of '{s['title']}' is blank ({share:.2%} ink)"
            assert box.reshape(-1, 3).std(axis=0).max() > 0.05, f"a plot of '{s['title']}' is one colour"
            for q in plots[i + 1:]:
                overlap = (min(p["left"] + p["width"], q["left"] + q["width"]) > max(p["left"], q["left"]) + 1 and
                           min(p["top"] + p["height"], q["top"] + q["height"]) > max(p["top"], q["top"]) + 1)
                assert not overlap, f"two plots of '{s['title']}' overlap"
    print(f"screenshot: {len(check['sections'])} sections, {sum(len(s['plots']) for s in check['sections'])} plots, "
          f"{page['width']}x{page['height']} px")


def main():
    einsim, sweep, work = sys.argv[1:4]
    expect = sys.argv[4] if len(sys.argv) > 4 else "fusemax-quick"
    shutil.rmtree(work, ignore_errors=True)
    start = time.monotonic()
    subprocess.run([einsim, "sweep", sweep, "-o", work, "-j", "2"], check=True)
    took = time.monotonic() - start
    assert expect not in ("linear-attention", "sqa", "lean-attention", "spatten") or took < 60, f"the study took {took:.1f} s, over a minute"
    subprocess.run([einsim, "report", work, "-o", f"{work}/report.html"], check=True)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        sys.exit("chromium is not installed (./scripts/setup installs it)")
    chrome = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"]
    dom = subprocess.run(chrome + [f"--window-size={WIDTH},1000", "--dump-dom", f"file://{work}/report.html"], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'<pre id="selfcheck"[^>]*>([^<]*)</pre>', dom)
    if not m or not m.group(1):
        sys.exit("the report's self-check did not run (no load event?)")
    check = json.loads(m.group(1))
    print("self-check:", check)
    assert check["errors"] == [], f"script errors: {check['errors']}"
    assert check["images"] >= (8 if expect == "fusemax-quick" else 4), f"expected the report's plots, found {check['images']} images"
    assert check["loaded"] == check["images"], f"{check['images'] - check['loaded']} images did not load"

    check_screenshot(chrome, work, check)

    with open(f"{work}/results.csv") as f:
        results = list(csv.DictReader(f))
    tables = Tables()
    tables.feed(dom)
    print("table rows:", tables.rows)
    assert tables.rows["summary"] == len(results), (tables.rows["summary"], len(results))
    if expect == "linear-attention":
        check_linear_attention(tables, results)
    elif expect == "sqa":
        check_sqa(tables, results)
    elif expect == "lean-attention":
        check_lean_attention(tables, results)
    elif expect == "spatten":
        check_spatten(tables, results)
    elif expect == "splitk-cores":
        check_splitk_cores(tables, results)
    else:
        {"fusemax-quick": check_fusemax_quick, "pim-placement": check_pim_placement, "large": check_large}[expect](tables)
    print("report OK")


if __name__ == "__main__":
    main()
