# shellcheck shell=bash
# The checks every image passes before hack/images/build.sh keeps it (sourced by build.sh):
# each runs the image's job in its unpacked layers the way the chart's pod runs it.
# ----------------------------------------------------------------------------- image checks
# sandbox LAYOUT ROOTFS UID CAPS CMD...: run CMD in ROOTFS (an unpacked image) the way the
# kubelet runs a container of the chart: root filesystem read-only, /tmp a fresh tmpfs, the
# image config's environment (HOME=/tmp), own mount, PID, UTS and network namespaces (loopback
# only, /etc/hosts like the kubelet writes), no_new_privs, and as UID with only CAPS
# ("-all", or e.g. "-all,+chown"). SANDBOX_BIND="SRC DST" adds one bind mount.
sandbox() {
  local layout=$1 r=$2 uid=$3 caps=$4 envs; shift 4
  mapfile -t envs < <("$PY" -c '
import json, os, sys
layout = sys.argv[1]
idx = json.load(open(os.path.join(layout, "index.json")))
blob = lambda d: json.load(open(os.path.join(layout, "blobs", *d.split(":"))))
cfg = blob(blob(idx["manifests"][0]["digest"])["config"]["digest"])
print("\n".join(cfg["config"].get("Env", [])))' "$layout")
  unshare --mount --pid --net --uts --fork -- "$BASH" -euc '
    r=$1 uid=$2 caps=$3 bind=$4 n=$5; shift 5
    envs=("${@:1:n}"); shift "$n"
    m=$r
    mount --bind "$r" "$m"
    mount -o remount,bind,ro "$m"
    mount -t tmpfs -o mode=1777 tmpfs "$m/tmp"
    mount -t proc proc "$m/proc"
    mount -t tmpfs -o mode=755 tmpfs "$m/dev"
    for d in null zero full random urandom; do touch "$m/dev/$d"; mount --bind "/dev/$d" "$m/dev/$d"; done
    mkdir "$m/dev/shm" && mount -t tmpfs -o mode=1777 tmpfs "$m/dev/shm"
    ln -s /proc/self/fd "$m/dev/fd"
    hostname pod-0
    h=$(mktemp); printf "127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.0.1\tpod-0\n" >"$h"; chmod 644 "$h"
    mount --bind "$h" "$m/etc/hosts"
    rm -f "$h"   # the mount keeps it
    ip link set lo up
    if [[ -n $bind ]]; then mount --bind "${bind% *}" "$m${bind#* }"; fi
    exec chroot "$m" /usr/bin/setpriv --reuid="$uid" --regid="$uid" --clear-groups --no-new-privs \
      --bounding-set="$caps" --inh-caps=-all /usr/bin/env -i "${envs[@]}" HOME=/tmp "$@"
  ' _ "$r" "$uid" "$caps" "${SANDBOX_BIND:-}" "${#envs[@]}" "${envs[@]}" "$@"
}

check_shell() {   # the chart's volumePermissions command, as root with CHOWN/DAC_OVERRIDE/FOWNER only
  sandbox "$1" "$2" 0 -all,+chown,+dac_override,+fowner /bin/sh -ec '
    mkdir -p /tmp/data/sub && touch /tmp/data/sub/f && chmod 700 /tmp/data/sub
    OWNER=1001:1001 DATA_DIR=/tmp/data /bin/sh -ec '\''chown -R "$OWNER" "$DATA_DIR"'\''
    test "$(stat -c %u:%g /tmp/data/sub/f)" = 1001:1001
    echo "chown -R as root with CHOWN/DAC_OVERRIDE/FOWNER: ok"'
}

check_git() {   # the chart's git-clone script with HOME=/tmp, from a file:// repository: as uid 1001
  # (the chart's default, which has a passwd entry for ssh) and as uid 4242 (which has none)
  local src=$work/check-git-src rc=0
  rm -rf "$src"
  { git init -q --bare "$src/repo.git" && git init -q "$src/w" &&
    echo 'print("hello")' >"$src/w/main.py" && git -C "$src/w" add main.py &&
    git -C "$src/w" -c user.name=images -c user.email=images@localhost commit -q -m files &&
    git -C "$src/w" push -q "$src/repo.git" HEAD:refs/heads/main &&
    chown -R 1001:1001 "$src/repo.git"; } || { echo "could not create the test repository"; return 1; }
  local script='
    mkdir /tmp/app && cd /tmp
    GIT_REPOSITORY=file:///srv GIT_REVISION=main
    git config --global --add safe.directory /tmp/app
    git init -q /tmp/app
    git -C /tmp/app remote add origin "$GIT_REPOSITORY"
    git -C /tmp/app fetch -q --depth 1 origin "$GIT_REVISION"
    git -C /tmp/app checkout -q FETCH_HEAD
    test -f /tmp/app/main.py
    test -s /etc/ssl/certs/ca-certificates.crt
    echo "git init/fetch --depth 1/checkout as uid $(id -u), HOME=/tmp: ok ($(git --version))"'
  chmod -R a+rX "$src/repo.git"
  SANDBOX_BIND="$src/repo.git /srv" sandbox "$1" "$2" 1001 -all /bin/sh -ec "$script
    ssh -V 2>&1 | grep OpenSSH" || rc=$?
  ((rc)) || SANDBOX_BIND="$src/repo.git /srv" sandbox "$1" "$2" 4242 -all /bin/sh -ec "
    git config --global --add safe.directory /srv
    $script" || rc=$?
  rm -rf "$src"
  return "$rc"
}

check_pytorch() {   # import torch, torchrun, and a 2-process gloo DDP run (ddp_check.py), as uid 1001
  sandbox "$1" "$2" 1001 -all timeout 600 /bin/sh -ec '
    python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec(\"torch\") is None)"
    command -v sleep >/dev/null
    python -c "import torch, numpy; print(\"import torch\", torch.__version__, \"numpy\", numpy.__version__, \"as uid\", __import__(\"os\").getuid())"
    torchrun --help >/dev/null
    printf "%s\n" "$1" >/tmp/ddp.py
    OMP_NUM_THREADS=1 torchrun --standalone --nproc-per-node=2 /tmp/ddp.py >/tmp/ddp.out 2>&1 ||
      { cat /tmp/ddp.out; exit 1; }
    grep "^rank" /tmp/ddp.out
    test "$(grep -o "DDP backward ok" /tmp/ddp.out | wc -l)" = 2' sh "$(<"$here/ddp_check.py")"
}

children_of() { awk -v p="$1" '$4 == p' /proc/[0-9]*/stat 2>/dev/null | wc -l; }
check_pause() {   # PID 1 of its own PID namespace: reaps orphans, exits 0 on SIGTERM
  local r=$2 upid ppid zombies adopted rc=0
  unshare --pid --fork -- "$r/pause" 2>/dev/null &
  upid=$!
  for _ in $(seq 50); do ppid=$(cat "/proc/$upid/task/$upid/children" 2>/dev/null | awk '{print $1}'); [[ -n $ppid ]] && break; sleep 0.1; done
  [[ -n $ppid ]] || die "pause did not start"
  # An orphan in the pod's PID namespace is re-parented to pause, which must reap it on exit.
  nsenter --target "$ppid" --pid -- /bin/sh -c '(sleep 1 &) ; exit 0'
  sleep 0.4
  adopted=$(children_of "$ppid")
  sleep 1.5
  zombies=$(awk -v p="$ppid" '$4 == p && $3 == "Z"' /proc/[0-9]*/stat 2>/dev/null | wc -l)
  kill -TERM "$ppid"
  for _ in $(seq 50); do kill -0 "$ppid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$ppid" 2>/dev/null; then
    kill -KILL "$ppid" "$upid" 2>/dev/null || true
    wait "$upid" || true
    die "pause did not exit within 5s of SIGTERM"
  fi
  wait "$upid" || rc=$?
  [[ $adopted == 1 ]] || die "the orphan was not re-parented to pause ($adopted children)"
  [[ $zombies == 0 ]] || die "pause left $zombies zombie(s) unreaped"
  [[ $rc == 0 ]] || die "pause exited $rc on SIGTERM (want 0)"
  echo "pause: reaps orphans, exits 0 on SIGTERM: ok ($("$r/pause" -v))"
}
