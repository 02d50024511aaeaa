"""The oracle: render each document with the real helm, judge helm's failures by its stderr and
the objects of each render by the API server's server-side dry run.

A document passes when helm fails with a message that names one of the keys it sets (a schema
error `at '/a/b'`, or a pytorch.validateValues / `fail` message naming `a.b`), or when every
object it renders is accepted. Anything else is an escape: rendered objects the API server
rejects (or, in a namespace that enforces Pod Security `restricted`, would run pods that
violate it), or a helm failure that does not name the key (a Go template error, a YAML parse
error, a nil pointer, a tpl error).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterable

import yaml

from harness.tools import BIN, CHART, ROOT

from .values import Document

RELEASE = "fz"
RESTRICTED = "fuzz-restricted"
PRIVILEGED = "fuzz-privileged"
# The kinds the chart renders only where the cluster serves them; the fuzz cluster serves them
# all (the test CRDs of tests/data/crds are installed, and hack/cluster/up.sh turns on
# scheduling.k8s.io/v1beta1), and helm is told so.
API_VERSIONS = ("monitoring.coreos.com/v1/PodMonitor", "scheduling.x-k8s.io/v1alpha1/PodGroup",
                "scheduling.volcano.sh/v1beta1/PodGroup", "scheduling.k8s.io/v1beta1/PodGroup")
# Keys that weaken the pod security context on purpose (podSecurityContext is Bitnami 4.x's name of
# securityContext): a document that sets one is judged in a namespace without Pod Security
# enforcement, as is the volume-permissions init container (root by design).
UNRESTRICTED_KEYS = ("securityContext", "podSecurityContext", "containerSecurityContext", "volumePermissions.enabled")
TEMPLATE_ERROR = re.compile(r"executing \"|error calling|nil pointer|yaml:|error converting YAML|"
                            r"unable to parse YAML|cannot parse template|wrong type|invalid value")
SCHEMA_ERROR = "values don't meet the specifications of the schema"
VALIDATE_ERROR = "values are not valid:"


class GoLikeLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """PyYAML's safe loader, reading a plain `=` as the string "=" as helm's and the API server's
    YAML parsers do (YAML 1.1's `value` tag, which PyYAML's safe loader cannot construct)."""


GoLikeLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


@dataclass
class Verdict:
    index: int
    outcome: str            # rendered | schema | validate | fail | escape
    namespace: str = ""
    reason: str = ""        # the escape's message (helm's or the API server's)
    objects: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def namespace_for(doc: Document) -> str:
    dotted = doc.dotted()
    weak = any(p == k or p.startswith(k + ".") for p in dotted for k in UNRESTRICTED_KEYS)
    return PRIVILEGED if weak else RESTRICTED


def helm_template(values: dict, namespace: str, kube_version: str) -> subprocess.CompletedProcess:
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as f:
        json.dump(values, f, ensure_ascii=False)   # YAML reads no surrogate-pair escapes
        f.flush()
        cmd = [str(BIN / "helm"), "template", RELEASE, str(CHART), "--namespace", namespace, "-f", f.name,
               "--kube-version", kube_version]
        for api in API_VERSIONS:
            cmd += ["--api-versions", api]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def helm_message(stderr: str) -> str:
    """helm's error without its log lines."""
    return "\n".join(l for l in stderr.splitlines() if not l.startswith("level=")).strip()


def names_a_key(message: str, paths: Iterable[tuple[str, ...]]) -> bool:
    """Whether the message names one of the keys (or a key above one: a schema error at an
    object that a key's value made invalid)."""
    for path in paths:
        for depth in range(len(path), 0, -1):
            part = path[:depth]
            if f"'/{'/'.join(part)}" in message or re.search(rf"(^|[\s(]){re.escape('.'.join(part))}\b", message, re.M):
                return True
    return False


def classify_failure(message: str, paths: list[tuple[str, ...]]) -> tuple[str, str]:
    """(outcome, reason) of a helm failure: schema/validate/fail when it names a key, else escape."""
    if SCHEMA_ERROR in message:
        kind = "schema"
    elif VALIDATE_ERROR in message:
        kind = "validate"
    elif "execution error at" in message and not TEMPLATE_ERROR.search(message):
        kind = "fail"
    else:
        return "escape", f"helm: {message}"
    if names_a_key(message, paths):
        return kind, ""
    return "escape", f"helm ({kind}, names no key it sets): {message}"


def render(doc: Document, kube_version: str) -> Verdict:
    ns = namespace_for(doc)
    proc = helm_template(doc.values, ns, kube_version)
    if proc.returncode != 0:
        outcome, reason = classify_failure(helm_message(proc.stderr), doc.paths)
        return Verdict(doc.index, outcome, ns, reason)
    try:
        objects = [o for o in yaml.load_all(proc.stdout, Loader=GoLikeLoader) if o]
    except yaml.YAMLError as err:
        return Verdict(doc.index, "escape", ns, f"helm rendered YAML that does not parse: {err}")
    bad = [o for o in objects if not isinstance(o, dict) or "kind" not in o]
    if bad:
        return Verdict(doc.index, "escape", ns, f"helm rendered a document that is not an object: {bad[0]!r:.200}")
    return Verdict(doc.index, "rendered", ns, objects=objects)


def render_all(docs: list[Document], kube_version: str, workers: int) -> list[Verdict]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda d: render(d, kube_version), docs))


def judge(verdicts: list[Verdict], cluster, chunk: int = 400) -> None:
    """Dry-run the objects of every rendered verdict; a rejection turns it into an escape."""
    items = [{"id": v.index, "namespace": v.namespace, "object": o}
             for v in verdicts if v.outcome == "rendered" for o in v.objects]
    by_index = {v.index: v for v in verdicts}
    env = {"PYTHONPATH": str(ROOT / "tests")}
    for start in range(0, len(items), chunk):
        batch = items[start:start + chunk]
        proc = cluster.run("env", f"PYTHONPATH={env['PYTHONPATH']}", sys.executable, "-m", "fuzz.dryrun",
                           str(cluster.kubeconfig), input=json.dumps(batch), timeout=900)
        for result in json.loads(proc.stdout):
            verdict = by_index[result["id"]]
            what = f"{result['kind']}/{result['name']}"
            security = [w for w in result["warnings"] if "PodSecurity" in w]
            verdict.warnings += [f"{what}: {w}" for w in result["warnings"]]
            if result["code"] >= 300 or result["code"] == 0:
                verdict.outcome = "escape"
                verdict.reason += f"API server rejects {what}: {result['message']}\n"
            elif security and verdict.namespace == RESTRICTED:
                verdict.outcome = "escape"
                verdict.reason += f"{what} would violate Pod Security restricted: {'; '.join(security)}\n"
    for v in verdicts:
        v.objects = []


def prepare(cluster) -> None:
    """The two namespaces and the test CRDs."""
    cluster.install_test_crds()
    labels = ("  labels:\n    pod-security.kubernetes.io/enforce: restricted\n"
              "    pod-security.kubernetes.io/warn: restricted\n")
    cluster.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {RESTRICTED}\n{labels}---\n"
                  f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {PRIVILEGED}\n")


def server_version(cluster) -> str:
    return json.loads(cluster.kubectl("version", "-o", "json").stdout)["serverVersion"]["gitVersion"]


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))
