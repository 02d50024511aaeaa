#!/usr/bin/env python3
"""Push OCI image layouts (from hack/images/build.sh) to a plain-HTTP OCI registry.

usage: hack/images/push.py [--name REPOSITORY:TAG] REGISTRY [LAYOUT ...]
       hack/images/push.py --list [LAYOUT ...]

  REGISTRY  host:port of a registry speaking the OCI distribution API over plain HTTP without
            authentication, e.g. 127.0.0.1:5000 (the Distribution registry, bin/registry)
  LAYOUT    an OCI image layout folder; default: every layout in .cache/images/
  --name    push the (single) layout under this name instead of the one in its index.json
  --list    print each layout's folder name, REPOSITORY:TAG and manifest digest; push nothing

For each image: if the registry already serves the tag with the same manifest digest, nothing
is sent. Otherwise every blob (config and layers) is checked with HEAD and only missing ones
are sent: mounted from another repository that has them (one pushed in this run, or the image
of a layout in the same folder that shares the layer), else uploaded in one PUT (up to 64 MiB)
or in 256 MiB PATCH chunks, streamed from disk. Then the manifest is PUT by tag and read back
with GET; its sha256 must be the local digest. Standard library only.
"""
import argparse
import hashlib
import http.client
import json
import os
import sys
import time
import urllib.parse

CHUNK = 256 << 20        # PATCH chunk size for big blobs
MONOLITHIC_MAX = 64 << 20
IO = 1 << 20
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class RegistryError(Exception):
    pass


class Registry:
    def __init__(self, address):
        address = address.removeprefix("http://").rstrip("/")
        if "://" in address:
            raise SystemExit(f"plain HTTP only: {address}")
        self.address = address
        self.conn = None

    def _connect(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.address, timeout=600, blocksize=IO)
        return self.conn

    def request(self, method, url, headers=None, body=None, body_file=None, offset=0, length=0):
        """One request; body_file streams `length` bytes from `offset` of an open file."""
        path = url if url.startswith("/") else urllib.parse.urlsplit(url)._replace(scheme="", netloc="").geturl()
        for attempt in (1, 2):
            conn = self._connect()
            try:
                conn.putrequest(method, path, skip_accept_encoding=True)
                hdrs = dict(headers or {})
                if body is not None:
                    hdrs["Content-Length"] = str(len(body))
                elif body_file is not None:
                    hdrs["Content-Length"] = str(length)
                elif method in ("PUT", "POST", "PATCH"):
                    hdrs["Content-Length"] = "0"
                for k, v in hdrs.items():
                    conn.putheader(k, v)
                conn.endheaders()
                if body is not None:
                    conn.send(body)
                elif body_file is not None:
                    body_file.seek(offset)
                    left = length
                    while left:
                        buf = body_file.read(min(IO, left))
                        if not buf:
                            raise RegistryError("blob file shrank while uploading")
                        conn.send(buf)
                        left -= len(buf)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, resp.headers, data
            except (ConnectionError, http.client.HTTPException, TimeoutError) as e:
                conn.close()
                self.conn = None
                # Only requests without a streamed body are retried; an upload restarts its blob.
                if attempt == 2 or body_file is not None:
                    raise RegistryError(f"{method} {path}: {e}") from e

    def expect(self, want, method, url, **kw):
        status, headers, data = self.request(method, url, **kw)
        if status not in want:
            msg = data.decode(errors="replace")[:500]
            raise RegistryError(f"{method} {url}: HTTP {status} (want {want}): {msg}")
        return headers, data


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024


def read_layout(layout):
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    if len(index["manifests"]) != 1:
        raise SystemExit(f"{layout}: expected one image in index.json")
    desc = index["manifests"][0]
    if desc.get("mediaType") != MT_MANIFEST:
        raise SystemExit(f"{layout}: only single-platform image manifests are supported")
    with open(blob_path(layout, desc["digest"]), "rb") as f:
        raw = f.read()
    return desc, raw, json.loads(raw)


def blob_path(layout, digest):
    algo, hexd = digest.split(":", 1)
    return os.path.join(layout, "blobs", algo, hexd)


def image_name(desc, override):
    ref = override or desc.get("annotations", {}).get("io.containerd.image.name")
    if not ref:
        raise SystemExit("no --name and no io.containerd.image.name annotation in index.json")
    for prefix in ("docker.io/library/", "docker.io/"):
        ref = ref.removeprefix(prefix)
    repo, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        raise SystemExit(f"{ref}: want REPOSITORY:TAG")
    return repo, tag


def with_query(location, **params):
    parts = urllib.parse.urlsplit(location)
    q = parts.query + ("&" if parts.query else "") + urllib.parse.urlencode(params)
    return parts._replace(query=q).geturl()


def upload(reg, repo, layout, blob, mount_from):
    digest, size = blob["digest"], blob["size"]
    base = f"/v2/{repo}/blobs/uploads/"
    if mount_from:
        status, headers, data = reg.request("POST", with_query(base, mount=digest, **{"from": mount_from}))
        if status == 201:
            return f"mounted from {mount_from}", 0
        if status != 202:
            raise RegistryError(f"POST {base}?mount: HTTP {status}: {data[:300]!r}")
        location = headers["Location"]
    else:
        headers, _ = reg.expect((202,), "POST", base)
        location = headers["Location"]
    start = time.monotonic()
    with open(blob_path(layout, digest), "rb") as f:
        if size <= MONOLITHIC_MAX:
            reg.expect((201,), "PUT", with_query(location, digest=digest), body_file=f, length=size,
                       headers={"Content-Type": "application/octet-stream"})
        else:
            offset = 0
            while offset < size:
                n = min(CHUNK, size - offset)
                headers, _ = reg.expect((202,), "PATCH", location, body_file=f, offset=offset, length=n,
                                        headers={"Content-Type": "application/octet-stream",
                                                 "Content-Range": f"{offset}-{offset + n - 1}"})
                location = headers["Location"]
                got = headers.get("Range", "")
                if got != f"0-{offset + n - 1}":
                    raise RegistryError(f"after {offset + n} bytes the registry reports Range {got!r}")
                offset += n
            reg.expect((201,), "PUT", with_query(location, digest=digest))
    secs = max(time.monotonic() - start, 1e-3)
    return f"uploaded in {secs:.1f}s ({human(size / secs)}/s)", size


def sibling_repos(layout):
    """digest -> repository of a layout next to LAYOUT that has it (a candidate for a mount)."""
    found = {}
    parent = os.path.dirname(os.path.normpath(os.path.abspath(layout)))
    for d in sorted(os.listdir(parent)):
        other = os.path.join(parent, d)   # LAYOUT itself too: pushed before under its own name
        if d.startswith("."):
            continue
        try:
            desc, _, manifest = read_layout(other)
            repo, _ = image_name(desc, None)
        except (OSError, ValueError, KeyError, SystemExit):
            continue
        for b in [manifest["config"]] + manifest["layers"]:
            found.setdefault(b["digest"], repo)
    return found


def push(reg, layout, override, seen):
    desc, raw, manifest = read_layout(layout)
    siblings = None
    repo, tag = image_name(desc, override)
    digest = desc["digest"]
    if "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
        raise SystemExit(f"{layout}: manifest blob does not match its digest")
    where = f"{reg.address}/{repo}:{tag}"
    status, headers, _ = reg.request("HEAD", f"/v2/{repo}/manifests/{tag}",
                                     headers={"Accept": MT_MANIFEST})
    if status == 200 and headers.get("Docker-Content-Digest") == digest:
        print(f"{where}: up to date ({digest})")
        for b in [manifest["config"]] + manifest["layers"]:
            seen.setdefault(b["digest"], repo)
        return
    sent = 0
    for blob in [manifest["config"]] + manifest["layers"]:
        d = blob["digest"]
        status, _, _ = reg.request("HEAD", f"/v2/{repo}/blobs/{d}")
        if status == 200:
            how = "already there"
        elif status == 404:
            source = seen.get(d)
            if source is None and blob["size"] > MONOLITHIC_MAX // 64:
                siblings = sibling_repos(layout) if siblings is None else siblings
                source = siblings.get(d)
            how, n = upload(reg, repo, layout, blob, source if source != repo else None)
            sent += n
        else:
            raise RegistryError(f"HEAD /v2/{repo}/blobs/{d}: HTTP {status}")
        seen.setdefault(d, repo)
        print(f"  {d[:19]} {human(blob['size']):>10}  {how}")
    headers, _ = reg.expect((201,), "PUT", f"/v2/{repo}/manifests/{tag}", body=raw,
                            headers={"Content-Type": desc["mediaType"]})
    if headers.get("Docker-Content-Digest") not in (None, digest):
        raise RegistryError(f"registry stored manifest {headers['Docker-Content-Digest']}, want {digest}")
    # Pull it back: the manifest served for the tag must hash to the local digest.
    _, data = reg.expect((200,), "GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": MT_MANIFEST})
    got = "sha256:" + hashlib.sha256(data).hexdigest()
    if got != digest:
        raise RegistryError(f"GET {where} returned manifest {got}, want {digest}")
    print(f"{where}: pushed {human(sent)}, manifest {digest} verified by GET")


def default_layouts():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".cache", "images")
    root = os.path.normpath(root)
    found = sorted(os.path.join(root, d) for d in os.listdir(root) if not d.startswith(".")
                   and os.path.exists(os.path.join(root, d, "index.json"))) if os.path.isdir(root) else []
    if not found:
        raise SystemExit(f"no image layouts in {root}: run hack/images/build.sh (make images) first")
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--name", help="REPOSITORY:TAG to push a single layout as")
    ap.add_argument("--list", action="store_true", help="print the layouts' names and digests")
    ap.add_argument("registry", nargs="?" if "--list" in sys.argv else None)
    ap.add_argument("layouts", nargs="*")
    args = ap.parse_args()
    if args.list:
        for layout in ([args.registry] if args.registry else []) + args.layouts or default_layouts():
            desc, _, _ = read_layout(layout)
            repo, tag = image_name(desc, None)
            print(f"{os.path.basename(os.path.normpath(layout))} {repo}:{tag} {desc['digest']}")
        return
    layouts = args.layouts or default_layouts()
    if args.name and len(layouts) != 1:
        raise SystemExit("--name needs exactly one layout")
    reg = Registry(args.registry)
    status, _, _ = reg.request("GET", "/v2/")
    if status != 200:
        raise SystemExit(f"{args.registry}: GET /v2/ answered HTTP {status} (want 200, no auth)")
    seen = {}   # blob digest -> a repository of this registry known to hold it (for mounts)
    start = time.monotonic()
    try:
        for layout in layouts:
            push(reg, layout, args.name, seen)
    except RegistryError as e:
        raise SystemExit(f"push failed: {e}")
    print(f"done in {time.monotonic() - start:.1f}s")


if __name__ == "__main__":
    main()
