#!/usr/bin/env python3
"""torch's Python dependencies for the pytorch image (Python standard library only).

  torch-pin PYPROJECT          print the torch version pinned in pyproject.toml's `test` group
  lock REPORT OUT TORCH PY     turn a `pip install --dry-run --report` into OUT: one
                               `name==version --hash=sha256:...` line per wheel, sorted
  lock-ok LOCK TORCH PY        exit 0 when LOCK was resolved for torch==TORCH on Python PY
  select LOCK [NAME...]        print LOCK without the named projects (the --no-deps install set)
  trim SITE                    keep, of the CUDA libraries under SITE/nvidia, only those that the
                               torch extension modules load (their DT_NEEDED closure): print
                               what was removed; drop the records of emptied distributions

PyPI's Linux torch is built against CUDA and links a dozen nvidia-* libraries, so
`import torch` needs them even on a machine without a GPU; `trim` removes the rest (cuDNN's
engines, cuSOLVER, nvJitLink, headers, ...), which only GPU code paths load, lazily.
"""
import csv
import json
import os
import re
import shutil
import struct
import sys
import tomllib

HEADER = "# torch=={torch} python={py} (torch's version comes from pyproject.toml)"


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def cmd_torch_pin(pyproject):
    with open(pyproject, "rb") as f:
        deps = tomllib.load(f)["dependency-groups"]["test"]
    for d in deps:
        m = re.fullmatch(r"\s*torch\s*==\s*([^\s;,]+)\s*", d)
        if m:
            print(m.group(1))
            return
    sys.exit(f"{pyproject}: no exact torch==X.Y.Z pin in [dependency-groups] test")


def cmd_lock(report, out, torch, py):
    with open(report) as f:
        rep = json.load(f)
    lines = []
    for item in rep["install"]:
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        info = item["download_info"]
        hashes = info.get("archive_info", {}).get("hashes", {})
        sha = hashes.get("sha256")
        if not sha:
            h = info.get("archive_info", {}).get("hash", "")
            sha = h.split("=", 1)[1] if h.startswith("sha256=") else None
        if not sha:
            sys.exit(f"pip's report has no sha256 for {name} {version}")
        if not info["url"].split("#")[0].endswith(".whl"):
            sys.exit(f"{name} {version} is not a wheel: {info['url']}")
        lines.append(f"{normalize(name)}=={version} --hash=sha256:{sha}")
    if not any(l.startswith(f"torch=={torch} ") for l in lines):
        sys.exit(f"pip did not resolve torch=={torch}")
    with open(out + ".tmp", "w") as f:
        f.write(HEADER.format(torch=torch, py=py) + "\n")
        f.write("# Written by hack/images/build.sh from pip's resolution; IMAGES_RELOCK=1 re-resolves.\n")
        f.write("\n".join(sorted(lines)) + "\n")
    os.replace(out + ".tmp", out)


def cmd_lock_ok(lock, torch, py):
    try:
        with open(lock) as f:
            first = f.readline().rstrip("\n")
    except FileNotFoundError:
        sys.exit(1)
    sys.exit(0 if first == HEADER.format(torch=torch, py=py) else 1)


def cmd_select(lock, *omit):
    omit = {normalize(n) for n in omit}
    with open(lock) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            if normalize(line.split("==", 1)[0]) not in omit:
                sys.stdout.write(line)


def elf_needed(path):
    """DT_NEEDED names of an ELF64 little-endian file, read through its program headers."""
    with open(path, "rb") as f:
        ident = f.read(64)
        if ident[:4] != b"\x7fELF" or ident[4] != 2 or ident[5] != 1:
            return None
        phoff, = struct.unpack_from("<Q", ident, 32)
        phentsize, phnum = struct.unpack_from("<HH", ident, 54)
        f.seek(phoff)
        ph = f.read(phentsize * phnum)
        loads, dyn = [], None
        for i in range(phnum):
            p_type, _, p_offset, p_vaddr, _, p_filesz, _, _ = struct.unpack_from(
                "<IIQQQQQQ", ph, i * phentsize)
            if p_type == 1:
                loads.append((p_vaddr, p_offset, p_filesz))
            elif p_type == 2:
                dyn = (p_offset, p_filesz)
        if dyn is None:
            return []
        f.seek(dyn[0])
        raw = f.read(dyn[1])
        needed, strtab = [], None
        for i in range(0, len(raw) - 15, 16):
            tag, val = struct.unpack_from("<qQ", raw, i)
            if tag == 0:
                break
            if tag == 1:
                needed.append(val)
            elif tag == 5:
                strtab = val
        if strtab is None:
            return []
        base = next((off + strtab - va for va, off, sz in loads if va <= strtab < va + sz), None)
        names = []
        for off in needed:
            f.seek(base + off)
            s = f.read(256)
            names.append(s.split(b"\0", 1)[0].decode())
        return names


def cmd_trim(site):
    site = os.path.realpath(site)
    torch_dir = os.path.join(site, "torch")
    nvidia_dir = os.path.join(site, "nvidia")
    libs = {}   # basename -> path, for every shared library torch could resolve through RUNPATH
    for top in (os.path.join(torch_dir, "lib"), nvidia_dir):
        for dirpath, _, files in os.walk(top):
            for n in files:
                if ".so" in n:
                    libs.setdefault(n, os.path.join(dirpath, n))
    # Roots: every Python extension module of torch, and the library torch/__init__.py loads
    # with ctypes before anything else.
    roots = [os.path.join(torch_dir, "lib", "libtorch_global_deps.so")]
    for dirpath, dirs, files in os.walk(torch_dir):
        if dirpath == os.path.join(torch_dir, "lib"):
            dirs[:] = []
            continue
        roots += [os.path.join(dirpath, n) for n in files if n.endswith(".so")]
    keep, todo = set(), [r for r in roots if os.path.exists(r)]
    while todo:
        p = os.path.realpath(todo.pop())
        if p in keep:
            continue
        keep.add(p)
        for n in elf_needed(p) or []:
            if n in libs:
                todo.append(libs[n])
    removed = freed = 0
    kept = sorted(os.path.relpath(p, site) for p in keep if p.startswith(nvidia_dir + os.sep))
    for dirpath, _, files in os.walk(nvidia_dir, topdown=False):
        for n in files:
            p = os.path.join(dirpath, n)
            if os.path.realpath(p) not in keep:
                freed += os.lstat(p).st_size
                removed += 1
                os.unlink(p)
        if not os.listdir(dirpath):
            os.rmdir(dirpath)
    # Records: drop the lines of removed files; a distribution with nothing left goes entirely.
    gone = []
    for d in sorted(os.listdir(site)):
        rec = os.path.join(site, d, "RECORD")
        if not d.endswith(".dist-info") or not os.path.exists(rec):
            continue
        with open(rec, newline="") as f:
            rows = list(csv.reader(f))
        live = [r for r in rows if r and os.path.lexists(os.path.join(site, r[0]))]
        if len(live) == len(rows):
            continue
        if all(r[0].startswith(d + "/") for r in live):
            shutil.rmtree(os.path.join(site, d))
            gone.append(d[: -len(".dist-info")])
            continue
        with open(rec, "w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(live)
    print(f"kept {len(kept)} CUDA libraries torch links: {' '.join(os.path.basename(k) for k in kept)}")
    print(f"removed {removed} files ({freed / 2**20:.0f} MiB) no import path loads; "
          f"distributions left empty and dropped: {' '.join(gone) or 'none'}")


def main(argv):
    cmds = {"torch-pin": (cmd_torch_pin, 1), "lock": (cmd_lock, 4), "lock-ok": (cmd_lock_ok, 3),
            "select": (cmd_select, None), "trim": (cmd_trim, 1)}
    if len(argv) < 2 or argv[1] not in cmds:
        sys.exit(__doc__)
    fn, n = cmds[argv[1]]
    if n is not None and len(argv) - 2 != n:
        sys.exit(__doc__)
    fn(*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
