#!/usr/bin/env bash
# Build the container images a node of our own runs for this chart, without Docker or a
# registry, as OCI image layouts in .cache/images/<name>/ (index.json + blobs/sha256):
#   shell         Debian base (debootstrap minbase + ca-certificates): /bin/sh, chown   (volumePermissions)
#   git           base + git + openssh-client                                          (cloneFilesFromGit)
#   pytorch       base + python3 + torch (pyproject.toml's pin) + numpy, CPU set         (the PyTorch container)
#   pause         a static Go pause process (hack/images/pause)                          (containerd's sandbox)
#   pytorch-cuda  like pytorch, with every CUDA dependency torch declares: only when named
# Layers are shared (pytorch, git and shell start with the same base layer), uncompressed and
# reproducible (sorted entries, every mtime SOURCE_DATE_EPOCH). Every image is checked before it
# is kept: its layers are unpacked and its job is run there as the chart runs it (non-root uid
# 1001, read-only root filesystem, HOME=/tmp). Stamps keyed on every input skip what is built.
# usage: hack/images/build.sh [IMAGE ...]          (default: shell git pytorch pause)
# env:   IMAGES_DIR    output folder (default .cache/images)
#        IMAGES_RELOCK=1  re-pin debian.lock and requirements.lock to what the mirrors serve now
# Needs root (debootstrap, chroot, namespaces), debootstrap (installed with apt-get if missing),
# dpkg-query, unshare, iproute2, python3 >= 3.11 with pip, and go for the pause image.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
export SOURCE_DATE_EPOCH LC_ALL=C
out=${IMAGES_DIR:-$root/.cache/images}
work=$out/.work     # stage root filesystems, their layer descriptors and logs
store=$out/.store   # every layer blob once; layouts hard-link them
wheels=$out/.wheels
relock=${IMAGES_RELOCK:-0}
debian_lock=$here/debian.lock
pip_lock=$here/requirements.lock

log() { echo ">> $*" >&2; }
die() { echo "images: $*" >&2; exit 1; }
# The interpreter itself, not a version manager's shim (a shim costs ~0.5 s a call).
PY=$(python3 -c 'import sys; print(sys.executable)')
oci() { "$PY" "$here/oci.py" "$@"; }
tdeps() { "$PY" "$here/torchdeps.py" "$@"; }
hash_files() { cat "$@" | sha256sum | cut -c1-16; }
hash_text() { sha256sum | cut -c1-16; }
# Fail early, naming the folder, when its file system has less than GIB GiB free: a full
# disk otherwise shows up as an empty log and a failed download.
need_disk_gib() {   # GIB WHAT
  local free
  free=$(df --output=avail -B1G "$out" | tail -1 | tr -d ' ')
  ((free >= $1)) || die "$2 needs about $1 GiB free in $out; its file system has $free GiB"
}
human() { numfmt --to=iec-i --suffix=B --round=nearest --format=%.1f "$1"; }

[[ $(id -u) == 0 ]] || die "needs root (debootstrap, chroot and mount namespaces)"
if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap (apt-get)"
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }; } ||
    die "debootstrap is missing and apt-get could not install it"
fi
mkdir -p "$work" "$store"
exec 9>"$out/.lock"
flock 9   # one build at a time

torch_version=$(tdeps torch-pin "$root/pyproject.toml")
# shellcheck source=stages.sh
source "$here/stages.sh"
# shellcheck source=checks.sh
source "$here/checks.sh"
# Layers are keyed on what makes them (stages.sh, oci.py, the pins); an image also on how it is
# assembled and checked (build.sh, checks.sh, ddp_check.py), so editing a check re-checks without
# rebuilding.
common_key=$(hash_files "$here/stages.sh" "$here/oci.py" "$here/versions.env")

# --------------------------------------------------------------------------------- stages
# Each stage is a root filesystem in $work/NAME/rootfs built on a copy of its parent's; its
# layer is the difference. key_NAME names every input of a stage (its parent's key included).
key_base() { { echo "$common_key"; lock_section base; } | hash_text; }
key_git() { { key_base; lock_section git; } | hash_text; }
key_python() { { key_base; lock_section python; } | hash_text; }
key_pytorch() { { key_python; echo "$torch_version $1"; cat "$pip_lock" "$here/torchdeps.py"; } | hash_text; }
stage_key() {
  case $1 in
    base) key_base ;; git) key_git ;; python) key_python ;;
    pytorch) key_pytorch cpu ;; pytorch-cuda) key_pytorch cuda ;;
  esac
}

declare -A built_s=()   # stage -> seconds spent building it in this run
# stage_fresh NAME: the stage was built from the inputs its key names now, and its layer is there.
stage_fresh() {
  local name=$1 dir=$work/$1 d
  [[ $relock != 1 && -f $dir/key && $(<"$dir/key") == "$(stage_key "$name")" && -f $dir/layer.json ]] || return 1
  [[ $name == pytorch* || -d $dir/rootfs ]] || return 1
  d=$(layer_field "$name" digest)
  [[ -f $store/sha256/${d#sha256:} ]]
}
# stage NAME PARENT BUILD_CMD...: (re)build the stage unless it is fresh.
stage() {
  local name=$1 parent=$2 key; shift 2
  local dir=$work/$name
  stage_fresh "$name" && return 0
  local start=$SECONDS
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  stage_log=$work/$name.log
  : >"$stage_log"
  log "stage $name${parent:+ (on $parent)}"
  if [[ -n $parent ]]; then
    cp -a --reflink=auto "$work/$parent/rootfs" "$dir.tmp/rootfs"
  fi
  "$@" "$dir.tmp/rootfs"
  slim_rootfs "$dir.tmp/rootfs"
  log "writing layer $name"
  local lower=-
  [[ -z $parent ]] || lower=$work/$parent/rootfs
  oci layer "$lower" "$dir.tmp/rootfs" "$store" >"$dir.tmp/layer.json"
  # A leaf stage's rootfs is no one's parent: its layer is all that is needed.
  [[ $name != pytorch* ]] || rm -rf "$dir.tmp/rootfs"
  key=$(stage_key "$name")   # again: pinning may just have written the lock
  echo "$key" >"$dir.tmp/key"
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  built_s[$name]=$((SECONDS - start))
  log "stage $name done in ${built_s[$name]}s ($(human "$(layer_size "$name")") layer)"
}
layer_field() { sed -nE "s/.*\"$2\": \"?([^\",}]+)\"?.*/\1/p" "$work/$1/layer.json"; }
layer_size() { layer_field "$1" size; }

build_pause() {
  local dir=$work/pause key
  key=$( { echo "$PAUSE_VERSION $SOURCE_DATE_EPOCH"; cat "$here/oci.py" "$here/pause/main.go" "$here/pause/go.mod"; go env GOVERSION; } | hash_text)
  if [[ -f $dir/key && $(<"$dir/key") == "$key" && -f $dir/layer.json ]]; then
    local d
    d=$(layer_field pause digest)
    [[ -f $store/sha256/${d#sha256:} ]] && return 0
  fi
  local start=$SECONDS
  rm -rf "$dir"
  mkdir -p "$dir"
  log "stage pause (go build, CGO_ENABLED=0)"
  (cd "$here/pause" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath \
    -ldflags="-s -w -buildid= -X main.version=$PAUSE_VERSION" -o "$dir/pause" .)
  oci file-layer "$store" "$dir/pause" /pause 0755 >"$dir/layer.json"
  echo "$key" >"$dir/key"
  built_s[pause]=$((SECONDS - start))
}

# ------------------------------------------------------------------------------ assembling
# image NAME REPOSITORY:TAG STAGES -- OCI_IMAGE_OPTIONS...: write the layout $out/NAME from the
# stages' layers (oci.py image), then unpack it and run check_NAME on it there; the layout is
# kept only if the check passes. Skipped when nothing it is made of changed.
declare -A image_s=()
image() {
  local name=$1 ref=$2 stages=() layers=() key s; shift 2
  while [[ $1 != -- ]]; do stages+=("$1"); shift; done
  shift
  for s in "${stages[@]}"; do layers+=("$work/$s/layer.json"); done
  key=$( { printf '%s\n' "$ref" "$@"; cat "${layers[@]}" "$here/build.sh" "$here/checks.sh" "$here/ddp_check.py" "$here/oci.py"; } | hash_text)
  [[ -f $work/stamps/$name && $(<"$work/stamps/$name") == "$key" && -f $out/$name/index.json ]] && return 0
  local start=$SECONDS check=$work/check-$name
  oci image --layout "$out/$name" --store "$store" --ref "$IMAGE_PREFIX/$ref" "$@" "${layers[@]}" >/dev/null
  log "checking $IMAGE_PREFIX/$ref (unpacked, as the chart runs it)"
  rm -rf "$check"
  oci unpack "$out/$name" "$check"
  if ! "check_${name%-cuda}" "$out/$name" "$check" 2>&1 | sed 's/^/   /' >&2; then
    rm -rf "$check" "${out:?}/$name"
    die "image $IMAGE_PREFIX/$ref failed its check (above); the layout was removed"
  fi
  rm -rf "$check"
  mkdir -p "$work/stamps"
  echo "$key" >"$work/stamps/$name"
  image_s[$name]=$((SECONDS - start))
}
path_env="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
labels() {   # TITLE VERSION DESCRIPTION
  printf '%s\n' --label "org.opencontainers.image.title=$1" --label "org.opencontainers.image.version=$2" \
    --label "org.opencontainers.image.description=$3" \
    --label "org.opencontainers.image.source=hack/images/build.sh of the PyTorch Helm chart"
}

# ------------------------------------------------------------------------------------- main
want=("$@")
((${#want[@]})) || want=(shell git pytorch pause)
for n in "${want[@]}"; do
  case $n in shell | git | pytorch | pytorch-cuda | pause) ;; *) die "unknown image: $n (shell, git, pytorch, pytorch-cuda, pause)" ;; esac
done
has() { local n; for n in "${want[@]}"; do [[ $n == "$1" ]] && return 0; done; return 1; }
total_start=$SECONDS

if has shell || has git || has pytorch || has pytorch-cuda; then stage base "" build_base; fi
if has git; then stage git base build_git; fi
if has pytorch || has pytorch-cuda; then
  stage python base build_python
  # Resolving and fetching (hash-checking 3 GB) only when a pytorch layer has to be built.
  need_wheels=0
  tdeps lock-ok "$pip_lock" "$torch_version" "$(python_minor)" || need_wheels=1
  for n in pytorch pytorch-cuda; do
    if has "$n" && ! stage_fresh "$n"; then need_wheels=1; fi
  done
  if ((need_wheels)); then
    need_disk_gib 12 "the pytorch image (wheels 2.9 GiB, then its root filesystem and layer, 3 GiB each)"
    t=$SECONDS
    mkdir -p "$wheels"
    ensure_wheels
    log "wheels ready in $((SECONDS - t))s ($(du -sh "$wheels" | cut -f1) in $wheels)"
  fi
  if has pytorch; then stage pytorch python build_pytorch_cpu; fi
  if has pytorch-cuda; then stage pytorch-cuda python build_pytorch_cuda; fi
  # The layers hold what the wheels gave. Kept, the 2.9 GB would only spare a rebuild the
  # download (26-172 s); on a small disk that copy is what runs out.
  rm -rf "$wheels"
fi
if has pause; then build_pause; fi

if has shell; then
  debver=$(<"$work/base/rootfs/etc/debian_version")
  mapfile -t l < <(labels shell "$debver" "Debian $DEBIAN_SUITE minbase: /bin/sh, coreutils (chown)")
  image shell "shell:$debver" base -- --env "$path_env" --cmd '["/bin/sh"]' "${l[@]}"
fi
if has git; then
  gitver=$(lock_section git | awk '$1 == "git" {print $2}' | sed -E 's/^[0-9]+://; s/-[^-]*$//')
  mapfile -t l < <(labels git "$gitver" "Debian $DEBIAN_SUITE with git and openssh-client")
  image git "git:$gitver" base git -- --env "$path_env" --cmd '["git","--version"]' "${l[@]}"
fi
for flavour in cpu cuda; do
  n=pytorch
  [[ $flavour == cpu ]] || n=pytorch-cuda
  has "$n" || continue
  opts=(--env "PATH=/usr/local/nvidia/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    --env LANG=C.UTF-8 --env "PYTORCH_VERSION=$torch_version")
  if [[ $flavour == cuda ]]; then
    opts+=(--env LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64
      --env NVIDIA_VISIBLE_DEVICES=all --env NVIDIA_DRIVER_CAPABILITIES=compute,utility)
  fi
  mapfile -t l < <(labels pytorch "$torch_version-$flavour" "torch $torch_version ($flavour set), Debian $DEBIAN_SUITE python3")
  image "$n" "pytorch:$torch_version-$flavour" base python "$n" -- "${opts[@]}" \
    --cmd '["python"]' --workdir /workspace "${l[@]}"
done
if has pause; then
  mapfile -t l < <(labels pause "$PAUSE_VERSION" "pod sandbox: sleeps, reaps children, exits 0 on SIGTERM")
  image pause "pause:$PAUSE_VERSION" pause -- --env "$path_env" --entrypoint '["/pause"]' \
    --user 65535:65535 "${l[@]}"
fi

# Forget layer blobs no stage refers to any more (layouts hold their own hard links).
if ((${#built_s[@]})); then
  live=$(cat "$work"/*/layer.json | sed -nE 's/.*"digest": "sha256:([0-9a-f]+)".*/\1/p')
  for b in "$store"/sha256/*; do
    grep -qx "${b##*/}" <<<"$live" || rm -f "$b"
  done
fi

# Summary: what the node gets, its size, and what this run built.
printf '%-13s %-34s %9s  %s\n' IMAGE REFERENCE SIZE "BUILT IN THIS RUN"
layouts=()
for n in "${want[@]}"; do layouts+=("$out/$n"); done
while read -r n ref size; do
  case $n in
    shell) stages=(base) ;; git) stages=(base git) ;; pause) stages=(pause) ;; *) stages=(base python "$n") ;;
  esac
  detail=() total=0
  for s in "${stages[@]}"; do
    if [[ -n ${built_s[$s]:-} ]]; then detail+=("$s ${built_s[$s]}s"); total=$((total + built_s[$s])); fi
  done
  if [[ -n ${image_s[$n]:-} ]]; then detail+=("assemble+check ${image_s[$n]}s"); total=$((total + image_s[$n])); fi
  when="up to date"
  ((${#detail[@]} == 0)) || when="${total}s (${detail[*]})"
  printf '%-13s %-34s %9s  %s\n' "$n" "$ref" "$(human "$size")" "$when"
done < <(oci summary "${layouts[@]}")
log "images in $out/<name>/ (OCI layouts) in $((SECONDS - total_start))s"
