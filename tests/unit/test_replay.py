"""What replay tells while it reads and checks a file (the sending needs a broker)."""

from stream.cli import main
from stream.kafka import BrokerUnavailable
from stream.tools import history, replay


def test_checking_reports_the_rejections_once_it_has_started(tmp_path, capsys, monkeypatch):
    # The reader streams, so its message and the checking's fall due together at every mark:
    # the reader's came first and took every turn, and no rejection count was ever shown.
    monkeypatch.setattr(history, "PROGRESS_LINES", 2)
    monkeypatch.setattr(replay, "PROGRESS_LINES", 2)
    monkeypatch.setattr(replay, "PROGRESS_EVERY_S", 0.0)

    def no_broker(*args):
        raise BrokerUnavailable("not in this test")

    monkeypatch.setattr(replay, "ensure_topics", no_broker)
    rows = [f"c{n},2024-01-0{n},{'ten' if n == 3 else n}\n" for n in range(1, 8)]
    path = tmp_path / "shop.csv"
    path.write_text("customer_id,ts,amount\n" + "".join(rows))
    main(["replay", str(path)])
    told = [
        line.removeprefix("stream replay: ")
        for line in capsys.readouterr().err.splitlines()
        if line.startswith(("stream replay: read", "stream replay: checked"))
    ]
    assert told == [
        "read 2 lines",
        "checked 2 lines, 0 rejected",
        "checked 4 lines, 1 rejected",
        "checked 6 lines, 1 rejected",
    ]
