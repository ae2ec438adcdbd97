#!/usr/bin/env python3
"""ctest: runs a sweep, renders its report, loads the report in headless Chromium and checks that every image
loaded, no script error occurred and the tables hold the expected rows.
Usage: check_report.py EINSIM SWEEP WORKDIR"""
import csv
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser


class Tables(HTMLParser):
    """Rows of each table by id (or class + data-name)."""

    def __init__(self):
        super().__init__()
        self.rows, self.current, self.in_body = {}, None, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.current = a.get("id") or a.get("data-name")
            self.rows.setdefault(self.current, 0)
        elif tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body and self.current:
            self.rows[self.current] += 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self.in_body = False
        elif tag == "table":
            self.current = None


def main():
    einsim, sweep, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    subprocess.run([einsim, "sweep", sweep, "-o", work, "-j", "2"], check=True)
    subprocess.run([einsim, "report", work, "-o", f"{work}/report.html"], check=True)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        sys.exit("chromium is not installed (./scripts/setup installs it)")
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--dump-dom",
                          f"file://{work}/report.html"], check=True, capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'<pre id="selfcheck">([^<]*)</pre>', dom)
    if not m or not m.group(1):
        sys.exit("the report's self-check did not run (no load event?)")
    check = json.loads(m.group(1))
    print("self-check:", check)
    assert check["errors"] == [], f"script errors: {check['errors']}"
    assert check["images"] >= 8, f"expected the report's plots, found {check['images']} images"
    assert check["loaded"] == check["images"], f"{check['images'] - check['loaded']} images did not load"

    with open(f"{work}/results.csv") as f:
        results = list(csv.DictReader(f))
    tables = Tables()
    tables.feed(dom)
    print("table rows:", tables.rows)
    assert tables.rows["summary"] == len(results), (tables.rows["summary"], len(results))
    # One row per (fidelity, compared value, scope): 2 x 4 x 2 against each baseline.
    assert tables.rows["vs FLAT"] == 16 and tables.rows["vs unfused"] == 16, tables.rows
    assert tables.rows["gap"] == 10, tables.rows  # config x scope
    print("report OK")


if __name__ == "__main__":
    main()
