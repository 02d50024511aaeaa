"""Helpers of the distribution suite: serve folders over HTTP on loopback, run the OCI registry,
find free ports. Commands run and polls wait through harness.proc."""
from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import socket
import subprocess
import threading
import urllib.request
from pathlib import Path

import yaml

from harness.proc import wait_for
from harness.tools import ROOT

CHART_YAML = yaml.safe_load((ROOT / "Chart.yaml").read_text())
VERSION = CHART_YAML["version"]
ARCHIVE = f"{CHART_YAML['name']}-{VERSION}.tgz"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
