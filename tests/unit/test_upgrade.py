"""templates/_upgrade.tpl: upgrades that Kubernetes cannot apply in place (a created Job's pods,
a StatefulSet's claim template) are refused before anything is sent, with one line that names
the key and the way out. `helm template` has no live objects (lookup returns nothing), so the
comparisons are called here through a probe template with a live object written out; the same
refusals against the real API server are in tests/cluster/test_upgrade.py."""
from __future__ import annotations

import re

import pytest

from harness.presets import CODE, JOB, SHARED_CLAIM, TORCHRUN, distributed, merge

DIST_JOB = merge(CODE, distributed(2), JOB, SHARED_CLAIM)
STS = distributed(2)
JOB_REFUSED = ("job.enabled: the Job rel-pytorch exists and Kubernetes cannot change its pods (entrypoint, "
               "worldSize, image, env, resources...); delete it first: kubectl delete job -n ml rel-pytorch, "
               "then upgrade again")
ORPHAN = "kubectl delete statefulset -n ml rel-pytorch --cascade=orphan (its pods keep running)"
RECREATE = ("kubectl delete statefulset -n ml rel-pytorch, "
            "kubectl delete pvc -n ml -l app.kubernetes.io/instance=rel, then upgrade again")


def one_line(message: str) -> str:
    """helm's error: one line, and helm's own hint after it."""
    lines = [line for line in message.splitlines() if line.strip()]
    assert lines[1:] == ["Use --debug flag to render out invalid YAML"], message
    return lines[0]


def checksum(render, *values: dict) -> str:
    return render(merge(DIST_JOB, *values))["Job"]["metadata"]["annotations"]["checksum/pod-template"]


def test_should_annotate_the_job_with_a_checksum_of_what_kubernetes_cannot_change(render):
    assert re.fullmatch(r"[0-9a-f]{64}", checksum(render))


@pytest.mark.parametrize("change", [
    {"entrypoint": {"args": ["--lr", "0.1"]}},
    {"worldSize": 3},
    {"image": {"tag": "2.9.1-cuda12.8-cudnn9-runtime"}},
    {"extraEnvVars": [{"name": "NCCL_DEBUG", "value": "INFO"}]},
    {"commonAnnotations": {"owner": "ml-platform"}},
    {"job": {"podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}}},
], ids=["args", "worldSize", "image", "env", "commonAnnotations", "podFailurePolicy"])
def test_should_change_the_job_checksum_with_its_pods_or_policies(render, change):
    assert checksum(render, change) != checksum(render)


@pytest.mark.parametrize("change", [
    {"job": {"backoffLimit": 7}},
    {"job": {"activeDeadlineSeconds": 3600}},
    {"job": {"ttlSecondsAfterFinished": 600}},
    {"paused": True},
], ids=["backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished", "paused"])
def test_should_keep_the_job_checksum_when_only_mutable_fields_change(render, change):
    job = render(merge(DIST_JOB, change))["Job"]
    assert job["metadata"]["annotations"]["checksum/pod-template"] == checksum(render)


# The fields of a Job's spec that the API server lets an update change; every other field of the
# spec (template, completionMode, completions, successPolicy, podFailurePolicy, selector...) is
# immutable, and the checksum must change with each of them.
MUTABLE_JOB_FIELDS = {"parallelism", "backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished",
                      "suspend", "maxFailedIndexes"}
EXIT_42 = {"faultTolerance": {"nonRetriableExitCodes": [42]}}
TORCHRUN_JOB = merge(DIST_JOB, TORCHRUN)
# (values, helm template arguments) that each change one input of the Job, immutable or not
JOB_VARIANTS = {
    "base": (DIST_JOB, ()),
    "worldSize": (merge(DIST_JOB, {"worldSize": 5}), ()),
    "standalone": (merge(CODE, JOB), ()),
    "no-success-policy-before-1.33": (DIST_JOB, ("--kube-version", "1.32.0")),
    "user-failure-rule": (merge(DIST_JOB, {"job": {"podFailurePolicy": {"rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "False"}]}]}}}), ()),
    "exit-codes-python-without-supervisor": (merge(DIST_JOB, EXIT_42), ()),
    "torchrun": (TORCHRUN_JOB, ()),
    "exit-codes-torchrun": (merge(TORCHRUN_JOB, EXIT_42), ()),
    "exit-codes-torchrun-elastic": (merge(TORCHRUN_JOB, EXIT_42, {"faultTolerance": {"enabled": True}}), ()),
    "image": (merge(DIST_JOB, {"image": {"tag": "2.9.1-cuda12.8-cudnn9-runtime"}}), ()),
    "backoffLimit": (merge(DIST_JOB, {"job": {"backoffLimit": 7}}), ()),
    "activeDeadlineSeconds": (merge(DIST_JOB, {"job": {"activeDeadlineSeconds": 3600}}), ()),
    "ttlSecondsAfterFinished": (merge(DIST_JOB, {"job": {"ttlSecondsAfterFinished": 600}}), ()),
    "paused": (merge(DIST_JOB, {"paused": True}), ()),
}


def test_should_change_the_job_checksum_exactly_when_a_field_kubernetes_cannot_change_changes(render):
    """For every two renders: the same checksum if and only if the same immutable fields (the
    spec without the fields an update may change). A field left out of the checksum would let
    an upgrade through to the API server's refusal; a mutable field in it would refuse an
    upgrade that Kubernetes applies in place."""
    jobs = {name: render(values, args=args)["Job"] for name, (values, args) in JOB_VARIANTS.items()}
    immutable = {name: {k: v for k, v in job["spec"].items() if k not in MUTABLE_JOB_FIELDS}
                 for name, job in jobs.items()}
    sums = {name: job["metadata"]["annotations"]["checksum/pod-template"] for name, job in jobs.items()}
    wrong = [(a, b) for a in jobs for b in jobs
             if a < b and (sums[a] == sums[b]) != (immutable[a] == immutable[b])]
    assert wrong == []
    # each variant moves what its name says (the comparison above is only as good as they are)
    assert immutable["exit-codes-torchrun"]["template"] == immutable["torchrun"]["template"]
    assert immutable["exit-codes-python-without-supervisor"]["template"] == immutable["base"]["template"]
    assert immutable["no-success-policy-before-1.33"] == {k: v for k, v in immutable["base"].items()
                                                          if k != "successPolicy"}
    assert immutable["backoffLimit"] == immutable["base"]
    assert immutable["paused"] == immutable["base"] and jobs["paused"]["spec"]["suspend"] is True


def test_should_add_nothing_to_the_statefulset(render):
    assert "annotations" not in render(STS)["StatefulSet"]["metadata"]


def compare_job(probe, live: str, want: str, error: bool = True):
    """Call the Job comparison with `live` (JSON) as the live Job and `want` as the new checksum."""
    template = ('{{- $live := `' + live + '` | fromYaml }}\n'
                '{{- include "pytorch.upgrade.compareJob" (dict "live" $live "checksum" "' + want + '" "context" $) }}')
    return probe(template, DIST_JOB, error=error)


@pytest.mark.parametrize("annotations", ["{}", '{"checksum/pod-template": "0123abcd"}'],
                         ids=["job-of-chart-1.0.0", "other-pods"])
def test_should_refuse_to_change_the_pods_of_an_existing_job(render, probe, annotations):
    message = compare_job(probe, f'{{"metadata": {{"annotations": {annotations}}}}}', checksum(render))
    assert one_line(message) == f"Error: execution error at (pytorch/templates/probe.yaml:2:4): {JOB_REFUSED}"


def test_should_upgrade_a_job_whose_pods_stay_the_same(render, probe):
    live = f'{{"metadata": {{"annotations": {{"checksum/pod-template": "{checksum(render)}"}}}}}}'
    assert compare_job(probe, live, checksum(render), error=False)["Job"]


def test_should_install_a_job_when_there_is_none(render, probe):
    assert compare_job(probe, "{}", checksum(render), error=False)["Job"]


def claim_template(size: str = "8Gi", modes: str = '["ReadWriteOnce"]', storage_class: str = "",
                   annotations: str = "") -> str:
    spec = f'"accessModes": {modes}, "resources": {{"requests": {{"storage": "{size}"}}}}, "volumeMode": "Filesystem"'
    if storage_class:
        spec += f', "storageClassName": "{storage_class}"'
    meta = f'"name": "data", "labels": {{"app.kubernetes.io/instance": "rel", "app.kubernetes.io/name": "pytorch"}}'
    if annotations:
        meta += f', "annotations": {annotations}'
    return f'{{"metadata": {{{meta}}}, "spec": {{{spec}}}}}'


def compare_sts(probe, claims: list[str], values: dict, error: bool = True):
    live = f'{{"spec": {{"volumeClaimTemplates": [{", ".join(claims)}]}}}}'
    per_rank = "and .Values.persistence.enabled (ne (include \"pytorch.persistence.shared\" .) \"true\")"
    template = ('{{- $live := `' + live + '` | fromYaml }}\n'
                '{{- include "pytorch.upgrade.compareStatefulSet" (dict "live" $live "perRankClaims" ('
                + per_rank + ') "context" $) }}')
    return probe(template, merge(STS, values), error=error)


@pytest.mark.parametrize("claims,values,expected", [
    ([claim_template()], {"persistence": {"size": "16Gi"}},
     "persistence.size: the StatefulSet rel-pytorch's claims are 8Gi and its volumeClaimTemplates cannot change; "
     "resize each claim (kubectl patch pvc -n ml data-rel-pytorch-<rank> -p "
     """'{"spec":{"resources":{"requests":{"storage":"16Gi"}}}}', if its StorageClass allows expansion), """
     f"then {ORPHAN}, then upgrade again"),
    ([claim_template()], {"persistence": {"accessMode": "ReadWriteOncePod"}},
     "persistence.accessMode: the StatefulSet rel-pytorch's claims are ReadWriteOnce and neither a claim nor "
     "volumeClaimTemplates can change it; keep ReadWriteOnce, or delete the StatefulSet and its claims "
     f"(their data goes): {RECREATE}"),
    ([claim_template(storage_class="standard")], {"persistence": {"storageClass": "fast-ssd"}},
     "persistence.storageClass: the StatefulSet rel-pytorch's claims use the StorageClass standard and neither "
     "a claim nor volumeClaimTemplates can change it; keep it, or delete the StatefulSet and its claims "
     f"(their data goes): {RECREATE}"),
    ([claim_template()], {"persistence": {"storageClass": "fast-ssd"}},
     "persistence.storageClass: the StatefulSet rel-pytorch's claims use the cluster's default StorageClass and "
     "neither a claim nor volumeClaimTemplates can change it; keep it, or delete the StatefulSet and its claims "
     f"(their data goes): {RECREATE}"),
    ([claim_template()], {"persistence": {"annotations": {"backup": "daily"}}},
     "persistence.annotations: the StatefulSet rel-pytorch's claim template cannot change; annotate each claim "
     f"(kubectl annotate pvc -n ml data-rel-pytorch-<rank> --overwrite backup=daily), then {ORPHAN}, then "
     "upgrade again"),
    ([claim_template(annotations='{"backup": "daily"}')], {"persistence": {"annotations": {"tier": "hot"}}},
     "persistence.annotations: the StatefulSet rel-pytorch's claim template cannot change; annotate each claim "
     f"(kubectl annotate pvc -n ml data-rel-pytorch-<rank> --overwrite tier=hot backup-), then {ORPHAN}, then "
     "upgrade again"),
    ([claim_template()], SHARED_CLAIM,
     "persistence.accessMode: the StatefulSet rel-pytorch has per-rank claims and its volumeClaimTemplates "
     f"cannot change; keep the old persistence values, or {ORPHAN}, then upgrade again (claims made before "
     "stay, unused)"),
    ([claim_template()], {"persistence": {"enabled": False}},
     "persistence.enabled: the StatefulSet rel-pytorch has per-rank claims and its volumeClaimTemplates "
     f"cannot change; keep the old persistence values, or {ORPHAN}, then upgrade again (claims made before "
     "stay, unused)"),
    ([claim_template()], {"persistence": {"existingClaim": "datasets"}},
     "persistence.existingClaim: the StatefulSet rel-pytorch has per-rank claims and its volumeClaimTemplates "
     f"cannot change; keep the old persistence values, or {ORPHAN}, then upgrade again (claims made before "
     "stay, unused)"),
    ([], {},
     "persistence: the StatefulSet rel-pytorch has no per-rank claims and its volumeClaimTemplates cannot "
     "change; keep the old persistence values, or delete it (its pods start again, with claims): "
     "kubectl delete statefulset -n ml rel-pytorch, then upgrade again"),
], ids=["size", "accessMode", "storageClass", "storageClass-default", "annotations", "annotations-removed", "to-shared", "to-none",
        "to-existing", "from-none"])
def test_should_refuse_to_change_the_claim_template_of_an_existing_statefulset(probe, claims, values, expected):
    message = compare_sts(probe, claims, values)
    assert one_line(message) == f"Error: execution error at (pytorch/templates/probe.yaml:2:4): {expected}"


@pytest.mark.parametrize("claims,values", [
    ([claim_template(size="16Gi", annotations='{"backup": "daily"}')],
     {"persistence": {"size": "16Gi", "annotations": {"backup": "daily"}}, "worldSize": 3,
      "image": {"tag": "2.9.1-cuda12.8-cudnn9-runtime"}}),
    ([claim_template(storage_class="fast-ssd")], {"persistence": {"storageClass": "fast-ssd"}}),
    ([], {"persistence": {"enabled": False}}),
    ([], SHARED_CLAIM),
], ids=["same-claims-new-pods", "same-class", "no-claims", "shared"])
def test_should_upgrade_a_statefulset_whose_claim_template_stays_the_same(probe, claims, values):
    assert compare_sts(probe, claims, values, error=False)["StatefulSet"]


@pytest.mark.parametrize("written,stored,same", [
    ("1.5Gi", "1536Mi", True), ("8Gi", "8Gi", True), ("1G", "1000M", True), ("0.1Gi", "107374183", True),
    ("500m", "0.5", True), ("8Gi", "16Gi", False), ("100Mi", "100M", False), ("2", "2000m", True),
    ("1Gi", "1073741823", False), ("1Ki", "1025", False),
], ids=lambda v: str(v))
def test_should_compare_sizes_as_the_api_server_stores_them(probe, written, stored, same):
    """The API server keeps a quantity's canonical form: 1.5Gi comes back as 1536Mi, and is the
    same size."""
    m = probe(f'{{{{- if include "pytorch.upgrade.sameQuantity" (list "{written}" "{stored}") }}}}\n'
              "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n{{- end }}")
    assert (m.find("ConfigMap", "same") is not None) is same
    claims = [claim_template(size=stored)]
    upgrade = compare_sts(probe, claims, {"persistence": {"size": written}}, error=not same)
    assert upgrade["StatefulSet"] if same else upgrade.startswith("Error: execution error")
