"""Run a rendered chart's pods as local processes, each given what Kubernetes would give it.

plan(objects) reads the rendered workload (StatefulSet, Indexed or plain Job, Deployment) and
computes each pod: its name, index, hostname and subdomain, its labels and annotations (the
controller's own: `apps.kubernetes.io/pod-index`, `batch.kubernetes.io/job-completion-index`,
...), the env of container `pytorch` with `envFrom`, values, fieldRefs, configMap/secret keys
and `$(VAR)` references resolved as the kubelet does, JOB_COMPLETION_INDEX for Indexed Jobs,
and the exec array (command + args, `$(VAR)` expanded) and workingDir.

run(world) lays each pod's volumes out in a temp dir (files of the rendered ConfigMap/Secret,
emptyDirs, one dir per claim: per-rank volumeClaimTemplates, shared claims once), rewrites the
mount paths in argv, workingDir and env values to those dirs (the only rewriting done), and
starts every pod at once inside fresh Linux namespaces (see nsrun.py):
  - one network namespace per world with only `lo`: every byte stays on 127.0.0.0/8;
  - one mount + UTS namespace per pod: its own /etc/hosts, bind-mounted, holding the cluster
    DNS view (headless-Service pod records, Service names, search-list short forms) and
    its kubelet lines, each pod name pointing at that pod's own loopback address (pod_ip),
    and its pod hostname;
  - one PID namespace per world, so nothing outlives the run.
The pod's `python` (or `torchrun`) is found on PATH, whose first entry is the venv's bin/,
as the image's PATH would find its own. The test environment adds GLOO_SOCKET_IFNAME=lo (and the
TP_/NCCL_ equivalents), which win over rendered values, and image-level defaults
(PATH, HOSTNAME, LANG, OMP_NUM_THREADS=1), which rendered values override.

Asked for by run(restarts=..., probes=True), the kubelet's side after start-up (nsrun.py): the
rendered exec liveness probe, with its timings, kills a pod that fails it, and a pod that exits
non-zero or is killed starts again (the restartPolicy Always restart, or the Job controller's
replacement pod of the same index: same name, same volumes), up to `restarts` times.

Not modelled: the pod's user (processes run as the harness's user: the interpreter of a pyenv
venv lives under /root, mode 0700, which runAsUser 1001 could not reach), readOnlyRootFilesystem,
Service-link env vars (enableServiceLinks), readiness (pods count as ready), startup probes,
resource limits, the kubelet's restart back-off (a fixed delay instead).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.pods import expand, pod_identities, resolve_field_path

HERE = Path(__file__).resolve().parent
NSRUN = HERE / "nsrun.py"
CLUSTER_DOMAIN = "cluster.local"
POD_IP = "127.0.0.1"  # the node's address (status.hostIP), and what `localhost` is


def pod_ip(pod: "Pod") -> str:
    """Each pod's own address, on loopback (lo answers all of 127.0.0.0/8): only rank 0's
    name resolves to rank 0's address, so a process that asks "is this endpoint me?" (torch's
    c10d rendezvous does) gets the answer a real pod would."""
    return f"127.0.1.{pod.index + 1}"
NODE_NAME = "podsim-node"
RESULT_TAG = "DDP_RESULT"
# Set by the test environment, not by the chart: keep collectives on loopback.
SANDBOX_ENV = {"GLOO_SOCKET_IFNAME": "lo", "TP_SOCKET_IFNAME": "lo", "NCCL_SOCKET_IFNAME": "lo"}
# What an image would provide; the rendered env overrides these.
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class SimError(Exception):
    """The render asks for something the simulator cannot give (or Kubernetes would refuse)."""


@dataclass
class Mount:
    path: str
    volume: str
    sub_path: str = ""
    read_only: bool = False


@dataclass
class Pod:
    name: str
    index: int
    hostname: str
    subdomain: str
    namespace: str
    labels: dict
    annotations: dict
    spec: dict
    container: dict
    env: dict = field(default_factory=dict)      # resolved, before path mapping
    argv: list = field(default_factory=list)     # command + args, $(VAR) expanded
    working_dir: str = ""
    mounts: list = field(default_factory=list)
    uid: int | None = None
    gid: int | None = None
    fs_group: int | None = None

    @property
    def metadata(self) -> dict:
        return {"name": self.name, "namespace": self.namespace, "labels": self.labels,
                "annotations": self.annotations, "uid": f"uid-{self.name}"}


@dataclass
class World:
    kind: str
    workload: dict
    namespace: str
    pods: list
    objects: list
    cluster_domain: str = CLUSTER_DOMAIN

    def by_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o.get("kind") == kind]

    def find(self, kind: str, name: str) -> dict | None:
        return next((o for o in self.by_kind(kind) if o["metadata"]["name"] == name), None)


# --------------------------------------------------------------------------- planning

def workload_of(objects: list[dict]) -> dict:
    """The one Deployment, StatefulSet or Job that runs the ranks (helm test hooks excluded)."""
    found = [o for o in objects if o.get("kind") in ("Deployment", "StatefulSet", "Job")
             and "helm.sh/hook" not in o["metadata"].get("annotations", {})]
    if len(found) != 1:
        raise SimError(f"expected one workload, got {[o['kind'] + '/' + o['metadata']['name'] for o in found]}")
    return found[0]


def resolve_field(pod: Pod, path: str) -> str:
    """A downward-API fieldRef, as the kubelet resolves it for this pod."""
    simple = {
        "metadata.name": pod.name, "metadata.namespace": pod.namespace, "metadata.uid": f"uid-{pod.name}",
        "spec.nodeName": NODE_NAME, "spec.serviceAccountName": pod.spec.get("serviceAccountName", "default"),
        "status.hostIP": POD_IP, "status.hostIPs": POD_IP, "status.podIP": pod_ip(pod), "status.podIPs": pod_ip(pod),
    }
    if path in simple:
        return simple[path]
    try:
        return resolve_field_path(pod.metadata, path)
    except ValueError as err:
        raise SimError(str(err)) from None


def _config_data(world: World, kind: str, name: str, optional: bool) -> dict[str, str] | None:
    obj = world.find(kind, name)
    if obj is None:
        if optional:
            return None
        raise SimError(f"{kind} {name!r} is not in the render (an existing object the simulator cannot see?)")
    data = dict(obj.get("data") or {})
    if kind == "Secret":
        data = {k: base64.b64decode(v).decode() for k, v in data.items()}
        data.update(obj.get("stringData") or {})
    else:
        data.update({k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("binaryData") or {}).items()})
    return data


def _resource_field(pod: Pod, ref: dict) -> str:
    res = pod.container.get("resources", {})
    kind, _, what = ref["resource"].partition(".")
    value = res.get(kind, {}).get(what)
    if value is None:  # no limit: the node's allocatable
        value = str(os.cpu_count()) if what == "cpu" else str(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    return str(value)


def resolve_env(world: World, pod: Pod, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The container's env as the kubelet builds it: envFrom, then env in order (each value may
    reference the ones before it), then what the controller injects."""
    c = pod.container
    env: dict[str, str] = {}
    for src in c.get("envFrom", []):
        prefix = src.get("prefix", "")
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if key in src:
                data = _config_data(world, kind, src[key]["name"], src[key].get("optional", False)) or {}
                env.update({prefix + k: v for k, v in data.items()})
    for item in c.get("env", []):
        name = item["name"]
        if "valueFrom" not in item:
            env[name] = expand(item.get("value", ""), env)
            continue
        vf = item["valueFrom"]
        if "fieldRef" in vf:
            env[name] = resolve_field(pod, vf["fieldRef"]["fieldPath"])
        elif "resourceFieldRef" in vf:
            env[name] = _resource_field(pod, vf["resourceFieldRef"])
        else:
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                if key in vf:
                    ref = vf[key]
                    data = _config_data(world, kind, ref["name"], ref.get("optional", False))
                    if data is not None and ref["key"] in data:
                        env[name] = data[ref["key"]]
                    elif not ref.get("optional", False):
                        raise SimError(f"{kind} {ref['name']} has no key {ref['key']!r} (env {name})")
                    break
            else:
                raise SimError(f"unsupported valueFrom for env {name}: {vf}")
    if world.kind == "Job" and world.workload["spec"].get("completionMode") == "Indexed":
        env.setdefault("JOB_COMPLETION_INDEX", pod.annotations["batch.kubernetes.io/job-completion-index"])
    env.update(extra or {})
    return env


def _security(spec: dict, container: dict) -> tuple[int | None, int | None, int | None]:
    pod_sc, c_sc = spec.get("securityContext") or {}, container.get("securityContext") or {}
    uid = c_sc.get("runAsUser", pod_sc.get("runAsUser"))
    gid = c_sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    return uid, gid, pod_sc.get("fsGroup")


def plan(objects: list[dict], container: str = "pytorch", cluster_domain: str = CLUSTER_DOMAIN) -> World:
    """Every pod the rendered workload starts at once, with its env and command resolved."""
    objects = [o for o in objects if o]
    workload = workload_of(objects)
    namespace = workload["metadata"].get("namespace", "default")
    world = World(workload["kind"], workload, namespace, [], objects, cluster_domain)
    tmpl = workload["spec"]["template"]
    spec = tmpl["spec"]
    c = next((x for x in spec["containers"] if x["name"] == container), None)
    if c is None:
        raise SimError(f"no container {container!r} in {workload['kind']}/{workload['metadata']['name']}")
    try:
        identities = pod_identities(workload)
    except ValueError as err:
        raise SimError(str(err)) from None
    for ident in identities:
        pod = Pod(name=ident["name"], index=ident["index"], hostname=ident["hostname"], subdomain=ident["subdomain"],
                  namespace=namespace,
                  labels={**(tmpl["metadata"].get("labels") or {}), **ident["labels"]},
                  annotations={**(tmpl["metadata"].get("annotations") or {}), **ident["annotations"]},
                  spec=spec, container=c)
        pod.env = resolve_env(world, pod)
        if not c.get("command"):
            raise SimError("container has no command: the simulator cannot run an image's entrypoint")
        pod.argv = [expand(a, pod.env) for a in c["command"] + c.get("args", [])]
        pod.working_dir = c.get("workingDir", "")
        pod.mounts = [Mount(m["mountPath"], m["name"], m.get("subPath", ""), m.get("readOnly", False))
                      for m in c.get("volumeMounts", [])]
        pod.uid, pod.gid, pod.fs_group = _security(spec, c)
        world.pods.append(pod)
    return world


# --------------------------------------------------------------------------- DNS

def _selects(svc: dict, pod: Pod) -> bool:
    sel = svc["spec"].get("selector") or {}
    return bool(sel) and all(pod.labels.get(k) == v for k, v in sel.items())


def dns_records(world: World) -> tuple[dict[str, str], list[str]]:
    """Names the cluster DNS would answer for this world, each -> its (simulated) IP, and notes
    on names left out. A ClusterIP Service that selects several pods is left out: it balances
    over all of them, and only one of them listens on a rank-0 port."""
    records, notes = {}, []
    for svc in world.by_kind("Service"):
        if svc["metadata"].get("namespace", world.namespace) != world.namespace:
            continue
        name = svc["metadata"]["name"]
        fqdn = f"{name}.{world.namespace}.svc.{world.cluster_domain}"
        selected = [p for p in world.pods if _selects(svc, p)]
        if svc["spec"].get("clusterIP") == "None":
            if selected:
                records[fqdn] = pod_ip(selected[0])
            for p in selected:
                if p.subdomain == name and p.hostname:
                    records[f"{p.hostname}.{fqdn}"] = pod_ip(p)
        elif len(selected) == 1:
            records[fqdn] = pod_ip(selected[0])
        else:
            notes.append(f"{fqdn}: a Service over {len(selected)} pods, not mapped")
    return records, notes


def _short_forms(fqdn: str, namespace: str, domain: str) -> list[str]:
    """The names a pod's resolv.conf search list (<ns>.svc.<d> svc.<d> <d>) also resolves."""
    suffix = f".{namespace}.svc.{domain}"
    if not fqdn.endswith(suffix):
        return [fqdn]
    base = fqdn[: -len(suffix)]
    return [fqdn, f"{base}.{namespace}.svc", f"{base}.{namespace}", base]


def hosts_file(world: World, pod: Pod, records: dict[str, str]) -> str:
    """The pod's /etc/hosts: the kubelet's lines, hostAliases, then the cluster DNS view."""
    own = pod.hostname
    if pod.subdomain:
        own = f"{pod.hostname}.{pod.subdomain}.{pod.namespace}.svc.{world.cluster_domain} {pod.hostname}"
    lines = ["# Kubernetes-managed hosts file (podsim).", "127.0.0.1\tlocalhost",
             "::1\tlocalhost ip6-localhost ip6-loopback", f"{pod_ip(pod)}\t{own}"]
    for alias in pod.spec.get("hostAliases", []) or []:
        lines.append(f"{alias['ip']}\t{' '.join(alias.get('hostnames', []))}")
    lines.append("# cluster DNS (podsim); the mapped line answers c10d's reverse lookup of its peers")
    lines.append(f"::ffff:{POD_IP}\tlocalhost")
    for name, ip in sorted(records.items()):
        lines.append(f"{ip}\t{' '.join(_short_forms(name, pod.namespace, world.cluster_domain))}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- volumes

class Layout:
    """Host directories that stand in for each pod's volumes."""

    def __init__(self, world: World, root: Path):
        self.world, self.root = world, root
        self.claims: dict[str, Path] = {}

    def _claim(self, claim: str, fs_group: int | None) -> Path:
        if claim not in self.claims:
            d = self.root / "claims" / claim
            d.mkdir(parents=True)
            if fs_group is not None and os.geteuid() == 0:
                os.chown(d, 0, fs_group)
                os.chmod(d, 0o2775)
            self.claims[claim] = d
        return self.claims[claim]

    def _files(self, d: Path, data: dict[str, str], items: list | None, mode: int) -> None:
        wanted = [(i["key"], i["path"], i.get("mode", mode)) for i in items] if items else \
                 [(k, k, mode) for k in data]
        for key, rel, m in wanted:
            if key not in data:
                raise SimError(f"volume item {key!r} is not in the ConfigMap/Secret")
            f = d / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(data[key])
            os.chmod(f, m)

    def volume(self, pod: Pod, name: str) -> Path:
        d = self.root / pod.name / "volumes" / name
        vol = next((v for v in pod.spec.get("volumes", []) if v["name"] == name), None)
        if vol is None:
            templates = {t["metadata"]["name"] for t in self.world.workload["spec"].get("volumeClaimTemplates", [])}
            if self.world.kind == "StatefulSet" and name in templates:
                return self._claim(f"{name}-{pod.name}", pod.fs_group)
            raise SimError(f"volumeMount {name!r} has no volume")
        if "persistentVolumeClaim" in vol:
            return self._claim(vol["persistentVolumeClaim"]["claimName"], pod.fs_group)
        if d.exists():
            return d
        d.mkdir(parents=True)
        if "emptyDir" in vol:
            os.chmod(d, 0o777)
        elif "configMap" in vol or "secret" in vol:
            kind, key = ("ConfigMap", "configMap") if "configMap" in vol else ("Secret", "secret")
            src = vol[key]
            data = _config_data(self.world, kind, src.get("name") or src.get("secretName"), src.get("optional", False))
            self._files(d, data or {}, src.get("items"), src.get("defaultMode", 0o644))
            os.chmod(d, 0o755)
        else:
            raise SimError(f"unsupported volume source for {name}: {sorted(vol)}")
        return d

    def mapping(self, pod: Pod) -> dict[str, Path]:
        """mountPath -> host path, for every mount of the container."""
        out = {}
        for m in pod.mounts:
            host = self.volume(pod, m.volume)
            if m.sub_path:
                host = host / m.sub_path
                if not host.exists():
                    host.mkdir(parents=True)
            out[m.path.rstrip("/") or "/"] = host
        return out


def map_path(value: str, mapping: dict[str, Path]) -> str:
    """Rewrite a container path that lies under a mount to the host dir standing in for it."""
    for mount in sorted(mapping, key=len, reverse=True):
        if value == mount or value.startswith(mount + "/"):
            return str(mapping[mount]) + value[len(mount):]
    return value


def map_arg(arg: str, mapping: dict[str, Path]) -> str:
    if arg.startswith("/"):
        return map_path(arg, mapping)
    key, eq, val = arg.partition("=")
    if eq and val.startswith("/"):
        return f"{key}={map_path(val, mapping)}"
    return arg


def map_env_value(value: str, mapping: dict[str, Path]) -> str:
    if ":" in value and all(p.startswith("/") for p in value.split(":") if p):
        return ":".join(map_path(p, mapping) if p else p for p in value.split(":"))
    return map_path(value, mapping) if value.startswith("/") else value


# --------------------------------------------------------------------------- running

@dataclass
class PodRun:
    pod: Pod
    argv: list
    env: dict
    cwd: str
    mapping: dict
    log: Path
    rc: int | None = None
    killed: bool = False
    start: float = 0.0
    end: float = 0.0
    restarts: int = 0
    probes: int = 0          # liveness probe runs (run(probes=True))

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def results(self) -> list[dict]:
        """Every DDP_RESULT line this pod printed (one per process it ran)."""
        out = []
        for line in self.output.splitlines():
            _, tag, rest = line.partition(RESULT_TAG + " ")
            if tag:
                out.append(json.loads(rest))
        return out


@dataclass
class WorldRun:
    world: World
    runs: list
    root: Path
    launched: float
    wall: float
    interfaces: list
    dns: dict
    notes: list
    events: list = field(default_factory=list)  # {"t", "pod", "what"}: exits, probe kills, restarts

    def results(self) -> list[dict]:
        return [r for run in self.runs for r in run.results()]

    def logs(self, limit: int = 4000) -> str:
        """Every pod's exit status and the tail of its log, for assertion messages."""
        parts = []
        for r in self.runs:
            parts.append(f"--- pod {r.pod.name} rc={r.rc} killed={r.killed} restarts={r.restarts}\n"
                         f"{r.output[-limit:]}")
        return "\n".join(parts)


def _pod_run(layout: Layout, pod: Pod, records: dict[str, str], venv_bin: Path, root: Path) -> tuple[PodRun, dict]:
    mapping = layout.mapping(pod)
    image_env = {"PATH": f"{venv_bin}:{IMAGE_PATH}", "HOSTNAME": pod.hostname, "LANG": "C.UTF-8",
                 "OMP_NUM_THREADS": "1"}
    env = {**image_env, **{k: map_env_value(v, mapping) for k, v in pod.env.items()}, **SANDBOX_ENV}
    argv = [map_arg(a, mapping) for a in pod.argv]
    cwd = map_path(pod.working_dir, mapping) if pod.working_dir else str(root / pod.name)
    if pod.working_dir and cwd == pod.working_dir and not Path(cwd).is_dir():
        raise SimError(f"workingDir {pod.working_dir} is not under a mounted volume")
    (root / pod.name).mkdir(parents=True, exist_ok=True)
    hosts = root / pod.name / "hosts"
    hosts.write_text(hosts_file(layout.world, pod, records))
    os.chmod(hosts, 0o644)
    log = root / pod.name / "log.txt"
    spec = {"name": pod.name, "argv": argv, "env": env, "cwd": cwd, "hostname": pod.hostname,
            "hosts": str(hosts), "log": str(log)}
    return PodRun(pod, argv, env, cwd, mapping, log), spec


def liveness(pod: Pod, mapping: dict[str, Path]) -> dict | None:
    """The rendered exec liveness probe as nsrun runs it (paths mapped like the command's)."""
    probe = pod.container.get("livenessProbe")
    if not probe:
        return None
    if "exec" not in probe:
        raise SimError(f"only exec liveness probes are simulated, not {sorted(probe)}")
    return {"argv": [map_arg(a, mapping) for a in probe["exec"]["command"]],
            "initial_delay_s": probe.get("initialDelaySeconds", 0), "period_s": probe.get("periodSeconds", 10),
            "timeout_s": probe.get("timeoutSeconds", 1), "failure_threshold": probe.get("failureThreshold", 3)}


def sandbox_problem() -> str | None:
    """Why the namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return "the runtime tests need root (unshare of mount, network, UTS and PID namespaces)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    return None


def run(world: World, venv_bin: Path | None = None, deadline: float = 180.0, fail_fast: float = 10.0,
        root: Path | None = None, restarts: int = 0, probes: bool = False, restart_delay: float = 1.0) -> WorldRun:
    """Start every pod of `world` at once and wait until all exit, `deadline` seconds pass, or
    `fail_fast` seconds after the first failure that is not restarted; stragglers are killed.
    With `probes`, the liveness probe runs; a failed or killed pod starts again, at most
    `restarts` times, after `restart_delay` seconds. Logs stay under `root`."""
    problem = sandbox_problem()
    if problem:
        raise SimError(problem)
    venv_bin = venv_bin or Path(sys.executable).parent
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="podsim-"))
    root.mkdir(parents=True, exist_ok=True)
    records, notes = dns_records(world)
    layout = Layout(world, root)
    runs, specs = [], []
    for pod in world.pods:
        r, s = _pod_run(layout, pod, records, venv_bin, root)
        s.update(restarts=restarts, restart_delay_s=restart_delay,
                 liveness=liveness(pod, r.mapping) if probes else None)
        runs.append(r)
        specs.append(s)
    spec_file, result_file = root / "spec.json", root / "result.json"
    spec_file.write_text(json.dumps({"deadline_s": deadline, "fail_fast_s": fail_fast, "grace_s": 5.0,
                                     "pods": specs}, indent=1))
    cmd = ["unshare", "--mount", "--net", "--uts", "--pid", "--fork", "--kill-child", "--mount-proc",
           "--propagation", "private", "--", sys.executable, str(NSRUN), str(spec_file), str(result_file)]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=deadline + 60)
    wall = time.time() - t0
    if proc.returncode != 0 or not result_file.exists():
        raise SimError(f"the namespace runner failed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result = json.loads(result_file.read_text())
    for r, res in zip(runs, result["pods"]):
        r.rc, r.killed, r.start, r.end, r.restarts = res["rc"], res["killed"], res["start"], res["end"], res["restarts"]
        r.probes = res.get("probes", 0)
    return WorldRun(world, runs, root, result["launched"], wall, result["interfaces"], records, notes,
                    result["events"])


# --------------------------------------------------------------------------- figures

def rendezvous_figures(results: list[dict], launched: float) -> dict[str, float]:
    """Timing of the rendezvous from the ranks' own clocks (one machine, one clock):
    rendezvous_s: the last rank's arrival at init_process_group -> every rank through it;
    window_s: the first rank's arrival -> every rank through it;
    joined_after_launch_s: the pods' start -> every rank through init_process_group."""
    starts = [r["t_init_start"] for r in results]
    ends = [r["t_init_end"] for r in results]
    return {"rendezvous_s": round(max(ends) - max(starts), 3), "window_s": round(max(ends) - min(starts), 3),
            "joined_after_launch_s": round(max(ends) - launched, 3)}


def main(argv: list[str] | None = None) -> int:
    """Render the chart with --set options and run its pods: `python tests/runtime/podsim.py
    --set mode=distributed --set worldSize=2 --set examples.enabled=true`."""
    import argparse
    sys.path.insert(0, str(HERE.parent))
    from harness import render as _render

    p = argparse.ArgumentParser(description="Render the chart and run its pods locally.")
    p.add_argument("--set", action="append", default=[], dest="sets")
    p.add_argument("--deadline", type=float, default=180.0)
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, volumes)")
    a = p.parse_args(argv)
    manifests = _render.render(None, *a.sets)
    world = plan(list(manifests))
    wr = run(world, deadline=a.deadline)
    print(wr.logs(limit=100000))
    results = wr.results()
    if results:
        print(json.dumps(rendezvous_figures(results, wr.launched)))
    print(f"logs and volumes under {wr.root}")
    if not a.keep:
        shutil.rmtree(wr.root, ignore_errors=True)
    return 0 if all(r.rc == 0 for r in wr.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
