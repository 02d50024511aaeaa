"""The `restricted` Pod Security Standard, as far as a pod spec shows it."""
from __future__ import annotations


def restricted_violations(pod_spec: dict) -> list[str]:
    """The checks of the `restricted` Pod Security Standard that a manifest can show."""
    problems = []
    pod_ctx = pod_spec.get("securityContext", {})
    for c in pod_spec.get("initContainers", []) + pod_spec["containers"]:
        ctx = c.get("securityContext", {})
        if ctx.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{c['name']}: allowPrivilegeEscalation must be false")
        if "ALL" not in ctx.get("capabilities", {}).get("drop", []):
            problems.append(f"{c['name']}: must drop ALL capabilities")
        if set(ctx.get("capabilities", {}).get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{c['name']}: adds capabilities")
        if not ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")):
            problems.append(f"{c['name']}: runAsNonRoot must be true")
        if ctx.get("runAsUser", pod_ctx.get("runAsUser")) == 0:
            problems.append(f"{c['name']}: runs as root")
        seccomp = ctx.get("seccompProfile", pod_ctx.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{c['name']}: seccompProfile must be RuntimeDefault or Localhost")
    for v in pod_spec.get("volumes", []):
        if "hostPath" in v:
            problems.append(f"volume {v['name']} is a hostPath")
    return problems
