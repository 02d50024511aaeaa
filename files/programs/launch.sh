#!/bin/sh
# pytorch-launch: prepare the container for one run of a command, then exec it (the command
# keeps this process: its pid, its signals, its exit status). The chart puts it in front of
# the launch (python or torchrun) with heartbeat.enabled; under the supervisor it starts
# every attempt.
#
# usage: sh launch.sh [--heartbeat] -- COMMAND [ARG...]
#   --heartbeat  remove HEARTBEAT_FILE and READY_FILE first: a previous container or attempt
#                left them in the /tmp emptyDir, and they would fail the new run's probes.
# Exit 2 with a usage line when the options are wrong.

usage() {
  echo "pytorch-launch: $1" >&2
  echo "usage: sh launch.sh [--heartbeat] -- COMMAND [ARG...]" >&2
  exit 2
}

heartbeat=
while [ $# -gt 0 ]; do
  case $1 in
    --heartbeat) heartbeat=1 ;;
    --) shift; break ;;
    *) usage "unknown option: $1" ;;
  esac
  shift
done
[ $# -gt 0 ] || usage "no command after --"

if [ -n "$heartbeat" ]; then
  for f in "${HEARTBEAT_FILE:-}" "${READY_FILE:-}"; do
    [ -z "$f" ] || rm -f "$f"
  done
fi
exec "$@"
