from types import SimpleNamespace

from stream.tools import bench

HANDLER = 'segmentation_processing_seconds_{}{{operation="event"}}'


def test_a_run_done_at_the_first_poll_waits_for_the_handler_time_of_its_fetch(monkeypatch):
    # The worker counts a fetch's events a moment before it records the time it took.
    monkeypatch.setattr(bench, "POLL_S", 0.0)
    polls = iter(
        [
            {"segmentation_processed_events_total": 3000.0},
            {"segmentation_processed_events_total": 3000.0},
            {
                "segmentation_processed_events_total": 3000.0,
                HANDLER.format("sum"): 0.5,
                HANDLER.format("count"): 1.0,
            },
        ]
    )
    worker = SimpleNamespace(metrics=lambda: next(polls), log_path="worker.log")
    starting = SimpleNamespace(done=lambda: False)
    figures = bench.measure_pipeline(worker, starting, expected=3000, timeout=10)
    assert figures.events_per_s == 6000
    assert figures.batches == 1
