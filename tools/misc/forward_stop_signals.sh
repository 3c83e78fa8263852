# Sourced by tools/dist_*.sh and tools/slurm_*.sh: run a launcher (torchrun,
# srun) so that a stop signal sent to the script alone (docker stop, Slurm's
# --signal=B:...) or to its whole process group (Ctrl-C) reaches every
# trainer, and exit only when every process of the run has.
#
# forward_stop_signals TERM_TO INT_TO USR1_TO COMMAND [ARGS...]
#   Runs COMMAND in the background. The first SIGTERM, SIGINT or SIGUSR1 the
#   script receives is sent on to COMMAND's process as TERM_TO, INT_TO or
#   USR1_TO (the names a launcher forwards to its tasks); later ones are not
#   (the trainers are already saving, and a launcher signalled twice may
#   stop waiting for them). The script then waits until COMMAND has exited
#   and exits 128 + the signal it received, or COMMAND's status if none
#   came. SIGHUP and SIGQUIT, which end a run without saving, are passed on
#   as they are, every time.
forward_stop_signals() {
    local term_to=$1 int_to=$2 usr1_to=$3
    shift 3
    _stop_received=0
    _stop_children=
    # A signal ignored when the shell started cannot be trapped (POSIX), as
    # SIGINT and SIGQUIT are in a background job (&) of a non-interactive
    # shell: say so, rather than let them do nothing.
    local name
    for name in INT QUIT; do
        if [ -n "$(trap -p "$name")" ]; then
            echo "$(basename "$0"): SIG$name was ignored when this script" \
                "started (a background job of another script?), so it" \
                "cannot reach the run; stop it with SIGTERM or SIGUSR1" >&2
        fi
    done
    "$@" &
    _stop_launcher=$!
    trap "_forward_stop 15 $term_to" TERM
    trap "_forward_stop 2 $int_to" INT
    trap "_forward_stop $(kill -l USR1) $usr1_to" USR1
    # SIGHUP (a closed terminal) and SIGQUIT (Ctrl-\) end a run at once:
    # passed on as they come, also after a stop signal.
    trap '_forward_now 1 HUP' HUP
    trap '_forward_now 3 QUIT' QUIT
    local status again
    while :; do
        status=0
        wait "$_stop_launcher" || status=$?
        if ! kill -0 "$_stop_launcher" 2>/dev/null; then
            # A trapped signal ends `wait` early; if the launcher exited
            # meanwhile, its status is still to be collected.
            again=0
            wait "$_stop_launcher" 2>/dev/null || again=$?
            if [ "$again" -ne 127 ]; then
                status=$again
            fi
            break
        fi
    done
    if [ "$_stop_received" -ne 0 ]; then
        _wait_for "$_stop_children"
        exit $((128 + _stop_received))
    fi
    exit "$status"
}

_forward_stop() {  # NUMBER_RECEIVED SIGNAL_TO_SEND
    if [ "$_stop_received" -ne 0 ]; then
        return
    fi
    _stop_received=$1
    # The launcher's own processes (torchrun's trainers), waited for too:
    # a launcher signalled by someone else as well (Slurm signals every
    # process of a step) may exit before them.
    _stop_children=$(_children_of "$_stop_launcher")
    echo "$(basename "$0"): got signal $1, sending SIG$2 to the launcher" \
        "(pid $_stop_launcher) and waiting for the run to save and exit" >&2
    kill -s "$2" "$_stop_launcher" 2>/dev/null || true
}

_forward_now() {  # NUMBER_RECEIVED SIGNAL_TO_SEND
    _stop_received=$1
    kill -s "$2" "$_stop_launcher" 2>/dev/null || true
}

_children_of() {  # PID: the processes whose parent is PID (from /proc)
    local stat line fields pid
    for stat in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null < "$stat" || continue
        read -r -a fields <<< "${line##*) }"
        if [ "${fields[1]:-}" = "$1" ]; then
            pid=${stat#/proc/}
            echo "${pid%/stat}"
        fi
    done
}

_wait_for() {  # PIDS: wait until they have exited (at most STOP_TIMEOUT s)
    local pid state waited=0
    for pid in $1; do
        while [ "$waited" -lt $((${STOP_TIMEOUT:-600} * 5)) ]; do
            read -r state 2>/dev/null < "/proc/$pid/stat" || break
            state=${state##*) }
            [ "${state:0:1}" = Z ] && break
            sleep 0.2
            waited=$((waited + 1))
        done
    done
}

# The sourcing script sets TOOLS (this repository's tools/) and PYTHON.

# run_torchrun NPROC SCRIPT [SCRIPT ARGS...]
#   torch.distributed.run (or $TORCHRUN, a command line) with NNODES,
#   NODE_RANK, MASTER_ADDR and PORT, in its own session so that a signal to
#   this script's process group reaches the agent once, through this
#   script. Where the agent has --signals-to-handle (torch >= 2.9 or so)
#   it is asked to forward SIGUSR1 too, and --shutdown-timeout gives the
#   trainers STOP_TIMEOUT seconds (default 600) to save before it kills
#   them. An older agent forwards only SIGTERM, SIGINT, SIGHUP and SIGQUIT
#   and dies on SIGUSR1: it is started with SIGUSR1 ignored, and SIGUSR1
#   reaches the trainers as SIGTERM (they save alike; this script still
#   exits 138).
run_torchrun() {
    local nproc=$1
    shift
    local launcher help options=() usr1_to=TERM
    read -r -a launcher <<< "${TORCHRUN:-$PYTHON -m torch.distributed.run}"
    help=$("${launcher[@]}" --help 2>&1 || true)
    if grep -q -- '--signals-to-handle' <<< "$help"; then
        options+=(--signals-to-handle=SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1)
        usr1_to=USR1
    fi
    if grep -q -- '--shutdown-timeout' <<< "$help"; then
        options+=(--shutdown-timeout="${STOP_TIMEOUT:-600}")
    fi
    PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
    forward_stop_signals TERM INT "$usr1_to" \
        _in_own_session "${launcher[@]}" "${options[@]}" \
        --nnodes="${NNODES:-1}" \
        --node_rank="${NODE_RANK:-0}" \
        --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --master_port="${PORT:-29500}" \
        --nproc_per_node="$nproc" \
        "$@"
}

_in_own_session() {  # COMMAND...: exec it in a new session, SIGUSR1 ignored
    trap '' USR1
    exec "$PYTHON" -c 'import os, sys; os.setsid(); os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}

# run_srun SRUN ARGS...
#   srun (or $SRUN) with these arguments. srun forwards SIGTERM and SIGUSR1
#   to its tasks, but answers a first SIGINT with a status report only, so
#   SIGINT reaches the tasks as SIGTERM (this script still exits 130).
run_srun() {
    PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
    forward_stop_signals TERM TERM USR1 "${SRUN:-srun}" "$@"
}
