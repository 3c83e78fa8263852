#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py arguments...]
# Same environment variables and stop signals as dist_train.sh (a stopped
# test writes no results).
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
shift 3
TOOLS=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}
# shellcheck source=misc/forward_stop_signals.sh
source "$TOOLS/misc/forward_stop_signals.sh"
run_torchrun "$NPROC" "$TOOLS/test.py" "$CONFIG" "$CHECKPOINT" \
    --launcher pytorch "$@"
