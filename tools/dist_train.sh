#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NPROC [train.py arguments...]
# One process per GPU (NPROC of them on this node); multi-node through
# NNODES, NODE_RANK, MASTER_ADDR and PORT. Without CUDA the processes train
# on the CPU over gloo (see mmkamim.utils.setup_cpu_distributed). PYTHON
# picks the interpreter (default: python).
set -euo pipefail
CONFIG=$1
NPROC=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
TOOLS=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}
# torchrun's agent forwards these to the trainers (and gives them 30 s);
# by default SIGUSR1, which Slurm's --signal sends, would kill the agent and
# with it the trainers, in the middle of their save.
export TORCHELASTIC_SIGNALS_TO_HANDLE=${TORCHELASTIC_SIGNALS_TO_HANDLE:-SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1}

PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" \
    --nproc_per_node="$NPROC" \
    "$TOOLS/train.py" "$CONFIG" --launcher pytorch "$@"
