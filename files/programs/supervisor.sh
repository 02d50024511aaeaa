#!/bin/sh
# pytorch-supervisor: run a command and restart it as a group (docs/fault-tolerance.md). The
# chart runs it as the PyTorch container's command with launcher=python and
# faultTolerance.enabled.
#
# usage: sh supervisor.sh [--max-restarts=N] [--non-retriable-exit-codes=C,C,...] -- COMMAND [ARG...]
#
# Attempt n (0, 1, ...) runs COMMAND with GROUP_RESTART_COUNT=n and MAX_RESTARTS=N exported
# (N is 0 unless given). How an attempt ends decides what follows:
#   exit 0                                  the supervisor exits 0;
#   134 (SIGABRT) after it wrote SUCCESS_FILE  exits 0: a crash in torch's teardown after the
#                                           work was done (the file is removed before every
#                                           attempt, so each attempt is judged on its own);
#   a code in --non-retriable-exit-codes    exits with that code;
#   any other code                          restarts COMMAND while N allows, then exits with it.
# TERM or INT stops the attempt with TERM (a background job of a non-interactive sh starts
# with INT ignored, so INT itself could not stop it) and exits with the attempt's status,
# never restarting. Every decision is one line on stderr, "pytorch-supervisor: ...".
# Exit 2 with a usage line when the options are wrong.

usage() {
  echo "pytorch-supervisor: $1" >&2
  echo "usage: sh supervisor.sh [--max-restarts=N] [--non-retriable-exit-codes=C,C,...] -- COMMAND [ARG...]" >&2
  exit 2
}

max=0
codes=
while [ $# -gt 0 ]; do
  case $1 in
    --max-restarts=*) max=${1#*=} ;;
    --non-retriable-exit-codes=*) codes=${1#*=} ;;
    --) shift; break ;;
    *) usage "unknown option: $1" ;;
  esac
  shift
done
case $max in '' | *[!0-9]*) usage "--max-restarts wants a number, not '$max'" ;; esac
case $codes in *[!0-9,]*) usage "--non-retriable-exit-codes wants numbers separated by commas, not '$codes'" ;; esac
[ $# -gt 0 ] || usage "no command after --"

n=0
child=
sig=
trap 'sig=TERM; [ -z "$child" ] || kill -TERM "$child" 2>/dev/null' TERM
trap 'sig=INT; [ -z "$child" ] || kill -TERM "$child" 2>/dev/null' INT
while :; do
  export GROUP_RESTART_COUNT="$n" MAX_RESTARTS="$max"
  [ -z "${SUCCESS_FILE:-}" ] || rm -f "$SUCCESS_FILE"
  "$@" &
  child=$!
  [ -z "$sig" ] || kill -TERM "$child" 2>/dev/null
  wait "$child"
  rc=$?
  while [ -n "$sig" ] && kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
  child=
  [ -z "$sig" ] || exit "$rc"
  [ "$rc" -ne 0 ] || exit 0
  if [ "$rc" -eq 134 ] && [ -n "${SUCCESS_FILE:-}" ] && [ -e "$SUCCESS_FILE" ]; then
    echo "pytorch-supervisor: attempt $n exited 134 (SIGABRT) after writing SUCCESS_FILE; counted as success" >&2
    exit 0
  fi
  case ",$codes," in *",$rc,"*)
    echo "pytorch-supervisor: attempt $n exited $rc; not retriable" >&2
    exit "$rc";;
  esac
  if [ "$n" -ge "$max" ]; then
    echo "pytorch-supervisor: attempt $n exited $rc; no restarts left" >&2
    exit "$rc"
  fi
  echo "pytorch-supervisor: attempt $n exited $rc; restart $((n + 1))/$max" >&2
  n=$((n + 1))
done
