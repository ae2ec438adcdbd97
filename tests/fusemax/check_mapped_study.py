#!/usr/bin/env python3
"""ctest: the FuseMax study with every mapping found by the mapper (configs/sweeps/fusemax-mapped.yaml) runs in
under two minutes on two threads, every point ok, and at no point is it slower analytically than the same study
with the paper's mappings (configs/sweeps/fusemax.yaml); FLAT's mapper spills its scores where that is faster and
beats the paper's per-length tiling at 256K and 1M.
Usage: check_mapped_study.py EINSIM WORKDIR"""
import csv
import shutil
import subprocess
import sys
import time


def run(einsim, sweep, out):
    start = time.monotonic()
    subprocess.run([einsim, "sweep", sweep, "-o", out, "-j", "2"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    took = time.monotonic() - start
    with open(f"{out}/results.csv") as f:
        rows = list(csv.DictReader(f))
    bad = [r for r in rows if r["status"] != "ok"]
    assert not bad, f"{sweep}: {len(bad)} points not ok, first: {bad[0]['reason']}"
    return took, {(r["config"], r["model"], r["seq"], r["scope"], r["fidelity"]): int(r["cycles"]) for r in rows}


def main():
    einsim, work = sys.argv[1:3]
    shutil.rmtree(work, ignore_errors=True)
    took, mapped = run(einsim, "configs/sweeps/fusemax-mapped.yaml", f"{work}/mapped")
    _, hand = run(einsim, "configs/sweeps/fusemax.yaml", f"{work}/hand")
    assert len(mapped) == len(hand) == 480, (len(mapped), len(hand))
    assert took < 120, f"the mapped study took {took:.1f} s, over two minutes"
    slower = [(k, mapped[k] / hand[k]) for k in mapped if k[4] == "analytical" and mapped[k] > hand[k]]
    assert not slower, f"{len(slower)} points slower than with the paper's mappings, first {slower[0]}"
    for model in ("bert", "trxl", "t5", "xlm"):
        for seq in ("262144", "1048576"):
            k = ("flat", model, seq, "attention", "analytical")
            assert mapped[k] < hand[k], (k, mapped[k], hand[k])
    worst = max(mapped[k] / hand[k] for k in mapped if k[4] == "analytical")
    best = min(mapped[k] / hand[k] for k in mapped if k[4] == "analytical")
    print(f"mapped study: {took:.1f} s, analytical cycles mapped / paper's mappings {best:.4f} to {worst:.4f}")


if __name__ == "__main__":
    main()
