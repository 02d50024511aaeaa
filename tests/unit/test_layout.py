"""The render suite mirrors the chart: one test module per template and helper file (named after
it), one per chart-wide file, and every test in tests/unit and tests/dist reads as a sentence
that starts with `test_should_`."""
import re

from harness.tools import CHART, ROOT

# Modules for files outside templates/: the chart as a whole (Chart.yaml, ci/), values.yaml,
# values.schema.json, and this one.
CHART_WIDE = {"test_chart.py", "test_values.py", "test_values_schema.py", "test_layout.py",
              "test_empty_values.py", "test_bitnami_values.py", "test_passthrough_schema.py"}
HERE = ROOT / "tests" / "unit"


def module_for(template) -> str:
    """templates/_pod.tpl -> test_pod.py, service-headless.yaml -> test_service_headless.py,
    NOTES.txt -> test_notes.py, tests/test-master-address.yaml -> test_test_master_address.py."""
    return "test_" + template.stem.lower().lstrip("_").replace("-", "_") + ".py"


def test_should_have_a_test_module_for_every_template_and_nothing_else():
    templates = {module_for(p): p for p in (CHART / "templates").rglob("*") if p.is_file()}
    modules = {p.name for p in HERE.glob("test_*.py")}
    assert set(templates) - modules == set(), "templates without a test module"
    assert modules - set(templates) - CHART_WIDE == set(), "test modules that mirror no template"


def test_should_name_every_test_as_a_sentence():
    for suite in ("unit", "dist"):
        for path in (ROOT / "tests" / suite).glob("test_*.py"):
            names = re.findall(r"^def (test_\w+)", path.read_text(), re.M)
            assert names, path
            odd = [n for n in names if not n.startswith("test_should_")]
            assert odd == [], f"{path.relative_to(ROOT)}: {odd}"
