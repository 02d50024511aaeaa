# shellcheck shell=bash
# The root filesystems of the Debian-based layers, sourced by hack/images/build.sh: running
# commands chrooted, the Debian pins (debian.lock), the wheels (requirements.lock) and one
# build_* function per layer. Every stage key hashes this file: editing it rebuilds the layers.
# ---------------------------------------------------------------- running things in a rootfs
# in_root [--bind SRC DST]... ROOTFS CMD...: run CMD chrooted in ROOTFS as root with /proc,
# /dev, the shared apt cache and the binds mounted, in a private mount namespace (so nothing
# leaks onto the host, even when CMD fails), with a clean environment.
in_root() {
  local binds=()
  while [[ $1 == --bind ]]; do binds+=("$2" "$3"); shift 3; done
  local r=$1; shift
  unshare --mount --fork -- "$BASH" -euc '
    r=$1 cache=$2 nb=$3; shift 3
    mount -t proc proc "$r/proc"
    mount --rbind /dev "$r/dev"
    mkdir -p "$cache" "$r/var/cache/apt/archives"
    mount --bind "$cache" "$r/var/cache/apt/archives"
    # The host resolver, for apt; the layer keeps its own empty file (the kubelet supplies one).
    [[ -f $r/etc/resolv.conf && ! -L $r/etc/resolv.conf ]] || { rm -f "$r/etc/resolv.conf"; : >"$r/etc/resolv.conf"; }
    mount --bind /etc/resolv.conf "$r/etc/resolv.conf"
    while ((nb)); do mount --bind "$1" "$r$2"; shift 2; nb=$((nb - 2)); done
    exec chroot "$r" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      HOME=/root LC_ALL=C DEBIAN_FRONTEND=noninteractive SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" "$@"
  ' _ "$r" "$work/debs" "${#binds[@]}" "${binds[@]}" "$@"
}

# ------------------------------------------------------------------------------ Debian pins
lock_section() { [[ -f $debian_lock ]] && awk -v s="$1" '$1 == s {print $2 " " $3}' "$debian_lock" | sort || true; }
installed() {
  dpkg-query --admindir="$1/var/lib/dpkg" -W -f='${db:Status-Abbrev} ${Package} ${Version}\n' |
    awk '$1 == "ii" {print $2 " " $3}' | sort
}
write_lock_section() {   # STAGE < "package version" lines
  local stage=$1 tmp
  tmp=$(mktemp)
  {
    echo "# Exact Debian package versions of each image layer (written by hack/images/build.sh)."
    echo "# IMAGES_RELOCK=1 re-pins to what $DEBIAN_SUITE, -updates and -security serve now."
    echo "# layer package version"
    for s in base git python; do
      if [[ $s == "$stage" ]]; then sed "s/^/$s /"; else lock_section "$s" | sed "s/^/$s /"; fi
    done
  } >"$tmp"
  chmod 644 "$tmp"
  mv "$tmp" "$debian_lock"
}
relock_hint="a pinned Debian package version is not on the mirror any more (Debian replaces
  versions with point releases and security updates). Re-pin with
  IMAGES_RELOCK=1 make images    and review and commit hack/images/debian.lock"

# apt_install STAGE ROOTFS PARENT_ROOTFS TOP_LEVEL_PACKAGES: install the stage's pinned package
# set (or, when re-pinning, the top-level packages at the mirror's versions), then check that
# the rootfs holds exactly the parent's packages plus the stage's pins.
apt_install() {
  local stage=$1 r=$2 parent=$3 top=$4 want
  in_root "$r" apt-get update -q --error-on=any >>"$stage_log" 2>&1 || die "apt-get update failed (log: $stage_log)"
  if [[ $relock == 1 || -z $(lock_section "$stage") ]]; then
    [[ $relock == 1 ]] || log "no '$stage' pins in hack/images/debian.lock yet: pinning what the mirror serves"
    [[ $stage == base ]] && { in_root "$r" apt-get -y -q dist-upgrade >>"$stage_log" 2>&1 || die "apt-get dist-upgrade failed (log: $stage_log)"; }
    # shellcheck disable=SC2086
    in_root "$r" apt-get install -y -q $top >>"$stage_log" 2>&1 || die "apt-get install $top failed (log: $stage_log)"
    if [[ -n $parent ]]; then
      comm -13 <(installed "$parent") <(installed "$r") | write_lock_section "$stage"
    else
      installed "$r" | write_lock_section "$stage"
    fi
  else
    mapfile -t want < <(lock_section "$stage" | tr ' ' =)
    in_root "$r" apt-get install -y -q --allow-downgrades "${want[@]}" >>"$stage_log" 2>&1 ||
      { tail -5 "$stage_log" >&2; die "$relock_hint"; }
  fi
  local expect
  if [[ -n $parent ]]; then
    expect=$( { installed "$parent"; lock_section "$stage"; } | sort)
  else
    expect=$(lock_section base)
  fi
  if [[ $(installed "$r") != "$expect" ]]; then
    diff <(echo "$expect") <(installed "$r") | grep '^[<>]' | head -20 >&2 || true
    die "layer $stage does not hold exactly the packages of hack/images/debian.lock (< pinned, > installed); $relock_hint"
  fi
}

# slim_rootfs ROOTFS: what no container needs: documentation (copyright files stay), manuals,
# translations, package lists, caches, logs; runtime-provided files reset.
slim_rootfs() {
  local r=$1
  # Every mount of a build lives in a private namespace; never delete through one that leaked.
  ! findmnt -rn -o TARGET | grep -q "^$r" || die "something is still mounted under $r"
  find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete 2>/dev/null || true
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$r"/usr/share/{man,info,lintian,linda}/* "$r"/usr/share/locale/*/
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/partial \
    "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old "$r"/var/cache/ldconfig/aux-cache \
    "$r"/tmp/* "$r"/var/tmp/* "$r"/root/.cache "$r"/usr/sbin/policy-rc.d "$r"/etc/machine-id
  find "$r/var/cache/apt/archives" -name '*.deb' -delete
  find "$r/var/log" -type f -delete
  # Which packages apt installed as dependencies depends on how they were asked for (by name
  # when pinning, by exact version otherwise): keep the layers equal, mark nothing automatic.
  rm -f "$r/var/lib/apt/extended_states"
  find "$r/dev" "$r/proc" "$r/sys" "$r/run" -mindepth 1 -delete 2>/dev/null || true
  : >"$r/etc/resolv.conf"
  : >"$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
}

# --------------------------------------------------------------------------------- layers
build_base() {
  local r=$1
  log "debootstrap --variant=minbase $DEBIAN_SUITE (this layer is shared by shell, git and pytorch)"
  mkdir -p "$work/debs"
  unshare --mount --fork -- debootstrap --variant=minbase --merged-usr --cache-dir="$work/debs" \
    "$DEBIAN_SUITE" "$r" "$DEBIAN_MIRROR" >>"$stage_log" 2>&1 ||
    { tail -20 "$stage_log" >&2; die "debootstrap failed (log: $stage_log)"; }
  rm -f "$r/etc/apt/sources.list"
  cat >"$r/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $DEBIAN_SUITE $DEBIAN_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $DEBIAN_SECURITY_MIRROR
Suites: $DEBIAN_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$r/etc/apt/apt.conf.d/90container" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
  cat >"$r/etc/dpkg/dpkg.cfg.d/90container" <<'EOF'
# Container image: no documentation, manuals or translations (copyright files stay).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
  chmod 755 "$r/usr/sbin/policy-rc.d"
  apt_install base "$r" "" "$BASE_PACKAGES"
}

build_git() {
  apt_install git "$1" "$work/base/rootfs" "$GIT_PACKAGES"
  # ssh refuses to run for a uid without a passwd entry ("No user exists for uid 1001") and
  # reads ~/.ssh from the entry's home, not $HOME: give the chart's default uid one, home /tmp.
  in_root "$1" groupadd --gid 1001 app >>"$stage_log" 2>&1
  in_root "$1" useradd --uid 1001 --gid 1001 --home-dir /tmp --no-create-home \
    --shell /usr/sbin/nologin app >>"$stage_log" 2>&1
}

build_python() {
  local r=$1
  apt_install python "$r" "$work/base/rootfs" "$PYTHON_PACKAGES"
  # Debian compiles bytecode with the source's mtime in it; layers reset every mtime, which would
  # make every .pyc stale (and a read-only root cannot rewrite them): recompile them unchecked.
  in_root "$r" sh -c 'python3 -m compileall -q -f -j0 --invalidation-mode unchecked-hash \
    /usr/lib/python3.*[0-9] /usr/lib/python3/dist-packages /usr/share/python3' >>"$stage_log" 2>&1 || true
}

python_minor() { readlink "$work/python/rootfs/usr/bin/python3" | sed 's/^python//'; }

# The wheels for torch==$torch_version: resolved into requirements.lock (with hashes) when
# the lock is missing, was resolved for another torch or Python, or IMAGES_RELOCK=1; then
# downloaded into $wheels (pip's cache makes that cheap after `make venv`).
pip_platform_args() {
  local py=$1 glibc_minor
  glibc_minor=$(installed "$work/base/rootfs" | awk '$1 == "libc6" {print $2}' | sed -E 's/^2\.([0-9]+).*/\1/')
  echo "--only-binary=:all: --implementation cp --python-version $py --abi cp${py/./}"
  for ((m = glibc_minor; m >= 5; m--)); do echo "--platform manylinux_2_${m}_x86_64"; done
  echo "--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64"
}
ensure_wheels() {
  local py plat tmp
  py=$(python_minor)
  mapfile -t plat < <(pip_platform_args "$py" | tr ' ' '\n')
  if [[ $relock == 1 ]] || ! tdeps lock-ok "$pip_lock" "$torch_version" "$py"; then
    log "resolving torch==$torch_version $PYTORCH_EXTRA_PIP for Python $py (pip) into hack/images/requirements.lock"
    tmp=$(mktemp -d)
    # shellcheck disable=SC2086
    "$PY" -m pip install --disable-pip-version-check --quiet --dry-run --ignore-installed \
      --report "$tmp/report.json" --target "$tmp/t" "${plat[@]}" "torch==$torch_version" $PYTORCH_EXTRA_PIP ||
      die "pip could not resolve torch==$torch_version"
    tdeps lock "$tmp/report.json" "$pip_lock" "$torch_version" "$py"
    rm -rf "$tmp"
  fi
  [[ -f $wheels/pip-$PIP_VERSION-py3-none-any.whl ]] ||
    "$PY" -m pip download --disable-pip-version-check --quiet --no-deps -d "$wheels" "pip==$PIP_VERSION" ||
    die "could not download pip $PIP_VERSION"
  # Only the wheels named in the lock, each checked against its hash (already there: no-op).
  "$PY" -m pip download --disable-pip-version-check --quiet --no-deps --require-hashes \
    -d "$wheels" "${plat[@]}" -r "$pip_lock" >>"$work/wheels.log" 2>&1 ||
    { tail -5 "$work/wheels.log" >&2; die "downloading the wheels of hack/images/requirements.lock failed (log: $work/wheels.log)"; }
}

build_pytorch_cpu() { build_pytorch "$1" cpu; }
build_pytorch_cuda() { build_pytorch "$1" cuda; }
build_pytorch() {   # ROOTFS FLAVOUR (cpu | cuda)
  local r=$1 flavour=$2 py site omit=()
  py=$(python_minor)
  site=$r/usr/local/lib/python$py/dist-packages
  [[ $flavour == cpu ]] && read -ra omit <<<"$PYTORCH_CPU_OMIT"
  log "installing $(tdeps select "$pip_lock" "${omit[@]}" | wc -l) wheels (torch $torch_version, $flavour set) with pip $PIP_VERSION"
  tdeps select "$pip_lock" "${omit[@]}" |
    in_root --bind "$wheels" /mnt "$r" python3 "/mnt/pip-$PIP_VERSION-py3-none-any.whl/pip" install \
      --no-index --find-links /mnt --no-deps --require-hashes --no-compile --break-system-packages \
      --root-user-action=ignore --disable-pip-version-check --no-warn-script-location \
      --progress-bar off -q -r /dev/stdin >>"$stage_log" 2>&1 ||
    { tail -20 "$stage_log" >&2; die "pip install failed (log: $stage_log)"; }
  if [[ $flavour == cpu ]]; then
    tdeps trim "$site" | tee -a "$stage_log" | sed 's/^/   /' >&2
  fi
  # The official image's working directory, and /app, where the chart mounts the files.
  mkdir -p "$r/workspace" "$r/app"
  in_root "$r" python3 -m compileall -q -f -j0 --invalidation-mode unchecked-hash \
    "/usr/local/lib/python$py/dist-packages" >>"$stage_log" 2>&1 || true
}
