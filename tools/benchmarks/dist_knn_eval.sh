#!/usr/bin/env bash
# Usage: tools/benchmarks/dist_knn_eval.sh CONFIG CHECKPOINT NPROC [knn_eval.py arguments...]
# Same environment variables and stop signals as tools/dist_train.sh (a
# stopped evaluation writes no results).
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
shift 3
TOOLS=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python}
# shellcheck source=../misc/forward_stop_signals.sh
source "$TOOLS/misc/forward_stop_signals.sh"
run_torchrun "$NPROC" "$TOOLS/benchmarks/knn_eval.py" "$CONFIG" \
    "$CHECKPOINT" --launcher pytorch "$@"
