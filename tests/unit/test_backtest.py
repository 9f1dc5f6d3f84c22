"""The backtest on a generated shop: the scores, changes and figures are sane and
deterministic; the evaluation's measures and the BG/NBD fit are right on known answers."""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest

from schemas.outputs import ChurnRisk, SegmentChange
from stream.cli import main
from stream.core.churn import BANDS
from stream.core.segments import rfm_segment
from stream.tools import backtest as backtest_command
from stream.tools import history
from stream.tools.backtest import SCORE_COLUMNS
from stream.tools.evaluation import BgNbd, Hits, Repeats, roc_auc, top
from stream.tools.generate import generate, write_jsonl

CUTOFF = datetime(2024, 7, 1, tzinfo=UTC)
HORIZON = timedelta(days=90)
ARGS = ["--cutoff", "2024-07-01"]


def backtest(path, out, *extra):
    """Run ``stream backtest`` writing into ``out``; its stdout as text."""
    out.mkdir(exist_ok=True)
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(stdout):
        code = main(
            [
                "backtest",
                str(path),
                *ARGS,
                "--scores-out",
                str(out / "scores.csv"),
                "--changes-out",
                str(out / "changes.jsonl"),
                *extra,
            ]
        )
        stdout.flush()
    assert code == 0
    return stdout.buffer.getvalue().decode()


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    workload = generate(customers=500, events=7000, days=300, seed=5)
    path = tmp_path_factory.mktemp("shop") / "shop.jsonl"
    with path.open("wb") as out:
        write_jsonl(workload.events, out)
    return workload, path


@pytest.fixture(scope="module")
def run(shop, tmp_path_factory):
    _, path = shop
    out = tmp_path_factory.mktemp("run")
    report = orjson.loads(backtest(path, out / "a", "--json"))
    return out, report


def _scores(path):
    with path.open() as file:
        return list(csv.DictReader(file))


def test_scores_have_one_row_per_customer_seen_before_the_cutoff(shop, run):
    workload, _ = shop
    out, report = run
    rows = _scores(out / "a" / "scores.csv")
    assert list(rows[0]) == list(SCORE_COLUMNS)
    before = [e for e in workload.events if datetime.fromisoformat(e["ts"]) < CUTOFF]
    assert [r["customer_id"] for r in rows] == sorted({e["customer_id"] for e in before})
    assert report["customers"] == len(rows)
    buyers = {e["customer_id"] for e in before if e["event_type"] == "purchase"}
    for row in rows:
        if row["customer_id"] in buyers:
            assert 0.0 <= float(row["churn_probability"]) <= 1.0
            assert row["churn_band"] in BANDS
            scores = [int(row[k]) for k in ("r_score", "f_score", "m_score")]
            assert all(1 <= s <= 5 for s in scores)
            assert row["rfm_segment"] == rfm_segment(scores[0], scores[1])
            assert row["value_tier"] in ("vip", "major", "ordinary", "small")
        else:
            assert row["lifecycle_stage"] == "prospect"
            assert row["churn_probability"] == row["r_score"] == row["rfm_segment"] == ""


def test_changes_are_the_workers_output_events(run):
    out, report = run
    lines = (out / "a" / "changes.jsonl").read_bytes().splitlines()
    kinds = {"segment_changes": 0, "churn_risk": 0}
    for line in lines:
        raw = orjson.loads(line)
        if "dimension" in raw:
            change = SegmentChange.model_validate_json(line)
            assert change.from_ != change.to
            kinds["segment_changes"] += 1
        else:
            ChurnRisk.model_validate_json(line)
            kinds["churn_risk"] += 1
        assert datetime.fromisoformat(raw["ts"]) <= CUTOFF
    assert kinds == report["outputs"] and all(kinds.values())
    assert len({orjson.loads(line)["event_id"] for line in lines}) == len(lines)


def test_figures_are_sane_and_match_the_file(shop, run):
    workload, _ = shop
    _, report = run
    purchases = [
        (e["customer_id"], datetime.fromisoformat(e["ts"]))
        for e in workload.events
        if e["event_type"] == "purchase"
    ]
    buyers = {c for c, ts in purchases if ts < CUTOFF}
    returned = {c for c, ts in purchases if CUTOFF <= ts < CUTOFF + HORIZON}
    figures = report["evaluation"]
    assert figures["buyers"] == len(buyers)
    assert figures["churned"] == len(buyers - returned)
    assert report["history_events"] == sum(
        datetime.fromisoformat(e["ts"]) < CUTOFF for e in workload.events
    )
    assert report["horizon_complete"] and report["rejected"]["total"] == 0
    ours = figures["churn_probability"]
    assert 0.0 <= ours["auc"] <= 1.0
    # Planted fading and one-off customers go silent and stay silent: silence finds them, and
    # so do the lifecycle stages that follow it.
    assert figures["recency"]["auc"] > 0.7 and figures["bgnbd"]["auc"] > 0.6
    assert ours["declining_or_churned"]["precision"] > figures["churn_rate"]
    for hits in (ours["high_band"], ours["declining_or_churned"], figures["recency"]):
        assert 0 < hits["flagged"] <= len(buyers)
        assert 0.0 <= hits["precision"] <= 1.0 and 0.0 <= hits["recall"] <= 1.0
    assert figures["recency"]["flagged"] >= ours["high_band"]["flagged"]
    speed = report["speed"]
    assert speed["parse_events_per_s"] > 0 and speed["engine_events_per_s"] > 0
    assert speed["core_events_per_s"] < min(
        speed["parse_events_per_s"], speed["engine_events_per_s"]
    )


def test_the_report_accounts_for_every_line_read(shop, tmp_path):
    workload, path = shop
    bad = tmp_path / "bad.jsonl"
    first, rest = path.read_bytes().split(b"\n", 1)
    bad.write_bytes(b"\n".join([first, b"not json", rest + b'{"event_type": "purchase"}\n']))
    report = orjson.loads(backtest(bad, tmp_path / "out", "--json"))
    after = sum(datetime.fromisoformat(e["ts"]) >= CUTOFF for e in workload.events)
    assert report["after_cutoff_events"] == after > 0
    assert report["rejected"]["total"] == 2
    assert report["rows"] == report["rejected"]["total"] + report["history_events"] + after
    assert f"from the cutoff on: {after} events" in backtest_command.format_report(report)


def test_a_second_run_writes_identical_files_and_figures(shop, run):
    _, path = shop
    out, report = run
    again = orjson.loads(backtest(path, out / "b", "--json"))
    for name in ("scores.csv", "changes.jsonl"):
        assert (out / "a" / name).read_bytes() == (out / "b" / name).read_bytes()
    assert again["evaluation"] == report["evaluation"]


def test_the_text_report_names_every_ranking(shop, tmp_path):
    _, path = shop
    text = backtest(path, tmp_path / "text")
    for expected in ("events/s", "band high", "declining or churned", "recency", "BG/NBD"):
        assert expected in text


def test_a_horizon_past_the_end_of_the_file_is_flagged(shop, tmp_path, capsys):
    _, path = shop
    report = orjson.loads(backtest(path, tmp_path / "late", "--json", "--horizon-days", "200"))
    assert not report["horizon_complete"] and report["horizon_days"] == 200
    assert "ends before the horizon" in capsys.readouterr().err


def test_changes_can_go_to_standard_output_with_the_report_and_progress_beside_them(
    shop, run, capsys, monkeypatch
):
    _, path = shop
    out, report = run
    monkeypatch.setattr(backtest_command, "PROGRESS_EVERY_S", 0.0)
    capsys.readouterr()
    assert main(["backtest", str(path), *ARGS, "--changes-out", "-", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.out.encode() == (out / "a" / "changes.jsonl").read_bytes()
    assert "events before the cutoff" in captured.err
    assert orjson.loads(captured.err[captured.err.index("{") :])["outputs"] == report["outputs"]


def test_reading_and_checking_a_large_file_show_progress(shop, capsys, monkeypatch):
    _, path = shop
    monkeypatch.setattr(backtest_command, "PROGRESS_EVERY_S", 0.0)
    monkeypatch.setattr(backtest_command, "PROGRESS_LINES", 3000)
    monkeypatch.setattr(history, "PROGRESS_LINES", 3000)
    assert main(["backtest", str(path), *ARGS, "--json"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[:5] == [
        "stream backtest: read 3,000 lines",
        "stream backtest: read 6,000 lines",
        "stream backtest: checking the events: 3,000/7,000",
        "stream backtest: checking the events: 6,000/7,000",
        "stream backtest: shop.jsonl: 7,000 lines, 0 rejected; running the engine",
    ]


def test_only_one_output_can_be_standard_output(shop, capsys):
    _, path = shop
    argv = ["backtest", str(path), *ARGS, "--changes-out", "-", "--scores-out", "-"]
    assert main(argv) == 2
    assert "only one output can be '-'" in capsys.readouterr().err


def test_spends_in_several_currencies_added_up_are_reported(tmp_path, capsys):
    lines = [
        {"event_id": f"e{day}", "customer_id": f"c{day % 3}", "order_id": f"o{day}",
         "ts": f"2024-01-{day:02d}T10:00:00Z", "amount": 10, "currency": currency}
        for day, currency in [(1, "EUR"), (2, "USD"), (3, "EUR"), (20, "EUR")]
    ]  # fmt: skip
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    assert main(["backtest", str(path), "--cutoff", "2024-01-10", "--json"]) == 0
    out, err = capsys.readouterr()
    assert orjson.loads(out)["added_up_currencies"] == ["EUR", "USD"]
    assert "warning: spends in EUR, USD were added up as if one currency" in err


def test_line_items_are_counted_as_orders(tmp_path, capsys):
    path = tmp_path / "lines.csv"
    path.write_text(
        "order,customer_id,ts,amount\n"
        "o1,c1,2024-01-01,5\no1,c1,2024-01-01,7\no2,c1,2024-01-05,1\n"
        "o2,c1,2024-01-05,x\no3,c1,2024-02-01,2\no3,c1,2024-02-01,2\n"
    )
    changes = tmp_path / "changes.jsonl"
    argv = ["backtest", str(path), "--order-col", "order", "--cutoff", "2024-01-10"]
    assert main([*argv, "--changes-out", str(changes), "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["rows"] == 6 and report["rejected"]["total"] == 1
    assert (report["history_events"], report["after_cutoff_events"]) == (2, 1)
    assert report["merged_lines"] == 2
    outputs = [orjson.loads(line) for line in changes.read_bytes().splitlines()]
    last = [output for output in outputs if "dimension" in output][-1]
    assert (last["frequency"], last["monetary"]) == (2, 13.0)
    assert "6 lines, 1 rejected, 2 summed into the order of an earlier line" in (
        backtest_command.format_report(report)
    )


def test_the_text_report_shows_a_figure_the_data_cannot_give_as_a_dash(run):
    _, report = run
    report = copy.deepcopy(report)
    report["evaluation"]["bgnbd"]["auc_expected_purchases"] = math.nan
    assert "AUC by expected purchases -" in backtest_command.format_report(report)


# -- the measures ---------------------------------------------------------------------------


def test_roc_auc_counts_ties_as_half_and_needs_both_classes():
    assert roc_auc([0.9, 0.8, 0.3, 0.1], [True, False, True, False]) == 0.75
    assert roc_auc([3, 2, 1], [True, True, False]) == 1.0
    assert roc_auc([1, 1, 1, 1], [True, False, True, False]) == 0.5
    assert roc_auc([1, 2], [True, True]) is None


def test_hits_and_top_flag_ties_at_the_threshold():
    churned = np.array([True, True, False, False, True])
    assert Hits.of(np.array([True, False, True, False, False]), churned) == Hits(2, 0.5, 1 / 3)
    assert Hits.of(np.zeros(5, dtype=bool), churned) == Hits(0, None, 0.0)
    flags, threshold = top(np.array([5.0, 3.0, 3.0, 1.0, 0.0]), 2)
    assert threshold == 3.0 and flags.tolist() == [True, True, True, False, False]


def _simulate_bgnbd(r, alpha, a, b, customers, days, rng):
    """Customers observed for ``days`` after their first purchase, per the BG/NBD story."""
    x, t_x = np.zeros(customers), np.zeros(customers)
    for i in range(customers):
        rate, dropout = rng.gamma(r, 1 / alpha), rng.beta(a, b)
        t = 0.0
        while True:  # purchases until the period ends or the customer drops out after one
            t += rng.exponential(1 / rate)
            if t > days:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < dropout:
                break
    return Repeats(x, t_x, np.full(customers, float(days)))


def test_bgnbd_recovers_the_parameters_it_was_simulated_with():
    history = _simulate_bgnbd(0.8, 20.0, 0.6, 2.5, 4000, 300, np.random.default_rng(1))
    model = BgNbd.fit(history)
    assert model.r == pytest.approx(0.8, rel=0.15)
    assert model.alpha == pytest.approx(20.0, rel=0.2)
    assert model.a == pytest.approx(0.6, rel=0.3)
    assert model.b == pytest.approx(2.5, rel=0.4)
    alive = model.p_alive(history)
    assert np.all(alive[history.x == 0] == 1.0) and np.all((alive > 0) & (alive <= 1))
    quiet = model.p_no_purchase(history, 90)
    assert np.all((quiet >= 1 - alive) & (quiet <= 1))
    expected = model.expected_purchases(history, 90)
    assert np.all(expected > 0)
    # More purchases recently: fewer expected quiet customers, more expected purchases.
    busy = Repeats(np.array([10.0]), np.array([295.0]), np.array([300.0]))
    idle = Repeats(np.array([10.0]), np.array([50.0]), np.array([300.0]))
    assert model.p_no_purchase(busy, 90)[0] < model.p_no_purchase(idle, 90)[0]
    assert model.expected_purchases(busy, 90)[0] > model.expected_purchases(idle, 90)[0]


def test_the_readme_and_the_help_list_the_score_columns(capsys):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert ", ".join(f"`{name}`" for name in SCORE_COLUMNS) in readme
    with pytest.raises(SystemExit):
        main(["backtest", "--help"])
    assert ", ".join(SCORE_COLUMNS) in " ".join(capsys.readouterr().out.split())
