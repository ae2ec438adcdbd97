#!/usr/bin/env bash
# Spreads a sweep over a Slurm job array: each array task runs one deterministic shard; a requeued task
# resumes where it stopped. Submit from the repository root after ./scripts/build release:
#   SWEEP=configs/sweeps/fusemax.yaml OUT=results/fusemax sbatch --array=1-16 scripts/slurm-sweep.sh
# then, when every task is done:
#   build/release/einsim merge results/fusemax/shard-* -o results/fusemax/all
#   build/release/einsim report results/fusemax/all -o results/fusemax/report.html
# (GNU parallel works the same way: parallel einsim sweep S -o out/shard-{} --shard {}/8 ::: $(seq 8))
#SBATCH --job-name=einsim-sweep
#SBATCH --cpus-per-task=4
#SBATCH --requeue
# EINSIM names the binary when it is not build/release/einsim (tests/slurm/slurm_test.py runs this script so).
set -euo pipefail
: "${SWEEP:?set SWEEP to a sweep file}" "${OUT:?set OUT to a results directory}"
exec "${EINSIM:-build/release/einsim}" sweep "$SWEEP" -o "$OUT/shard-$SLURM_ARRAY_TASK_ID" \
  --shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT" -j "${SLURM_CPUS_PER_TASK:-1}" --resume
