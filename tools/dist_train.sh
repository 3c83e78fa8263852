#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NPROC [train.py arguments...]
# One process per GPU (NPROC of them on this node); multi-node through
# NNODES, NODE_RANK, MASTER_ADDR and PORT. Without CUDA the processes train
# on the CPU over gloo (see mmkamim.utils.setup_cpu_distributed). PYTHON
# picks the interpreter (default: python).
# SIGTERM, SIGINT or SIGUSR1, sent to this script or to its process group,
# reach every trainer: they save where they are and exit, and this script
# exits 128 + the signal once they have (tools/misc/forward_stop_signals.sh;
# STOP_TIMEOUT, default 600 s, bounds the wait for the save).
set -euo pipefail
CONFIG=$1
NPROC=$2
shift 2
TOOLS=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}
# shellcheck source=misc/forward_stop_signals.sh
source "$TOOLS/misc/forward_stop_signals.sh"
run_torchrun "$NPROC" "$TOOLS/train.py" "$CONFIG" --launcher pytorch "$@"
