#!/usr/bin/env python3
"""OCI image-layout helpers for hack/images/build.sh (Python standard library only).

  layer   LOWER UPPER STORE   write the difference UPPER - LOWER (LOWER may be "-" for none) as a
                              deterministic uncompressed layer tar into the blob store STORE and
                              print a JSON descriptor {"digest", "size", "entries"}
  file-layer STORE SRC DEST MODE
                              a layer holding one file (SRC, placed at DEST with MODE)
  image   --layout DIR --store DIR --ref REPO:TAG [--env K=V]... [--cmd JSON] [--entrypoint JSON]
          [--workdir DIR] [--user U] [--label K=V]... LAYER_JSON...
                              assemble an OCI image layout from layers already in the blob store
                              (each LAYER_JSON a descriptor written by `layer`)
  summary LAYOUT...           print "folder reference size" per layout
  unpack  LAYOUT DEST         apply the layers of the image in LAYOUT onto DEST (whiteouts honoured)
  verify  LAYOUT              check every blob of LAYOUT against its digest and size
  size    LAYOUT              print the image's total size in bytes (config + layers)

Layers are reproducible: entries in depth-first order of byte-sorted names, every mtime set to
SOURCE_DATE_EPOCH, numeric owners without names, PAX headers only where a name or value needs
them. A file that UPPER deleted becomes an OCI whiteout (.wh.NAME); a file whose metadata and
bytes are unchanged is left out; parent directories of every changed entry are written too.
"""
import hashlib
import json
import os
import shutil
import stat
import sys
import tarfile
import tempfile

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
BUF = 4 << 20
# Top-level folders whose contents belong to the runtime, never to an image.
RUNTIME_DIRS = {"dev", "proc", "sys"}
# Our own layers: extract them as they are (Python >= 3.11.4 asks for a filter).
TRUSTED = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}


def epoch():
    return int(os.environ.get("SOURCE_DATE_EPOCH", "0"))


class HashingWriter:
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def write(self, b):
        self.h.update(b)
        self.n += len(b)
        return self.f.write(b)

    def tell(self):
        return self.n


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(BUF), fb.read(BUF)
            if x != y:
                return False
            if not x:
                return True


def unchanged(lpath, l, upath, u):
    """True when UPPER's entry can be left out of the layer: same type, mode, owner and content."""
    if stat.S_IFMT(l.st_mode) != stat.S_IFMT(u.st_mode) or l.st_mode != u.st_mode:
        return False
    if (l.st_uid, l.st_gid) != (u.st_uid, u.st_gid):
        return False
    if stat.S_ISDIR(u.st_mode):
        return True
    if stat.S_ISREG(u.st_mode):
        if l.st_size != u.st_size:
            return False
        return l.st_mtime_ns == u.st_mtime_ns or same_bytes(lpath, upath)
    if stat.S_ISLNK(u.st_mode):
        return os.readlink(lpath) == os.readlink(upath)
    if stat.S_ISCHR(u.st_mode) or stat.S_ISBLK(u.st_mode):
        return l.st_rdev == u.st_rdev
    return True


def listdir(path):
    try:
        return sorted(os.listdir(path), key=os.fsencode)
    except FileNotFoundError:
        return []


class LayerWriter:
    def __init__(self, out):
        self.hw = HashingWriter(out)
        self.tar = tarfile.TarFile(fileobj=self.hw, mode="w", format=tarfile.PAX_FORMAT,
                                   encoding="utf-8", errors="surrogateescape", copybufsize=BUF)
        self.mtime = epoch()
        self.links = {}   # (dev, ino) -> first name written in this layer
        self.entries = 0

    def info(self, name, st):
        ti = tarfile.TarInfo(name)
        ti.mode = stat.S_IMODE(st.st_mode)
        ti.uid, ti.gid = st.st_uid, st.st_gid
        ti.uname = ti.gname = ""
        ti.mtime = self.mtime
        return ti

    def add(self, name, path, st):
        ti = self.info(name, st)
        self.entries += 1
        fmt = stat.S_IFMT(st.st_mode)
        if fmt == stat.S_IFDIR:
            ti.type = tarfile.DIRTYPE
        elif fmt == stat.S_IFLNK:
            ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(path)
        elif fmt == stat.S_IFREG:
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                ti.type, ti.linkname = tarfile.LNKTYPE, self.links[key]
            else:
                if st.st_nlink > 1:
                    self.links[key] = name
                ti.type, ti.size = tarfile.REGTYPE, st.st_size
                with open(path, "rb") as f:
                    self.tar.addfile(ti, f)
                return
        elif fmt in (stat.S_IFCHR, stat.S_IFBLK):
            ti.type = tarfile.CHRTYPE if fmt == stat.S_IFCHR else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif fmt == stat.S_IFIFO:
            ti.type = tarfile.FIFOTYPE
        else:  # sockets cannot live in a layer
            self.entries -= 1
            return
        self.tar.addfile(ti)

    def whiteout(self, name):
        ti = tarfile.TarInfo(name)
        ti.mode, ti.mtime, ti.uname, ti.gname = 0o644, self.mtime, "", ""
        self.entries += 1
        self.tar.addfile(ti)

    def close(self):
        self.tar.close()


def diff_layer(lower, upper, writer):
    """Write UPPER - LOWER into writer, depth first, names byte-sorted."""
    pending = []   # ancestors not yet written: written only once a descendant changes

    def flush():
        for name, path, st in pending:
            writer.add(name, path, st)
        pending.clear()

    def walk(rel, has_lower):
        upath = os.path.join(upper, rel) if rel else upper
        lpath = os.path.join(lower, rel) if (rel and lower) else lower
        if rel in RUNTIME_DIRS:
            return
        names = set(listdir(upath))
        gone = set(listdir(lpath)) - names if has_lower else set()
        # Whiteouts sort among the real names by the name they are written under.
        items = [(os.fsencode(n), n, False) for n in names]
        items += [(os.fsencode(WHITEOUT + n), n, True) for n in gone]
        for _, n, is_whiteout in sorted(items):
            child = f"{rel}/{n}" if rel else n
            if is_whiteout:
                flush()
                writer.whiteout(f"{rel}/{WHITEOUT}{n}" if rel else WHITEOUT + n)
                continue
            cu = os.path.join(upper, child)
            u = os.lstat(cu)
            l = None
            if has_lower:
                try:
                    l = os.lstat(os.path.join(lower, child))
                except FileNotFoundError:
                    pass
            same = l is not None and unchanged(os.path.join(lower, child), l, cu, u)
            if stat.S_ISDIR(u.st_mode):
                depth = len(pending)
                if same:
                    pending.append((child, cu, u))
                else:
                    flush()
                    writer.add(child, cu, u)
                walk(child, l is not None and stat.S_ISDIR(l.st_mode))
                del pending[depth:]
            elif not same:
                flush()
                writer.add(child, cu, u)

    walk("", bool(lower))


def store_blob(store, tmp_path, digest):
    d = os.path.join(store, "sha256")
    os.makedirs(d, exist_ok=True)
    final = os.path.join(d, digest.split(":", 1)[1])
    os.chmod(tmp_path, 0o644)
    os.replace(tmp_path, final)
    return final


def write_layer(store, fill):
    os.makedirs(store, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=store, prefix=".layer.")
    try:
        with os.fdopen(fd, "wb") as out:
            w = LayerWriter(out)
            fill(w)
            w.close()
            digest = "sha256:" + w.hw.h.hexdigest()
            size = w.hw.n
        store_blob(store, tmp, digest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return {"digest": digest, "size": size, "entries": w.entries}


def cmd_layer(lower, upper, store):
    lower = None if lower == "-" else lower
    desc = write_layer(store, lambda w: diff_layer(lower, upper, w))
    print(json.dumps(desc))


def cmd_file_layer(store, src, dest, mode):
    """One file at DEST (absolute path in the image), its parent folders root-owned 0755."""
    dest = dest.strip("/")

    def fill(w):
        parts = dest.split("/")
        dirst = os.stat_result((stat.S_IFDIR | 0o755, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        for i in range(1, len(parts)):
            w.add("/".join(parts[:i]), None, dirst)
        st = os.stat(src)
        fst = os.stat_result((stat.S_IFREG | int(mode, 8), st.st_ino, st.st_dev, 1, 0, 0,
                              st.st_size, 0, 0, 0))
        w.add(dest, src, fst)

    print(json.dumps(write_layer(store, fill)))


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def put_blob(blobs, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = os.path.join(blobs, digest.split(":", 1)[1])
    if not os.path.exists(path):
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
    return digest, len(data)


def link_blob(store, blobs, digest):
    src = os.path.join(store, "sha256", digest.split(":", 1)[1])
    dst = os.path.join(blobs, digest.split(":", 1)[1])
    if os.path.exists(dst):
        return
    try:
        os.link(src, dst)      # layers are shared between layouts: hard links, not copies
    except OSError:
        shutil.copyfile(src, dst)


def cmd_image(*argv):
    """Build one image layout from layer descriptors; the layout replaces LAYOUT atomically."""
    import argparse
    import datetime
    ap = argparse.ArgumentParser(prog="oci.py image")
    ap.add_argument("--layout", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--ref", required=True, help="REPOSITORY:TAG, as the chart refers to it")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--cmd", type=json.loads)
    ap.add_argument("--entrypoint", type=json.loads)
    ap.add_argument("--workdir")
    ap.add_argument("--user")
    ap.add_argument("--label", action="append", default=[])
    ap.add_argument("layers", nargs="+")
    a = ap.parse_args(argv)
    cfg = {"Env": a.env}
    for key, val in (("Cmd", a.cmd), ("Entrypoint", a.entrypoint), ("WorkingDir", a.workdir),
                     ("User", a.user)):
        if val is not None:
            cfg[key] = val
    if a.label:
        cfg["Labels"] = dict(l.split("=", 1) for l in a.label)
    layers = []
    for path in a.layers:
        with open(path) as f:
            d = json.load(f)
        stage = os.path.basename(os.path.dirname(os.path.abspath(path)))
        layers.append({"digest": d["digest"], "size": d["size"],
                       "created_by": f"hack/images/build.sh: {stage} layer"})
    created = datetime.datetime.fromtimestamp(epoch(), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    layout, store = a.layout, a.store
    tmp = layout + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    blobs = os.path.join(tmp, "blobs", "sha256")
    os.makedirs(blobs)
    for layer in layers:
        link_blob(store, blobs, layer["digest"])
    config = {
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]},
        "history": [{"created": created, "created_by": l["created_by"]} for l in layers],
    }
    cdigest, csize = put_blob(blobs, canonical(config))
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": cdigest, "size": csize},
        "layers": [{"mediaType": MT_LAYER, "digest": l["digest"], "size": l["size"]}
                   for l in layers],
    }
    mdigest, msize = put_blob(blobs, canonical(manifest))
    index = {
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [{
            "mediaType": MT_MANIFEST,
            "digest": mdigest,
            "size": msize,
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {
                # ctr images import names the image after this (the name the kubelet asks for)
                "io.containerd.image.name": "docker.io/" + a.ref,
                "org.opencontainers.image.ref.name": a.ref.rpartition(":")[2],
            },
        }],
    }
    with open(os.path.join(tmp, "oci-layout"), "wb") as f:
        f.write(canonical({"imageLayoutVersion": "1.0.0"}))
    with open(os.path.join(tmp, "index.json"), "wb") as f:
        f.write(canonical(index))
    old = layout + ".old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(layout):
        os.replace(layout, old)
    os.replace(tmp, layout)
    shutil.rmtree(old, ignore_errors=True)
    print(json.dumps({"manifest": mdigest, "config": cdigest,
                      "size": csize + sum(l["size"] for l in layers)}))


def read_layout(layout):
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    desc = index["manifests"][0]
    manifest = json.loads(read_blob(layout, desc["digest"]))
    return index, desc, manifest


def blob_path(layout, digest):
    algo, hexd = digest.split(":", 1)
    return os.path.join(layout, "blobs", algo, hexd)


def read_blob(layout, digest):
    with open(blob_path(layout, digest), "rb") as f:
        return f.read()


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def cmd_unpack(layout, dest):
    _, _, manifest = read_layout(layout)
    os.makedirs(dest, exist_ok=True)
    for layer in manifest["layers"]:
        dirs = []
        with tarfile.open(blob_path(layout, layer["digest"]), "r:", copybufsize=BUF,
                          encoding="utf-8", errors="surrogateescape") as tar:
            for m in tar:
                head, base = os.path.split(m.name)
                if base == OPAQUE:
                    d = os.path.join(dest, head)
                    for n in os.listdir(d):
                        remove(os.path.join(d, n))
                    continue
                if base.startswith(WHITEOUT):
                    remove(os.path.join(dest, head, base[len(WHITEOUT):]))
                    continue
                target = os.path.join(dest, m.name)
                if os.path.lexists(target) and not (m.isdir() and os.path.isdir(target)
                                                    and not os.path.islink(target)):
                    remove(target)
                if m.isdir():
                    dirs.append(m)
                    os.makedirs(target, exist_ok=True)
                    continue
                tar.extract(m, dest, set_attrs=True, numeric_owner=True, **TRUSTED)
        # Directory modes and owners last, as tar does, so read-only folders can be filled.
        for m in reversed(dirs):
            target = os.path.join(dest, m.name)
            os.chown(target, m.uid, m.gid)
            os.chmod(target, m.mode)
            os.utime(target, (m.mtime, m.mtime))


def cmd_verify(layout):
    index, desc, manifest = read_layout(layout)
    todo = [desc, manifest["config"]] + manifest["layers"]
    for d in todo:
        h = hashlib.sha256()
        n = 0
        with open(blob_path(layout, d["digest"]), "rb") as f:
            while chunk := f.read(BUF):
                h.update(chunk)
                n += len(chunk)
        if "sha256:" + h.hexdigest() != d["digest"] or n != d["size"]:
            sys.exit(f"{layout}: blob {d['digest']} does not match its digest or size")
    print(f"{layout}: {len(todo)} blobs ok")


def cmd_size(layout):
    _, _, manifest = read_layout(layout)
    print(manifest["config"]["size"] + sum(l["size"] for l in manifest["layers"]))


def cmd_summary(*layouts):
    for layout in layouts:
        _, desc, manifest = read_layout(layout)
        ref = desc["annotations"]["io.containerd.image.name"].removeprefix("docker.io/")
        size = manifest["config"]["size"] + sum(l["size"] for l in manifest["layers"])
        print(os.path.basename(os.path.normpath(layout)), ref, size)


def main(argv):
    cmds = {"layer": (cmd_layer, 3), "file-layer": (cmd_file_layer, 4), "image": (cmd_image, None),
            "unpack": (cmd_unpack, 2), "verify": (cmd_verify, 1), "size": (cmd_size, 1),
            "summary": (cmd_summary, None)}
    if len(argv) < 2 or argv[1] not in cmds or cmds[argv[1]][1] not in (None, len(argv) - 2):
        sys.exit(__doc__)
    fn, _ = cmds[argv[1]]
    fn(*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
