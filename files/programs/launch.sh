#!/bin/sh
# pytorch-launch: prepare the container for one run of a command, then exec it (the command
# keeps this process: its pid, its signals, its exit status). The chart puts it in front of
# the launch (python or torchrun) with heartbeat.enabled; under the supervisor it starts
# every attempt.
#
# usage: sh launch.sh [--heartbeat] [--stack-dumps=DIR] -- COMMAND [ARG...]
#   --heartbeat        remove HEARTBEAT_FILE and READY_FILE first: a previous container or
#                      attempt left them in the /tmp emptyDir, and they would fail the new run's
#                      probes.
#   --stack-dumps=DIR  arm every Python process of the launch for the stack autopsy: put this
#                      program's python/ folder (sitecustomize.py) first on PYTHONPATH, keeping
#                      the image's and the user's entries after it, and have each process dump
#                      its threads' stacks into DIR/stacks/<pid> on SIGUSR1; the dumps of a
#                      previous run are removed first.
# Exit 2 with a usage line when the options are wrong.

usage() {
  echo "pytorch-launch: $1" >&2
  echo "usage: sh launch.sh [--heartbeat] [--stack-dumps=DIR] -- COMMAND [ARG...]" >&2
  exit 2
}

heartbeat=
dumps=
while [ $# -gt 0 ]; do
  case $1 in
    --heartbeat) heartbeat=1 ;;
    --stack-dumps=?*) dumps=${1#*=} ;;
    --) shift; break ;;
    *) usage "unknown option: $1" ;;
  esac
  shift
done
[ $# -gt 0 ] || usage "no command after --"

if [ -n "${heartbeat}" ]; then
  for f in "${HEARTBEAT_FILE:-}" "${READY_FILE:-}"; do
    [ -z "${f}" ] || rm -f "${f}"
  done
fi
if [ -n "${dumps}" ]; then
  here=$(cd "$(dirname "$0")" && pwd) || exit 1
  rm -rf "${dumps}/stacks"
  export PYTORCH_STACK_DUMP_DIR="${dumps}/stacks"
  export PYTHONPATH="${here}/python${PYTHONPATH:+:${PYTHONPATH}}"
fi
exec "$@"
