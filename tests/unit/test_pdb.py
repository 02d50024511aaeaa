"""templates/pdb.yaml: the PodDisruptionBudget over the ranks in distributed mode."""
import pytest

from harness.presets import CODE, JOB, SHARED_CLAIM, distributed, merge

SELECTOR = {"app.kubernetes.io/name": "pytorch", "app.kubernetes.io/instance": "rel"}


def test_should_let_no_rank_be_evicted_by_default(render):
    m = render(distributed(6))
    pdb = m["PodDisruptionBudget"]
    assert pdb["metadata"]["name"] == "rel-pytorch"
    # Every rank must stay: an integer minAvailable, which the disruption controller counts
    # from the pods alone (maxUnavailable or a percentage make it look up the workload's scale).
    assert pdb["spec"] == {"minAvailable": 6, "unhealthyPodEvictionPolicy": "AlwaysAllow",
                           "selector": {"matchLabels": SELECTOR}}
    # it covers exactly the ranks
    assert SELECTOR.items() <= m["StatefulSet"]["spec"]["template"]["metadata"]["labels"].items()


def test_should_cover_the_ranks_of_an_indexed_job(render):
    # A Job has no scale subresource: with maxUnavailable the disruption controller could not
    # compute the budget (docs/bench.md, "Where the requests go").
    m = render(merge(distributed(7), CODE, JOB, SHARED_CLAIM))
    assert m["PodDisruptionBudget"]["spec"] == {"minAvailable": 7, "unhealthyPodEvictionPolicy": "AlwaysAllow",
                                                "selector": {"matchLabels": SELECTOR}}
    assert SELECTOR.items() <= m["Job"]["spec"]["template"]["metadata"]["labels"].items()


def test_should_keep_the_old_default_budget_when_asked(render):
    """pdb.maxUnavailable=0 renders what the default was before (maxUnavailable: 0)."""
    spec = render(merge(distributed(6), {"pdb": {"maxUnavailable": 0}}))["PodDisruptionBudget"]["spec"]
    assert spec == {"maxUnavailable": 0, "unhealthyPodEvictionPolicy": "AlwaysAllow",
                    "selector": {"matchLabels": SELECTOR}}


@pytest.mark.parametrize("budget,spec", [
    ({"minAvailable": 5}, {"minAvailable": 5}), ({"minAvailable": "75%"}, {"minAvailable": "75%"}),
    ({"maxUnavailable": 2}, {"maxUnavailable": 2}), ({"maxUnavailable": "25%"}, {"maxUnavailable": "25%"}),
    ({"minAvailable": 0}, {"minAvailable": 0}),
], ids=["min-number", "min-percent", "max-number", "max-percent", "min-zero"])
def test_should_take_the_budget_given(render, budget, spec):
    got = render(merge(distributed(6), {"pdb": budget}))["PodDisruptionBudget"]["spec"]
    assert {k: v for k, v in got.items() if k in ("minAvailable", "maxUnavailable")} == spec


@pytest.mark.parametrize("values", [{}, {"pdb": {"create": True}}], ids=["default", "create"])
def test_should_not_render_a_budget_in_standalone_mode(render, values):
    assert render(values).find("PodDisruptionBudget") is None


def test_should_not_render_a_budget_when_not_asked(render):
    assert render(merge(distributed(4), {"pdb": {"create": False}})).find("PodDisruptionBudget") is None


@pytest.mark.parametrize("key,value", [("minAvailable", "101%"), ("maxUnavailable", "834635%"),
                                       ("maxUnavailable", "007%")])
def test_should_refuse_a_percentage_the_budget_api_refuses_naming_the_key(render_error, key, value):
    message = render_error(merge(distributed(3), {"pdb": {key: value}}))
    assert f"/pdb/{key}" in message and "does not match pattern" in message, message


@pytest.mark.parametrize("value", ["0%", "7%", "100%"])
def test_should_take_every_percentage_from_none_to_all(render, value):
    spec = render(merge(distributed(3), {"pdb": {"maxUnavailable": value}}))["PodDisruptionBudget"]["spec"]
    assert spec["maxUnavailable"] == value
