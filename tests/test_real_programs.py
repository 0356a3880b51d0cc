"""Programs we did not shape: a small clicks-and-sales export, and a non-default config end to end.

Each runs the command line as a user would (generate -> train -> score -> monitor) and the service's
scoring in process, and checks that every step names the same partners as active as a brute-force
count of the events does.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from partner_churn.config import load_config
from synthetic.program import generate_program
from tests.support import feature_record, run

ABSENT_WORDS = ("login", "lead", "link", "payout", "training", "webinar", "message", "вход", "заявк", "выплат")
"""Words of event types a clicks-and-sales program does not have (English and Russian)."""


def store_options(tmp: Path) -> list[str]:
    return [
        "--set",
        f"paths.mlflow_tracking_uri=sqlite:///{tmp}/mlflow.db",
        "--set",
        f"paths.mlflow_artifacts_dir={tmp}/artifacts",
        "--set",
        f"paths.reports_dir={tmp}/reports",
        "--set",
        f"paths.output_dir={tmp}/scores",
        "--set",
        f"paths.quarantine_dir={tmp}/quarantine",
    ]


def brute_force_active(events: pd.DataFrame, partners: pd.DataFrame, as_of: pd.Timestamp, window_days: int, qualifying: list[str]) -> set[str]:
    """Partners signed up before `as_of` with a qualifying event in [as_of - window, as_of), row by row."""
    signed = set(partners.loc[partners["signup_at"] < as_of, "partner_id"].astype(str))
    found = set()
    for partner_id, ts, event_type in zip(events["partner_id"].astype(str), events["ts"], events["event_type"].astype(str)):
        if event_type in qualifying and as_of - pd.Timedelta(days=window_days) <= ts < as_of:
            found.add(partner_id)
    return found & signed


# --------------------------------------------------------------------------- a clicks-and-sales export


@pytest.fixture(scope="module")
def clicks_and_sales(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """300 partners over 12 months, only `click` and `sale` events, as CSV files like a platform export."""
    program = generate_program(300, 12, seed=3)
    events = program.events.to_pandas()
    events = events[events["event_type"].astype(str).isin(["click", "sale"])]
    folder = tmp_path_factory.mktemp("clicks-and-sales")
    events = events[["partner_id", "ts", "event_type", "amount"]].assign(partner_id=lambda f: f["partner_id"].astype(str))
    partners = program.partners[["partner_id", "signup_at"]].assign(partner_id=lambda f: f["partner_id"].astype(str))
    partners.to_csv(folder / "partners.csv", index=False)
    events.assign(amount=np.where(events["event_type"] == "sale", events["amount"], np.nan)).to_csv(folder / "events.csv", index=False)
    partners["signup_at"] = pd.to_datetime(partners["signup_at"], utc=True)
    events["ts"] = pd.to_datetime(events["ts"], utc=True)
    return folder, partners, events


@pytest.fixture(scope="module")
def clicks_and_sales_trained(
    clicks_and_sales: tuple[Path, pd.DataFrame, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """`partner-churn train` on the clicks-and-sales export with the defaults, once for this module."""
    store = tmp_path_factory.mktemp("clicks-and-sales-store")
    return store, run("train", "--data", str(clicks_and_sales[0]), *store_options(store))


@pytest.mark.slow
def test_a_clicks_and_sales_program_trains_and_scores_with_the_defaults(
    clicks_and_sales: tuple[Path, pd.DataFrame, pd.DataFrame], clicks_and_sales_trained: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    folder, partners, events = clicks_and_sales
    tmp_path, trained = clicks_and_sales_trained
    options = store_options(tmp_path)
    # Too few upgrades in 300 partners for the potential model: risk is trained and promoted on its own.
    assert trained.returncode == 1, trained.stderr[-3000:]
    assert "partner-churn-deactivation-risk v1: champion" in trained.stdout
    assert "upgrade_potential: not trained: " in trained.stdout and "--set training.min_upgrade_labels=" in trained.stdout
    assert "in use now: pair 1: deactivation_risk v1, upgrade_potential none" in trained.stderr
    assert "fitted to the data" in trained.stderr  # the 12-month history is shorter than the configured plan
    assert "the data has no lead, link_created, login" in trained.stderr

    as_of = events["ts"].max().floor("D") + pd.Timedelta(days=1)
    scored = run("score", "--data", str(folder), "--as-of", f"{as_of:%Y-%m-%d}", *options)
    assert scored.returncode == 0, scored.stderr[-3000:]
    assert "upgrade_potential unavailable: no registered model 'partner-churn-upgrade-potential'" in scored.stderr
    risk_list = pd.read_parquet(tmp_path / "scores" / f"{as_of:%Y-%m-%d}" / "risk_list.parquet")
    active = brute_force_active(events, partners, as_of, 30, ["click", "sale"])
    assert len(active) > 20
    assert set(risk_list.loc[risk_list["deactivation_risk"].notna(), "partner_id"]) == active
    assert risk_list["upgrade_potential"].isna().all()
    assert set(risk_list["potential_band"]) == {"unavailable"}
    assert risk_list["model_version"].iloc[0] == "partner-churn-deactivation-risk:v1 partner-churn-upgrade-potential:unavailable"
    risks = risk_list["deactivation_risk"].dropna()
    assert ((risks > 0) & (risks < 1)).all()  # sigmoid calibration on few rows: no certainty from a step function
    reasons = " ".join(risk_list["reasons"].astype(str)).lower()
    assert reasons.strip()
    assert not [word for word in ABSENT_WORDS if word in reasons], [w for w in ABSENT_WORDS if w in reasons]
    report = (tmp_path / "scores" / f"{as_of:%Y-%m-%d}" / "report.en.html").read_text()
    assert "upgrade_potential: no registered model" in report  # the header says which model is missing and why
    first = json.loads(run("history", str(risk_list["partner_id"].iloc[0]), "--format", "json", *options).stdout)
    assert [row["potential_band"] for row in first] == ["unavailable"]  # the history keeps a missing model as such

    # The advice is exact: with the bar it names, the upgrade model trains on the same plan.
    advised = trained.stdout.split("--set training.min_upgrade_labels=")[1].split()[0]
    again = run("train", "--data", str(folder), *options, "--set", f"training.min_upgrade_labels={advised}")
    assert "upgrade_potential: not trained" not in again.stdout, again.stdout[-2000:]
    assert "partner-churn-upgrade-potential v1: " in again.stdout

    russian = run("score", "--data", str(folder), "--as-of", f"{as_of:%Y-%m-%d}", "--lang", "ru", *options)
    assert russian.returncode == 0, russian.stderr[-2000:]
    russian_reasons = " ".join(pd.read_parquet(tmp_path / "scores" / f"{as_of:%Y-%m-%d}" / "risk_list.parquet")["reasons"].astype(str)).lower()
    assert not [word for word in ABSENT_WORDS if word in russian_reasons]

    # The history holds the date once: the Russian rescoring (after the upgrade model's training) replaced the
    # English one, potential band and all.
    from tests.support import assert_one_line_error

    russian_list = pd.read_parquet(tmp_path / "scores" / f"{as_of:%Y-%m-%d}" / "risk_list.parquet").set_index("partner_id")
    partner = str(russian_list.index[0])
    shown = run("history", partner, "--lang", "ru", *options)
    assert shown.returncode == 0 and f"partner {partner}: 1 scoring(s)" in shown.stdout and as_of.strftime("%d.%m.%Y") in shown.stdout, shown.stderr
    rows = json.loads(run("history", partner, "--format", "json", *options).stdout)
    assert len(rows) == 1 and rows[0]["partner_id"] == partner and rows[0]["potential_band"] == russian_list.loc[partner, "potential_band"]
    assert rows[0]["risk_trend"] is None and rows[0]["previous_risk"] is None  # the first scoring compares with nothing
    assert_one_line_error(run("history", "nobody-here", *options), "partner 'nobody-here' is in none of the 1 scorings")
    assert_one_line_error(run("history", partner, "--format", "xml", *options), "--format 'xml': expected table, csv or json")


@pytest.mark.slow
def test_a_stale_export_and_a_date_before_the_data_are_refused(
    clicks_and_sales: tuple[Path, pd.DataFrame, pd.DataFrame], clicks_and_sales_trained: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    from tests.support import assert_one_line_error

    folder, _, events = clicks_and_sales
    tmp_path, trained = clicks_and_sales_trained
    assert trained.returncode == 1  # risk champion, potential not trained
    options = store_options(tmp_path)
    late = events["ts"].max().floor("D") + pd.Timedelta(days=30)
    stale = run("score", "--data", str(folder), "--as-of", f"{late:%Y-%m-%d}", *options)
    assert_one_line_error(stale, "days after the data's last event", "--allow-stale")
    assert not (tmp_path / "scores" / f"{late:%Y-%m-%d}").exists()  # a refused scoring leaves no folder behind
    forced = run("score", "--data", str(folder), "--as-of", f"{late:%Y-%m-%d}", "--allow-stale", *options)
    assert forced.returncode == 0, forced.stderr[-2000:]
    # 60 days after the last event nobody is active: written only when forced, and marked so that it is
    # never "the previous scoring" of a later date.
    nobody = late + pd.Timedelta(days=30)
    forced = run("score", "--data", str(folder), "--as-of", f"{nobody:%Y-%m-%d}", "--allow-stale", *options)
    assert forced.returncode == 0, forced.stderr[-2000:]
    manifest = json.loads((tmp_path / "scores" / f"{nobody:%Y-%m-%d}" / "scoring.json").read_text())
    assert manifest["active_partners"] == 0 and manifest["partners"] > 0
    from serving.history import entry_dates, previous_scoring
    from serving.outputs import scoring_dates

    assert previous_scoring(tmp_path / "scores", nobody + pd.Timedelta(days=7)).as_of == late
    dates = entry_dates(tmp_path / "scores")
    assert dates == scoring_dates(tmp_path / "scores") and dates[-1] == late  # the scoring of nobody has no entry
    assert nobody in scoring_dates(tmp_path / "scores", with_active_partners=False)
    early = run("score", "--data", str(folder), "--as-of", "2024-06-01", *options)
    assert_one_line_error(early, "not after the data's first event")
    monitor = run("monitor", "drift", "--data", str(folder), "--as-of", f"{late:%Y-%m-%d}", *options)
    assert_one_line_error(monitor, "days after the data's last event")


# --------------------------------------------------------------------------- a non-default config, end to end

NON_DEFAULT = [
    "--set",
    "labels.active_window_days=45",
    "--set",
    "labels.horizon_days=21",
    "--set",
    "features.windows_days=[7, 45]",
    "--set",
    "segments.revenue_window_days=45",
    "--set",
    "training.lightgbm.n_estimators=60",
    "--set",
    "training.min_positive_labels=20",
    "--set",
    "training.min_upgrade_labels=20",
]


@pytest.mark.slow
def test_non_default_windows_and_horizon_name_the_same_active_partners_everywhere(tmp_path: Path) -> None:
    from features.contract import load_program
    from serving.api import api_models
    from serving.models import load_served
    from serving.online import score_records
    from training.datasets import build_dataset
    from training.model import rows_for

    data = tmp_path / "program"
    options = [*store_options(tmp_path), *NON_DEFAULT]
    generated = run("generate", "--partners", "1500", "--months", "18", "--seed", "5", "--out", str(data), *options)
    assert generated.returncode == 0, generated.stderr[-2000:]
    trained = run("train", "--data", str(data), *options)
    assert trained.returncode in (0, 1), trained.stderr[-3000:]
    assert "partner-churn-deactivation-risk v1: champion" in trained.stdout, trained.stdout

    overrides = [pair for flag, pair in zip(options[::2], options[1::2]) if flag == "--set"]
    config = load_config(env={}, overrides=overrides)
    program = load_program(data, config.data, pd.Timestamp("2030-01-01", tz="UTC"))
    partners, events = program.partners, program.events
    as_of = events["ts"].max().floor("D") + pd.Timedelta(days=1)
    qualifying = list(config.labels.qualifying_event_types)
    active = brute_force_active(events, partners, as_of, 45, qualifying)
    # The 30-day rule the code once hard-coded would name fewer partners: the test tells the two apart.
    assert len(active) > len(brute_force_active(events, partners, as_of, 30, qualifying)) + 20

    # Trained: the risk model's rows at a cutoff are the partners active by the configured window.
    cutoff = as_of - pd.Timedelta(days=70)
    dataset = build_dataset(partners, events, [cutoff], config, data_end=events["ts"].max())
    assert set(rows_for("deactivation_risk", dataset)["partner_id"]) == brute_force_active(events, partners, cutoff, 45, qualifying)

    # Scored.
    scored = run("score", "--data", str(data), "--as-of", f"{as_of:%Y-%m-%d}", *options)
    assert scored.returncode == 0, scored.stderr[-3000:]
    risk_list = pd.read_parquet(tmp_path / "scores" / f"{as_of:%Y-%m-%d}" / "risk_list.parquet")
    assert set(risk_list.loc[risk_list["deactivation_risk"].notna(), "partner_id"]) == active
    assert "revenue_45d" in risk_list.columns and "revenue_30d" not in risk_list.columns

    # Served: feature records of every partner give a risk exactly to the active ones.
    from features.pipeline import build_features

    served = load_served(config)
    loaded = [m for m in (served.models.risk, served.models.potential) if m is not None]
    assert loaded and all("_tree_splits" in vars(m) for m in loaded)  # grouped TreeSHAP's splits read at load, not on a request
    features = build_features(partners, events, [as_of], config, surveys=program.surveys)
    api = api_models(config)
    records = [api.record.model_validate(feature_record(row, api.schema)) for _, row in features.iterrows()]
    answers = score_records(records, served, lang="en", explain_by_default=False)
    assert {a["partner_id"] for a in answers if a["deactivation_risk"] is not None} == active
    by_id = risk_list.set_index("partner_id")
    for answer in answers[:200]:
        expected = by_id.loc[answer["partner_id"], "deactivation_risk"]
        assert (answer["deactivation_risk"] is None) == bool(np.isnan(expected))
        if answer["deactivation_risk"] is not None:
            assert answer["deactivation_risk"] == pytest.approx(float(expected), abs=1e-12)

    # Monitored: drift compares exactly the active partners of the scoring.
    drift = run("monitor", "drift", "--data", str(data), "--as-of", f"{as_of:%Y-%m-%d}", *options)
    assert drift.returncode in (0, 1), drift.stderr[-3000:]
    report = json.loads(next((tmp_path / "reports").rglob("drift.json")).read_text())
    assert report["sampling"]["current_rows"] == len(active)
