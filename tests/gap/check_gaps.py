#!/usr/bin/env python3
"""Both fidelities tell one truth: every shipped mapping's cycle-level result is within 2% of the analytical
model's at its default point, or its gap is the one docs/model.md names with its cause (pinned here to 0.5%).
Usage: check_gaps.py EINSIM"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# mapping -> (gap, cause), as docs/model.md explains them ("Measured gaps").
KNOWN = {
    "configs/mappings/llm/decode-attention.yaml":
        (-0.048, "latency-bound; the engine's four DMA engines, loads ahead of stores, hide more latency than the "
                 "prefetch bound"),
    "configs/mappings/linear/kda-decode-xpu.yaml":
        (-0.029, "16 tiles of 4 MiB in and out: the engine's loads go ahead of its stores, which the analytical "
                 "model's prefetch bound does not credit"),
    "configs/mappings/linear/kda-decode-fusemax.yaml":
        (-0.024, "compute-bound on the 1D array; the engine starts the first state updates sooner, not traced"),
    "configs/mappings/llm/decode-attention-spatten.yaml":
        (+0.160, "each head's K and V slots held through its ~450-cycle chain: 2 stages keep 2 heads in flight"),
    "configs/mappings/ssm/mamba-block-decode-xpu.yaml":
        (-0.025, "four short groups, each with its head and tail: the engine's loads go ahead of its stores, "
                 "not traced"),
    "configs/mappings/llm/serving-attention.yaml":
        (-0.050, "an 18K-cycle latency-bound step: as decode-attention, four DMA engines, loads ahead of stores"),
    "configs/mappings/llm/prefill-attention-causal.yaml":
        (-0.036, "a prompt of 256 tokens: one block of queries per KV head, its head and tail unhidden; "
                 "not traced further"),
    "configs/mappings/llm/serving-attention-chunked.yaml":
        (-0.050, "serving-attention's step at its default point (no tokens cached before the chunk): the same gap"),
    "configs/mappings/llm/decode-attention-pruned-layers.yaml":
        (-0.035, "as decode-attention: latency-bound, loads ahead of stores"),
    "configs/mappings/llm/serving-attention-tp.yaml":
        (-0.034, "serving-attention's step on four devices: the same latency-bound attention, a quarter of the heads "
                 "each"),
}


def main():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gap-table"), "--einsim", sys.argv[1],
                          "--json"], capture_output=True, text=True, check=True)
    rows = json.loads(out.stdout)["mappings"]
    bad = []
    for r in rows:
        if "error" in r:
            bad.append(f"{r['mapping']}: {r['error']}")
            continue
        known = KNOWN.get(r["mapping"])
        if known:
            if abs(r["gap"] - known[0]) > 0.005:
                bad.append(f"{r['mapping']}: gap {r['gap']:+.2%}, pinned at {known[0]:+.1%} ({known[1]})")
        elif abs(r["gap"]) > 0.02:
            bad.append(f"{r['mapping']}: gap {r['gap']:+.2%} over 2% ({r['stalls']})")
    missing = set(KNOWN) - {r["mapping"] for r in rows}
    bad += [f"{m}: pinned but not shipped" for m in sorted(missing)]
    for r in rows:
        if "gap" in r:
            print(f"{r['mapping']}: {r['gap']:+.2%}")
    if bad:
        print("\n".join(bad))
        return 1
    print(f"{len(rows)} mappings: every gap within 2% or pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
