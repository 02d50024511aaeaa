"""templates/_validate.tpl: the cross-field rules that values.schema.json cannot express. Each
rule fails the render with a message that names its keys; one case per rule, in the template's
order, and each rule's nearest valid neighbour renders."""
import re

import pytest

from harness.presets import CODE, GIT, JOB, SHARED_CLAIM, TORCHRUN, distributed, merge
from harness.tools import CHART

# (id, values, text the error must contain)
CASES = [
    ("worldsize-missing-in-distributed", {"mode": "distributed"}, "worldSize: required when mode=distributed"),
    ("worldsize-in-standalone", {"worldSize": 4}, "worldSize: 4 ranks need mode=distributed"),
    ("git-without-repository", {"cloneFilesFromGit": {"enabled": True}}, "cloneFilesFromGit.repository: required"),
    ("node-affinity-without-key", {"nodeAffinityPreset": {"type": "hard", "values": ["a"]}},
     "nodeAffinityPreset.key and nodeAffinityPreset.values: required when nodeAffinityPreset.type=hard"),
    ("node-affinity-without-values", {"nodeAffinityPreset": {"type": "soft", "key": "k"}},
     "nodeAffinityPreset.key and nodeAffinityPreset.values: required when nodeAffinityPreset.type=soft"),
    ("hard-affinity-and-anti-affinity", {"podAffinityPreset": "hard", "podAntiAffinityPreset": "hard"},
     "podAffinityPreset and podAntiAffinityPreset: both are hard"),
    ("args-without-file", {"entrypoint": {"args": ["--epochs", "3"]}}, "entrypoint.args: set, but entrypoint.file is empty"),
    ("relative-file-without-files", {"entrypoint": {"file": "train.py"}}, 'entrypoint.file: "train.py" is relative to /app'),
    ("pdb-both-budgets", merge(distributed(3), {"pdb": {"minAvailable": 2, "maxUnavailable": 1}}),
     "pdb.minAvailable and pdb.maxUnavailable: set only one of them"),
    ("volume-permissions-without-persistence", {"volumePermissions": {"enabled": True}, "persistence": {"enabled": False}},
     "volumePermissions.enabled: needs persistence.enabled=true"),
    ("existing-claim-without-persistence", {"persistence": {"enabled": False, "existingClaim": "x"}},
     "persistence.existingClaim: needs persistence.enabled=true"),
    ("mount-path-over-app", {"persistence": {"mountPath": "/app"}}, "persistence.mountPath: /app is inside /app"),
    ("mount-path-over-tmp", {"persistence": {"mountPath": "/tmp/data"}}, "persistence.mountPath: /tmp/data is inside /tmp"),
    ("mount-path-in-shm", {"persistence": {"mountPath": "/dev/shm/cache"}}, "persistence.mountPath: /dev/shm/cache is inside /dev/shm"),
    ("job-without-file", JOB, "job.enabled: a Job runs to completion, so it needs entrypoint.file"),
    ("indexed-job-with-per-rank-claims", merge(CODE, distributed(2), JOB), "persistence.accessMode: an Indexed Job"),
    ("nproc-without-torchrun", merge(CODE, {"torchrun": {"nprocPerNode": 2}}),
     "torchrun.nprocPerNode: only applies with launcher=torchrun"),
    ("torchrun-without-file", TORCHRUN, "launcher: torchrun needs entrypoint.file"),
    ("gang-in-standalone", {"gangScheduling": {"enabled": True}}, "gangScheduling.enabled: a gang needs mode=distributed"),
    ("exclusive-topology-with-affinity", {"exclusiveTopology": {"enabled": True}, "affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "k", "operator": "Exists"}]}]}}}},
     "exclusiveTopology.enabled: affinity replaces every affinity the chart renders"),
    ("kueue-two-topology-modes", {"kueue": {"topology": {"required": "rack", "preferred": "zone"}}},
     "kueue.topology: set one of required, preferred and unconstrained, not required and preferred"),
    ("kueue-slice-size-alone", {"kueue": {"topology": {"sliceSize": 2}}},
     "kueue.topology.sliceRequired and kueue.topology.sliceSize: set both or neither"),
    ("pod-monitor-without-metrics", {"metrics": {"podMonitor": {"enabled": True}}},
     "metrics.podMonitor.enabled: needs metrics.enabled=true"),
    ("volume-name-taken", {"extraVolumes": [{"name": "data", "emptyDir": {}}]}, 'extraVolumes: the volume name "data" is taken'),
    ("mount-of-no-volume", {"extraVolumeMounts": [{"name": "extra-b", "mountPath": "/x"}]},
     'extraVolumeMounts: the mount of "extra-b" names no volume of the pod'),
    ("mount-path-twice", {"extraVolumes": [{"name": "extra-a", "emptyDir": {}}],
                          "extraVolumeMounts": [{"name": "extra-a", "mountPath": "/dev/shm"}]},
     "extraVolumeMounts: the mountPath /dev/shm is mounted already in this container"),
    ("localhost-seccomp-without-profile", {"containerSecurityContext": {"seccompProfile": {"type": "Localhost"}}},
     "containerSecurityContext.seccompProfile.localhostProfile: required when containerSecurityContext.seccompProfile.type=Localhost"),
    ("extended-resource-request-without-limit", {"resources": {"requests": {"example.com/fpga": 1}}},
     "resources.requests.example.com/fpga: an extended resource needs the same quantity in resources.limits.example.com/fpga"),
    ("metrics-port-equal-to-port", {"metrics": {"enabled": True, "port": 49875}},
     "metrics.port and port: both are 49875; each port of the pod needs its own number"),
    ("min-nodes-with-python", merge(CODE, distributed(4), {"faultTolerance": {"enabled": True, "minNodes": 2}}),
     "faultTolerance.minNodes: only applies with launcher=torchrun and faultTolerance.enabled=true"),
    ("min-nodes-without-fault-tolerance", merge(CODE, TORCHRUN, distributed(4), {"faultTolerance": {"minNodes": 2}}),
     "faultTolerance.minNodes: only applies with launcher=torchrun and faultTolerance.enabled=true"),
    ("min-nodes-above-world-size", merge(CODE, TORCHRUN, distributed(4), {"faultTolerance": {"enabled": True, "minNodes": 5}}),
     "faultTolerance.minNodes: 5 is more than the 4 pods of the run; set 1..4, or 0 for a fixed size"),
    ("paused-job-queued-by-kueue", merge(CODE, distributed(2), JOB, SHARED_CLAIM, {"paused": True, "kueue": {"queueName": "q"}}),
     "paused: Kueue (kueue.queueName=q) suspends and resumes this Job itself and would undo the chart's suspend"),
    ("max-nodes-with-python", merge(CODE, distributed(3), {"faultTolerance": {"enabled": True, "maxNodes": 4}}),
     "faultTolerance.maxNodes: only applies with launcher=torchrun and faultTolerance.enabled=true (elastic rendezvous); "
     "with launcher=python a worldSize change restarts every rank, so set it to 0"),
    ("max-nodes-in-a-job", merge(CODE, TORCHRUN, distributed(3), JOB, SHARED_CLAIM, {"faultTolerance": {"enabled": True, "maxNodes": 4}}),
     "faultTolerance.maxNodes: only a StatefulSet (mode=distributed without job.enabled) resizes in place; a Job's "
     "completions cannot change, so set it to 0"),
    ("world-size-above-max-nodes", merge(CODE, TORCHRUN, distributed(5), {"faultTolerance": {"enabled": True, "maxNodes": 4}}),
     "worldSize: 5 is more than faultTolerance.maxNodes=4, the most pods the ranks' rendezvous takes; raise "
     "faultTolerance.maxNodes too (every rank restarts once, with the new maximum), or keep worldSize at most 4"),
    ("checkpoint-existing-claim-without-persistence", {"checkpoint": {"persistence": {"existingClaim": "ckpt"}}},
     "checkpoint.persistence.existingClaim: needs checkpoint.persistence.enabled=true"),
    ("checkpoint-read-write-once-in-distributed",
     merge(distributed(3), {"checkpoint": {"persistence": {"enabled": True, "accessMode": "ReadWriteOnce"}}}),
     "checkpoint.persistence.accessMode: every rank mounts the one checkpoint claim, so mode=distributed with 3 ranks "
     "needs ReadWriteMany or checkpoint.persistence.existingClaim (got ReadWriteOnce)"),
    ("checkpoint-mount-path-in-tmp", {"checkpoint": {"persistence": {"enabled": True, "mountPath": "/tmp/ckpt"}}},
     "checkpoint.persistence.mountPath: /tmp/ckpt is inside /tmp, which the chart already mounts"),
    ("checkpoint-mount-path-on-data", {"checkpoint": {"persistence": {"enabled": True, "mountPath": "/data"}}},
     "checkpoint.persistence.mountPath: /data is persistence.mountPath too; each volume needs its own path"),
]

# The nearest valid values to each rule: they render.
VALID = [
    ("world-size-one-in-standalone", {"worldSize": 1}),
    ("git-with-repository", GIT),
    ("node-affinity-with-key-and-values", {"nodeAffinityPreset": {"type": "hard", "key": "k", "values": ["a"]}}),
    ("hard-affinity-with-affinity", {"podAffinityPreset": "hard", "podAntiAffinityPreset": "hard",
                                     "affinity": {"podAntiAffinity": {}}}),
    ("absolute-file-without-files", {"entrypoint": {"file": "/opt/train.py", "args": ["--epochs", "3"]}}),
    ("mount-path-beside-tmp", {"persistence": {"mountPath": "/tmpdata"}}),
    ("mount-path-beside-app", {"persistence": {"mountPath": "/application"}}),
    ("job-with-per-rank-claim-in-standalone", merge(CODE, JOB)),
    ("indexed-job-with-shared-claim", merge(CODE, distributed(2), JOB, SHARED_CLAIM)),
    ("indexed-job-with-existing-claim", merge(CODE, distributed(2), JOB, {"persistence": {"existingClaim": "x"}})),
    ("indexed-job-without-persistence", merge(CODE, distributed(2), JOB, {"persistence": {"enabled": False}})),
    ("nproc-with-torchrun", merge(CODE, TORCHRUN, {"torchrun": {"nprocPerNode": 2}})),
    ("pdb-one-budget", merge(distributed(3), {"pdb": {"minAvailable": 2}})),
    ("min-nodes-equal-to-world-size", merge(CODE, TORCHRUN, distributed(4), {"faultTolerance": {"enabled": True, "minNodes": 4}})),
    ("paused-statefulset-queued-by-kueue", merge(distributed(2), {"paused": True, "kueue": {"queueName": "q"}})),
    ("max-nodes-equal-to-world-size", merge(CODE, TORCHRUN, distributed(4), {"faultTolerance": {"enabled": True, "maxNodes": 4}})),
    ("checkpoint-existing-claim", {"checkpoint": {"persistence": {"enabled": True, "existingClaim": "ckpt"}}}),
    ("checkpoint-read-write-once-with-existing-claim",
     merge(distributed(3), {"checkpoint": {"persistence": {"enabled": True, "accessMode": "ReadWriteOnce", "existingClaim": "c"}}})),
    ("checkpoint-read-write-once-standalone",
     {"checkpoint": {"persistence": {"enabled": True, "accessMode": "ReadWriteOncePod"}}}),
    ("checkpoint-mount-path-inside-data", {"checkpoint": {"persistence": {"enabled": True, "mountPath": "/data/ckpt"}}}),
    ("extended-resource-request-equal-to-limit", {"resources": {"requests": {"example.com/fpga": 2},
                                                                "limits": {"example.com/fpga": 2}}}),
    ("localhost-seccomp-with-profile", {"containerSecurityContext": {"seccompProfile": {
        "type": "Localhost", "localhostProfile": "profiles/train.json"}}}),
]


@pytest.mark.parametrize("name,values,expected", CASES, ids=[c[0] for c in CASES])
def test_should_reject_values_that_break_a_rule_naming_its_keys(render_error, name, values, expected):
    # validateValues is the last guard: where the schema refuses the same values first (the
    # Kubernetes types in its $defs), the rule is reached with --skip-schema-validation.
    args = ("--skip-schema-validation",) if name in SCHEMA_FIRST else ()
    message = render_error(values, args=args)
    assert expected in message, message


# Cases the schema refuses before validateValues runs, with the schema's words for them.
SCHEMA_FIRST = {"localhost-seccomp-without-profile":
                "at '/containerSecurityContext/seccompProfile': missing property 'localhostProfile'"}


@pytest.mark.parametrize("name", SCHEMA_FIRST)
def test_should_refuse_in_the_schema_first_naming_the_key(render_error, name):
    values = next(case[1] for case in CASES if case[0] == name)
    message = render_error(values)
    assert SCHEMA_FIRST[name] in message, message


@pytest.mark.parametrize("values", [c[1] for c in VALID], ids=[c[0] for c in VALID])
def test_should_render_the_nearest_valid_values(render, values):
    assert render(values).workload()


def test_should_report_every_broken_rule_at_once(render_error):
    message = render_error({"mode": "distributed", "cloneFilesFromGit": {"enabled": True},
                            "entrypoint": {"args": ["x"]}})
    assert "worldSize: required" in message and "cloneFilesFromGit.repository" in message
    assert "entrypoint.args" in message


def test_should_have_a_case_for_every_rule_of_the_template():
    template = (CHART / "templates" / "_validate.tpl").read_text()
    # each rule appends a message that starts with the keys it names, up to the first colon
    rules = re.findall(r'append \$errors (?:\(printf )?"([^":]+):', template)
    assert len(rules) == template.count("append $errors") == 36, rules
    # a rule whose keys are printf'd (%s) matches a case that names any keys there
    patterns = [re.compile(re.escape(rule).replace("%s", ".+")) for rule in rules]
    assert all(any(p.search(expected) for _, _, expected in CASES) for p in patterns), rules
