"""Where people acted, as the audit tells it: reviews per iteration, and each rollback with who,
why and the replicas that swapped back."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import LabelProvided, ModelDeployed, ModelRolledBack, ReviewRequested
from tests.samples import one_of_each
from yieldloop.audit import people


def test_reviews_count_the_requests_and_list_the_labels_given() -> None:
    events = [e for e in one_of_each() if isinstance(e, ReviewRequested | LabelProvided)]
    found = people.reviews(events)
    assert found["requested"] == 1 and found["reasons"] == {"disagreement": 1}
    [given] = found["labelled"]
    assert (given["label"], given["served_label"], given["reviewer"]) == ("OK", "NG", "inspector")


def test_a_rollback_lists_the_replicas_that_swapped_back_for_it() -> None:
    [rolled] = [e for e in one_of_each() if isinstance(e, ModelRolledBack)]

    def swap(replica: str, correlation: str | None) -> ModelDeployed:
        return ModelDeployed(
            producer="inference",
            correlation_id=correlation,
            iteration_id=None,
            line_id=None,
            model_name="inspection",
            version="1",
            replica_id=replica,
            loaded_at=datetime.now(UTC),
            warmup_ms=1.0,
        )

    events = [rolled, swap("r1", "rb-1"), swap("r2", "rb-1"), swap("r3", None)]
    [found] = people.rollbacks(events)
    assert (found["actor"], found["reason"]) == ("operator", "defects escape since v2")
    assert [d["replica_id"] for d in found["deployments"]] == ["r1", "r2"]
    assert "v2 -> v1" in people.table([found])
