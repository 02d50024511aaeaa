#!/bin/sh
# pytorch-liveness: the heartbeat liveness probe (heartbeat.enabled; docs/fault-tolerance.md).
# The kubelet runs it in the PyTorch container, with the container's environment.
#
# usage: sh liveness.sh --timeout-seconds=N
# Exit 0 while HEARTBEAT_FILE is absent (nothing started training yet, or HEARTBEAT_FILE is
# unset) or was touched less than N seconds ago; 1 once it is N seconds old or older (the
# script stopped making progress). Exit 2 with a usage line when the options are wrong.

usage() {
  echo "pytorch-liveness: $1" >&2
  echo "usage: sh liveness.sh --timeout-seconds=N" >&2
  exit 2
}

timeout=
for arg in "$@"; do
  case $arg in
    --timeout-seconds=*) timeout=${arg#*=} ;;
    *) usage "unknown option: $arg" ;;
  esac
done
case $timeout in '' | *[!0-9]*) usage "--timeout-seconds wants a number, not '$timeout'" ;; esac

[ -n "${HEARTBEAT_FILE:-}" ] && [ -e "$HEARTBEAT_FILE" ] || exit 0
[ $(( $(date +%s) - $(stat -c %Y "$HEARTBEAT_FILE") )) -lt "$timeout" ]
