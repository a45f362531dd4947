# shellcheck shell=bash
# The processes a bench script starts (sourced by bench/run.sh, bench/peer.sh
# and bench/scale.sh).

# stop PID: stops one process this script started and waits for it (a
# killed process's exit status is not the script's), or does nothing when it
# has ended already (bench/run.sh's receiver stops by itself after 15
# minutes): under set -e a failed kill in an exit trap would end the trap
# before the cluster is stopped.
stop() { if [[ -n "$1" ]]; then kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi; }
