"""The one way tests render the chart: the real `helm template`, parsed and validated.

render() runs helm as a subprocess with values (written to a temp file) and/or --set
strings, raises RenderError with helm's stderr when helm fails, parses every document,
validates each object strictly against the newest Kubernetes version the chart supports and,
when a template that rendered an object reads .Capabilities.KubeVersion, renders once more
with --kube-version for the oldest and validates that too; then it returns a Manifests view
indexable by kind and name. Renders are cached per distinct input for the whole session.
"""
from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from harness import kube_schema
from harness.pods import env_of
from harness.proc import run
from harness.tools import CHART, tool

RELEASE = "rel"
NAMESPACE = "ml"
WORKLOADS = ("Deployment", "StatefulSet", "Job")
# What chart_copy leaves out of a copy: the repository's folders around the chart (at the top only:
# templates/tests/ is the chart's).
NOT_CHART = {".git", ".venv", "bin", ".cache", ".pytest_cache", "tests", "dist", "hack", "docs", "mk"}


class RenderError(Exception):
    """helm failed; str(error) is helm's stderr."""


@dataclass(frozen=True)
class Manifests:
    """The objects one render produced, in render order."""

    objects: tuple[dict, ...]
    text: str

    @classmethod
    def parse(cls, text: str) -> "Manifests":
        """The objects of a multi-document YAML stream (helm's output), empty documents dropped."""
        # libyaml's loader (PyYAML's wheels ship it): the pure-Python one spent half of each render.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return cls(tuple(d for d in yaml.load_all(text, Loader=loader) if d), text)

    def __iter__(self) -> Iterator[dict]:
        return iter(self.objects)

    def __len__(self) -> int:
        return len(self.objects)

    def kinds(self) -> list[str]:
        return sorted(o["kind"] for o in self.objects)

    def all(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind]

    def find(self, kind: str, name: str | None = None) -> dict | None:
        """The one object of this kind (and name), or None; fails if several match."""
        found = [o for o in self.all(kind) if name is None or o["metadata"]["name"] == name]
        if len(found) > 1:
            raise AssertionError(f"{len(found)} objects of kind {kind} match name={name!r}")
        return found[0] if found else None

    def get(self, kind: str, name: str | None = None) -> dict:
        """The one object of this kind (and name); fails if there is none."""
        found = self.find(kind, name)
        if found is None:
            have = ", ".join(f"{o['kind']}/{o['metadata']['name']}" for o in self.objects)
            raise AssertionError(f"no {kind} {name or ''} in the render (have: {have})")
        return found

    def __getitem__(self, key: str | tuple[str, str]) -> dict:
        return self.get(*key) if isinstance(key, tuple) else self.get(key)

    def workload(self) -> dict:
        """The one Deployment, StatefulSet or Job that runs the PyTorch ranks."""
        found = [o for o in self.objects if o["kind"] in WORKLOADS]
        assert len(found) == 1, f"expected one workload, got {[o['kind'] for o in found]}"
        return found[0]

    def pod_spec(self) -> dict:
        return self.workload()["spec"]["template"]["spec"]

    def pod_specs(self) -> list[dict]:
        """The pod spec of every workload's template and of every bare Pod (the test hook)."""
        return [o["spec"]["template"]["spec"] if o["kind"] in WORKLOADS else o["spec"]
                for o in self.objects if o["kind"] in (*WORKLOADS, "Pod")]

    def images(self) -> list[str]:
        """The image of every init container and container of every pod spec, in render order."""
        return [c["image"] for spec in self.pod_specs() for c in spec.get("initContainers", []) + spec["containers"]]

    def container(self, name: str = "pytorch") -> dict:
        for c in self.pod_spec()["containers"]:
            if c["name"] == name:
                return c
        raise AssertionError(f"no container {name}")

    def init_container(self, name: str) -> dict | None:
        return next((c for c in self.pod_spec().get("initContainers", []) if c["name"] == name), None)

    def env(self, container: str = "pytorch") -> dict[str, Any]:
        """The container's env as {name: value or valueFrom}."""
        return env_of(self.container(container))

    def volumes(self) -> dict[str, dict]:
        return {v["name"]: v for v in self.pod_spec().get("volumes", [])}

    def mounts(self, container: str = "pytorch") -> dict[str, dict]:
        return {m["mountPath"]: m for m in self.container(container).get("volumeMounts", [])}


def _freeze(values: dict | None, sets: Iterable[str], extra: Iterable[str], chart: Path, release: str) -> str:
    return json.dumps({"values": values or {}, "set": list(sets), "extra": list(extra), "chart": str(chart),
                       "release": release}, sort_keys=True)


def render(values: dict | None = None, *sets: str, helm: str = "helm", args: Iterable[str] = (),
           validate: bool = True, show_tests: bool = False, chart: Path = CHART,
           release: str = RELEASE) -> Manifests:
    """Render the chart; see the module docstring. `sets` are --set strings such as "mode=distributed".

    `chart` renders another copy of the chart (tests that add files to files/ use one).
    """
    manifests = _render_cached(_freeze(values, sets, args, chart, release), helm, validate)
    if show_tests:
        return manifests
    return Manifests(tuple(o for o in manifests.objects
                           if "helm.sh/hook" not in o["metadata"].get("annotations", {})), manifests.text)


def render_error(values: dict | None = None, *sets: str, helm: str = "helm", args: Iterable[str] = (),
                 chart: Path = CHART) -> str:
    """Render the chart expecting helm to fail; return helm's error message."""
    try:
        render(values, *sets, helm=helm, args=args, validate=False, chart=chart)
    except RenderError as err:
        return str(err)
    raise AssertionError(f"helm rendered values={values} --set {sets} without an error")


def helm_run(*args: str, helm: str = "helm", check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run bin/<helm> with arguments; raise RenderError with stderr if it fails and check is set."""
    proc = run([tool(helm), *args], check=False, cwd=cwd or CHART)
    if check and proc.returncode != 0:
        raise RenderError(proc.stderr.strip() or proc.stdout.strip())
    return proc


def chart_copy(dest: Path, files: dict[str, str]) -> Path:
    """A copy of the chart's own files in dest/pytorch, with `files` (relative path -> text) added;
    for tests of what a user adds to files/, or of a helper called from a probe template."""
    chart = dest / "pytorch"
    shutil.copytree(CHART, chart, ignore=lambda folder, names: NOT_CHART & set(names) if Path(folder) == CHART else ())
    for path, text in files.items():
        (chart / path).parent.mkdir(parents=True, exist_ok=True)
        (chart / path).write_text(text)
    return chart


def _kube_version(extra: list[str]) -> str | None:
    for i, arg in enumerate(extra):
        if arg == "--kube-version":
            return extra[i + 1]
        if arg.startswith("--kube-version="):
            return arg.split("=", 1)[1]
    return None


@functools.lru_cache(maxsize=None)
def _version_gated(chart: str) -> frozenset[str]:
    """Paths (relative to templates/) of the chart's templates that read the cluster version."""
    root = Path(chart) / "templates"
    return frozenset(str(p.relative_to(root)) for p in root.rglob("*")
                     if p.is_file() and ".Capabilities.KubeVersion" in p.read_text(errors="replace"))


def _differs_by_version(manifests: Manifests, chart: str) -> bool:
    """Whether this render may change with --kube-version: a helper (_*.tpl, includable from any
    template) reads the cluster version, or one of the templates that rendered an object does
    (helm marks each document with `# Source: CHART/templates/PATH`)."""
    gated = _version_gated(chart)
    if any(Path(g).name.startswith("_") for g in gated):
        return True
    sources = set(re.findall(r"^# Source: [^/\n]+/templates/(.+)$", manifests.text, re.M))
    return bool(sources & gated)


@functools.lru_cache(maxsize=None)
def _render_cached(key: str, helm: str, validate: bool) -> Manifests:
    spec = json.loads(key)
    manifests = _helm_template(spec, helm, spec["extra"])
    if validate:
        asked = _kube_version(spec["extra"])
        if asked:
            _validate(manifests, kube_schema.major_minor(asked))
        else:
            # What helm renders for the newest Kubernetes must be valid there, and what it
            # renders for the oldest supported version must be valid there. Only templates that
            # read .Capabilities.KubeVersion can render differently, so only a render that holds
            # one of their objects is rendered again.
            _validate(manifests, kube_schema.NEWEST)
            if _differs_by_version(manifests, spec["chart"]):
                oldest = _helm_template(spec, helm, [*spec["extra"], "--kube-version", f"{kube_schema.OLDEST}.0"])
                _validate(oldest, kube_schema.OLDEST)
    return manifests


def _helm_template(spec: dict, helm: str, extra: list[str]) -> Manifests:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as values_file:
        # JSON is YAML whose strings are always quoted: no YAML 1.1 surprises such as y -> true
        json.dump(spec["values"], values_file)
        values_file.flush()
        cmd = ["template", spec["release"], spec["chart"], "--namespace", NAMESPACE, "-f", values_file.name]
        for s in spec["set"]:
            cmd += ["--set", s]
        proc = helm_run(*cmd, *extra, helm=helm)
    return Manifests.parse(proc.stdout)


def _validate(manifests: Manifests, version: str) -> None:
    problems = [f"{o['kind']}/{o['metadata']['name']} @ Kubernetes {version}: {line}"
                for o in manifests for line in kube_schema.errors(o, version)]
    assert not problems, "rendered objects fail the Kubernetes schema:\n" + "\n".join(problems)
