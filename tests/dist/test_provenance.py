"""Signed packages: `make repo SIGN_KEY=... KEYRING=...` writes a provenance file next to the
archive; helm verify accepts it with the signer's public key, and rejects a tampered archive
and a signature by a key that is not in the keyring. helm pull --verify works from the repository."""
from __future__ import annotations

import io
import shutil
import tarfile

import pytest

from harness.proc import run

from .support import ARCHIVE, StaticServer, sha256

pytestmark = pytest.mark.dist


@pytest.fixture(scope="module")
def signed_repo(make_repo, signing_key, tmp_path_factory):
    return make_repo(tmp_path_factory.mktemp("signed"), SIGN_KEY=signing_key.uid, KEYRING=str(signing_key.secring))


def test_should_write_a_provenance_file_with_the_archive_digest(signed_repo):
    prov = (signed_repo / f"{ARCHIVE}.prov").read_text()
    assert prov.startswith("-----BEGIN PGP SIGNED MESSAGE-----")
    assert f"{ARCHIVE}: sha256:{sha256(signed_repo / ARCHIVE)}" in prov
    assert "name: pytorch" in prov and "-----BEGIN PGP SIGNATURE-----" in prov


def test_should_verify_with_the_signers_public_key(dist_env, signed_repo, signing_key):
    out = run(["helm", "verify", signed_repo / ARCHIVE, "--keyring", signing_key.pubring], dist_env)
    text = out.stdout + out.stderr
    assert f"Signed by: {signing_key.uid}" in text and "sha256:" in text


def tampered_copy(archive, folder):
    """A valid chart archive whose values.yaml points the PyTorch image at another registry, with
    the original provenance file beside it."""
    out = folder / archive.name
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None
            if member.name == "pytorch/values.yaml":
                data = data.replace(b"registry: docker.io", b"registry: evil.example", 1)
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    shutil.copy(archive.with_name(archive.name + ".prov"), folder)
    return out


def test_should_reject_a_tampered_archive(dist_env, signed_repo, signing_key, tmp_path):
    bad = tampered_copy(signed_repo / ARCHIVE, tmp_path)
    proc = run(["helm", "verify", bad, "--keyring", signing_key.pubring], dist_env, check=False)
    assert proc.returncode != 0
    assert "sha256 sum does not match" in proc.stderr, proc.stderr
    proc = run(["helm", "template", "rel", bad, "--verify", "--keyring", signing_key.pubring], dist_env, check=False)
    assert proc.returncode != 0 and "sha256 sum does not match" in proc.stderr, proc.stderr


def test_should_reject_a_signature_by_an_unknown_key(dist_env, signed_repo, make_key):
    other = make_key("Someone Else")
    proc = run(["helm", "verify", signed_repo / ARCHIVE, "--keyring", other.pubring], dist_env, check=False)
    assert proc.returncode != 0
    assert "openpgp: signature made by unknown entity" in proc.stderr, proc.stderr


def test_should_pull_and_verify_from_the_repository(dist_env, signed_repo, signing_key, tmp_path):
    with StaticServer(signed_repo) as server:
        run(["helm", "repo", "add", "signed", server.url], dist_env)
        try:
            proc = run(["helm", "pull", "signed/pytorch", "--verify", "--keyring", signing_key.pubring,
                        "--destination", tmp_path], dist_env)
        finally:
            run(["helm", "repo", "remove", "signed"], dist_env)
    assert f"Signed by: {signing_key.uid}" in proc.stdout + proc.stderr
    assert sha256(tmp_path / ARCHIVE) == sha256(signed_repo / ARCHIVE)
    assert (tmp_path / f"{ARCHIVE}.prov").is_file()
