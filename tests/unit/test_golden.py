"""Today's outputs on the golden workloads are the recorded ones, byte for byte.

The golden files (``tests/golden``) were recorded before the columnar rewrite of the core,
so that any change to what the engine emits on them is a choice a test names, not an
accident.
"""

from __future__ import annotations

import pytest

from tests.golden.record import outputs, read_golden
from tests.golden.workloads import ARRIVAL, WORKLOADS


@pytest.mark.parametrize("workload", [*WORKLOADS, ARRIVAL], ids=lambda w: w.name)
def test_outputs_are_the_recorded_ones(workload, tmp_path):
    changes, scores = outputs(workload, tmp_path)
    assert scores == read_golden(workload.name, "scores.csv")
    recorded = read_golden(workload.name, "changes.jsonl").splitlines()
    made = changes.splitlines()
    first = next((i for i, (a, b) in enumerate(zip(made, recorded, strict=False)) if a != b), None)
    assert first is None, f"output {first} differs:\n{made[first]!r}\n{recorded[first]!r}"
    assert len(made) == len(recorded)
