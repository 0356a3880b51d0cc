"""The CLI end to end (in process, through the console script's entry point; one check as its own process): the happy path, and bad input as one line on stderr with exit 2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.support import assert_one_line_error, run, run_process


@pytest.mark.slow
def test_generate_validate_summary(tmp_path: Path) -> None:
    out = tmp_path / "program"
    generated = run("generate", "--partners", "600", "--months", "8", "--seed", "5", "--out", str(out))
    assert generated.returncode == 0, generated.stderr
    assert "generated 600 partners" in generated.stdout
    assert {p.name for p in out.iterdir()} == {"partners.parquet", "events.parquet", "actions.parquet", "latent.parquet", "surveys.parquet"}

    validated = run("validate", "--data", str(out))
    assert validated.returncode == 0, validated.stderr
    assert validated.stdout.startswith(f"ok: {out} meets the contract: 600 partners")

    summary = run("summary", "--data", str(out))
    assert summary.returncode == 0, summary.stderr
    assert "program as of 2025-09-01 00:00 UTC" in summary.stdout
    for heading in ("partners signed up", "active partners (30d)", "revenue share of top 5%", "events by type:", "sleeper"):
        assert heading in summary.stdout
    events = pd.read_parquet(out / "events.parquet")
    assert f"{len(events):,}" in summary.stdout


def test_summary_gives_the_nps_of_the_latest_answers_and_validate_checks_surveys(tmp_path: Path) -> None:
    partners = [f"p{i}" for i in range(1, 7)]
    pd.DataFrame({"partner_id": partners, "signup_at": ["2025-01-01"] * 6}).to_csv(tmp_path / "partners.csv", index=False)
    pd.DataFrame({"partner_id": partners, "ts": ["2025-05-20"] * 6, "event_type": ["login"] * 6}).to_csv(tmp_path / "events.csv", index=False)
    surveys = pd.DataFrame(
        {
            "partner_id": ["p1", "p2", "p3", "p3", "p4", "p5", "p6"],
            "ts": ["2025-05-01", "2025-05-02", "2025-04-01", "2025-05-10", "2025-05-03", "2025-02-01", "2025-05-04"],
            # p3's latest is 4 (a detractor, not its older 10); p5 answered more than 90 days before: not counted
            "score": ["10", "9", "10", "4", "7", "0", "2"],
        }
    )
    surveys.to_csv(tmp_path / "surveys.csv", index=False)
    validated = run("validate", "--data", str(tmp_path), "--as-of", "2025-06-01")
    assert validated.returncode == 0 and validated.stdout.rstrip().endswith("6 events, 0 actions, 7 survey answers")
    summary = run("summary", "--data", str(tmp_path), "--as-of", "2025-06-01", "--set", f"paths.output_dir={tmp_path / 'scores'}")
    assert summary.returncode == 0, summary.stderr
    lines = summary.stdout.splitlines()
    nps = lines[lines.index(next(line for line in lines if line.startswith("  partner NPS"))) + 1].split()
    assert nps == ["all", "5", "+0"]  # 2 promoters (p1, p2), 2 detractors (p3, p6), 1 passive (p4) of 5: 40% - 40%
    # Its trend: on 2025-05-02 the latest answers were p1's 10, p3's 10 and p5's 0 (+33); on 2025-03-03 p5's 0 alone (-100).
    assert next(line for line in lines if line.startswith("    partner NPS")).split() == ["partner", "NPS", "+0", "+33", "-100"]
    assert next(line for line in lines if line.startswith("    partner LTV")).split() == ["partner", "LTV", "-", "-", "-"]  # no scoring
    surveys.loc[1, "score"] = "9 of 10"
    surveys.to_csv(tmp_path / "surveys.csv", index=False)
    assert_one_line_error(run("validate", "--data", str(tmp_path), "--as-of", "2025-06-01"), "surveys.csv", "'score'", "non-numeric score", "row 2")


@pytest.mark.slow
def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    pd.DataFrame({"partner_id": ["a", "b"], "signup_at": ["2025-01-01", "2025-01-02"]}).to_csv(tmp_path / "partners.csv", index=False)
    pd.DataFrame({"partner_id": ["a", "b"], "ts": ["2025-02-01", "2025-02-02"], "event_type": ["click", "sale"], "amount": ["0", "-5"]}).to_csv(
        tmp_path / "events.csv", index=False
    )
    result = run("validate", "--data", str(tmp_path), "--as-of", "2025-06-01")
    assert_one_line_error(result, "events.csv", "'amount'", "negative", "row 2")


@pytest.mark.slow
def test_lenient_quarantines_and_goes_on(tmp_path: Path) -> None:
    pd.DataFrame({"partner_id": ["a", "b"], "signup_at": ["2025-01-01", "2025-01-02"]}).to_csv(tmp_path / "partners.csv", index=False)
    pd.DataFrame(
        {"partner_id": ["a", "b", "zz"], "ts": ["2025-02-01"] * 3, "event_type": ["click", "sale", "click"], "amount": ["0", "10", "0"]}
    ).to_csv(tmp_path / "events.csv", index=False)
    quarantine = tmp_path / "q"
    result = run(
        "validate",
        "--data",
        str(tmp_path),
        "--as-of",
        "2025-06-01",
        "--lenient",
        "--set",
        f"paths.quarantine_dir={quarantine}",
        "--set",
        "data.max_quarantine_share=0.5",  # 1 of 3 events: over the 5% default bar, which its own test checks
    )
    assert result.returncode == 0, result.stderr
    assert "2 events" in result.stdout
    assert "quarantined: events: 1 rows" in result.stderr
    assert len(pd.read_csv(quarantine / "events.quarantine.csv")) == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["validate", "--data", "/nonexistent/folder"], ["/nonexistent/folder", "not found"]),
        (["validate", "--data", ".", "--as-of", "not-a-date"], ["--as-of", "not-a-date"]),
        (["config", "show", "--set", "labels.horizn_days=3"], ["unknown key 'labels.horizn_days'"]),
    ],
)
def test_bad_options_are_one_clear_line(args: list[str], fragments: list[str]) -> None:
    assert_one_line_error(run(*args), *fragments)


def test_config_show_prints_effective_values_with_comments() -> None:
    result = run("config", "show", "--set", "labels.horizon_days=45", env={"PARTNER_CHURN__SERVING__PORT": "3100"})
    assert result.returncode == 0, result.stderr
    assert "  horizon_days: 45" in result.stdout
    assert "  port: 3100" in result.stdout
    assert "# H: labels look at events in [t, t + H)." in result.stdout


@pytest.mark.slow
def test_features_command_writes_one_row_per_partner_and_cutoff(tmp_path: Path) -> None:
    out = tmp_path / "program"
    assert run("generate", "--partners", "300", "--months", "6", "--seed", "2", "--out", str(out)).returncode == 0
    target = tmp_path / "features.parquet"
    result = run("features", "--data", str(out), "--as-of", "2025-04-01", "--as-of", "2025-06-01", "--out", str(target))
    assert result.returncode == 0, result.stderr
    frame = pd.read_parquet(target)
    partners = pd.read_parquet(out / "partners.parquet")
    expected = sum(int((partners["signup_at"] < pd.Timestamp(c, tz="UTC")).sum()) for c in ("2025-04-01", "2025-06-01"))
    assert len(frame) == expected
    assert {"partner_id", "as_of", "tenure_days", "revenue_30d", "segment", "downgrade_warning"} <= set(frame.columns)
    assert f"wrote {expected:,} rows" in result.stdout


@pytest.mark.slow
def test_features_command_refuses_cutoffs_with_different_times_of_day(tmp_path: Path) -> None:
    out = tmp_path / "program"
    assert run("generate", "--partners", "50", "--months", "2", "--out", str(out)).returncode == 0
    result = run("features", "--data", str(out), "--as-of", "2025-02-01", "--as-of", "2025-02-10 10:00", "--out", str(tmp_path / "f.csv"))
    assert_one_line_error(result, "one time of day")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["score", "--asof", "2026-01-01"], ["No such option: --asof", "did you mean --as-of?", "partner-churn score --help"]),
        (["score"], ["Missing option '--as-of'"]),
        (["serve", "--port", "abc"], ["'--port'", "valid integer"]),
        (["generate", "--partners", "0", "--out", "x"], ["'--partners'", "greater than or equal to 1"]),
        (["frobnicate"], ["No such command 'frobnicate'"]),
        (["models"], ["'partner-churn models' needs a command: list"]),
        ([], ["'partner-churn' needs a command: backtest, config"]),
        (["monitor", "drift", "--bogus"], ["No such option: --bogus"]),
    ],
)
def test_usage_errors_are_one_line_and_exit_two(args: list[str], fragments: list[str]) -> None:
    assert_one_line_error(run(*args), *fragments)


def test_version_from_the_console_script_in_its_own_process() -> None:
    result = run_process("--version")
    assert result.returncode == 0 and result.stdout.startswith("partner-churn ") and result.stdout.strip().split()[1][0].isdigit()


@pytest.mark.parametrize(
    "failure, fragment",
    [
        ("locked", "the MLflow tracking store failed: database is locked"),
        ("read-only", "the MLflow tracking store failed: attempt to write a readonly database"),
        ("disk", "No space left on device: /work/mlflow.db"),
    ],
)
def test_a_broken_store_or_disk_is_one_line_and_exit_two(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, failure: str, fragment: str) -> None:
    """What MLflow raises on a locked or read-only SQLite store (a SQLAlchemy error wrapping sqlite3's) and
    a full disk reach the user as one line; a plain bug still shows its traceback."""
    import sqlite3

    import sqlalchemy.exc
    from mlflow.exceptions import MlflowException

    from training import registry

    def broken(config):  # noqa: ANN001, ANN202
        if failure == "disk":
            raise OSError(28, "No space left on device", "/work/mlflow.db")
        cause = sqlite3.OperationalError("database is locked" if failure == "locked" else "attempt to write a readonly database")
        try:
            raise sqlalchemy.exc.OperationalError("UPDATE registered_models", {}, cause)
        except sqlalchemy.exc.OperationalError as exc:
            raise MlflowException(f"(sqlite3.OperationalError) {cause}\n[SQL: UPDATE ...]") from exc

    monkeypatch.setattr(registry, "list_models", broken)
    result = run("models", "list", "--set", f"paths.mlflow_tracking_uri=sqlite:///{tmp_path}/m.db")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0], result.stderr

    monkeypatch.setattr(registry, "list_models", lambda config: 1 / 0)
    bug = run("models", "list")  # a bug is not dressed up as bad input: its traceback escapes main
    assert bug.returncode == 1 and "Traceback" in bug.stderr and bug.stderr.strip().endswith("ZeroDivisionError: division by zero")
