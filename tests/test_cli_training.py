"""train / backtest / models list / promote from the command line, against a throwaway SQLite MLflow store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from serving.kpis import KPI_KEYS
from tests.support import FAST, assert_one_line_error, run, store


@pytest.fixture(scope="module")
def trained(generated_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("mlflow")
    result = run("train", "--data", str(generated_dir), *FAST, *store(tmp))
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp, result.stdout


@pytest.mark.slow
def test_train_registers_both_models_as_champions(trained: tuple[Path, str]) -> None:
    tmp, stdout = trained
    assert "partner-churn-deactivation-risk v1: champion" in stdout
    assert "partner-churn-upgrade-potential v1: champion" in stdout
    assert "MLflow run " in stdout
    for scorer in ("model", "recency_rule", "logistic_rfm", "oracle"):
        assert scorer in stdout
    table = pd.read_csv(next((tmp / "reports").glob("backtest-*.csv")))
    assert {"roc_auc", "ece", "precision_top10", "revenue_share_top10"} <= set(table.columns)


@pytest.mark.slow
def test_gate_refusal_exits_one_and_keeps_the_champion(trained: tuple[Path, str], generated_dir: Path) -> None:
    tmp, _ = trained
    refused = run("train", "--data", str(generated_dir), *FAST, *store(tmp), "--set", "training.promotion_min_gain_over_recency=0.9")
    assert refused.returncode == 1, refused.stderr[-2000:]
    assert "Traceback" not in refused.stderr
    assert "v2: challenger" in refused.stdout and "the gate needs +0.900" in refused.stdout
    assert (
        "to use it anyway: partner-churn promote partner-churn-deactivation-risk 2 --reason '...', or score with --model-version risk=2"
        in refused.stdout
    )
    assert "in use now: pair 1: deactivation_risk v1, upgrade_potential v1" in refused.stderr
    listed = run("models", "list", *store(tmp))
    assert listed.returncode == 0
    risk = [line for line in listed.stdout.splitlines() if line.startswith("partner-churn-deactivation-risk")]
    assert any(" 1 " in line and "champion" in line for line in risk), listed.stdout
    assert any(" 2 " in line and "challenger" in line for line in risk), listed.stdout

    promoted = run("promote", "partner-churn-deactivation-risk", "2", "--reason", "reviewed by hand", *store(tmp))
    assert promoted.returncode == 0, promoted.stderr
    listed = run("models", "list", *store(tmp))
    risk = [line for line in listed.stdout.splitlines() if line.startswith("partner-churn-deactivation-risk")]
    assert any(" 2 " in line and "champion" in line for line in risk), listed.stdout
    assert "in force: pair 2: deactivation_risk v2, upgrade_potential v1" in promoted.stdout

    rolled = run("rollback", "--reason", "v2 misbehaves", *store(tmp))
    assert rolled.returncode == 0, rolled.stderr
    assert rolled.stdout.strip() == "in force: pair 3: deactivation_risk v1, upgrade_potential v1 (rollback recorded: v2 misbehaves)"
    pairs = run("models", "pairs", *store(tmp))
    assert pairs.returncode == 0, pairs.stderr
    rows = [line.split() for line in pairs.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == ["3", "2", "1"] and rows[0][1] == "yes"
    assert rows[0][2:4] == ["v1", "v1"] and rows[1][1:3] == ["v2", "v1"] and rows[2][1:3] == ["v1", "v1"]  # in_force is blank below the first
    assert [next(word for word in row if word in ("gate", "promote", "rollback")) for row in rows] == ["rollback", "promote", "gate"]
    assert_one_line_error(run("rollback", "--reason", "x", "--to", "7", *store(tmp)), "no pair record 7 (pairs: 1, 2, 3")


@pytest.mark.slow
def test_a_store_another_process_holds_locked_fails_in_one_line_after_the_configured_wait(trained: tuple[Path, str]) -> None:
    import sqlite3

    tmp, _ = trained
    holder = sqlite3.connect(tmp / "mlflow.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of a write
    try:
        started = time.monotonic()
        locked = run("models", "list", *store(tmp), "--set", "paths.mlflow_store_wait_seconds=1")
        waited = time.monotonic() - started
        assert_one_line_error(locked, "the MLflow tracking store failed: database is locked", "waited paths.mlflow_store_wait_seconds")
        longer = run("models", "list", *store(tmp), "--set", "paths.mlflow_store_wait_seconds=6")
        assert_one_line_error(longer, "database is locked")
        assert time.monotonic() - started - waited >= waited + 4  # the configured wait is what bounds it
    finally:
        holder.rollback()
        holder.close()
    assert run("models", "list", *store(tmp)).returncode == 0  # released: the same command works


@pytest.mark.slow
def test_unknown_version_and_unreachable_tracking_are_clear_errors(trained: tuple[Path, str], generated_dir: Path) -> None:
    tmp, _ = trained
    assert_one_line_error(run("promote", "partner-churn-deactivation-risk", "99", "--reason", "x", *store(tmp)), "no version 99")
    started = time.monotonic()
    result = run("train", "--data", str(generated_dir), "--set", "paths.mlflow_tracking_uri=http://127.0.0.1:9")
    assert time.monotonic() - started < 60
    assert_one_line_error(result, "unreachable")


@pytest.mark.slow
def test_too_few_positive_labels_is_one_clear_line(generated_dir: Path, tmp_path: Path) -> None:
    result = run("backtest", "--data", str(generated_dir), *store(tmp_path), "--set", "training.min_positive_labels=100000")
    assert_one_line_error(result, "positive", "training.min_positive_labels")


@pytest.mark.slow
def test_score_writes_the_risk_list_and_refuses_an_unknown_version(trained: tuple[Path, str], generated_dir: Path) -> None:
    tmp, _ = trained
    scores = ["--set", f"paths.output_dir={tmp}/scores"]
    result = run("score", "--data", str(generated_dir), "--as-of", "2026-07-01", *store(tmp), *scores)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "scored 5,000 partners as of 2026-07-01" in result.stdout
    risk_list = pd.read_csv(tmp / "scores" / "2026-07-01" / "risk_list.csv")
    assert len(risk_list) == 5_000 and risk_list["value_at_risk"].is_monotonic_decreasing
    report = (tmp / "scores" / "2026-07-01" / "report.en.html").read_text(encoding="utf-8")
    assert risk_list["partner_id"].iloc[0] in report and "http://" not in report and "https://" not in report
    kpis = json.loads((tmp / "scores" / "2026-07-01" / "kpis.json").read_text(encoding="utf-8"))  # strict JSON: no NaN
    manifest = json.loads((tmp / "scores" / "2026-07-01" / "scoring.json").read_text(encoding="utf-8"))
    assert set(kpis["kpis"]) == set(KPI_KEYS) and kpis["kpis"]["active_partners"]["value"] == manifest["active_partners"]
    assert [len(figure["trend"]) for figure in kpis["kpis"].values()] == [7] * len(KPI_KEYS) and kpis["kpis"]["partner_ltv"]["value"] > 0
    assert kpis["kpis"]["partner_ltv"]["month_ago"] is None  # no scoring a month earlier in this history
    assert {row["group"] for row in kpis["ltv_by_segment"]} == {"star", "workhorse", "newbie", "sleeper"}
    ru = run("score", "--data", str(generated_dir), "--as-of", "2026-07-02", "--lang", "ru", *store(tmp), *scores)
    assert ru.returncode == 0, ru.stderr[-2000:]
    assert "previous scoring 2026-07-01" in ru.stdout
    assert {"report.ru.html", "risk_list.ru.xlsx"} <= {f.name for f in (tmp / "scores" / "2026-07-02").iterdir()}
    bad = run("score", "--data", str(generated_dir), "--as-of", "2026-07-01", "--model-version", "99", *store(tmp), *scores)
    assert_one_line_error(bad, "no version 99")

    # While another scoring of a date runs (it holds the date's lock), a second refuses at once.
    import fcntl

    with open(tmp / "scores" / ".2026-07-03.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        started = time.monotonic()
        second = run("score", "--data", str(generated_dir), "--as-of", "2026-07-03", *store(tmp), *scores)
        assert time.monotonic() - started < 30
    assert_one_line_error(second, "another scoring of 2026-07-03 is running")
    assert not (tmp / "scores" / "2026-07-03").exists()


@pytest.mark.slow
def test_retrain_for_schedulers_trains_only_when_called_for_and_says_so_in_exit_codes(tmp_path: Path) -> None:
    """No champion -> trained and promoted (0); fresh champions, no saved scoring to judge -> nothing to do (0);
    stale champions and a gate the new models cannot pass -> challenger kept (1); a missing data folder -> one line (2)."""
    from synthetic.program import generate_program, write_program

    data = tmp_path / "program"  # small, so the two trainings stay quick
    write_program(generate_program(1_500, 15, seed=5), data)
    scores = ["--set", f"paths.output_dir={tmp_path}/scores"]
    first = run("retrain", "--data", str(data), *FAST, *store(tmp_path), *scores)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "retraining: deactivation_risk has no champion; upgrade_potential has no champion" in first.stderr
    summary = first.stdout.strip().splitlines()[-1]
    assert summary.startswith("retrain: promoted deactivation_risk v1, upgrade_potential v1 (because ")
    assert "in use: pair 1: deactivation_risk v1, upgrade_potential v1" in summary

    quiet = run("retrain", "--data", str(data), *FAST, *store(tmp_path), *scores)
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert "monitor: not judged: no scorings in" in quiet.stdout
    assert quiet.stdout.strip().splitlines()[-1].startswith("retrain: nothing to do: the champions are fresh")

    # Two months more of the program: the champions' labels now end about two months before its last event.
    later = tmp_path / "later"
    write_program(generate_program(1_500, 17, seed=5), later)
    kept = run("retrain", "--data", str(later), *FAST, *store(tmp_path), *scores, "--set", "training.promotion_min_gain_over_recency=0.9")
    assert kept.returncode == 1, kept.stderr[-3000:]
    assert "Traceback" not in kept.stderr
    line = kept.stdout.strip().splitlines()[-1]
    assert line.startswith("retrain: challenger kept: deactivation_risk v2")  # potential: kept, or not trained on this program
    assert "(because deactivation_risk champion v1 learned from labels through " in line
    assert "days before the data's last event (more than scoring.max_model_age_days, 45)" in line
    assert "in use: pair 1: deactivation_risk v1, upgrade_potential v1" in line

    assert_one_line_error(run("retrain", "--data", str(tmp_path / "missing"), *store(tmp_path), *scores), "missing")
    assert_one_line_error(run("retrain", "--force", "--data", str(tmp_path / "missing"), *store(tmp_path), *scores), "missing")

    # A damaged champion (a truncated booster, garbage model.json) stops a scoring in one line, not a traceback,
    # and never scores with the other model alone as if nothing happened.
    boosters = sorted((tmp_path / "artifacts").rglob("booster.txt"))
    assert boosters, "setup: no model files found"
    for booster in boosters:
        booster.write_text(booster.read_text()[:500])
        (booster.parent / "model.json").write_text("{garbage")
    damaged = run("score", "--data", str(data), "--as-of", "2026-04-01", *store(tmp_path), *scores)
    assert_one_line_error(damaged, "cannot be loaded", "missing or damaged", "retrain, or promote or pin a version that loads")
    assert_one_line_error(run("serve", *store(tmp_path), "--port", "3999"), "cannot be loaded", "missing or damaged")
    for booster in boosters:  # the model files gone altogether
        for file in booster.parent.iterdir():
            file.unlink()
    missing = run("score", "--data", str(data), "--as-of", "2026-04-01", *store(tmp_path), *scores)
    assert_one_line_error(missing, "cannot be loaded", "missing or damaged")
