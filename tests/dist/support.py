"""Helpers of the distribution suite: run the real tools in an isolated environment, serve
folders over HTTP on loopback, run the OCI registry, find free ports, poll with deadlines."""
from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterable

import yaml

from harness.tools import ROOT

CHART_YAML = yaml.safe_load((ROOT / "Chart.yaml").read_text())
VERSION = CHART_YAML["version"]
ARCHIVE = f"{CHART_YAML['name']}-{VERSION}.tgz"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(cmd: Iterable[str | os.PathLike], env: dict[str, str], *, check: bool = True, cwd: Path = ROOT,
        timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a command; with check, fail the test with its output when it exits non-zero."""
    cmd = [str(c) for c in cmd]
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"`{' '.join(cmd)}` exited {proc.returncode}\n--- stdout\n{proc.stdout}\n"
                             f"--- stderr\n{proc.stderr}")
    return proc


def wait_for(what: str, ready: Callable[[], bool], deadline_s: float = 30, every_s: float = 0.05) -> float:
    """Poll ready() until it returns True; fail after deadline_s. Returns the seconds waited."""
    start = time.monotonic()
    while True:
        if ready():
            return time.monotonic() - start
        if time.monotonic() - start > deadline_s:
            raise AssertionError(f"{what} not ready after {deadline_s}s")
        time.sleep(every_s)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


class StaticServer:
    """A folder served over HTTP on 127.0.0.1 at an ephemeral port, in a daemon thread."""

    def __init__(self, folder: Path):
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=f"repo {folder}", daemon=True)

    def __enter__(self) -> "StaticServer":
        self.thread.start()
        wait_for(f"chart repository at {self.url}", lambda: http_ok(f"{self.url}/index.yaml"), 10)
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


REGISTRY_CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  inmemory: {{}}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: pytorch-chart-tests
"""


class Registry:
    """The Distribution OCI registry (bin/registry) on 127.0.0.1:<free port>, in-memory storage."""

    def __init__(self, binary: Path, workdir: Path):
        self.binary, self.workdir = binary, workdir
        self.log = workdir / "registry.log"
        self.proc: subprocess.Popen | None = None
        self.port, self.host, self.startup_s = 0, "", 0.0

    def _start(self) -> None:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        config = self.workdir / "config.yml"
        config.write_text(REGISTRY_CONFIG.format(port=self.port))
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.workdir), "OTEL_TRACES_EXPORTER": "none",
               "OTEL_SDK_DISABLED": "true"}
        with self.log.open("w") as log:
            self.proc = subprocess.Popen([str(self.binary), "serve", str(config)], stdout=log,
                                         stderr=subprocess.STDOUT, env=env, cwd=self.workdir)

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RegistryExited(f"registry exited {self.proc.returncode}:\n{self.log.read_text()}")
        return http_ok(f"http://{self.host}/v2/")

    def __enter__(self) -> "Registry":
        for attempt in range(3):  # the free port may be taken between free_port() and the bind
            self._start()
            try:
                self.startup_s = wait_for(f"OCI registry at {self.host}", self._ready, 30)
                return self
            except RegistryExited:
                if attempt == 2 or "address already in use" not in self.log.read_text():
                    raise
            except BaseException:
                self.__exit__()
                raise
        raise AssertionError("unreachable")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def manifest(self, repository: str, reference: str) -> dict:
        """The OCI manifest of repository:reference, with its digest as the registry reports it."""
        request = urllib.request.Request(f"http://{self.host}/v2/{repository}/manifests/{reference}",
                                         headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return {"digest": response.headers["Docker-Content-Digest"], **json.loads(response.read())}


class RegistryExited(AssertionError):
    pass


def objects(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def find(objs: list[dict], kind: str) -> dict:
    found = [o for o in objs if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {[o['metadata']['name'] for o in found]}"
    return found[0]
