#!/usr/bin/env python3
"""Fuzzes einsim: mutates the shipped configs (workloads, param presets, architectures, energy tables, DRAM
presets, mappings, the mapper's constraints, sweeps), damages sweep results, and runs every subcommand on them,
each run under a memory and time limit.

A case is one einsim run on one mutated input (or on mutated command-line values). It fails when einsim dies by
a signal, exits 3 (internal error), outlives its time limit, exits with a code other than 0, 1 or 2, or exits 2
(bad input) without a one-line message of readable length. Every failing case is written to --failures as a
JSON file that --replay runs again; the ones found so far live in tests/fuzz/regressions/ and the test suite
replays them on every run.

  tests/fuzz/fuzz.py --einsim build/release/einsim --cases 20000 -j 2     # a campaign (scripts/fuzz)
  EINSIM_SEED=7 tests/fuzz/fuzz.py --einsim ... --cases 300              # another seed
  tests/fuzz/fuzz.py --einsim ... --replay tests/fuzz/regressions        # the regressions only

Same seed, same cases: case i's mutation is drawn from a generator seeded by (seed, i) alone, so -j does not
change which inputs are tried.
"""
import argparse
import base64
import json
import os
import random
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TREES = ["configs", "tests/data"]  # copied into each worker's directory; paths inside stay relative

# Values that have broken parsers and arithmetic before: limits of the integer types, huge and tiny floats,
# empty and long strings, YAML's special scalars, a byte that is not UTF-8, an expression that multiplies.
INTERESTING = [
    "0", "-1", "1", "2", "3", "7", "255", "256", "1000", "65535", "65536", "2147483647", "2147483648",
    "4294967295", "4294967296", "9223372036854775807", "9223372036854775808", "18446744073709551615",
    "18446744073709551616", "10000000000000000000", "99999999999999999999", "1e19", "1e308", "-1e308",
    "1e-14", "-0", "0.5", "nan", ".nan", ".inf", "-.inf", "inf", "''", '""', "~", "null", "true", "false",
    "[]", "{}", "[1, 2]", "{a: 1}", "x" * 300, "\xff\xfe", "é", "M*M*M*M", "2^64", "(", "1/0", "-",
    "0x10", "1_000", "1 GiB/s", "1e-14 GiB/s", "0 MHz", "1 THz", "1 MiB", "0 B", "16 EiB", "-5 KiB",
]


def set_limits(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class Corpus:
    """The config files of one worker's copy of the trees, by kind, and which mapping uses which file."""

    def __init__(self, root: Path):
        self.root = root
        files = sorted(p for tree in TREES for p in (root / tree).rglob("*.yaml"))
        self.mappings, self.workloads, self.arches, self.drams, self.energies, self.presets, self.sweeps = (
            [], [], [], [], [], [], [])
        self.uses = {}  # file -> mappings that read it (directly or through their arch)
        # Mappings include constraints (configs/constraints/: mappings whose tiles may say `auto`, for `map`).
        for p in files:
            text = p.read_text(encoding="latin-1")
            rel = p.relative_to(root).as_posix()
            if "/sweeps/" in rel or "/sweep/" in rel:
                # Not the FuseMax study's (mutated, its long sequences can take minutes) nor the Slurm test's
                # (1,500 cycle-level points, a worker each: over the time limit at -j 1 on a busy machine).
                if not rel.endswith(("fusemax.yaml", "fusemax-quick.yaml", "sweep/slurm.yaml")):
                    self.sweeps.append(rel)
            elif re.search(r"^groups:", text, re.M):
                self.mappings.append(rel)
            elif re.search(r"^einsums:", text, re.M):
                self.workloads.append(rel)
            elif re.search(r"^components:", text, re.M):
                self.arches.append(rel)
            elif "/dram/" in rel:
                self.drams.append(rel)
            elif "/energy/" in rel:
                self.energies.append(rel)
            elif "/models/" in rel:
                self.presets.append(rel)
        for m in self.mappings:
            text = (root / m).read_text(encoding="latin-1")
            for key in ("arch", "workload"):
                found = re.search(rf"^{key}:\s*(\S+)", text, re.M)
                if not found:
                    continue
                used = os.path.normpath(os.path.join(os.path.dirname(m), found.group(1)))
                self.uses.setdefault(used, []).append(m)
                if key == "arch":
                    energy = re.search(r"^energy_table:\s*(\S+)", (root / used).read_text(encoding="latin-1"),
                                       re.M) if (root / used).exists() else None
                    if energy:
                        table = os.path.normpath(os.path.join(os.path.dirname(used), energy.group(1)))
                        self.uses.setdefault(table, []).append(m)

    def mapping_for(self, rng: random.Random, path: str) -> str:
        return rng.choice(self.uses.get(path) or self.mappings)


def mutate(rng: random.Random, data: bytes, donors: list) -> bytes:
    """One to three edits of a YAML file's text: a value replaced by an interesting one or by a name from the
    file, a line deleted, duplicated, moved or re-indented, a key renamed, an index swapped, bytes inserted, the
    file cut short, a where clause written into an Einsum, an Einsum split into two parts along one of its output
    indices (a tensor written in parts), a guard (`when T[...]`) on an Einsum, a density on a tensor, or a line
    taken from another file of the same kind."""
    text = data.decode("latin-1")
    for _ in range(rng.randint(1, 3)):
        lines = text.split("\n")
        names = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text) or ["x"]
        i = rng.randrange(len(lines))
        op = rng.randrange(15)
        if op <= 2:  # a value
            m = list(re.finditer(r"(:\s*|\[\s*|,\s*)([^,\[\]{}#\s][^,\[\]{}#]*?)(?=\s*(,|\]|\}|#|$))", lines[i]))
            if m:
                v = rng.choice(m)
                new = rng.choice(INTERESTING) if op < 2 else rng.choice(names)
                lines[i] = lines[i][:v.start(2)] + new + lines[i][v.end(2):]
        elif op == 3:
            del lines[i]
        elif op == 4:
            lines.insert(i, lines[i])
        elif op == 5:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 6:
            lines[i] = (" " * rng.choice([1, 2, 4]) + lines[i]) if rng.random() < 0.5 else lines[i].lstrip()
        elif op == 7:  # a key renamed
            m = re.match(r"(\s*-?\s*)([A-Za-z_][A-Za-z0-9_]*)(\s*:)", lines[i])
            if m:
                key = rng.choice([m.group(2)[:-1], m.group(2) + "x", rng.choice(names)])
                lines[i] = m.group(1) + key + lines[i][m.end(2):]
        elif op == 8:  # an index or name inside brackets swapped for another name of the file
            m = list(re.finditer(r"(?<=[\[,])\s*([A-Za-z_][A-Za-z0-9_]*)", lines[i]))
            if m:
                v = rng.choice(m)
                lines[i] = lines[i][:v.start(1)] + rng.choice(names) + lines[i][v.end(1):]
        elif op == 9:
            pos = rng.randrange(len(lines[i]) + 1)
            junk = "".join(chr(rng.choice([0, 9, 10, 13, 34, 38, 42, 58, 91, 93, 123, 125, 0x80, 0xff]))
                           for _ in range(rng.randint(1, 4)))
            lines[i] = lines[i][:pos] + junk + lines[i][pos:]
        elif op == 11:  # an Einsum's where clause, new or replaced: comparisons of its indices, params and numbers
            m = re.match(r"(\s*-\s*[\"']?)([^#\"']*\]\s*=[^#\"']*?)(\s+where\s[^#\"']*)?([\"']?\s*(#.*)?)$", lines[i])
            if m:
                words = re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*\b", m.group(2)) or ["x"]

                def side():
                    return " + ".join(rng.choice([rng.choice(words), rng.choice(INTERESTING), str(rng.randint(-9, 9)),
                                                  f"{rng.randint(-3, 3)}*{rng.choice(words)}"])
                                      for _ in range(rng.randint(1, 3)))

                clause = " and ".join(f"{side()} {rng.choice(['<=', '<', '>=', '>', '==', '=', '!='])} {side()}"
                                      for _ in range(rng.randint(1, 3)))
                lines[i] = m.group(1) + m.group(2) + " where " + clause + m.group(4)
        elif op == 12:  # an Einsum written in two parts, split along one of its output indices
            m = re.match(r"(\s*-\s*[\"']?)([A-Za-z_][A-Za-z0-9_]*)\[([^\]]*)\](\s*=[^#\"']*?)(\s+where\s[^#\"']*)?([\"']?\s*(#.*)?)$",
                         lines[i])
            if m:
                index = rng.choice([x.strip() for x in m.group(3).split(",")] or ["x"])
                at = rng.choice([str(rng.randint(-2, 9)), rng.choice(names), rng.choice(INTERESTING)])
                head = m.group(1) + m.group(2) + "[" + m.group(3) + "]" + m.group(4)
                rest = (m.group(5) + " and" if m.group(5) else " where")
                lines[i] = head + rest + f" {index} < {at}" + m.group(6)
                lines.insert(i + 1, head + rest + f" {index} >= {at}" + m.group(6))
        elif op == 13:  # a guard on an Einsum: `when T[...]` at its output's indices, or at other names
            m = re.match(r"(\s*-\s*[\"']?)([A-Za-z_][A-Za-z0-9_]*)\[([^\]]*)\](\s*=[^#\"']*?)([\"']?\s*(#.*)?)$", lines[i])
            if m:
                indices = [x.strip() for x in m.group(3).split(",") if x.strip()] or ["x"]
                picked = [x if rng.random() < 0.8 else rng.choice(names) for x in indices[: rng.randint(1, len(indices))]]
                lines[i] = (m.group(1) + m.group(2) + "[" + m.group(3) + "]" + m.group(4) +
                            f" when {rng.choice(names)}[{','.join(picked)}]" + m.group(5))
        elif op == 14:  # a density on a tensor entry: a fraction, a param's name or an interesting value
            m = re.match(r"(\s*[A-Za-z_][A-Za-z0-9_]*\s*:\s*\{)(.*)$", lines[i])
            if m:
                value = rng.choice([str(rng.random()), rng.choice(names), rng.choice(INTERESTING)])
                lines[i] = m.group(1) + f"density: {value}, " + m.group(2)
        else:
            donor = rng.choice(donors).decode("latin-1").split("\n")
            if rng.random() < 0.1:
                lines = lines[: rng.randrange(len(lines) + 1)]
            else:
                lines.insert(i, rng.choice(donor))
        text = "\n".join(lines)
    return text.encode("latin-1")


def damage(rng: random.Random, data: bytes) -> bytes:
    """A results file as a crash, a full disk or another program might leave it: cut short, bytes overwritten,
    emptied, or (a text file) edited like a config."""
    op = rng.randrange(5)
    if op == 4 and data.startswith(b"SQLite format 3"):  # a sweep stopped early: only some of its rows
        with tempfile.TemporaryDirectory() as d:
            db = Path(d) / "r.sqlite"
            db.write_bytes(data)
            with sqlite3.connect(db) as c:
                c.execute("DELETE FROM results WHERE abs(random() % 4) != 0" if rng.random() < 0.7
                          else "DELETE FROM results")
            return db.read_bytes()
    if op == 0 or not data:
        return data[: rng.randrange(len(data) + 1)]
    if op == 1:
        b = bytearray(data)
        for _ in range(rng.randint(1, 16)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if op == 2:
        return b""
    return mutate(rng, data, [data])


def set_value(rng: random.Random) -> str:
    """A value for a --set or a numeric option: an interesting one, a random power-of-two-sized integer, or a
    small one."""
    return rng.choice(INTERESTING + [str(rng.randint(0, 1 << rng.randint(1, 70))), str(rng.randint(-9, 9))])


def draw_case(seed: int, index: int, corpus: Corpus, contents: dict) -> dict:
    """Case `index` of a campaign: the file it mutates (with its new bytes) and the command it runs. Paths are
    relative to the worker's directory; OUT stands for a fresh output directory."""
    rng = random.Random(f"{seed}:{index}")
    kind = rng.choice(["workload", "workload", "mapping", "mapping", "constraints", "arch", "arch", "preset",
                       "energy", "dram", "sweep", "set", "gemm", "dram_cli", "results", "cosim", "paths", "worker"])
    target, argv, case_stdin = None, None, b""
    if kind == "workload":
        target = rng.choice(corpus.workloads)
        mapping = corpus.uses.get(target)
        argv = rng.choice([["check", target], ["check", target, "--json"], ["eval", target, "--max-ops", "2e9"],
                           ["validate", target, "--backend", "cpu", "--max-ops", "2e9"]]
                          + ([["model", "--mapping", rng.choice(mapping)], ["sim", "--mapping", rng.choice(mapping)]]
                             if mapping else []))
    elif kind == "mapping":
        target = rng.choice(corpus.mappings)
        argv = rng.choice([["model", "--mapping", target], ["model", "--mapping", target, "--json"],
                           ["sim", "--mapping", target], ["sim", "--mapping", target, "--json"],
                           ["map", "--constraints", target, "-o", "OUT/mapped.yaml",
                            "--objective", rng.choice(["latency", "energy", "edp"])]])
    elif kind == "constraints":
        target = rng.choice([m for m in corpus.mappings if "/constraints/" in m])
        argv = ["map", "--constraints", target, "--top", rng.choice(["1", "3", "0", "x"])] + rng.choice(
            [[], ["-o", "OUT/mapped.yaml"], ["--json"], ["--set", f"{rng.choice(['M', 'N', 'K'])}={set_value(rng)}"],
             ["--rerank-cycle", rng.choice(["2", "0", "-1", "101"]), "-o", "OUT/mapped.yaml"]])
    elif kind == "arch":
        target = rng.choice(corpus.arches)
        argv = rng.choice([["arch", target], ["arch", target, "--json"],
                           ["model", "--mapping", corpus.mapping_for(rng, target)],
                           ["sim", "--mapping", corpus.mapping_for(rng, target)]])
    elif kind == "energy":
        target = rng.choice(corpus.energies)
        m = corpus.mapping_for(rng, target)
        argv = rng.choice([["model", "--mapping", m], ["sim", "--mapping", m]])
    elif kind == "preset":
        target = rng.choice(corpus.presets)
        argv = rng.choice([["check", "configs/workloads/attention-3pass.yaml", "--params", target],
                           ["model", "--mapping", "configs/mappings/attention-fusemax.yaml", "--params", target],
                           ["model", "--mapping", "configs/mappings/llm/decode-attention.yaml", "--params", target],
                           ["sim", "--mapping", "configs/mappings/llm/moe-ffn.yaml", "--params", target]])
    elif kind == "dram":
        target = rng.choice(corpus.drams)
        bank = ["--set", "arch.dram.model=bank", "--set", f"arch.dram.preset={target}"]
        argv = rng.choice([["dram", target, "--requests", str(rng.choice([1, 100, 5000]))],
                           ["dram", target, "--pattern", rng.choice(["random", "stream", "strided"]),
                            "--requests", "2000", "--json"],
                           ["model", "--mapping", "configs/mappings/gemm-systolic-ws.yaml"] + bank,
                           ["sim", "--mapping", "configs/mappings/gemm-systolic-ws.yaml"] + bank])
    elif kind == "sweep":
        target = rng.choice(corpus.sweeps)
        argv = ["sweep", target, "-o", "OUT", "-j", "1"] + (["--resume"] if rng.random() < 0.1 else [])
    elif kind == "set":  # a command-line override with an interesting value
        m = rng.choice(corpus.mappings)
        names = sorted(set(re.findall(r"^\s+([A-Za-z_][A-Za-z0-9_]*):", contents[m].decode("latin-1"), re.M)))
        arch_keys = ["size", "bandwidth", "latency_cycles", "dma_engines", "rows", "cols", "lanes", "banks",
                     "row_bits", "ports", "access_bits", "regfile_entries", "dataflow", "dtype", "model", "clock"]
        comps = ["dram", "glb", "array", "pe2d", "pe1d", "tensor", "vector", "x"]
        sets = []
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.5:
                sets += ["--set", f"arch.{rng.choice(comps)}.{rng.choice(arch_keys)}={set_value(rng)}"]
            else:
                param = rng.choice(["B", "M", "P", "E", "F", "H", "D", "K", "N", "L", "T", "FF", "seq"] + names)
                sets += ["--set", f"{param}={set_value(rng)}"]
        argv = [rng.choice(["model", "sim", "model"]), "--mapping", m] + sets
    elif kind == "gemm":
        argv = ["gemm", "--rows", set_value(rng), "--cols", set_value(rng), "--M", set_value(rng), "--N",
                set_value(rng), "--K", set_value(rng), "--dataflow", rng.choice(["ws", "os", "is"])]
        if rng.random() < 0.5:
            argv = ["gemm", "--rows", str(rng.randint(1, 512)), "--cols", str(rng.randint(1, 512)),
                    "--M", str(rng.randint(1, 1 << 40)), "--N", str(rng.randint(1, 1 << 40)),
                    "--K", str(rng.randint(1, 1 << 40)), "--json"]
    elif kind == "results":  # a sweep's results, damaged, then reported on, merged or resumed
        which = rng.choice(["whole", "shard0", "shard1", "duplex"])
        target = f"results/{which}/" + rng.choice(["results.csv", "results.sqlite", "results.sqlite"])
        sweep = "configs/sweeps/duplex.yaml" if which == "duplex" else "tests/data/sweep/gemm.yaml"
        argv = rng.choice([["report", f"results/{which}", "-o", "OUT/report.html"],
                           ["merge", "results/shard0", "results/shard1", "-o", "OUT"],
                           ["sweep", sweep, "-o", f"results/{which}", "--resume", "-j", "1"]])
        if argv[0] == "report" and rng.random() < 0.8:  # matplotlib takes seconds: most cases break the input
            target = f"results/{which}/results.sqlite"
    elif kind == "cosim":
        cycles = ["0", "1", "100", "5000", "-1", "100000001", "9223372036854775808", "1e308", "x"]
        argv = ["cosim", "--unit", rng.choice(["pe", "systolic", "softmax_lane", "dequant", "x"]),
                "--cycles", rng.choice(cycles)]
        for opt, values in [("--dtype", ["int8", "bf16", "fp32", ""]), ("--size", ["0", "1", "2", "8", "64", "-3"]),
                            ("--seed", None), ("--vcd", ["OUT/w.vcd", "missing/dir/w.vcd", "/dev/full", "configs"])]:
            if rng.random() < 0.4:
                argv += [opt, rng.choice(values) if values else set_value(rng)]
    elif kind == "paths":  # output files where they cannot be written
        bad = rng.choice(["missing/dir/x", "/dev/full", "configs", "configs/arch/fusemax.yaml/x", "", "y" * 300,
                          "OUT/ok"])
        m = rng.choice(corpus.mappings)
        argv = rng.choice([["sim", "--mapping", m, "--trace", bad], ["sim", "--mapping", m, "--vcd", bad],
                           ["eval", "configs/workloads/gemm.yaml", "--out", bad],
                           ["eval", "configs/workloads/gemm.yaml", "--inputs", bad],
                           ["eval", "configs/workloads/llm/decode-attention-spatten.yaml", "--set", "workload.L=64",
                            "--set", "workload.H=4", "--densities", bad],
                           ["sweep", "tests/data/sweep/gemm.yaml", "-o", bad, "-j", "1"],
                           ["report", "results/whole", "-o", bad],
                           ["dram", "hbm3-5.2", "--trace", bad, "--requests", "10"],
                           ["arch", "--kinds"] + rng.choice([[], ["--json"]])])
    elif kind == "worker":  # what a sweep hands its cycle-level worker on stdin, edited
        point = {"mapping": rng.choice(corpus.mappings), "arch": "", "workload": "", "param_files": [],
                 "params": [[rng.choice(["B", "M", "P", "N", "K"]), set_value(rng)]] if rng.random() < 0.5 else [],
                 "arch_sets": [["arch.dram.dma_engines", set_value(rng)]] if rng.random() < 0.3 else []}
        text = json.dumps(point, indent=1).encode()
        argv = ["worker"]
        case_stdin = mutate(rng, text, [text]) if rng.random() < 0.7 else text
    else:  # dram_cli
        preset = rng.choice(corpus.drams)
        argv = ["dram", preset]
        for opt, values in [("--requests", None), ("--pattern", ["random", "stream", "strided", "x"]),
                            ("--stride", None), ("--load", ["light", "saturate", "x"]), ("--interval", None),
                            ("--read-ratio", ["0", "1", "0.5", "-1", "2", "nan"]), ("--seed", None)]:
            if rng.random() < 0.4:
                argv += [opt, rng.choice(values) if values else set_value(rng)]
        if "--requests" not in argv:
            argv += ["--requests", "3000"]
    case = {"seed": seed, "index": index, "kind": kind, "argv": argv}
    if kind == "worker":
        case["stdin"] = base64.b64encode(case_stdin).decode()
    if target and kind == "results":
        case["target"] = target
        case["content"] = base64.b64encode(damage(rng, contents[target])).decode()
    elif target:
        donors = [contents[f] for f in getattr(corpus, {"workload": "workloads", "mapping": "mappings",
                                                          "constraints": "mappings",
                                                          "arch": "arches", "energy": "energies",
                                                          "preset": "presets", "dram": "drams",
                                                          "sweep": "sweeps"}[kind])]
        case["target"] = target
        case["content"] = base64.b64encode(mutate(rng, contents[target], donors)).decode()
    return case


def prepare_results(einsim: str, workdir: Path) -> None:
    """workdir/results/: the small GEMM sweep's results whole and as two shards, and the Duplex study's (it
    compares with published figures), for report, merge and --resume to read after a case has damaged one of
    their files."""
    for name, sweep, shard in [("whole", "tests/data/sweep/gemm.yaml", []),
                               ("shard0", "tests/data/sweep/gemm.yaml", ["--shard", "1/2"]),
                               ("shard1", "tests/data/sweep/gemm.yaml", ["--shard", "2/2"]),
                               ("duplex", "configs/sweeps/duplex.yaml", [])]:
        subprocess.run([einsim, "sweep", sweep, "-o", f"results/{name}", "-j", "1"] + shard, cwd=workdir, check=True,
                       capture_output=True)
    shutil.copytree(workdir / "results", workdir / "results.pristine")


def run_case(case: dict, workdir: Path, einsim: str, memory: int, timeout: float) -> dict:
    """Runs one case in workdir (a copy of the trees) and says whether it failed and how."""
    target = workdir / case["target"] if case.get("target") else None
    original = target.read_bytes() if target and target.exists() else None
    out = Path(tempfile.mkdtemp(prefix="out-", dir=workdir))
    (out / "o").mkdir()  # OUT: an empty directory (a sweep's or merge's results, a report's folder)
    argv = [str(out / "o") + a[3:] if a.startswith("OUT") else a for a in case["argv"]]
    try:
        if target:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base64.b64decode(case["content"]))
        start = time.monotonic()
        try:
            p = subprocess.run([einsim] + argv, cwd=workdir, input=base64.b64decode(case.get("stdin", "")),
                               capture_output=True, timeout=timeout, preexec_fn=lambda: set_limits(memory))
            rc, err = p.returncode, p.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired as e:
            rc, err = None, (e.stderr or b"").decode("utf-8", "replace")
        seconds = time.monotonic() - start
    finally:
        if target:
            if original is None:
                target.unlink(missing_ok=True)
            else:
                target.write_bytes(original)
        shutil.rmtree(out, ignore_errors=True)
        if any(a.startswith("results") for a in case["argv"]):  # --resume may have written into them
            shutil.rmtree(workdir / "results", ignore_errors=True)
            shutil.copytree(workdir / "results.pristine", workdir / "results")
    return {"rc": rc, "stderr": err, "seconds": seconds, "problem": problem(case, rc, err)}


def problem(case: dict, rc, err: str):
    """What is wrong with a run's outcome, or None."""
    if rc is None:
        return "hang (time limit)"
    if rc < 0:
        return f"killed by signal {-rc}"
    if rc == 3:
        return "internal error (exit 3)"
    if rc not in (0, 1, 2):
        return f"exit {rc}"
    if rc == 2:
        lines = [l for l in err.splitlines() if l.strip()]
        if case["argv"][0] == "sweep":  # a sweep prints progress before its error; the error is the last line
            lines = lines[-1:]
        # One line, naming the file; an expression's error may add the source line and a caret under the column.
        excerpt = len(lines) == 3 and lines[2].strip() == "^"
        if len(lines) != 1 and not excerpt:
            return f"bad input reported in {len(lines)} lines"
        if len(lines[0]) > 500:
            return f"bad-input message of {len(lines[0])} characters"
        if "Traceback" in err:
            return "Python traceback"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--einsim", required=True, help="The einsim binary")
    ap.add_argument("--cases", type=int, default=300, help="Cases to run (default 300)")
    ap.add_argument("--seed", type=int, help="Campaign seed (default: EINSIM_SEED, else the time)")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="Cases run at once")
    ap.add_argument("--memory", type=float, default=6.0, help="Address-space limit per run, GiB (default 6)")
    ap.add_argument("--timeout", type=float, default=120.0, help="Seconds a run may take (default 120)")
    ap.add_argument("--failures", type=Path, help="Write each failing case here as JSON (for --replay)")
    ap.add_argument("--replay", type=Path, help="Run the JSON cases in this directory (or file) instead")
    args = ap.parse_args()

    einsim = str(Path(args.einsim).resolve())
    seed = args.seed if args.seed is not None else int(os.environ.get("EINSIM_SEED", int(time.time()) % 100000))
    memory = int(args.memory * (1 << 30))
    base = Path(tempfile.mkdtemp(prefix="einsim-fuzz-"))
    try:
        workdirs = []
        for w in range(max(1, args.jobs)):
            d = base / f"w{w}"
            for tree in TREES:
                shutil.copytree(ROOT / tree, d / tree)
            if workdirs:  # the sweeps' results are the same in every worker's copy: run them once
                for results in ("results", "results.pristine"):
                    shutil.copytree(workdirs[0] / results, d / results)
            else:
                prepare_results(einsim, d)
            workdirs.append(d)
        corpus = Corpus(workdirs[0])
        contents = {p.relative_to(workdirs[0]).as_posix(): p.read_bytes()
                    for tree in TREES + ["results"] for p in (workdirs[0] / tree).rglob("*") if p.is_file()}
        if args.replay:
            files = sorted(args.replay.glob("*.json")) if args.replay.is_dir() else [args.replay]
            cases = [dict(json.loads(f.read_text()), file=str(f)) for f in files]
            print(f"fuzz: replaying {len(cases)} cases from {args.replay}", flush=True)
        else:
            cases = [draw_case(seed, i, corpus, contents) for i in range(args.cases)]
            print(f"fuzz: seed {seed} (EINSIM_SEED={seed} repeats it), {args.cases} cases, -j {args.jobs}",
                  flush=True)

        free = list(workdirs)
        lock = threading.Lock()
        failures, kinds, slowest = [], {}, (0.0, None)
        done = [0]
        started = time.monotonic()

        def work(case):
            nonlocal slowest
            with lock:
                d = free.pop()
            try:
                r = run_case(case, d, einsim, memory, args.timeout)
            finally:
                with lock:
                    free.append(d)
            with lock:
                done[0] += 1
                kinds.setdefault(case["argv"][0], [0, 0])
                kinds[case["argv"][0]][0] += 1
                if r["rc"] == 2:
                    kinds[case["argv"][0]][1] += 1
                if r["seconds"] > slowest[0]:
                    slowest = (r["seconds"], case)
                if r["problem"]:
                    failures.append((case, r))
                    print(f"FAIL case {case.get('file', case['index'])}: {r['problem']}: einsim "
                          f"{' '.join(case['argv'])}" + (f" (mutated {case['target']})" if case.get("target") else "")
                          + f"\n  {r['stderr'].strip()[-400:]}", flush=True)
                if done[0] % 1000 == 0:
                    print(f"fuzz: {done[0]} cases, {len(failures)} failing, "
                          f"{time.monotonic() - started:.0f} s", flush=True)

        with ThreadPoolExecutor(max_workers=len(workdirs)) as pool:
            list(pool.map(work, cases))

        if args.failures and failures:
            args.failures.mkdir(parents=True, exist_ok=True)
            for case, r in failures:
                name = f"{case['seed']}-{case['index']}.json" if "index" in case else Path(case["file"]).name
                kept = {k: v for k, v in case.items() if k != "file"}
                kept["problem"] = r["problem"]
                (args.failures / name).write_text(json.dumps(kept, indent=1) + "\n")
        counts = ", ".join(f"{k} {v[0]} ({v[1]} bad input)" for k, v in sorted(kinds.items()))
        print(f"fuzz: {len(cases)} cases in {time.monotonic() - started:.0f} s: {counts}")
        if slowest[1]:
            print(f"fuzz: slowest run {slowest[0]:.1f} s: einsim {' '.join(slowest[1]['argv'])}")
        print(f"fuzz: {len(failures)} failing" + (f" (seed {seed})" if not args.replay else ""))
        return 1 if failures else 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
