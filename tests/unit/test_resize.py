"""templates/_resize.tpl: faultTolerance.maxNodes > 0 keeps worldSize out of the pod template
(torchrun's --nnodes is minNodes:maxNodes), so `helm upgrade --set worldSize=N` changes only the
StatefulSet's replicas: new ranks join the next rendezvous round, the running pods stay
(docs/fault-tolerance.md, "Resize in place"). The live StatefulSet: tests/cluster/test_resize.py."""
from __future__ import annotations

import pytest

from harness.presets import CODE, TORCHRUN, distributed, merge

ELASTIC = merge(CODE, TORCHRUN, {"faultTolerance": {"enabled": True}})
RESIZABLE = merge(ELASTIC, {"faultTolerance": {"maxNodes": 6}})


def without_replicas(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k != "replicas"}


def test_should_change_only_the_replicas_when_worldsize_changes_in_the_resizable_mode(render):
    three, five = (render(merge(RESIZABLE, distributed(n)))["StatefulSet"] for n in (3, 5))
    assert (three["spec"]["replicas"], five["spec"]["replicas"]) == (3, 5)
    assert without_replicas(five["spec"]) == without_replicas(three["spec"])
    assert five["metadata"] == three["metadata"]


@pytest.mark.parametrize("values", [ELASTIC, merge(CODE, TORCHRUN), CODE], ids=["torchrun-elastic", "torchrun", "python"])
def test_should_change_the_pod_template_with_worldsize_outside_the_resizable_mode(render, values):
    three, five = (render(merge(values, distributed(n)))["StatefulSet"] for n in (3, 5))
    assert five["spec"]["template"] != three["spec"]["template"]


@pytest.mark.parametrize("min_nodes,nnodes", [(0, "1:6"), (2, "2:6")], ids=["min-0-reads-as-1", "min-2"])
def test_should_give_torchrun_min_and_max_nodes_in_the_resizable_mode(render, min_nodes, nnodes):
    m = render(merge(RESIZABLE, distributed(3), {"faultTolerance": {"minNodes": min_nodes}}))
    env = m.env()
    assert (env["NNODES"], env["PET_NNODES"]) == (nnodes, nnodes)
    assert m.container()["args"][0] == "--nnodes=$(NNODES)"


def test_should_give_torchrun_the_world_size_without_max_nodes(render):
    m = render(merge(ELASTIC, distributed(3), {"faultTolerance": {"minNodes": 2}}))
    env = m.env()
    assert (env["NNODES"], env["PET_NNODES"]) == ("3", "3")
    assert m.container()["args"][0] == "--nnodes=2:$(NNODES)"
