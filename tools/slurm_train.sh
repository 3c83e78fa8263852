#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
# One task per GPU; GPUS / GPUS_PER_NODE nodes.
set -euo pipefail
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
TOOLS=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}

# --kill-on-bad-exit=1 ends every task once one fails, so that a crashed
# rank does not leave the others waiting in a collective. A run stopped by
# SIGTERM/SIGUSR1 exits 143/138 only after rank 0 has saved and every rank
# has passed the barrier behind the save, so the flag cannot cut that save.
# SIGTERM, SIGINT or SIGUSR1 sent to this script (or its process group)
# reach every task through srun; the script exits 128 + the signal once
# srun has (tools/misc/forward_stop_signals.sh).
# shellcheck source=misc/forward_stop_signals.sh
source "$TOOLS/misc/forward_stop_signals.sh"
# shellcheck disable=SC2086  # SRUN_ARGS holds several words on purpose
run_srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "$PYTHON" -u "$TOOLS/train.py" "$CONFIG" --work-dir="$WORK_DIR" \
    --launcher=slurm "$@"
