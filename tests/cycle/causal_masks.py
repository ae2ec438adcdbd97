#!/usr/bin/env python3
"""The cycle engine on a causal prefill: the tiles and loads a where clause skips are skipped at cycle level too,
so its operations, traffic and energy equal the analytical model's exactly and its cycles are within 1%.

usage: causal_masks.py EINSIM"""
import json
import subprocess
import sys

einsim = sys.argv[1]
args = ["--mapping", "configs/mappings/attention-causal-fusemax.yaml", "--set", "P=16384", "--json"]
model = json.loads(subprocess.run([einsim, "model", *args], check=True, capture_output=True, text=True).stdout)
sim = json.loads(subprocess.run([einsim, "sim", *args], check=True, capture_output=True, text=True).stdout)
failures = []
for key in ("traffic_bytes", "energy_pJ", "busy_cycles"):
    if model[key] != sim[key]:
        failures.append(f"{key}: model {model[key]} sim {sim[key]}")
for name, e in model["einsums"].items():
    if e["ops"] != sim["einsums"][name]["ops"]:
        failures.append(f"{name} ops: model {e['ops']} sim {sim['einsums'][name]['ops']}")
# Every score of query p against keys 0..p, two heads of E = 64: the masked tiles' points are not work.
if sim["einsums"]["BQK"]["ops"]["mac"] != 2 * 64 * 16384 * 16385 // 2:
    failures.append(f"BQK macs {sim['einsums']['BQK']['ops']['mac']}")
gap = sim["cycles"] / model["cycles"] - 1
if abs(gap) > 0.01:
    failures.append(f"cycles: model {model['cycles']} sim {sim['cycles']} ({gap:+.2%})")
print(f"causal prefill, P = 16,384: model {model['cycles']:,} cycles, sim {sim['cycles']:,} ({gap:+.2%})")
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
