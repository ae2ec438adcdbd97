#!/usr/bin/env python3
"""ctest: kill -9 a running sweep, then --resume it: no finished point is lost or run twice, and the results
equal an uninterrupted run's (but for wall_s).
Usage: kill_resume.py EINSIM SWEEP WORKDIR"""
import csv
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time


def rows(d):
    with open(f"{d}/results.csv") as f:
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in csv.DictReader(f)]


def main():
    einsim, sweep, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    whole, cut = f"{work}/whole", f"{work}/cut"
    subprocess.run([einsim, "sweep", sweep, "-o", whole, "-j", "2"], check=True, capture_output=True)
    p = subprocess.Popen([einsim, "sweep", sweep, "-o", cut, "-j", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = f"{cut}/results.sqlite"
    deadline = time.time() + 60
    while time.time() < deadline:  # kill it once some points are committed
        time.sleep(0.05)
        try:
            if sqlite3.connect(db).execute("SELECT COUNT(*) FROM results").fetchone()[0] >= 10:
                break
        except sqlite3.Error:
            pass
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    done = sqlite3.connect(db).execute("SELECT COUNT(*) FROM results").fetchone()[0]
    total = len(rows(whole))
    print(f"killed after {done} of {total} results")
    assert 10 <= done < total, "the sweep finished before it could be killed"
    out = subprocess.run([einsim, "sweep", sweep, "-o", cut, "--resume", "-j", "2"], check=True, capture_output=True, text=True).stdout
    print(out.strip())
    assert f"{total - done} run, {done} already done" in out, out
    assert rows(cut) == rows(whole), "resumed results differ from an uninterrupted run's"
    print("kill -9 and --resume OK")


if __name__ == "__main__":
    main()
