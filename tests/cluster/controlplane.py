"""Drive the embedded control plane (hack/cluster/{up,down}.sh) from Python.

Every client command (kubectl, helm) runs inside the control plane's network
namespace (nsenter --net). Without a real node its only interface is `lo` and
Service and pod IPs are fake and unreachable from there; with one (real_node),
the pod bridge and the pods' veths join it, and still nothing leads out of it
(docs/node.md).
"""
from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from harness.crds import crd_files
from harness.pods import resolved_env
from harness.proc import CommandFailed, poll, run
from harness.tools import BIN, ROOT

HACK = ROOT / "hack" / "cluster"
# The test CRDs (harness/crds.py): the real PodMonitor CRD from the Prometheus Operator module,
# and the minimal PodGroup CRDs written for the tests.
# A deleted CRD is served until its cleanup finalizer has deleted its instances: under a second
# when the cleanup does not stall (ControlPlane.remove_test_crds).
CRD_CLEANUP_S = 30
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok")


# A client command that failed (the harness's one error for commands).
CommandError = CommandFailed


def all_test_crds() -> tuple[str, ...]:
    """Every test CRD's name (<plural>.<group>)."""
    return tuple(crd_files())


def missing_binaries() -> list[str]:
    return [n for n in COMPONENTS if not os.access(BIN / n, os.X_OK)]


@dataclass
class ControlPlane:
    name: str = "test"
    nodes: int = 2
    real_node: bool = False   # also join a real node (kubelet + containerd): hack/cluster/node-up.sh
    state: Path = field(init=False)
    netns: str = field(init=False, default="")
    kubeconfig: Path = field(init=False)
    startup_seconds: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.state = ROOT / ".cache" / "cluster" / self.name
        self.kubeconfig = self.state / "kubeconfig"

    # -- lifecycle -------------------------------------------------------
    def up(self, timeout: float = 300) -> "ControlPlane":
        env = dict(os.environ, CLUSTER_NODES=str(self.nodes), CLUSTER_REAL_NODE="1" if self.real_node else "0")
        start = time.monotonic()
        proc = run([HACK / "up.sh", self.name], env, timeout=timeout)
        self.startup_seconds = time.monotonic() - start
        self.kubeconfig = Path(proc.stdout.strip().splitlines()[-1])
        self.netns = (self.state / "netns").read_text().strip()
        return self

    def down(self) -> None:
        run([HACK / "down.sh", self.name], check=False, timeout=60)

    # -- clients ---------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        # Helm's caches and config stay inside the state dir, not in ~.
        for var, sub in (("HELM_CACHE_HOME", "helm/cache"), ("HELM_CONFIG_HOME", "helm/config"),
                         ("HELM_DATA_HOME", "helm/data")):
            env[var] = str(self.state / sub)
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 180,
            input: str | None = None) -> subprocess.CompletedProcess:
        """Run a command inside the cluster's network namespace."""
        return run(["nsenter", f"--net=/run/netns/{self.netns}", "--", *args], self.env(),
                   check=check, timeout=timeout, input=input)

    def kubectl(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run(str(BIN / "kubectl"), *args, **kw)

    def helm(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run(str(BIN / "helm"), *args, **kw)

    def get(self, *args: str) -> Any:
        """`kubectl get ARGS -o json`, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def apply(self, manifest: str) -> None:
        self.kubectl("apply", "-f", "-", input=manifest)

    # -- test CRDs -------------------------------------------------------
    def served(self) -> set[str]:
        """The resources the API server's discovery lists now (`kubectl api-resources`, never
        cached), as <plural>.<group>."""
        return set(self.kubectl("api-resources", "-o", "name").stdout.split())

    def install_test_crds(self, *names: str) -> None:
        """Apply the test CRDs (all, or those named) and wait until each is Established."""
        names = names or all_test_crds()
        files = crd_files()
        for name in names:
            self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(files[name]))
        self.kubectl("wait", "--for=condition=Established", "crd", *names, "--timeout=60s")

    def remove_test_crds(self, *names: str, cleanup_s: float = CRD_CLEANUP_S) -> None:
        """Delete the test CRDs (all, or those named) and wait until discovery no longer serves
        them: the control plane is shared by the tests of a session, and a test that expects an
        API to be absent must not see one an earlier test left behind.

        Under load the API server's CRD cleanup can stall: deleting a CRD rebuilds its storage,
        the cleanup's first list of instances fails with "storage is (re)initializing", and its
        retry can hang (the CRD stays Terminating with InstanceDeletionFailed; docs/cluster.md).
        A CRD still served after cleanup_s then has its instances deleted through the API and its
        cleanup finalizer removed, which is safe here: nothing of it is left to clean up."""
        names = names or all_test_crds()
        self.kubectl("delete", "crd", *names, "--ignore-not-found", "--wait=false")

        def gone() -> bool:
            return not set(names) & self.served()

        try:
            self.wait_for(f"{', '.join(names)} no longer served", gone, timeout=cleanup_s, interval=0.5)
            return
        except AssertionError:
            stuck = sorted(set(names) & self.served())
        for name in stuck:
            self.kubectl("delete", name, "--all", "--all-namespaces", "--ignore-not-found", "--wait=true",
                         "--timeout=60s")
            self.kubectl("patch", "crd", name, "--type=merge", "-p", '{"metadata":{"finalizers":null}}', check=False)
        try:
            self.wait_for(f"{', '.join(stuck)} no longer served (cleanup finalizer removed)", gone, timeout=60,
                          interval=0.5)
        except AssertionError as err:
            left = self.kubectl("get", "crd", *names, "--ignore-not-found", "-o",
                                "custom-columns=NAME:.metadata.name,FINALIZERS:.metadata.finalizers,"
                                "CONDITIONS:.status.conditions[*].reason", check=False).stdout
            raise AssertionError(f"{err}\nthe CRDs as the API server has them:\n{left}") from None

    # -- nodes -----------------------------------------------------------
    def set_node_resource(self, resource: str, counts: dict[str, int | None]) -> None:
        """Give kwok nodes an extended resource (capacity and allocatable: count; None takes it
        away). kwok keeps a node status it did not set."""
        for node, count in counts.items():
            value = None if count is None else str(count)
            patch = {"status": {"capacity": {resource: value}, "allocatable": {resource: value}}}
            self.kubectl("patch", "node", node, "--subresource=status", "--type=merge", "-p", json.dumps(patch))

    # -- namespaces ------------------------------------------------------
    def create_namespace(self, name: str, restricted: bool = True) -> str:
        labels = ""
        if restricted:
            labels = ("  labels:\n"
                      "    pod-security.kubernetes.io/enforce: restricted\n"
                      "    pod-security.kubernetes.io/enforce-version: latest\n")
        self.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n{labels}")
        return name

    def test_namespaces(self, test_name: str) -> "TestNamespaces":
        """The namespaces one test creates: see TestNamespaces."""
        return TestNamespaces(self, test_name)

    def delete_namespace(self, name: str, wait: bool = False) -> None:
        self.kubectl("delete", "namespace", name, "--ignore-not-found", f"--wait={str(wait).lower()}",
                     check=False, timeout=120)

    # -- inside pods (a real node only) ------------------------------------
    def exec(self, namespace: str, pod: str, *command: str, container: str = "pytorch",
             check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """`kubectl exec` COMMAND in a container: through the API server to the kubelet."""
        return self.kubectl("exec", "-n", namespace, pod, "-c", container, "--", *command,
                            check=check, timeout=timeout)

    def logs(self, namespace: str, pod: str, container: str = "pytorch", previous: bool = False) -> str:
        args = ["logs", "-n", namespace, pod, "-c", container]
        if previous:
            args.append("--previous")
        return self.kubectl(*args, check=False).stdout

    def dump(self, namespace: str) -> str:
        """What a person looks at first when a test on a real node fails: the pods, the
        container statuses, the last events and the last log lines of every container."""
        out = [self.kubectl("get", "pods,pvc,jobs,statefulsets", "-n", namespace, "-o", "wide",
                            check=False).stdout]
        for pod in self.pods(namespace):
            name = pod["metadata"]["name"]
            for st in pod.get("status", {}).get("initContainerStatuses", []) + \
                    pod.get("status", {}).get("containerStatuses", []):
                out.append(f"--- {name}/{st['name']}: restarts={st.get('restartCount')} "
                           f"state={json.dumps(st.get('state'))} last={json.dumps(st.get('lastState'))}")
                out.append("\n".join(self.logs(namespace, name, st["name"]).splitlines()[-15:]))
        out.append(self.kubectl("get", "events", "-n", namespace, "--sort-by=.lastTimestamp",
                                check=False).stdout[-6000:])
        return "\n".join(out)

    # -- waiting ---------------------------------------------------------
    def pods(self, namespace: str, selector: str = "") -> list[dict]:
        args = ["pods", "-n", namespace]
        if selector:
            args += ["-l", selector]
        return self.get(*args)["items"]

    def wait_for(self, what: str, predicate: Callable[[], Any], timeout: float = 120,
                 interval: float = 0.25) -> Any:
        """Poll predicate() until it returns something truthy and return it; API errors while
        objects appear count as "not yet"."""
        return poll(what, predicate, timeout, interval, transient=(CommandFailed,))

    def wait_pods_running(self, namespace: str, selector: str, count: int,
                          timeout: float = 180) -> list[dict]:
        def ready():
            pods = [p for p in self.pods(namespace, selector) if not p["metadata"].get("deletionTimestamp")]
            running = [p for p in pods if p.get("status", {}).get("phase") == "Running"]
            return running if len(pods) == count and len(running) == count else None
        return self.wait_for(f"{count} pods Running in {namespace} ({selector})", ready, timeout)


_ns_seq = itertools.count()


class TestNamespaces:
    """Fresh namespaces for one test, named after it: make(restricted=True) creates one
    (Pod Security `restricted` enforced unless restricted=False); cleanup() deletes them,
    without waiting, unless CLUSTER_KEEP=1."""
    __test__ = False   # not a pytest test class

    def __init__(self, cluster: ControlPlane, test_name: str):
        self.cluster, self.created = cluster, []
        self.base = re.sub(r"[^a-z0-9]+", "-", test_name.lower().removeprefix("test_")
                           .removeprefix("should_"))[:30].strip("-")

    def make(self, restricted: bool = True) -> str:
        name = f"{self.base}-{next(_ns_seq)}-{uuid.uuid4().hex[:4]}"
        self.cluster.create_namespace(name, restricted=restricted)
        self.created.append(name)
        return name

    def cleanup(self) -> None:
        if os.environ.get("CLUSTER_KEEP") != "1":
            for ns in self.created:
                self.cluster.delete_namespace(ns)


def resolve_env(pod: dict, container: str = "pytorch") -> dict[str, str]:
    """The environment a container of a pod, as the API returns it, sees (harness.pods)."""
    spec = next(c for c in pod["spec"]["containers"] if c["name"] == container)
    return resolved_env(spec, pod["metadata"])


def names(items: Iterable[dict]) -> list[str]:
    return sorted(i["metadata"]["name"] for i in items)
