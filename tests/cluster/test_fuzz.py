"""A slice of `make fuzz` (docs/fuzz.md): 40 generated values documents, each rendered by helm
and either refused with a message naming its key or accepted by the API server's dry run."""
from __future__ import annotations

import json

import pytest

from fuzz.run import SLICE_COUNT, escapes, fuzz, summary

pytestmark = pytest.mark.cluster
SLICE_SEED = 7


@pytest.fixture
def crds_removed_after(cluster):
    """The oracle installs the test CRDs on the shared control plane; remove them afterwards."""
    yield
    cluster.remove_test_crds()


def test_should_refuse_or_render_accepted_objects_for_every_generated_document(cluster, crds_removed_after):
    docs, verdicts, _ = fuzz(cluster, SLICE_COUNT, SLICE_SEED, workers=2)
    assert len(verdicts) == SLICE_COUNT
    counts = summary(verdicts)
    # The slice reaches both sides of the oracle: helm refusals and dry-run acceptances.
    assert counts.get("rendered", 0) > 0 and counts.get("schema", 0) > 0, counts
    found = escapes(docs, verdicts)
    assert not found, json.dumps(found, indent=1, ensure_ascii=False)
