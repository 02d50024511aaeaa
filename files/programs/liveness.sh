#!/bin/sh
# pytorch-liveness: the heartbeat liveness probe (heartbeat.enabled; docs/fault-tolerance.md).
# The kubelet runs it in the PyTorch container, with the container's environment.
#
# usage: sh liveness.sh --timeout-seconds=N [--autopsy-dir=DIR [--shared-dir=DIR]
#                       --period-seconds=P --failure-threshold=F --probe-timeout-seconds=S]
#
# Exit 0 while HEARTBEAT_FILE is absent (nothing started training yet, or HEARTBEAT_FILE is
# unset) or was touched less than N seconds ago; 1 once it is N seconds old or older (the
# script stopped making progress). Exit 2 with a usage line when the options are wrong.
#
# With --autopsy-dir (the stack autopsy, autopsy.py; P, F and S are the probe's own
# periodSeconds, failureThreshold and timeoutSeconds) it also runs the autopsy, whose output
# becomes the probe's (the kubelet puts a failing probe's output into the pod's Events):
#   - once the heartbeat is older than N, or older than PG_TIMEOUT_SECONDS - 2P - S when that
#     is sooner: the ranks that wait in a collective for a hung one give up after
#     PG_TIMEOUT_SECONDS, and their stacks must be taken before that (the probe still passes
#     until N);
#   - with --shared-dir (a folder on the volume every pod mounts), while the heartbeat is fresh,
#     when another pod has raised an alarm there in the last 2P + S + 1 seconds; a fresh
#     heartbeat takes this pod's own alarm down.
# The autopsy's own failures never change the verdict.

usage() {
  echo "pytorch-liveness: $1" >&2
  echo "usage: sh liveness.sh --timeout-seconds=N [--autopsy-dir=DIR [--shared-dir=DIR]" \
    "--period-seconds=P --failure-threshold=F --probe-timeout-seconds=S]" >&2
  exit 2
}

number() {  # NAME VALUE: fail with a usage line unless VALUE is a whole number
  case $2 in '' | *[!0-9]*) usage "--$1 wants a number, not '$2'" ;; *) ;; esac
}

timeout=
autopsy=
shared=
period=10
threshold=3
probe_timeout=1
for arg in "$@"; do
  case ${arg} in
    --timeout-seconds=*) timeout=${arg#*=} ;;
    --autopsy-dir=?*) autopsy=${arg#*=} ;;
    --shared-dir=?*) shared=${arg#*=} ;;
    --period-seconds=*) period=${arg#*=}; number period-seconds "${period}" ;;
    --failure-threshold=*) threshold=${arg#*=}; number failure-threshold "${threshold}" ;;
    --probe-timeout-seconds=*) probe_timeout=${arg#*=}; number probe-timeout-seconds "${probe_timeout}" ;;
    *) usage "unknown option: ${arg}" ;;
  esac
done
number timeout-seconds "${timeout}"

[ -n "${HEARTBEAT_FILE:-}" ] || exit 0
now=$(date +%s)
age=
if mtime=$(stat -c %Y "${HEARTBEAT_FILE}" 2>/dev/null); then
  age=$((now - mtime))
fi
if [ -z "${autopsy}" ]; then
  [ -z "${age}" ] || [ "${age}" -lt "${timeout}" ]
  exit
fi

here=$(cd "$(dirname "$0")" && pwd) || exit 1
python=$(command -v python || command -v python3) || python=python
run_autopsy() {  # TRIGGER: run the autopsy within the probe's timeout; print its summary
  "${python}" "${here}/autopsy.py" --trigger="$1" --dir="${autopsy}" ${shared:+"--shared-dir=${shared}"} \
    --period-seconds="${period}" --failure-threshold="${threshold}" --deadline-seconds="${probe_timeout}" 2>&1 || :
}

dump_after=${timeout}
case ${PG_TIMEOUT_SECONDS:-} in
  '' | *[!0-9]*) ;;
  *) early=$((PG_TIMEOUT_SECONDS - 2 * period - probe_timeout))
     [ "${early}" -ge "${dump_after}" ] || dump_after=${early}
     [ "${dump_after}" -ge 1 ] || dump_after=1 ;;
esac
if [ -n "${age}" ] && [ "${age}" -ge "${dump_after}" ]; then
  if [ "${age}" -ge "${timeout}" ]; then
    echo "heartbeat stale for ${age} s (timeout ${timeout} s)"
    run_autopsy failing
    exit 1
  fi
  run_autopsy stalled
  exit 0
fi

if [ -n "${shared}" ]; then
  rank=${NODE_RANK:-${RANK:-0}}
  [ ! -e "${shared}/alarm-${rank}" ] || rm -f "${shared}/alarm-${rank}"
  if [ -n "${age}" ]; then
    live=$((2 * period + probe_timeout + 1))
    for f in "${shared}"/alarm-*; do
      [ -e "${f}" ] || continue
      m=$(stat -c %Y "${f}" 2>/dev/null) || continue
      if [ $((now - m)) -le "${live}" ]; then
        run_autopsy peer
        break
      fi
    done
  fi
fi
exit 0
