#!/usr/bin/env python3
"""Independent reference model of the FuseMax study (Nayak et al., MICRO 2024).

What it models
--------------
The paper's own analytical model (its public artifact, github.com/FPSG-UIUC/micro24-fusemax-artifact at commit
f543beb: workspace/src/accel/*.py and workspace/inputs/yamls, "ref" below; and the paper, "paper" below) of the five
configurations -- unfused, FLAT, +Cascade, +Architecture, FuseMax -- for BERT, TrXL, T5 and XLM at batch 64 and
M = P in {1K, 4K, 16K, 64K, 256K, 1M} (1K = 1024): per point, ATTENTION latency (s), 2D- and 1D-array
utilization, DRAM bytes and energy (pJ), and END-TO-END latency/energy = attention + the layer's GEMMs
(Q, K, V projections, output projection, FFN1, FFN2 over B*P tokens).  Python 3 standard library only.

    python3 tests/fusemax/paper_model.py                      # per-point table + headline averages
    python3 tests/fusemax/paper_model.py --json               # the same as JSON
    python3 tests/fusemax/paper_model.py --results DIR/results.csv [--tolerance 0.10] [--configs fusemax,flat]
                                         [--metrics latency,energy] [--fidelity analytical]
                                         [--scope attention]
        compares an einsim sweep (configs/sweeps/fusemax.yaml) with this model: einsim / model per point,
        flags ratios outside 1 +- tolerance on the --metrics (default latency), exit 1 if any is outside.

Every formula is a small function named after its configuration with the line of ref it implements.

Conventions (the choices ref leaves open are marked CHOICE)
-----------------------------------------------------------
* 940 MHz; DRAM 400 * 2^30 B/s, bandwidth only; every tensor 2 bytes (ref "Common to all five").
* Compute time: 2D array 65,536 PEs and 1D array 256 lanes, one compute action per PE per cycle; an Einsum
  costing c actions per point takes c cycles per point (ref: Timeloop compute x cost dictionary).
* Utilization = busy time of the array / latency (busy = its Einsums' compute time; FLAT's 2D busy time is
  counted in PE-cycles actually used, i.e. MACs / 65,536 per cycle).
* DRAM traffic: compulsory traffic for unfused and the GEMMs (ref: "near-compulsory", "compulsory");
  FLAT per the per-length table and the re-fetch rule; 1-pass designs Q + AV + (K + V) once per query block.
  CHOICE (FLAT, spilled share p of 4K-64K, not stated in ref): a spilled score costs every buffer access of
  QK/A that it would have made (QK written, read by max and by exp, SN written, SN read by the divide, A
  written, A read by AV: 7 accesses x 2 B), and an on-chip operand spills p of its buffer re-reads while
  (1 - p) of it is loaded once.
* Energy (pJ) = compute + DRAM + global buffer + register files:
  - compute = actions x {MAC 17.165, add 8.339, max 0.028, divide 36.251, FLAT exp unit 94.647} with each
    configuration's cost dictionary (ref "Energy", FuseMax: exp = 6 MACs + 1 add).  By default the
    artifact's quirk is reproduced: +Cascade's exp energy is dropped (misspelled key, ref last line);
    --no-quirks charges it at FLAT's exp unit.
  - DRAM = bytes / 8 x 249.6 (64-bit accesses).
  - global buffer = scalar reads / 256 x row read + scalar writes (fills, updates) / 256 x row write, the row
    energies CACTI 7 gives each design's buffer as the artifact's Accelergy plug-in runs it (32 MiB: 23,854.6 /
    27,097.5 pJ; 16 MiB: 12,512.7 / 15,751.4). The reference's 484.973 / 451.303 come from the artifact's
    committed, stale energy tables, whose buffer is 32 MiB of 64-bit words: a 64-bit access (--stale-glb).
    CHOICE: counted per Timeloop's convention as this model understands it: every buffered operand is
    filled once and read once per tile of the ranks it does not index; every buffered intermediate is
    written once and read once per consumer (unfused/FLAT softmax: QK written, read by max and by exp; SN
    written, read by sum and by divide; A written, read by AV).
  - register files (ref gives only per-access energies: FLAT 2D 0.292/0.225, FLAT 1D 0.385/0.336, FuseMax
    0.653/0.57 read/write).  CHOICE, selectable with --rf:
      per-mac (default): every compute action (MAC, add, max, exp, divide) reads its two operands from the
        PE register file and updates its output there: 2 reads + 1 update per action, at the register file of
        the array that runs it (unfused uses FLAT's; the GEMMs FLAT's or FuseMax's as their design).
      per-instance: what the artifact's scripts effectively charge: Timeloop reports register-file actions
        per instance and the scripts hand them to Accelergy for one instance, so per-PE register files cost
        (total / instances) -- about nothing -- while FuseMax's single 2D-to-1D register file (reg_file_1d:
        SLNV's partial sums, 1 read + 1 update per MAC, LM and SLD 1 + 1 per score) is charged in full.
* End to end: each GEMM max(DRAM compulsory, compute at full 2D utilization); GEMMs add; e2e = attention +
  GEMMs; unfused, FLAT and +Cascade use FLAT's platform for the GEMMs, +Architecture and FuseMax FuseMax's
  (same latency; energy differs only by register-file energy).
* Headline averages: the speedup (baseline / FuseMax latency) and energy ratio (FuseMax / baseline) per point,
  averaged over the 24 model x length points; both the arithmetic and the geometric mean are printed.
  The paper's 6.7x / 10x / 5.3x / 7.6x are ARITHMETIC means (the geometric mean of this model is 6.5x,
  9.7x, 4.6x, 6.6x); energy ratios are insensitive to the choice.

Validation and known gap
------------------------
* Speedups: this model gives 6.72x / 10.05x (attention vs FLAT / unfused) and 5.30x / 7.60x (end to end),
  the paper's headline.  Checked point by point (outside this script) against the per-point results the
  artifact publishes (workspace/outputs/pregenerated/results/attn-*.csv, end2end-*.csv at commit f543beb):
  latency, DRAM bytes and both utilizations agree exactly for FLAT, +Cascade, +Architecture and FuseMax and
  for every GEMM latency; unfused within 0.4% (its mapper's traffic is not quite compulsory at 256K-1M).
* Energy ratios: with the buffer's row energies above, this model gives FuseMax/FLAT 0.83 and FuseMax/unfused
  0.78 (paper 0.79, 0.77; end to end 0.88 and 0.84, paper 0.83, 0.82); with --rf per-instance (what the
  artifact's scripts effectively charge for per-PE register files) 0.80, 0.75, 0.84, 0.81. With the reference's
  stale 484.973 / 451.303 pJ per row (--stale-glb) they were ~1.0 and ~0.96: on FLAT's hardware the artifact's
  published energies carried ~690 pJ per score (BERT 1K) that no action count produced at those energies;
  that is 4 buffer reads and 3 writes per score at 32 MiB's row energies (4 x 93.18 + 3 x 105.85 pJ per
  element = 690.3). Found by rebuilding the energy tables the artifact's scripts build at run time
  (src/accel/cascade.py, run_accelergy_energy; architecture/accel_<arch>/accel-top-2d-path.yaml) with CACTI 7.
"""

import argparse
import csv
import json
import math
import sys

# ----------------------------------------------------------------------------------------------------------
# Constants (ref "Common to all five", "Energy"; paper "Architecture")
# ----------------------------------------------------------------------------------------------------------
CLOCK_HZ = 940e6
DRAM_BPS = 400 * 2**30
BYTES = 2
PE2D = 256 * 256          # 2D array 256x256
LANES = 256               # 1D array 256 lanes
TILE = 256                # M0 = P0 = 256
MIB = 2**20

E_MAC, E_ADD, E_MAX, E_DIV, E_EXP_FLAT = 17.165, 8.339, 0.028, 36.251, 94.647
# Global buffer, per 4096-bit (256-element) row: CACTI 7 at 45 nm, one bank, 512-byte blocks, as the artifact's
# Accelergy plug-in computes it at run time from each design's buffer (accel_flat: 32 MiB; accel_fusemax: 16 MiB;
# unfused sets FLAT's depth). The reference's 484.973 / 451.303 pJ are the committed, stale ERTs' figures: the
# same CACTI for a 32 MiB buffer of 64-bit words, i.e. one 64-bit access (--stale-glb charges them per row).
E_GLB = {  # MiB -> (read, write) pJ per row
    32: (23854.6, 27097.5),
    16: (12512.7, 15751.4),
}
E_GLB_STALE = (484.973, 451.303)
E_DRAM_64B = 249.6                             # per 64-bit access
RF = {  # (read, write) pJ per access
    "flat2d": (0.292, 0.225),
    "flat1d": (0.385, 0.336),
    "fusemax": (0.653, 0.57),
}

BATCH = 64
MODELS = {  # paper "Workloads": d_model, E = F, heads, FFN hidden
    "bert": {"name": "BERT", "D": 768, "E": 64, "F": 64, "H": 12, "FF": 3072},
    "trxl": {"name": "TrXL", "D": 1024, "E": 64, "F": 64, "H": 16, "FF": 4096},
    "t5": {"name": "T5", "D": 512, "E": 64, "F": 64, "H": 8, "FF": 2048},
    "xlm": {"name": "XLM", "D": 2048, "E": 128, "F": 128, "H": 16, "FF": 8192},
}
LENGTHS = [1024, 4096, 16384, 65536, 262144, 1048576]
CONFIGS = ["unfused", "flat", "cascade", "architecture", "fusemax"]
BASELINES = ["flat", "unfused"]
# The paper's headline (paper, last section): speedup and energy ratio of FuseMax, averages of 24 points.
PAPER_HEADLINE = {
    ("attention", "flat"): (6.7, 0.79), ("attention", "unfused"): (10.0, 0.77),
    ("end_to_end", "flat"): (5.3, 0.83), ("end_to_end", "unfused"): (7.6, 0.82),
}

# FLAT per-length tiling (ref "FLAT" table): locations of Q, K, QK, A, V, AV ("on" = in the 32 MiB buffer),
# stationarity (QK and AV alike), block of query rows P1 (None = whole head), share of scores spilled.
_ON, _OFF = True, False
FLAT_TABLE = {
    "short": {  # BERT, TrXL, T5
        1024: ((_OFF, _OFF, _ON, _ON, _OFF, _OFF), "output", None, 0.0),
        4096: ((_OFF, _OFF, _ON, _ON, _OFF, _OFF), "output", None, 1 / 129),
        16384: ((_OFF, _OFF, _ON, _ON, _OFF, _OFF), "output", 1024, 1 / 129),
        65536: ((_OFF, _OFF, _ON, _ON, _OFF, _ON), "output", 256, 1 / 129),
        262144: ((_ON, _OFF, _OFF, _OFF, _OFF, _ON), "weight", 1024, 0.0),
        1048576: ((_ON, _OFF, _OFF, _OFF, _OFF, _ON), "weight", 1024, 0.0),
    },
    "xlm": {
        1024: ((_OFF, _OFF, _ON, _ON, _ON, _OFF), "output", None, 0.0),
        4096: ((_OFF, _OFF, _ON, _ON, _ON, _OFF), "output", None, 0.0691),
        16384: ((_ON, _OFF, _ON, _ON, _OFF, _OFF), "output", 1024, 0.0266),
        65536: ((_ON, _OFF, _ON, _ON, _OFF, _ON), "output", 256, 0.0154),
        262144: ((_ON, _OFF, _OFF, _OFF, _OFF, _ON), "weight", 1024, 0.0),
        1048576: ((_ON, _OFF, _OFF, _OFF, _OFF, _ON), "weight", 1024, 0.0),
    },
}


# ----------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------
class Point:
    """Sizes of one model x length point (elements, not bytes)."""

    def __init__(self, model, seq):
        m = MODELS[model]
        self.model, self.seq = model, seq
        self.B, self.H, self.E, self.F, self.D, self.FF = BATCH, m["H"], m["E"], m["F"], m["D"], m["FF"]
        self.M = self.P = seq
        bh = self.B * self.H
        self.S = bh * self.M * self.P                  # scores
        self.Q = bh * self.P * self.E
        self.K = bh * self.M * self.E
        self.V = bh * self.M * self.F
        self.AV = bh * self.P * self.F
        self.R = bh * (self.M // TILE) * self.P        # (m1, p) points of the 1-pass cascade
        self.MT, self.PT = self.M // TILE, self.P // TILE


def secs(cycles):
    return cycles / CLOCK_HZ


def dram_secs(nbytes):
    return nbytes / DRAM_BPS


def largest_factor_at_most(n, cap):
    """Largest factor of n not above cap (ref: 'P1 the largest factor of P/256 not above ...')."""
    best = 1
    for f in range(1, int(math.isqrt(n)) + 1):
        if n % f == 0:
            for g in (f, n // f):
                if best < g <= cap:
                    best = g
    return best


class Energy:
    """Action counts -> pJ (ref 'Energy')."""

    stale_glb = False  # --stale-glb: the reference's per-row figures (a 64-bit access's, in fact)

    def __init__(self, rf_mode, glb_mib):
        self.rf_mode = rf_mode
        self.glb_energy = E_GLB_STALE if Energy.stale_glb else E_GLB[glb_mib]
        self.parts = {"compute": 0.0, "dram": 0.0, "glb": 0.0, "rf": 0.0}

    def compute(self, mac=0, add=0, mx=0, div=0, exp_flat=0):
        self.parts["compute"] += mac * E_MAC + add * E_ADD + mx * E_MAX + div * E_DIV + exp_flat * E_EXP_FLAT

    def dram(self, nbytes):
        self.parts["dram"] += nbytes / 8 * E_DRAM_64B

    def glb(self, reads=0, writes=0):
        self.parts["glb"] += reads / 256 * self.glb_energy[0] + writes / 256 * self.glb_energy[1]

    def rf_actions(self, actions, rf, instances):
        """Register-file energy of `actions` compute actions on an array of `instances` PEs using `rf`."""
        r, w = RF[rf]
        per_action = 2 * r + w                       # two operand reads + one output update
        if self.rf_mode == "per-mac":
            self.parts["rf"] += actions * per_action
        else:                                        # per-instance: the artifact charges one PE's count
            self.parts["rf"] += actions / instances * per_action

    def rf_single(self, reads, updates, rf):
        """A single-instance register file (FuseMax's reg_file_1d): charged in full under per-instance."""
        if self.rf_mode == "per-instance":
            r, w = RF[rf]
            self.parts["rf"] += reads * r + updates * w

    def total(self):
        return sum(self.parts.values())


def result(latency_s, dram_bytes, busy2d_s, busy1d_s, energy, **extra):
    out = {
        "latency_s": latency_s,
        "cycles": latency_s * CLOCK_HZ,
        "dram_bytes": dram_bytes,
        "dram_s": dram_secs(dram_bytes),
        "busy_2d_s": busy2d_s,
        "busy_1d_s": busy1d_s,
        "util_2d": busy2d_s / latency_s,
        "util_1d": busy1d_s / latency_s,
        "energy_pJ": energy.total(),
        "energy_parts_pJ": dict(energy.parts),
    }
    out.update(extra)
    return out


def softmax_3pass_energy(en, w):
    """Unfused/FLAT softmax compute (ref 'Unfused': max, subtract+exp, sum, divide per score; FLAT's 1D PE
    has the exp unit): max + (add + exp) + add + divide per score, each action on the 1D array."""
    en.compute(mx=w.S, add=2 * w.S, exp_flat=w.S, div=w.S)
    en.rf_actions(5 * w.S, "flat1d", LANES)


# ----------------------------------------------------------------------------------------------------------
# Unfused (ref "Unfused (unfused.py, stable_softmax.py)")
# ----------------------------------------------------------------------------------------------------------
def unfused(w, rf_mode="per-mac", quirks=True):
    en = Energy(rf_mode, 32)
    # ref: "QK and AV: ... full 2D utilisation with near-compulsory operand traffic; the scores cost 2 B each
    # (QK written to DRAM, A read back)."  -> compute S*E/65536 cycles, DRAM Q + K + QK (resp. A + V + AV).
    qk_comp = secs(w.S * w.E / PE2D)
    qk_bytes = BYTES * (w.Q + w.K + w.S)
    av_comp = secs(w.S * w.F / PE2D)
    av_bytes = BYTES * (w.S + w.V + w.AV)
    # ref: "Softmax: ONE kernel ... Four Einsums ..., each one lane-cycle per score: 4 lane-cycles per score.
    # QK read from DRAM once, A written once"
    ss_comp = secs(4 * w.S / LANES)
    ss_bytes = BYTES * 2 * w.S
    # ref: "Latency = sum over the three stages (QK, softmax, AV) of max(DRAM time, compute time)."
    latency = (max(dram_secs(qk_bytes), qk_comp) + max(dram_secs(ss_bytes), ss_comp)
               + max(dram_secs(av_bytes), av_comp))
    nbytes = qk_bytes + ss_bytes + av_bytes
    # energy
    en.compute(mac=w.S * (w.E + w.F))
    en.rf_actions(w.S * (w.E + w.F), "flat2d", PE2D)
    softmax_3pass_energy(en, w)
    en.dram(nbytes)
    # buffer (CHOICE, see docstring): Q, K, V filled once, Q re-read per M tile, K and V per P tile;
    # A filled and read once; softmax row: QK filled, read twice; SN written, read twice.
    en.glb(reads=w.Q * w.MT + w.K * w.PT + w.V * w.PT + w.S, writes=w.Q + w.K + w.V + w.S)
    en.glb(reads=4 * w.S, writes=2 * w.S)
    return result(latency, nbytes, qk_comp + av_comp, ss_comp, en)


# ----------------------------------------------------------------------------------------------------------
# FLAT (ref "FLAT (flat.py; tiling per length from flat_validation.csv)")
# ----------------------------------------------------------------------------------------------------------
def flat(w, rf_mode="per-mac", quirks=True):
    en = Energy(rf_mode, 32)
    locs, stat, p1, p = FLAT_TABLE["xlm" if w.model == "xlm" else "short"][w.seq]
    q_on, k_on, qk_on, a_on, v_on, av_on = locs
    P1 = p1 or w.P
    NB = w.P // P1                                   # query-row blocks
    # ref: "A tensor marked off bypasses the buffer and is re-fetched per tile of the ranks it does not
    # index."  Loop orders (ref "2D spatial layout"): output-stationary QK keeps E innermost, then M tiles,
    # then P tiles: Q is re-read per M tile, K per P tile.  Weight-stationary QK keeps K[e, m-tile] while the
    # block's P1 rows stream: Q re-read per M tile, K once per block.  Output-stationary AV streams M inner:
    # V re-read per P tile, A and AV once.  Weight-stationary AV: V once per block, AV accumulated per M tile.
    q_fetch = w.Q * w.MT
    k_fetch = w.K * (w.PT if stat == "output" else NB)
    v_fetch = w.V * (w.PT if stat == "output" else NB)
    av_upd, av_rd = (w.AV, 0) if stat == "output" else (w.AV * w.MT, w.AV * (w.MT - 1))

    def true_tensor(size, on, fetch):
        # CHOICE (docstring): on-chip -> loaded once except the spilled share p of its buffer accesses
        return size * (1 - p) + p * fetch if on else fetch

    elems = (true_tensor(w.Q, q_on, q_fetch) + true_tensor(w.K, k_on, k_fetch)
             + true_tensor(w.V, v_on, v_fetch) + true_tensor(w.AV, av_on, w.AV if stat == "output" else av_upd))
    if qk_on and a_on:
        elems += p * 7 * w.S                         # spilled share of the scores' 7 buffer accesses
    else:
        # ref: "Spilled configurations (256K, 1M) move 8 B per score through DRAM: QK written and read
        # back, A written and read back."
        elems += 4 * w.S
    nbytes = BYTES * elems
    # compute (ref: OS QK full array, S*E/65536 cycles; OS AV F of 256 columns; WS QK E columns, WS AV F)
    qk_cycles = w.S * w.E / PE2D if stat == "output" else w.S * w.E / (w.E * TILE)
    av_cycles = w.S * w.F / (w.F * TILE)
    busy2d = secs((w.S * w.E + w.S * w.F) / PE2D)    # PE-cycles used / array size
    comp2d = secs(qk_cycles + av_cycles)
    comp1d = secs(4 * w.S / LANES)                   # ref: "4 lane-cycles per score ... lanes along m, always full"
    # ref: "Latency = max(DRAM time, 2D time, 1D time): DRAM, 2D and 1D fully overlap."
    latency = max(dram_secs(nbytes), comp2d, comp1d)
    # energy
    en.compute(mac=w.S * (w.E + w.F))
    en.rf_actions(w.S * (w.E + w.F), "flat2d", PE2D)
    softmax_3pass_energy(en, w)
    en.dram(nbytes)
    reads = writes = 0.0
    if q_on:
        reads, writes = reads + q_fetch, writes + w.Q
    if v_on:
        reads, writes = reads + v_fetch, writes + w.V
    if av_on:
        reads, writes = reads + av_rd + w.AV, writes + av_upd
    if qk_on and a_on:   # QK written, read by max and exp; SN written, read by sum and divide; A written, read
        reads, writes = reads + 5 * w.S, writes + 3 * w.S
    else:                # softmax still stages each row in the buffer: QK filled + read twice, SN + twice
        reads, writes = reads + 4 * w.S, writes + 2 * w.S
    en.glb(reads=reads, writes=writes)
    return result(latency, nbytes, busy2d, comp1d, en, P1=P1, spill=p, stationarity=stat)


# ----------------------------------------------------------------------------------------------------------
# The 1-pass cascade's Einsums (paper "Cascades", 1-pass) shared by +Cascade, +Architecture and FuseMax
# ----------------------------------------------------------------------------------------------------------
def one_pass_blocks(w, per_row_elems):
    """Query-row block 256*P1 (ref: P1 the largest factor of P/256 not above
    (16 MiB - 256*(E+F)*2) // (per_row_elems * 2 * 256)); returns (P1, number of blocks)."""
    cap = (16 * MIB - TILE * (w.E + w.F) * BYTES) // (per_row_elems * BYTES * TILE)
    P1 = largest_factor_at_most(w.PT, cap)
    return P1, w.PT // P1


def one_pass_traffic(w, nblocks):
    """ref: 'Traffic: Q and AV once, K and V once per block.'"""
    return BYTES * (w.Q + w.AV + (w.K + w.V) * nblocks)


def one_pass_glb(en, w, nblocks, stage_scores):
    """Buffer (CHOICE): Q filled once and re-read per M tile; BK, BV filled per block and re-read per P tile;
    running RM, RD, RNV read and updated per M tile; AV reads RNV, RD once.  +Cascade also stages QK and SLN
    (written once, each read by two Einsums)."""
    reads = w.Q * w.MT + (w.K + w.V) * w.PT + w.R * (2 + w.F) + w.AV + w.B * w.H * w.P
    writes = w.Q + (w.K + w.V) * nblocks + w.R * (2 + w.F)
    if stage_scores:
        reads, writes = reads + 4 * w.S, writes + 2 * w.S
    en.glb(reads=reads, writes=writes)


def fusemax_cycles(w):
    """Per-Einsum compute cycles (totals over the point) of the FuseMax binding (ref "FuseMax"):
    2D: BQK E per tile, LM 1, SLN 7, SLD 1, SLNV F; 1D: RM 1, PRM 7, SPD 1, RD 1, SPNV F, RNV F per
    (m1, 256 rows); AV one divide per (f, p) on 256 lanes.  One tile = 256x256 scores."""
    tiles = w.S / PE2D                               # = R / 256
    return {
        "QK": w.E * tiles, "LM": tiles, "SLN": 7 * tiles, "SLD": tiles, "SLNV": w.F * tiles,
        "RM": tiles, "PRM": 7 * tiles, "SPD": tiles, "RD": tiles, "SPNV": w.F * tiles, "RNV": w.F * tiles,
        "AV": w.AV / LANES,
    }


def fusemax_energy(en, w):
    """Compute actions of the FuseMax binding (exp = 6 MACs + 1 add, ref "FuseMax")."""
    # 2D: QK MACs, LM max, SLN 6 MAC + add, SLD add, SLNV MACs
    mac2d, add2d, max2d = w.S * (w.E + 6 + w.F), 2 * w.S, w.S
    # 1D: RM max, PRM 6 MAC + add, SPD MAC, SPNV F MACs, RD add, RNV F adds; AV divides
    mac1d, add1d, max1d = w.R * (6 + 1 + w.F), w.R * (1 + 1 + w.F), w.R
    en.compute(mac=mac2d + mac1d, add=add2d + add1d, mx=max2d + max1d, div=w.AV)
    en.rf_actions(mac2d + add2d + max2d, "fusemax", PE2D)
    en.rf_actions(mac1d + add1d + max1d + w.AV, "fusemax", LANES)
    # reg_file_1d between the arrays: SLNV partial sums (1 read + 1 update per MAC), LM and SLD per score
    en.rf_single(reads=w.S * (w.F + 2), updates=w.S * (w.F + 2), rf="fusemax")


# ----------------------------------------------------------------------------------------------------------
# +Cascade (ref "+Cascade (flat_pe_proposal.py)")
# ----------------------------------------------------------------------------------------------------------
def cascade(w, rf_mode="per-mac", quirks=True):
    en = Energy(rf_mode, 32)
    # ref: "The 2D array runs QK and SLNV; everything else runs on the 1D array with lanes along p".
    comp2d = secs(w.S * (w.E + w.F) / PE2D)
    # ref: "SLN and PRM charge {exponential: 1, add: 1} = 2 lane-cycles; LM, SLD, RM, SPD, SPNV, RD, RNV cost 1;
    # AV one divide per (f, p)" -- per score LM, SLN(2), SLD; per (m1, p) RM, PRM(2), SPD, RD, F x SPNV, F x RNV.
    lane_cycles = w.S * (1 + 2 + 1) + w.R * (1 + 2 + 1 + 1 + 2 * w.F) + w.AV
    comp1d = secs(lane_cycles / LANES)
    # ref: "Block of query rows: 256*P1 ... (E + 256 + 1 + 256 + 1 + F)*2*256"
    P1, nblocks = one_pass_blocks(w, w.E + TILE + 1 + TILE + 1 + w.F)
    nbytes = one_pass_traffic(w, nblocks)
    # ref: "Latency = max(DRAM time, max(2D time, 1D time)): full overlap."
    latency = max(dram_secs(nbytes), max(comp2d, comp1d))
    # energy: 2D QK, SLNV MACs; 1D LM max, SLN add (+exp), SLD add, RM max, PRM add (+exp), SPD MAC,
    # SPNV MACs, RD add, RNV adds, AV divide.  ref: "+Cascade's exp energy is dropped by a misspelled key".
    exps = 0 if quirks else w.S + w.R
    en.compute(mac=w.S * (w.E + w.F) + w.R * (1 + w.F), add=2 * w.S + w.R * (2 + w.F),
               mx=w.S + w.R, div=w.AV, exp_flat=exps)
    en.rf_actions(w.S * (w.E + w.F), "flat2d", PE2D)
    en.rf_actions(w.S * 4 + w.R * (5 + 2 * w.F) + w.AV, "flat1d", LANES)
    en.dram(nbytes)
    one_pass_glb(en, w, nblocks, stage_scores=True)
    return result(latency, nbytes, comp2d, comp1d, en, P1=P1, blocks=nblocks)


# ----------------------------------------------------------------------------------------------------------
# +Architecture (ref "+Architecture (stall_proposal.py)")
# ----------------------------------------------------------------------------------------------------------
def architecture(w, rf_mode="per-mac", quirks=True):
    en = Energy(rf_mode, 16)
    c = fusemax_cycles(w)
    # ref: "Per 256x256 tile: max(QK+LM, RD+AV) + LM*256 + RM + max(SLN+SLD, PRM+SPD) + max(SLNV, SPNV+RNV)"
    # (summed over tiles; LM*256 = the max chained through 256 PE rows, exposed on every tile).
    cycles = (max(c["QK"] + c["LM"], c["RD"] + c["AV"]) + c["LM"] * TILE + c["RM"]
              + max(c["SLN"] + c["SLD"], c["PRM"] + c["SPD"]) + max(c["SLNV"], c["SPNV"] + c["RNV"]))
    P1, nblocks = one_pass_blocks(w, w.E + 1 + 1 + w.F)   # same binding and buffer as FuseMax
    nbytes = one_pass_traffic(w, nblocks)
    latency = max(dram_secs(nbytes), secs(cycles))
    busy2d = secs(sum(c[k] for k in ("QK", "LM", "SLN", "SLD", "SLNV")))
    busy1d = secs(sum(c[k] for k in ("RM", "PRM", "SPD", "SPNV", "RD", "RNV", "AV")))
    fusemax_energy(en, w)
    en.dram(nbytes)
    one_pass_glb(en, w, nblocks, stage_scores=False)
    return result(latency, nbytes, busy2d, busy1d, en, P1=P1, blocks=nblocks)


# ----------------------------------------------------------------------------------------------------------
# FuseMax (ref "FuseMax (proposal.py)")
# ----------------------------------------------------------------------------------------------------------
def fusemax(w, rf_mode="per-mac", quirks=True):
    en = Energy(rf_mode, 16)
    c = fusemax_cycles(w)
    # ref: "Latency = max(DRAM, max(QK+LM, RD+RNV+AV) + RM + max(SLN+SLD, PRM+SPD) + max(SLNV, SPNV)),
    # the two arrays pipelined across M1 iterations."
    cycles = (max(c["QK"] + c["LM"], c["RD"] + c["RNV"] + c["AV"]) + c["RM"]
              + max(c["SLN"] + c["SLD"], c["PRM"] + c["SPD"]) + max(c["SLNV"], c["SPNV"]))
    # ref: "P1 the largest factor of P/256 not above (16 MiB - 256*E*2 - 256*F*2) // ((E+1+1+F)*2*256).
    # Traffic: Q + AV + (BK + BV) once per block."
    P1, nblocks = one_pass_blocks(w, w.E + 1 + 1 + w.F)
    nbytes = one_pass_traffic(w, nblocks)
    latency = max(dram_secs(nbytes), secs(cycles))
    busy2d = secs(sum(c[k] for k in ("QK", "LM", "SLN", "SLD", "SLNV")))
    busy1d = secs(sum(c[k] for k in ("RM", "PRM", "SPD", "SPNV", "RD", "RNV", "AV")))
    fusemax_energy(en, w)
    en.dram(nbytes)
    one_pass_glb(en, w, nblocks, stage_scores=False)
    return result(latency, nbytes, busy2d, busy1d, en, P1=P1, blocks=nblocks)


ATTENTION = {"unfused": unfused, "flat": flat, "cascade": cascade, "architecture": architecture,
             "fusemax": fusemax}


# ----------------------------------------------------------------------------------------------------------
# End to end (ref "End to end (matmul.py)"; paper "Workloads")
# ----------------------------------------------------------------------------------------------------------
def gemm_shapes(w):
    """(name, K, N) of the layer's GEMMs over T = B*P tokens: Q, K, V projections D -> H*E, output projection
    H*E -> D, FFN1 D -> FF, FFN2 FF -> D."""
    he = w.H * w.E
    return [("Q", w.D, he), ("K", w.D, he), ("V", w.D, he), ("Z", he, w.D), ("FFN1", w.D, w.FF),
            ("FFN2", w.FF, w.D)]


def gemms(w, platform, rf_mode="per-mac"):
    """ref: 'Timeloop-mapper GEMMs over B*P tokens ... compute-bound at full 2D utilisation with compulsory
    traffic.  Per GEMM max(DRAM, compute); the GEMMs add.'  platform 'flat' (unfused, FLAT, +Cascade: 32 MiB,
    RF 4) or 'fusemax' (+Architecture, FuseMax: 16 MiB, RF 16): same latency, register-file energy differs."""
    en = Energy(rf_mode, 32 if platform == "flat" else 16)
    T = w.B * w.P
    latency = busy = 0.0
    nbytes = 0
    for _, K, N in gemm_shapes(w):
        macs = T * K * N
        b = BYTES * (T * K + K * N + T * N)
        comp = secs(macs / PE2D)
        latency += max(dram_secs(b), comp)
        busy += comp
        nbytes += b
        en.compute(mac=macs)
        en.rf_actions(macs, "flat2d" if platform == "flat" else "fusemax", PE2D)
        # buffer (CHOICE): 256x256 output tiles; A re-read per N tile, B per T tile; both filled once
        en.glb(reads=T * K * max(1, N // TILE) + K * N * max(1, T // TILE), writes=T * K + K * N)
    en.dram(nbytes)
    return result(latency, nbytes, busy, 0.0, en)


def gemm_platform(config):
    return "fusemax" if config in ("architecture", "fusemax") else "flat"


def end_to_end(att, gem):
    lat = att["latency_s"] + gem["latency_s"]
    parts = {k: att["energy_parts_pJ"][k] + gem["energy_parts_pJ"][k] for k in att["energy_parts_pJ"]}
    return {
        "latency_s": lat, "cycles": lat * CLOCK_HZ, "dram_bytes": att["dram_bytes"] + gem["dram_bytes"],
        "util_2d": (att["busy_2d_s"] + gem["busy_2d_s"]) / lat, "util_1d": att["busy_1d_s"] / lat,
        "energy_pJ": att["energy_pJ"] + gem["energy_pJ"], "energy_parts_pJ": parts,
        "gemm_latency_s": gem["latency_s"], "gemm_energy_pJ": gem["energy_pJ"],
    }


# ----------------------------------------------------------------------------------------------------------
# The study
# ----------------------------------------------------------------------------------------------------------
def model_point(model, seq, config, rf_mode="per-mac", quirks=True):
    w = Point(model, seq)
    att = ATTENTION[config](w, rf_mode=rf_mode, quirks=quirks)
    gem = gemms(w, gemm_platform(config), rf_mode=rf_mode)
    return {"attention": att, "end_to_end": end_to_end(att, gem)}


def study(rf_mode="per-mac", quirks=True):
    pts = {}
    for model in MODELS:
        for seq in LENGTHS:
            for config in CONFIGS:
                pts[(model, seq, config)] = model_point(model, seq, config, rf_mode, quirks)
    return pts


def headline(pts):
    """Average over the 24 model x length points of FuseMax's speedup and energy ratio against each baseline."""
    out = {}
    for scope in ("attention", "end_to_end"):
        for base in BASELINES:
            sp, er = [], []
            for model in MODELS:
                for seq in LENGTHS:
                    f = pts[(model, seq, "fusemax")][scope]
                    b = pts[(model, seq, base)][scope]
                    sp.append(b["latency_s"] / f["latency_s"])
                    er.append(f["energy_pJ"] / b["energy_pJ"])
            paper = PAPER_HEADLINE[(scope, base)]
            out[f"{scope}/vs_{base}"] = {
                "speedup_arith": sum(sp) / len(sp), "speedup_geo": geo(sp),
                "energy_ratio_arith": sum(er) / len(er), "energy_ratio_geo": geo(er),
                "paper_speedup": paper[0], "paper_energy_ratio": paper[1],
            }
    return out


def geo(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def seq_name(seq):
    return f"{seq // 1048576}M" if seq >= 1048576 else f"{seq // 1024}K"


# ----------------------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------------------
def print_table(pts, hl, out=sys.stdout):
    hdr = (f"{'model':5} {'seq':>4} {'config':12} {'att lat s':>11} {'util2d':>7} {'util1d':>7} "
           f"{'DRAM B':>10} {'att E pJ':>10} {'e2e lat s':>11} {'e2e E pJ':>10}")
    print("Paper model, per point (attention; end to end = attention + GEMMs)", file=out)
    print(hdr, file=out)
    for model in MODELS:
        for seq in LENGTHS:
            for config in CONFIGS:
                a = pts[(model, seq, config)]["attention"]
                e = pts[(model, seq, config)]["end_to_end"]
                print(f"{MODELS[model]['name']:5} {seq_name(seq):>4} {config:12} {a['latency_s']:11.4e} "
                      f"{a['util_2d']:7.3f} {a['util_1d']:7.3f} {a['dram_bytes']:10.3e} {a['energy_pJ']:10.3e} "
                      f"{e['latency_s']:11.4e} {e['energy_pJ']:10.3e}", file=out)
    print("\nFuseMax speedup / energy ratio per point (attention):", file=out)
    print(f"{'model':5} {'seq':>4} {'vs FLAT':>8} {'E/FLAT':>7} {'vs unf':>8} {'E/unf':>7}", file=out)
    for model in MODELS:
        for seq in LENGTHS:
            f = pts[(model, seq, "fusemax")]["attention"]
            fl = pts[(model, seq, "flat")]["attention"]
            un = pts[(model, seq, "unfused")]["attention"]
            print(f"{MODELS[model]['name']:5} {seq_name(seq):>4} {fl['latency_s'] / f['latency_s']:8.2f} "
                  f"{f['energy_pJ'] / fl['energy_pJ']:7.3f} {un['latency_s'] / f['latency_s']:8.2f} "
                  f"{f['energy_pJ'] / un['energy_pJ']:7.3f}", file=out)
    print("\nHeadline (average over 24 points)   speedup arith / geo (paper)    energy ratio arith / geo (paper)",
          file=out)
    for key, h in hl.items():
        print(f"  {key:22} {h['speedup_arith']:8.2f} / {h['speedup_geo']:6.2f} ({h['paper_speedup']:4.1f})"
              f"      {h['energy_ratio_arith']:6.3f} / {h['energy_ratio_geo']:6.3f} ({h['paper_energy_ratio']:.2f})",
              file=out)


def as_json(pts, hl, rf_mode, quirks):
    points = []
    for (model, seq, config), v in pts.items():
        for scope in ("attention", "end_to_end"):
            d = {"model": model, "seq": seq, "config": config, "scope": scope}
            d.update(v[scope])
            points.append(d)
    return {"rf_convention": rf_mode, "artifact_quirks": quirks, "clock_hz": CLOCK_HZ, "dram_Bps": DRAM_BPS,
            "points": points, "headline": hl}


# ----------------------------------------------------------------------------------------------------------
# Comparison with an einsim sweep (configs/sweeps/fusemax.yaml -> DIR/results.csv)
# ----------------------------------------------------------------------------------------------------------
METRICS = {  # metric -> (einsim column(s), model key)
    "latency": (("latency_s",), "latency_s"),
    "energy": (("energy_pJ",), "energy_pJ"),
    "dram": (("traffic_dram_read", "traffic_dram_write"), "dram_bytes"),
    "util2d": (("utilization_pe2d",), "util_2d"),
    "util1d": (("utilization_pe1d",), "util_1d"),
}


def _num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def compare(path, pts, tolerance, configs, metrics, fidelity, scope_only="", out=sys.stdout):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    bad = compared = 0
    ratios = {}                                   # (config, scope, metric) -> [ratios]
    print(f"einsim / paper model, tolerance +-{tolerance:.0%} on {','.join(metrics)}", file=out)
    print(f"{'model':5} {'seq':>4} {'config':12} {'scope':10} {'fidelity':10} {'latency':>8} {'energy':>8} "
          f"{'dram':>8} {'util2d':>8} {'util1d':>8}  flag", file=out)
    for r in rows:
        config, scope = r.get("config"), r.get("scope", "attention")
        if config not in CONFIGS or (configs and config not in configs):
            continue
        if fidelity and r.get("fidelity") != fidelity:
            continue
        if scope_only and scope != scope_only:
            continue
        try:
            model, seq = r["model"].lower(), int(float(r["seq"]))
        except (KeyError, ValueError):
            continue
        if (model, seq, config) not in pts or scope not in ("attention", "end_to_end"):
            continue
        ref = pts[(model, seq, config)][scope]
        compared += 1
        if r.get("status", "ok") != "ok":
            bad += 1
            print(f"{MODELS[model]['name']:5} {seq_name(seq):>4} {config:12} {scope:10} {r.get('fidelity', ''):10} "
                  f"einsim status {r.get('status')}: {r.get('reason', '')}  OUT", file=out)
            continue
        cells, flag = [], ""
        for name in ("latency", "energy", "dram", "util2d", "util1d"):
            cols, key = METRICS[name]
            vals = [_num(r.get(c)) for c in cols]
            if any(v is None for v in vals) or not ref[key]:
                cells.append(f"{'-':>8}")
                if name in metrics:
                    flag = "OUT"
                continue
            ratio = sum(vals) / ref[key]
            ratios.setdefault((config, scope, name), []).append(ratio)
            cells.append(f"{ratio:8.3f}")
            if name in metrics and abs(ratio - 1) > tolerance:
                flag = "OUT"
        if flag:
            bad += 1
        print(f"{MODELS[model]['name']:5} {seq_name(seq):>4} {config:12} {scope:10} {r.get('fidelity', ''):10} "
              f"{' '.join(cells)}  {flag}", file=out)
    print("\nPer configuration, einsim / model: min / median / max", file=out)
    for (config, scope, name), rs in sorted(ratios.items(), key=lambda kv: (CONFIGS.index(kv[0][0]), kv[0][1:])):
        rs = sorted(rs)
        med = rs[len(rs) // 2] if len(rs) % 2 else 0.5 * (rs[len(rs) // 2 - 1] + rs[len(rs) // 2])
        print(f"  {config:12} {scope:10} {name:8} {rs[0]:10.4g} {med:10.4g} {rs[-1]:10.4g}  (n={len(rs)})",
              file=out)
    print(f"\n{compared} compared, {bad} outside +-{tolerance:.0%}", file=out)
    if compared == 0:
        print("nothing compared (check --configs / --fidelity and the file)", file=out)
        return 1
    return 1 if bad else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print the per-point model and headline as JSON")
    ap.add_argument("--results", metavar="CSV", help="einsim sweep results.csv to compare with the model")
    ap.add_argument("--tolerance", type=float, default=0.10, help="allowed |einsim/model - 1| (default 0.10)")
    ap.add_argument("--configs", default="", help="comma-separated configurations to compare (default all)")
    ap.add_argument("--metrics", default="latency",
                    help="metrics checked against the tolerance: latency,energy,dram,util2d,util1d "
                         "(default latency; all are printed)")
    ap.add_argument("--fidelity", default="", help="compare only einsim rows of this fidelity "
                                                  "(analytical or cycle; default all)")
    ap.add_argument("--scope", choices=("attention", "end_to_end"), default="",
                    help="compare only this scope (default both)")
    ap.add_argument("--rf", choices=("per-mac", "per-instance"), default="per-mac",
                    help="register-file energy convention (see the module docstring)")
    ap.add_argument("--stale-glb", action="store_true",
                    help="charge the reference's global-buffer figures (484.973 / 451.303 pJ) per row: what they "
                         "are, a 64-bit access of the artifact's stale energy tables")
    ap.add_argument("--no-quirks", action="store_true",
                    help="charge +Cascade's exp energy (the artifact drops it through a misspelled key)")
    args = ap.parse_args(argv)
    quirks = not args.no_quirks
    Energy.stale_glb = args.stale_glb
    pts = study(args.rf, quirks)
    hl = headline(pts)
    if args.results:
        configs = [c for c in args.configs.split(",") if c]
        metrics = [m for m in args.metrics.split(",") if m]
        for c in configs:
            if c not in CONFIGS:
                ap.error(f"unknown configuration {c!r} (one of {', '.join(CONFIGS)})")
        for m in metrics:
            if m not in METRICS:
                ap.error(f"unknown metric {m!r} (one of {', '.join(METRICS)})")
        return compare(args.results, pts, args.tolerance, configs, metrics, args.fidelity, args.scope)
    if args.json:
        json.dump(as_json(pts, hl, args.rf, quirks), sys.stdout, indent=1)
        print()
    else:
        print_table(pts, hl)
    return 0


if __name__ == "__main__":
    sys.exit(main())
