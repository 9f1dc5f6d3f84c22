"""Burrow-style lag rules on synthetic observation windows."""

from __future__ import annotations

import pytest

from stream.cli import main
from stream.tools import lag_cmd
from stream.tools.lag_status import (
    LagHistory,
    Observation,
    Status,
    evaluate_partition,
    worst,
)

A, B = ("in", 0), ("in", 1)


def window(*points: tuple[int | None, int], start: int = 0) -> list[Observation]:
    """Observations one second apart from (committed, end) pairs."""
    return [Observation(float(i), c, e, start) for i, (c, e) in enumerate(points)]


def feed(history: LagHistory, *snapshots: dict[tuple[str, int], tuple[int | None, int]]) -> None:
    for at, snapshot in enumerate(snapshots):
        history.observe({k: Observation(float(at), c, e) for k, (c, e) in snapshot.items()})


# -- one observation ------------------------------------------------------------------------


def test_lag_counts_from_the_committed_offset() -> None:
    assert Observation(0.0, 7, 10).lag == 3


def test_without_a_commit_lag_counts_from_the_log_start() -> None:
    assert Observation(0.0, None, 10, start=4).lag == 6


def test_lag_is_never_negative() -> None:
    assert Observation(0.0, 12, 10).lag == 0


# -- each rule ------------------------------------------------------------------------------


def test_empty_window_is_ok() -> None:
    assert evaluate_partition([], group_committing=False).status is Status.OK


def test_no_lag_is_ok_even_when_nothing_moves() -> None:
    verdict = evaluate_partition(window((5, 5), (5, 5), (5, 5)), group_committing=False)
    assert verdict.status is Status.OK


def test_lag_zero_anywhere_in_the_window_is_ok() -> None:
    # Rule 1: the consumer caught up during the window; the lag since is new traffic.
    verdict = evaluate_partition(window((5, 5), (5, 8), (5, 12)), group_committing=False)
    assert verdict.status is Status.OK


def test_a_single_observation_with_lag_gives_no_trend() -> None:
    verdict = evaluate_partition(window((5, 50)), group_committing=False)
    assert verdict.status is Status.OK
    assert "no trend" in verdict.reason


def test_frozen_offset_with_lag_and_an_idle_group_is_stop() -> None:
    verdict = evaluate_partition(window((5, 10), (5, 12), (5, 15)), group_committing=False)
    assert verdict.status is Status.STOP


def test_frozen_offset_with_lag_while_the_group_commits_is_stall() -> None:
    verdict = evaluate_partition(window((5, 10), (5, 12), (5, 15)), group_committing=True)
    assert verdict.status is Status.STALL


def test_frozen_offset_with_constant_lag_is_still_stopped() -> None:
    # No new input, but the backlog is not being worked off.
    verdict = evaluate_partition(window((5, 10), (5, 10), (5, 10)), group_committing=False)
    assert verdict.status is Status.STOP


def test_group_that_never_committed_with_a_backlog_is_stop() -> None:
    verdict = evaluate_partition(window((None, 10), (None, 10)), group_committing=False)
    assert verdict.status is Status.STOP


def test_moving_offset_with_growing_lag_is_warn() -> None:
    verdict = evaluate_partition(window((5, 10), (7, 14), (9, 20)), group_committing=True)
    assert verdict.status is Status.WARN


def test_moving_offset_with_flat_lag_is_warn() -> None:
    # Burrow's rule 5 asks for the lag to decrease at least once, not merely to stop growing.
    verdict = evaluate_partition(window((5, 10), (7, 12), (9, 14)), group_committing=True)
    assert verdict.status is Status.WARN


def test_lag_that_decreases_once_is_ok() -> None:
    verdict = evaluate_partition(window((5, 10), (9, 12), (10, 20)), group_committing=True)
    assert verdict.status is Status.OK


def test_committed_offset_going_back_is_err() -> None:
    verdict = evaluate_partition(window((50, 60), (10, 60)), group_committing=True)
    assert verdict.status is Status.ERR
    assert "50 to 10" in verdict.reason


def test_offset_reset_is_err_even_after_catching_up() -> None:
    verdict = evaluate_partition(window((50, 60), (60, 60), (0, 60)), group_committing=True)
    assert verdict.status is Status.ERR


def test_commit_disappearing_is_err() -> None:
    verdict = evaluate_partition(window((50, 60), (None, 60)), group_committing=True)
    assert verdict.status is Status.ERR


def test_log_end_going_back_is_err() -> None:
    verdict = evaluate_partition(window((5, 60), (5, 3)), group_committing=True)
    assert verdict.status is Status.ERR
    assert "log end" in verdict.reason


def test_commit_past_the_log_end_is_err() -> None:
    verdict = evaluate_partition(window((70, 60)), group_committing=True)
    assert verdict.status is Status.ERR


def test_first_commit_after_none_is_progress_not_a_rewind() -> None:
    verdict = evaluate_partition(window((None, 10), (4, 10), (8, 12)), group_committing=True)
    assert verdict.status is Status.OK


# -- the group ------------------------------------------------------------------------------


def test_worst_orders_by_severity() -> None:
    assert worst([Status.OK, Status.STALL, Status.WARN]) is Status.STALL
    assert worst([Status.STOP, Status.ERR]) is Status.ERR
    assert worst([]) is Status.OK


def test_group_status_is_its_worst_partition() -> None:
    history = LagHistory(size=3)
    feed(
        history,
        {A: (0, 10), B: (0, 10)},
        {A: (5, 12), B: (0, 12)},
        {A: (12, 12), B: (0, 14)},
    )
    verdict = history.evaluate()
    assert verdict.partitions[A].status is Status.OK
    # A's commits show the consumer is alive, so B is stuck rather than abandoned.
    assert verdict.partitions[B].status is Status.STALL
    assert verdict.status is Status.STALL


def test_group_with_no_moving_partition_is_stopped() -> None:
    history = LagHistory(size=3)
    feed(history, *[{A: (3, 10 + i), B: (4, 10 + i)} for i in range(3)])
    verdict = history.evaluate()
    assert {v.status for v in verdict.partitions.values()} == {Status.STOP}
    assert verdict.status is Status.STOP


def test_healthy_group_is_ok() -> None:
    history = LagHistory(size=4)
    lags = [3, 1, 4, 2]  # never zero for A, but worked off between observations
    feed(history, *[{A: (10 * i, 10 * i + lag), B: (10 * i, 10 * i)} for i, lag in enumerate(lags)])
    assert history.evaluate().status is Status.OK


def test_empty_history_is_ok_with_no_partitions() -> None:
    verdict = LagHistory(size=3).evaluate()
    assert verdict.status is Status.OK
    assert verdict.partitions == {}


def test_partition_missing_from_the_latest_snapshot_is_err() -> None:
    history = LagHistory(size=3)
    feed(history, {A: (0, 0), B: (0, 0)}, {A: (0, 0)})
    verdict = history.evaluate()
    assert verdict.partitions[B].status is Status.ERR
    assert verdict.status is Status.ERR


def test_window_slides_past_old_observations() -> None:
    history = LagHistory(size=2)
    feed(history, {A: (0, 0)}, {A: (0, 5)}, {A: (2, 9)}, {A: (4, 14)})
    assert [o.at for o in history.window(A)] == [2.0, 3.0]
    # The zero lag at t=0 has left the window, so it no longer vouches for the consumer.
    assert history.evaluate().status is Status.WARN


def test_offset_reset_clears_once_it_leaves_the_window() -> None:
    history = LagHistory(size=2)
    feed(history, {A: (50, 60)}, {A: (0, 60)})
    assert history.evaluate().status is Status.ERR
    feed(history, {A: (30, 60)}, {A: (60, 60)})
    assert history.evaluate().status is Status.OK


def test_last_move_is_remembered_beyond_the_window() -> None:
    history = LagHistory(size=2)
    feed(history, {A: (0, 9)}, {A: (5, 9)}, {A: (5, 9)}, {A: (5, 9)}, {A: (5, 9)})
    assert history.last_moved_at(A) == 1.0
    assert history.evaluate().status is Status.STOP


def test_never_moving_offset_has_no_last_move() -> None:
    history = LagHistory(size=3)
    feed(history, {A: (5, 9)}, {A: (5, 9)})
    assert history.last_moved_at(A) is None


def test_a_move_before_the_window_does_not_count_as_the_group_committing() -> None:
    history = LagHistory(size=2)
    # A moved into its current offset at t=1, the first observation of the final window.
    feed(history, {A: (0, 20), B: (0, 20)}, {A: (5, 20), B: (0, 20)}, {A: (5, 20), B: (0, 20)})
    verdict = history.evaluate()
    assert verdict.partitions[B].status is Status.STOP


def test_window_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LagHistory(size=0)


class _Reader:
    """Stands in for OffsetReader: the report is made up, no broker is asked."""

    def __init__(self, *args: object) -> None: ...

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *args: object) -> None: ...


@pytest.mark.parametrize(
    ("status", "code"),
    [("OK", 0), ("WARN", 1), ("STALL", 1), ("STOP", 1), ("ERR", 1)],
)
def test_stream_lag_exits_1_for_every_status_but_ok(monkeypatch, capsys, status, code) -> None:
    """Exit 2 means a usage error; any status but OK is a problem found, exit 1."""
    report = lag_cmd.LagReport("g", status, "2024-01-01T00:00:00+00:00", 2, 1.0, [])
    monkeypatch.setattr(lag_cmd, "OffsetReader", _Reader)
    monkeypatch.setattr(lag_cmd, "_observe", lambda *args: report)
    assert main(["lag", "--json"]) == code
    assert f'"status":"{status}"' in capsys.readouterr().out
