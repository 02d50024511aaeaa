"""README.md's "## Parameters" section is generated from values.yaml by Bitnami's
readme-generator-for-helm (the `## @section` / `## @param` comments); `make readme` rewrites it.
The generator is also the gatekeeper for undocumented keys."""
from __future__ import annotations

import difflib
import shutil

import pytest

from harness.proc import run
from harness.tools import ROOT, tool

pytestmark = pytest.mark.dist


@pytest.fixture(scope="session")
def generator(dist_env):
    binary = tool("readme-generator")

    def generate(folder, values_text: str | None = None):
        values = folder / "values.yaml"
        if values_text is None:
            shutil.copy(ROOT / "values.yaml", values)
        else:
            values.write_text(values_text)
        shutil.copy(ROOT / "README.md", folder / "README.md")
        return run([binary, "--values", values, "--readme", folder / "README.md"], dist_env, check=False,
                   cwd=folder)

    return generate


def test_should_have_the_parameters_section_generated_from_values(generator, tmp_path):
    proc = generator(tmp_path)
    assert proc.returncode == 0, (
        "readme-generator rejects values.yaml: every key needs a `## @param` line, and a key whose default "
        "is a list of objects needs a modifier, e.g. `## @param key [array, default: ...] description`\n"
        f"{proc.stdout}\n{proc.stderr}")
    committed = (ROOT / "README.md").read_text()
    generated = (tmp_path / "README.md").read_text()
    if generated != committed:
        diff = "".join(difflib.unified_diff(committed.splitlines(True), generated.splitlines(True),
                                            "README.md (committed)", "README.md (generated)"))
        pytest.fail(f"README.md's Parameters section is out of date: run `make readme` and commit it\n{diff}",
                    pytrace=False)


def test_should_refuse_a_key_without_a_param_line(generator, tmp_path):
    values = (ROOT / "values.yaml").read_text() + "\nundocumentedKey: 1\n"
    proc = generator(tmp_path, values)
    assert proc.returncode != 0
    assert "Missing metadata for key: undocumentedKey" in proc.stdout
    assert (tmp_path / "README.md").read_text() == (ROOT / "README.md").read_text()  # left untouched
