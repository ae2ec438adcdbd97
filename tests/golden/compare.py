#!/usr/bin/env python3
"""Compares a Stats JSON with its golden file key by key: numbers within a relative tolerance, everything
else exactly; names missing and extra keys. Exit 1 on any difference."""
import json
import sys


def flatten(value, prefix=""):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else k))
        return out
    return {prefix: value}


def main():
    golden_file, actual_file = sys.argv[1], sys.argv[2]
    tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-9
    golden = flatten(json.load(open(golden_file)))
    actual = flatten(json.load(open(actual_file)))
    problems = [f"missing key {k}" for k in sorted(golden.keys() - actual.keys())]
    problems += [f"extra key {k}" for k in sorted(actual.keys() - golden.keys())]
    for k in sorted(golden.keys() & actual.keys()):
        g, a = golden[k], actual[k]
        if k in ("workload", "arch", "mapping"):
            continue  # paths depend on where the run started
        numbers = isinstance(g, (int, float)) and isinstance(a, (int, float)) and not isinstance(g, bool)
        if numbers and abs(g - a) <= tol * max(abs(g), abs(a), 1e-300):
            continue
        if g != a:
            problems.append(f"{k}: golden {g}, now {a}")
    for p in problems:
        print(p)
    print(f"{golden_file}: {'OK' if not problems else str(len(problems)) + ' differences'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
