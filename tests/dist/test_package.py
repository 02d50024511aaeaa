"""The packaged chart holds only chart files (.helmignore)."""
import tarfile

import pytest

from harness.render import helm_run
from harness.tools import CHART

pytestmark = pytest.mark.dist


def test_should_package_only_chart_files(tmp_path):
    helm_run("package", str(CHART), "-d", str(tmp_path))
    [archive] = tmp_path.glob("pytorch-*.tgz")
    with tarfile.open(archive) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames()}
    assert {"Chart.yaml", "values.yaml", "values.schema.json", "README.md",
            "templates/NOTES.txt", "templates/statefulset.yaml", "templates/tests/test-master-address.yaml"} <= names
    assert "files/examples/ddp_train.py" in names
    allowed = ("Chart.yaml", "values.yaml", "values.schema.json", "README.md", ".helmignore", "LICENSE",
               "templates/", "files/")
    strays = sorted(n for n in names if not n.startswith(allowed))
    assert strays == [], strays
    repository_only = [".github/workflows/lint-test.yml", ".github/workflows/release.yml", ".github/renovate.json",
                       "CONTRIBUTING.md", "SECURITY.md", "artifacthub-repo.yml", "CHANGELOG.md", "hack/ci/tools.sh"]
    assert all((CHART / n).is_file() for n in repository_only)
    assert sorted(names & set(repository_only)) == []
