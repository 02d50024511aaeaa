"""A git smart-HTTP server with Basic authentication, for the private-repository test
(tests/node/test_files.py). It runs git-http-backend as a CGI for each request and answers
401 to any request without the right credentials.

While it serves an authenticated fetch it also looks at every process of the machine: the
command line and environment of each must not contain the password (the pod's git and its
credential helper run then, as host processes). It appends one JSON line per request to
--log: method, path, status, whether credentials came, the git processes it saw and the
processes whose command line or environment held the password.

usage: githttp.py --listen IP:PORT --root DIR --user USER --password-file FILE --log FILE
(the password is read from a file so that it is not on this process's own command line)
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def processes_holding(secret: bytes) -> tuple[list[str], list[str]]:
    """(command lines of git processes, command lines of processes whose cmdline or environ
    holds `secret`), over every process of the machine but this one."""
    gits, leaks = [], []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        shown = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
        if b"git" in cmdline:
            gits.append(shown)
        if secret in cmdline or secret in environ:
            leaks.append(shown)
    return gits, leaks


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password-file", required=True)
    p.add_argument("--log", required=True)
    a = p.parse_args()
    password = Path(a.password_file).read_text().strip()
    expected = "Basic " + base64.b64encode(f"{a.user}:{password}".encode()).decode()
    host, port = a.listen.rsplit(":", 1)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def record(self, status: int, authed: bool, gits=(), leaks=()) -> None:
            with open(a.log, "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path, "status": status,
                                    "authed": authed, "gits": list(gits), "leaks": list(leaks)}) + "\n")

        def handle_git(self) -> None:
            authed = self.headers.get("Authorization") == expected
            if not authed:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="repo"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.record(401, False)
                return
            gits, leaks = processes_holding(password.encode())
            path, _, query = self.path.partition("?")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            env = {"PATH": "/usr/bin:/bin", "GIT_PROJECT_ROOT": a.root, "GIT_HTTP_EXPORT_ALL": "1",
                   "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": self.command,
                   "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                   "REMOTE_USER": a.user, "REMOTE_ADDR": self.client_address[0],
                   "GIT_PROTOCOL": self.headers.get("Git-Protocol", "")}
            out = subprocess.run(["/usr/lib/git-core/git-http-backend"], input=body, env=env,
                                 capture_output=True, check=False).stdout
            head, _, payload = out.partition(b"\r\n\r\n")
            status = 200
            headers = []
            for line in head.decode().split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.record(status, True, gits, leaks)

        do_GET = do_POST = handle_git

    ThreadingHTTPServer((host, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
