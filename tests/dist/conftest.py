"""Fixtures of the distribution suite (marker `dist`).

Everything runs the real tools that `make setup` builds into bin/ (helm, registry, ct,
readme-generator) with a throwaway Helm home, so nothing touches the user's repositories,
registry logins or keyrings. Servers listen on 127.0.0.1 at ephemeral ports and stop at the
end of the session.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.proc import run
from harness.tools import ROOT, tool

from .support import Registry, StaticServer

REPO_NAME = "pytorch-charts"


@pytest.fixture(scope="session")
def dist_env(tmp_path_factory, helm_bin) -> dict[str, str]:
    """Environment for the tools: bin/ and .venv/bin first on PATH, Helm's config, cache and
    data homes in a temp folder, and a kubeconfig that does not exist (nothing may reach a cluster)."""
    home = tmp_path_factory.mktemp("helm-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELM_", "KUBECONFIG", "GNUPGHOME"))}
    env.update(
        PATH=os.pathsep.join([str(ROOT / "bin"), str(ROOT / ".venv" / "bin"), env.get("PATH", "")]),
        HELM_CONFIG_HOME=str(home / "config"),
        HELM_CACHE_HOME=str(home / "cache"),
        HELM_DATA_HOME=str(home / "data"),
        KUBECONFIG=str(home / "no-cluster.kubeconfig"),
        MAKEFLAGS="", MFLAGS="", MAKELEVEL="",  # `make repo` below is a fresh make, not a sub-make
    )
    return env


@pytest.fixture(scope="session")
def make_repo(dist_env):
    """make_repo(folder, **make_vars) runs `make repo DIST_DIR=folder ...` and returns the folder."""

    def make(folder: Path, **variables: str) -> Path:
        args = [f"{k}={v}" for k, v in {"DIST_DIR": str(folder), **variables}.items()]
        run(["make", "--no-print-directory", "-s", "-C", ROOT, "repo", *args], dist_env)
        return folder

    return make


@pytest.fixture(scope="session")
def chart_repo(make_repo, tmp_path_factory) -> Path:
    """The folder `make repo` built: pytorch-<version>.tgz and index.yaml."""
    return make_repo(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def repo_url(chart_repo):
    """The chart repository served over HTTP on 127.0.0.1."""
    with StaticServer(chart_repo) as server:
        yield server.url


@pytest.fixture(scope="session")
def helm_repo(dist_env, repo_url) -> str:
    """The served repository added to the temp Helm home (helm repo add + update); its name."""
    run(["helm", "repo", "add", REPO_NAME, repo_url], dist_env)
    run(["helm", "repo", "update", REPO_NAME], dist_env)
    return REPO_NAME


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory):
    """A Distribution registry (bin/registry) on 127.0.0.1:<free port> with in-memory storage."""
    binary = tool("registry")
    with Registry(binary, tmp_path_factory.mktemp("registry")) as registry:
        yield registry


@pytest.fixture(scope="session")
def gpg(tmp_path_factory, dist_env):
    """gpg(*args) in a throwaway GNUPGHOME; its agent is stopped at the end of the session."""
    if not shutil.which("gpg"):
        pytest.fail("gpg is missing: install GnuPG (Debian package gnupg)", pytrace=False)
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    env = {**dist_env, "GNUPGHOME": str(home)}

    def gpg_run(*args: str):
        return run(["gpg", "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "", *args], env)

    yield gpg_run
    if shutil.which("gpgconf"):
        run(["gpgconf", "--kill", "all"], env, check=False)


@dataclass(frozen=True)
class Key:
    """A signing key: its user id and the legacy keyring files helm reads (secret and public)."""

    uid: str
    secring: Path
    pubring: Path


@pytest.fixture(scope="session")
def make_key(gpg, tmp_path_factory):
    """make_key(name) generates an RSA signing key without a passphrase and exports it to
    legacy keyring files (helm cannot read GnuPG 2's keybox)."""

    def make(name: str) -> Key:
        uid = f"{name} <{name.lower().replace(' ', '-')}@pytorch-chart.invalid>"
        gpg("--quick-generate-key", uid, "rsa2048", "sign", "1d")
        folder = tmp_path_factory.mktemp("keyring")
        secring, pubring = folder / "secring.gpg", folder / "pubring.gpg"
        secring.write_bytes(gpg_bytes(gpg, "--export-secret-keys", uid))
        pubring.write_bytes(gpg_bytes(gpg, "--export", uid))
        return Key(uid, secring, pubring)

    return make


def gpg_bytes(gpg, *args: str) -> bytes:
    """gpg's binary output, written to a temp file (run() decodes text)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.gpg"
        gpg("--output", str(out), *args)
        data = out.read_bytes()
    assert data, f"gpg {' '.join(args)} wrote nothing"
    return data


@pytest.fixture(scope="session")
def signing_key(make_key) -> Key:
    return make_key("PyTorch Chart Signer")
