"""The scoring service in process (BentoML's ASGI app under Starlette's TestClient): every endpoint,
every kind of bad input, the token, and a champion update while requests keep coming."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from starlette.testclient import TestClient

from features.contract import Program, load_program
from features.pipeline import build_features
from partner_churn.config import Config, load_config
from partner_churn.errors import InputError
from retention.actions import ActionTable, default_actions_path
from scoring.scores import ScoringModels
from serving.batch import score_partners
from serving.columnar import features_table, ipc_stream
from serving.core import PreviousScoring
from serving.history import history_folder, previous_scoring, write_entry
from tests import support
from training import registry
from training.champions import ChampionPair
from training.result import TrainingResult

AS_OF = pd.Timestamp("2026-07-01", tz="UTC")  # the generated program's data end: the models' program snapshot
LIMITS = {"max_partners_per_request": "20", "max_explained_per_request": "10", "max_request_bytes": "300000", "reload_interval_seconds": "0"}


def store_settings(store: Path) -> dict[str, str]:
    return {
        "PARTNER_CHURN__PATHS__MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlflow.db",
        "PARTNER_CHURN__PATHS__MLFLOW_ARTIFACTS_DIR": str(store / "artifacts"),
        "PARTNER_CHURN__PATHS__OUTPUT_DIR": str(store / "scores"),  # the score history the service compares with
        "PARTNER_CHURN__TRAINING__LIGHTGBM__N_ESTIMATORS": "80",
        "PARTNER_CHURN__TRAINING__MIN_POSITIVE_LABELS": "20",
        "PARTNER_CHURN__TRAINING__MIN_UPGRADE_LABELS": "20",
        **{f"PARTNER_CHURN__SERVING__{key.upper()}": value for key, value in LIMITS.items()},
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A throwaway MLflow store; the environment and MLflow's global URIs are restored after."""
    saved = dict(os.environ)
    folder = tmp_path_factory.mktemp("service-store")
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):  # set by MLflow for earlier modules' stores; it would win
        os.environ.pop(key, None)
    os.environ.update(store_settings(folder))
    yield folder
    os.environ.clear()
    os.environ.update(saved)
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


@pytest.fixture(scope="module")
def config(store: Path) -> Config:
    return load_config()


@pytest.fixture(scope="module")
def program(generated_dir: Path) -> Program:
    return load_program(generated_dir, Config().data, AS_OF)


@pytest.fixture(scope="module")
def trained(fast_training: TrainingResult, config: Config) -> TrainingResult:
    """The session's models, registered and promoted in this module's store."""
    _, versions = registry.log_training_run(fast_training, config=config, run_name="service-test")
    assert [d.promoted for d in registry.apply_gate(fast_training, versions, config=config)] == [True, True]
    return fast_training


@pytest.fixture(scope="module")
def service(trained: TrainingResult) -> Any:
    """The service module, imported after the environment points at the store (it reads the config then)."""
    import serving.service

    return importlib.reload(serving.service)


@pytest.fixture(scope="module")
def client(service: Any) -> Iterator[TestClient]:
    with TestClient(service.PartnerChurn.to_asgi()) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def features(program: Program, config: Config) -> pd.DataFrame:
    return build_features(program.partners, program.events, [AS_OF], config)


def feature_record(row: pd.Series, service: Any, **extra: Any) -> dict[str, Any]:
    return support.feature_record(row, service.API.schema, **extra)


def events_record(partner_id: str, program: Program, **extra: Any) -> dict[str, Any]:
    partner = program.partners.set_index("partner_id").loc[partner_id]
    events = program.events[program.events["partner_id"] == partner_id]
    return {
        "partner_id": partner_id,
        "as_of": AS_OF.isoformat(),
        "partner": {
            "signup_at": partner["signup_at"].isoformat(),
            "partner_type": partner["partner_type"],
            "country": partner["country"],
            "commission_rate": float(partner["commission_rate"]),
        },
        "events": [
            {"ts": e.ts.isoformat(), "event_type": e.event_type, **({"amount": float(e.amount)} if e.amount else {})} for e in events.itertuples()
        ],
        **extra,
    }


def active_rows(features: pd.DataFrame, n: int) -> pd.DataFrame:
    return features[features["active_days_30"] > 0].head(n)


# ---------------------------------------------------------------------------------------------- answers


def test_score_answers_like_the_batch_scorer(
    client: TestClient, service: Any, features: pd.DataFrame, program: Program, trained: TrainingResult, config: Config
) -> None:
    """At the snapshot's date the service measures partners against the same program figures as the
    batch, so risk, potential, segment, bands and action agree exactly, partner by partner."""
    rows = pd.concat([active_rows(features, 8), features[features["active_days_30"] == 0].head(4)])
    answer = client.post("/score", json={"partners": [feature_record(r, service, explain=False) for _, r in rows.iterrows()]})
    assert answer.status_code == 200, answer.text
    got = pd.DataFrame(answer.json()["scores"]).set_index("partner_id")
    models = ScoringModels(trained.models["deactivation_risk"], "1", trained.models["upgrade_potential"], "1")
    batch = (
        score_partners(program.partners, program.events, AS_OF, config, models, ActionTable.load(default_actions_path()), previous=None)
        .set_index("partner_id")
        .loc[got.index]
    )
    assert list(got.index) == [str(p) for p in rows["partner_id"]]
    assert np.allclose(got["deactivation_risk"].astype(float), batch["deactivation_risk"].astype(float), equal_nan=True, rtol=0, atol=1e-12)
    assert np.allclose(got["upgrade_potential"], batch["upgrade_potential"], rtol=0, atol=1e-12)
    for column in ("segment", "risk_band", "potential_band", "action"):
        assert list(got[column]) == list(batch[column]), column
    assert got.loc[got["risk_band"] == "inactive", "deactivation_risk"].isna().all()
    assert got[["previous_scoring", "previous_segment", "previous_risk", "risk_change", "risk_trend"]].isna().all().all()  # no history: first scoring


@pytest.fixture
def week_before(program: Program, trained: TrainingResult, config: Config) -> Iterator[PreviousScoring]:
    """A batch scoring a week before AS_OF in the service's score history; removed after the test."""
    models = ScoringModels(trained.models["deactivation_risk"], "1", trained.models["upgrade_potential"], "1")
    day = AS_OF - pd.Timedelta(days=7)
    earlier = score_partners(program.partners, program.events, day, config, models, ActionTable.load(default_actions_path()), previous=None)
    write_entry(earlier, config.paths.output_dir, day, active_partners=int(earlier["deactivation_risk"].notna().sum()))
    yield previous_scoring(config.paths.output_dir, AS_OF)
    shutil.rmtree(history_folder(config.paths.output_dir))


def test_answers_compare_with_the_previous_batch_scoring_as_the_batch_does(
    client: TestClient, program: Program, trained: TrainingResult, config: Config, week_before: PreviousScoring
) -> None:
    """With a batch scoring in the history, the service's previous risk, change, trend, segment then and
    weeks in the high band are the batch's at the same scoring time, partner by partner."""
    models = ScoringModels(trained.models["deactivation_risk"], "1", trained.models["upgrade_potential"], "1")
    batch = score_partners(
        program.partners, program.events, AS_OF, config, models, ActionTable.load(default_actions_path()), previous=week_before
    ).set_index("partner_id")
    then = week_before.rows
    stayed = batch.index[(batch["risk_band"] == "high") & (then["risk_band"].reindex(batch.index) == "high")]
    entered = batch.index[(batch["risk_band"] == "high") & (then["risk_band"].reindex(batch.index) != "high")]
    lower = batch.index[batch["risk_band"].isin(["low", "medium"]) & batch["previous_risk"].notna()]
    # A partner's whole raw history must fit this service's request limit (LIMITS: 300,000 bytes; a busy
    # partner's 18 months do not): the first two of each kind that fit.
    bodies = {p: {"partners": [events_record(p, program, explain=False)]} for p in [*stayed, *entered, *lower]}
    fitting = {p for p, body in bodies.items() if len(json.dumps(body)) < int(LIMITS["max_request_bytes"]) - 1_000}
    picked = [[p for p in kind if p in fitting][:2] for kind in (stayed, entered, lower)]
    assert all(picked), "setup: partners that stayed high, entered it, and are below it, each with a history that fits a request"
    for partner in sum(picked, []):
        answer = client.post("/score", json=bodies[partner])
        assert answer.status_code == 200, answer.text
        got, want = answer.json()["scores"][0], batch.loc[partner]
        assert pd.Timestamp(got["previous_scoring"]) == week_before.as_of
        assert got["previous_segment"] == want["previous_segment"] and got["risk_trend"] == (
            want["risk_trend"] if isinstance(want["risk_trend"], str) else None
        )
        for field in ("previous_risk", "risk_change"):  # null in the answer where the batch has none
            assert (got[field] is None) == pd.isna(want[field]) and (got[field] is None or got[field] == pytest.approx(want[field], abs=1e-12))
        if want["risk_band"] == "high":
            assert pd.Timestamp(got["high_band_since"]) == want["high_band_since"] and got["weeks_in_high_band"] == want["weeks_in_high_band"]
        else:
            assert got["high_band_since"] is None and got["weeks_in_high_band"] is None


def test_every_score_names_the_models_metadata_names(client: TestClient, service: Any, features: pd.DataFrame) -> None:
    answer = client.post("/score", json={"partners": [feature_record(active_rows(features, 1).iloc[0], service)]}).json()
    answer_meta = client.get("/metadata", follow_redirects=False)
    assert answer_meta.status_code == 200
    meta = answer_meta.json()
    assert answer["model"] == meta["answer_names"]
    assert answer["model"]["deactivation_risk"] == "partner-churn-deactivation-risk:v1"
    assert meta["models"]["deactivation_risk"]["aliases"] == ["champion"]
    through = meta["models"]["deactivation_risk"]["trained_through"]
    assert (
        pd.Timestamp(through) < AS_OF
        and answer["model"]["trained_through"] == min(through, meta["models"]["upgrade_potential"]["trained_through"])[:10]
    )
    assert (
        meta["models"]["deactivation_risk"]["backtest"]["model"]["roc_auc"]
        > meta["models"]["deactivation_risk"]["backtest"]["recency_rule"]["roc_auc"]
    )
    assert [f["name"] for f in meta["features"]] == [s.name for s in service.API.schema]
    assert meta["program"]["as_of"] == AS_OF.isoformat()
    assert answer["model"]["pair"] == registry.champion_pair(load_config()).number and answer["model"]["pair"].isdigit()


def _fits(spec: dict[str, Any], component: str, value: Any) -> None:
    import jsonschema_rs  # schemathesis's validator

    jsonschema_rs.validate({"$ref": f"#/components/schemas/{component}", "components": spec["components"]}, value)


def test_the_api_description_states_the_real_contract(client: TestClient, service: Any, features: pd.DataFrame, program: Program) -> None:
    import jsonschema_rs

    spec = client.get("/docs.json").json()
    assert "IODescriptor" not in json.dumps(spec)
    ways = spec["components"]["schemas"]["PartnerRecord"]["oneOf"]
    assert [(w["title"], w["required"]) for w in ways] == [
        ("FeaturesRecord", ["partner_id", "features"]),
        ("EventsRecord", ["partner_id", "partner", "events"]),
    ]
    for path in ("/score", "/score_bulk"):
        responses = spec["paths"][path]["post"]["responses"]
        assert set(responses) == {"200", "400", "401", "413", "415", "500"}
        assert all(
            responses[code]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"} for code in ("400", "401", "413")
        )
        assert spec["paths"][path]["post"]["security"] == [{"bearer": []}]
    assert set(spec["paths"]["/metadata"]["get"]["responses"]) == {"200", "401"}

    rows = active_rows(features, 2)
    record, events = feature_record(rows.iloc[0], service), events_record(str(rows.iloc[1]["partner_id"]), program)
    _fits(spec, "PartnerRecord", record)
    _fits(spec, "PartnerRecord", events)
    with pytest.raises(jsonschema_rs.ValidationError):  # features and events together: the rule the model checks, stated
        _fits(spec, "PartnerRecord", {**record, "partner": events["partner"], "events": events["events"]})
    _fits(spec, "ScoreResponse", client.post("/score", json={"partners": [record, events]}).json())
    bulk = client.post("/score_bulk", json={"partners": [record]}).json()
    jsonschema_rs.validate({"type": "array", "items": {"$ref": "#/components/schemas/BulkScore"}, "components": spec["components"]}, bulk)
    _fits(spec, "Metadata", client.get("/metadata").json())
    bad = client.post("/score", json={"partners": [{**record, "explain": "yes"}]})
    assert bad.status_code == 400
    _fits(spec, "Error", bad.json())
    _fits(spec, "Error", client.post("/score", json={"partners": [record] * 21}).json())
    broken = client.post("/score", content=b"{", headers={"content-type": "application/json"})
    assert broken.status_code == 400
    _fits(spec, "Error", broken.json())


def test_reasons_come_by_default_on_score_and_on_request_in_bulk(client: TestClient, service: Any, features: pd.DataFrame) -> None:
    rows = active_rows(features, 3)
    scored = client.post("/score", json={"partners": [feature_record(r, service) for _, r in rows.iterrows()]}).json()["scores"]
    assert all(1 <= len(s["reasons"]) <= 3 and s["reasons_source"] in ("risk_model", "potential_model") for s in scored)
    records = [feature_record(r, service, explain=(i == 1)) for i, (_, r) in enumerate(rows.iterrows())]
    bulk = client.post("/score_bulk", json={"partners": records})
    assert bulk.status_code == 200, bulk.text
    items = bulk.json()
    assert [item["partner_id"] for item in items] == [str(p) for p in rows["partner_id"]]
    assert [item["reasons"] is None for item in items] == [True, False, True]
    assert items[1]["reasons"] == scored[1]["reasons"]
    assert all(item["model"]["deactivation_risk"] == "partner-churn-deactivation-risk:v1" for item in items)
    assert [item["deactivation_risk"] for item in items] == [s["deactivation_risk"] for s in scored]


def test_raw_events_score_as_their_features_do(client: TestClient, service: Any, features: pd.DataFrame, program: Program) -> None:
    """The service computes features from raw events with the training pipeline: same answer."""
    row = active_rows(features, 1).iloc[0]
    by_events = client.post("/score", json={"partners": [events_record(str(row["partner_id"]), program)]})
    by_features = client.post("/score", json={"partners": [feature_record(row, service)]})
    assert by_events.status_code == 200, by_events.text
    a, b = by_events.json()["scores"][0], by_features.json()["scores"][0]
    assert pd.Timestamp(a["as_of"]) == AS_OF and b["as_of"] is None
    for key in ("deactivation_risk", "upgrade_potential", "segment", "downgrade_warning", "action", "reasons"):
        assert a[key] == b[key], key


def test_survey_answers_with_raw_events_score_as_the_survey_features_do(client: TestClient, service: Any, program: Program, config: Config) -> None:
    """Answers sent with the events give the features the batch pipeline computes from the surveys table;
    a features record may leave the survey features out (a client without surveys)."""
    assert program.surveys is not None
    answered = program.surveys[program.surveys["ts"] < AS_OF].groupby("partner_id", observed=True).size()
    partner_id = str(answered[answered >= 2].index[0])
    mine = program.surveys[program.surveys["partner_id"] == partner_id]
    surveys = [{"ts": a.ts.isoformat(), "score": float(a.score)} for a in mine[mine["ts"] < AS_OF].itertuples()]
    frame = build_features(program.partners, program.events, [AS_OF], config, surveys=program.surveys)
    batch = frame[frame["partner_id"].astype(str) == partner_id].iloc[0]
    assert not np.isnan(batch["survey_score_change"]), "setup: the partner answered twice"
    by_events = client.post("/score", json={"partners": [events_record(partner_id, program, surveys=surveys[::-1])]})  # any order
    by_features = client.post("/score", json={"partners": [feature_record(batch, service)]})
    assert by_events.status_code == 200 and by_features.status_code == 200, by_events.text + by_features.text
    a, b = by_events.json()["scores"][0], by_features.json()["scores"][0]
    for key in ("deactivation_risk", "upgrade_potential", "segment", "reasons"):
        assert a[key] == b[key], key
    without = feature_record(batch, service)
    for name in ("survey_score_last", "survey_score_change", "days_since_last_survey"):
        del without["features"][name]
    unanswered = client.post("/score", json={"partners": [without]})
    assert unanswered.status_code == 200, unanswered.text
    assert unanswered.json()["scores"][0]["upgrade_potential"] != b["upgrade_potential"]  # the answers were read, not ignored


def test_health_endpoints_answer(client: TestClient) -> None:
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200


# ---------------------------------------------------------------------------------------------- bad input


def _bad_bodies(record: dict[str, Any], events: dict[str, Any]) -> list[tuple[str, Any, int, str]]:
    def with_feature(name: str, value: Any) -> dict[str, Any]:
        changed = json.loads(json.dumps(record))
        changed["features"][name] = value
        return {"partners": [changed]}

    without = json.loads(json.dumps(record))
    del without["features"]["active_days_30"]
    reordered = json.loads(json.dumps(events))
    reordered["events"][0], reordered["events"][-1] = reordered["events"][-1], reordered["events"][0]
    late = json.loads(json.dumps(events))
    late["as_of"] = late["events"][-1]["ts"]
    sale_without_amount = json.loads(json.dumps(events))
    sale_without_amount["events"].append({"ts": AS_OF.isoformat(), "event_type": "sale"})
    sale_without_amount["as_of"] = (AS_OF + pd.Timedelta(days=1)).isoformat()
    unknown_type = json.loads(json.dumps(events))
    unknown_type["events"][0]["event_type"] = "tweet"
    both = {**record, "partner": events["partner"], "events": events["events"]}

    def with_event(**changes: Any) -> dict[str, Any]:
        changed = json.loads(json.dumps(events))
        changed["events"][0] |= changes
        return {"partners": [changed]}

    def with_partner(**changes: Any) -> dict[str, Any]:
        return {"partners": [{**events, "partner": {**events["partner"], **changes}}]}

    unborn = {**events, "events": [], "partner": {**events["partner"], "signup_at": (AS_OF + pd.Timedelta(days=3)).isoformat()}}
    return [
        ("unknown top-level field", {"partners": [record], "model": "v9"}, 400, "model"),
        ("unknown record field", {"partners": [{**record, "score": 1}]}, 400, "score"),
        ("unknown feature", with_feature("favourite_colour", 1.0), 400, "favourite_colour"),
        ("missing feature", {"partners": [without]}, 400, "active_days_30"),
        ("text for a count", with_feature("login_count_30d", "many"), 400, "login_count_30d"),
        ("fraction for a count", with_feature("login_count_30d", 2.5), 400, "login_count_30d"),
        ("negative count", with_feature("click_count_7d", -3), 400, "click_count_7d"),
        ("negative amount", with_feature("revenue_30d", -10.0), 400, "revenue_30d"),
        ("null count", with_feature("sale_count_90d", None), 400, "sale_count_90d"),
        ("null where the pipeline always measures", with_feature("tenure_days", None), 400, "tenure_days"),
        ("null revenue", with_feature("revenue_90d", None), 400, "revenue_90d"),
        ("downgrade warning with events", {"partners": [{**events, "downgrade_warning": True}]}, 400, "downgrade_warning"),
        ("timestamp before 1970", {"partners": [{**events, "partner": {**events["partner"], "signup_at": "1969-12-31T00:00:00Z"}}]}, 400, "1970"),
        ("timestamp before year 1 in UTC", with_event(ts="0001-01-01T00:00:00+01:00"), 400, "events[0].ts"),
        ("absurd count", with_feature("click_count_7d", 10**13), 400, "click_count_7d"),
        ("no partners", {"partners": []}, 400, "partners"),
        ("features and events", {"partners": [both]}, 400, "either"),
        ("events out of order", {"partners": [reordered]}, 400, "time order"),
        ("events at or after as_of", {"partners": [late]}, 400, "not before as_of"),
        ("signed up after as_of", {"partners": [unborn]}, 400, "signup_at"),
        ("sale without amount", {"partners": [sale_without_amount]}, 400, "amount is required"),
        ("unknown event type", {"partners": [unknown_type]}, 400, "event_type"),
        ("repeated partner", {"partners": [record, record]}, 400, "repeats"),
        ("unknown language", {"partners": [record], "lang": "fr"}, 400, "lang"),
        ("amount as text", with_event(event_type="sale", amount="120"), 400, "events[0].amount"),
        ("amount as a boolean", with_event(event_type="sale", amount=True), 400, "events[0].amount"),
        ("timestamp as a number", with_event(ts=1767225600), 400, "events[0].ts"),
        ("attribute number as text", with_partner(commission_rate="0.1"), 400, "partner.commission_rate"),
        ("attribute text as a number", with_partner(country=49), 400, "partner.country"),
        ("explain as text", {"partners": [{**events, "explain": "yes"}]}, 400, "explain"),
        ("explain as a number", {"partners": [{**record, "explain": 1}]}, 400, "explain"),
        ("downgrade warning as text", {"partners": [{**record, "downgrade_warning": "false"}]}, 400, "downgrade_warning"),
        ("surveys with features", {"partners": [{**record, "surveys": []}]}, 400, "`surveys` go with `events`"),
        ("survey score above 10", {"partners": [{**events, "surveys": [{"ts": events["events"][0]["ts"], "score": 11}]}]}, 400, "surveys[0].score"),
        (
            "survey before sign-up",
            {"partners": [{**events, "surveys": [{"ts": "2020-01-01T00:00:00Z", "score": 5}]}]},
            400,
            "before partner.signup_at",
        ),
        ("survey at as_of", {"partners": [{**events, "surveys": [{"ts": events["as_of"], "score": 5}]}]}, 400, "surveys[0].ts"),
        ("too many partners", {"partners": [{**record, "partner_id": f"p{i}"} for i in range(21)]}, 413, "at most 20"),
        ("too many explained", {"partners": [{**record, "partner_id": f"p{i}"} for i in range(11)]}, 413, "reasons asked for 11"),
    ]


def test_every_bad_input_is_a_4xx_that_names_the_problem(client: TestClient, service: Any, features: pd.DataFrame, program: Program) -> None:
    row = active_rows(features, 1).iloc[0]
    record, events = feature_record(row, service), events_record(str(row["partner_id"]), program)
    for case, body, status, fragment in _bad_bodies(record, events):
        answer = client.post("/score", json=body)
        assert answer.status_code == status, (case, answer.status_code, answer.text[:500])
        payload = answer.json()
        assert isinstance(payload, dict) and "error" in payload, (case, payload)
        assert fragment in payload["error"], (case, payload)
        assert "IODescriptor" not in answer.text and "errors.pydantic.dev" not in answer.text, (case, payload)
        if status == 400 and "detail" in payload:
            assert payload["error"].startswith(f"{len(payload['detail'])} problem"), (case, payload)
            assert all(set(entry) == {"loc", "msg", "type"} for entry in payload["detail"]), (case, payload)


def test_nan_infinity_and_broken_json_are_refused(client: TestClient, service: Any, features: pd.DataFrame) -> None:
    record = feature_record(active_rows(features, 1).iloc[0], service)
    text = json.dumps({"partners": [record]})
    for literal in ("NaN", "Infinity", "-Infinity"):
        body = text.replace('"revenue_30d": ' + json.dumps(record["features"]["revenue_30d"]), f'"revenue_30d": {literal}')
        assert literal in body
        answer = client.post("/score", content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 400, (literal, answer.text)
        assert "revenue_30d" in answer.text
    surrogate = text.replace(json.dumps(record["partner_id"]), '"P-\\udc80"', 1)
    assert "\\udc80" in surrogate
    answer = client.post("/score", content=surrogate, headers={"content-type": "application/json"})
    assert answer.status_code == 400 and "surrogate" in answer.text
    broken = client.post("/score", content=text[:-5], headers={"content-type": "application/json"})
    assert broken.status_code == 400 and "json" in broken.text.lower()


def test_bulk_refuses_oversized_requests(client: TestClient, service: Any, features: pd.DataFrame) -> None:
    record = feature_record(active_rows(features, 1).iloc[0], service)
    many = client.post("/score_bulk", json={"partners": [{**record, "partner_id": f"p{i}"} for i in range(21)]})
    assert many.status_code == 413 and "at most 20" in many.json()["error"]
    big = json.dumps({"partners": [{**record, "partner_id": "x" * 200}] * 150})
    assert len(big) > 300_000
    for path in ("/score", "/score_bulk"):
        declared = client.post(path, content=big, headers={"content-type": "application/json"})
        assert declared.status_code == 413 and "max_request_bytes" in declared.json()["error"]

    def streamed() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 50_000):
            yield big[start : start + 50_000].encode()

    chunked = client.post("/score", content=streamed(), headers={"content-type": "application/json"})
    assert chunked.status_code == 413 and "max_request_bytes" in chunked.json()["error"]


def test_too_many_partners_are_refused_before_any_record_is_validated(client: TestClient) -> None:
    """21 records that are each wrong in many ways: the answer is the count, not 21 records' problems;
    keys written with escapes (which the raw count cannot see) still meet the limit before the records."""
    garbage = [{"partner_id": f"p{i}", "features": {"clicks": "many"}, "explain": "yes", "bogus": [1, 2]} for i in range(21)]
    for path in ("/score", "/score_bulk"):
        answer = client.post(path, json={"partners": garbage})
        assert answer.status_code == 413 and answer.json() == {"error": "partners: 21 in one request; at most 20 (serving.max_partners_per_request)"}
    escaped = json.dumps({"partners": garbage}).replace('"partner_id"', '"partner\\u005fid"')
    assert escaped.count('"partner_id"') == 0 and json.loads(escaped) == {"partners": garbage}
    answer = client.post("/score", content=escaped, headers={"content-type": "application/json"})
    assert answer.status_code == 413 and "21 in one request" in answer.json()["error"]
    twenty = client.post("/score", json={"partners": garbage[:20]})
    assert twenty.status_code == 400 and "partners[0]" in twenty.json()["error"]


def test_a_body_that_is_not_json_is_refused_before_it_is_decoded(client: TestClient, service: Any, features: pd.DataFrame) -> None:
    """BentoML decodes a form field by field (past the count of partners); the door takes JSON only."""
    record = feature_record(active_rows(features, 1).iloc[0], service)
    for media in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"):
        answer = client.post("/score", content=json.dumps({"partners": [record]}), headers={"content-type": media})
        assert answer.status_code == 415 and "application/json" in answer.json()["error"], (media, answer.text)
    assert client.post("/score", json={"partners": [record]}, headers={"content-type": "application/json; charset=utf-8"}).status_code == 200


def test_a_refused_request_is_one_warning_line_without_the_body(
    client: TestClient, service: Any, features: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    from serving.guard import REFUSAL_LOGGER

    record = feature_record(active_rows(features, 1).iloc[0], service, partner_id="P-secret-name")
    record["features"]["login_count_30d"] = "many"
    with caplog.at_level("INFO"):
        assert client.post("/score", json={"partners": [record]}).status_code == 400
        assert client.post("/score_bulk", json={"partners": [{**record, "partner_id": f"p{i}"} for i in range(21)]}).status_code == 413
    refusals = [r for r in caplog.records if r.name == REFUSAL_LOGGER]
    assert [r.levelname for r in refusals] == ["WARNING", "WARNING"], [(r.levelname, r.getMessage()[:200]) for r in refusals]
    lines = [r.getMessage() for r in refusals]
    assert lines[0] == "refused POST /score with 400: 1 problem in the request: partners[0].features.login_count_30d: Input should be a valid integer"
    assert lines[1].startswith("refused POST /score_bulk with 413: partners: 21 in one request")
    assert all(r.exc_info is None and "\n" not in line and "P-secret-name" not in line for r, line in zip(refusals, lines))
    assert "Traceback" not in caplog.text


# ---------------------------------------------------------------------------------------------- access


# ---------------------------------------------------------------------------------------------- columns

ARROW = {"content-type": "application/vnd.apache.arrow.stream"}


def arrow_columns(rows: pd.DataFrame, service: Any) -> dict[str, pa.Array]:
    """The columns of /score_arrow from rows of `build_features`, typed as a client's pandas would give them."""
    table = features_table(rows, service.API.schema)
    return {name: column.combine_chunks() for name, column in zip(table.column_names, table.columns)}


def arrow_body(columns: dict[str, Any], compression: str | None = None) -> bytes:
    return ipc_stream(pa.table(columns), compression=compression)


def arrow_answer(response: Any) -> pa.Table:
    assert response.status_code == 200, response.text[:1000]
    assert response.headers["content-type"] == ARROW["content-type"]
    return pa.ipc.open_stream(response.content).read_all()


def test_arrow_columns_are_answered_as_the_json_records_are(
    client: TestClient, service: Any, features: pd.DataFrame, week_before: PreviousScoring
) -> None:
    """The same partners as Arrow columns and as JSON records: every field equal, row for row, in order,
    with a previous scoring in the history (previous risk, trend, weeks in the high band) and reasons
    for the one row that asks; the answering models in the schema's metadata; Russian on request."""
    active = features[features["active_days_30"] > 0]
    was_high = active["partner_id"].astype(str).isin(week_before.rows.index[week_before.rows["risk_band"] == "high"])
    rows = pd.concat([active[was_high].head(5), active[~was_high].head(4), features[features["active_days_30"] == 0].head(3)])
    rows = rows.sample(frac=1.0, random_state=3)
    columns = arrow_columns(rows, service) | {"explain": pa.array([None, True, *[None] * 9, False])}
    table = arrow_answer(client.post("/score_arrow", content=arrow_body(columns), headers=ARROW))
    records = [feature_record(r, service, **({"explain": True} if i == 1 else {})) for i, (_, r) in enumerate(rows.iterrows())]
    bulk = client.post("/score_bulk", json={"partners": records})
    assert bulk.status_code == 200, bulk.text
    expected = bulk.json()
    model = json.loads(table.schema.metadata[b"model"])
    assert model == expected[0]["model"] and model["deactivation_risk"] == "partner-churn-deactivation-risk:v1"
    got = table.to_pylist()
    assert table.column_names == [name for name in expected[0] if name != "model"]
    assert [g["partner_id"] for g in got] == [str(p) for p in rows["partner_id"]]
    assert sum(g["previous_risk"] is not None for g in got) >= 6 and any(g["weeks_in_high_band"] is not None for g in got), "setup: history"
    for g, want in zip(got, expected):
        for name, value in g.items():
            if isinstance(value, dt.datetime):
                assert value == pd.Timestamp(want[name]).to_pydatetime(), name
            else:
                assert value == want[name], (g["partner_id"], name, value, want[name])
    assert [g["reasons"] is None for g in got] == [i != 1 for i in range(len(got))] and got[1]["reasons_source"] in ("risk_model", "potential_model")
    russian = arrow_answer(client.post("/score_arrow?lang=ru", content=arrow_body(columns), headers=ARROW)).to_pylist()
    by_score = client.post("/score", json={"partners": [{**r, "explain": i == 1} for i, r in enumerate(records)], "lang": "ru"}).json()["scores"]
    assert [r["action_title"] for r in russian] == [s["action_title"] for s in by_score] and russian[1]["reasons"] == by_score[1]["reasons"]
    assert russian[1]["reasons"] != got[1]["reasons"]


def test_arrow_columns_of_other_widths_and_encodings_and_without_surveys_score_the_same(
    client: TestClient, service: Any, features: pd.DataFrame
) -> None:
    """int32 counts, string_view partner ids, dictionary-encoded categories (one of string_view), a null-typed
    explain column (pandas' all-None), the table in several record batches, and no survey columns (a client
    without surveys, as a JSON record may leave them out)."""
    rows = active_rows(features, 6)
    columns = arrow_columns(rows, service)
    plain = arrow_answer(client.post("/score_arrow", content=arrow_body(columns), headers=ARROW))
    surveys = [spec.name for spec in service.API.schema if "surveys" in spec.event_types]
    assert surveys, "setup: the config has survey features"
    other = {}
    for spec in service.API.schema:
        if spec.name in surveys:
            continue
        values = columns[spec.name]
        other[spec.name] = {"int": lambda v: v.cast(pa.int32()), "category": lambda v: v.dictionary_encode()}.get(spec.kind, lambda v: v)(values)
    category = next(spec.name for spec in service.API.schema if spec.kind == "category")
    encoded = other[category]
    other[category] = pa.DictionaryArray.from_arrays(encoded.indices, encoded.dictionary.cast(pa.string_view()))
    ids = columns["partner_id"].cast(pa.string_view())
    other = {"partner_id": ids, **other, "downgrade_warning": columns["downgrade_warning"], "explain": pa.nulls(len(rows))}
    table = pa.table(other)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=2):
            writer.write_batch(batch)
    varied = arrow_answer(client.post("/score_arrow", content=sink.getvalue().to_pybytes(), headers=ARROW))
    without = [
        {**r, "features": {k: v for k, v in r["features"].items() if k not in surveys}}
        for r in (feature_record(x, service) for _, x in rows.iterrows())
    ]
    json_answers = client.post("/score_bulk", json={"partners": without}).json()
    assert varied.column("deactivation_risk").to_pylist() == [a["deactivation_risk"] for a in json_answers]
    assert varied.column("action").to_pylist() == [a["action"] for a in json_answers]
    assert plain.column("partner_id").to_pylist() == varied.column("partner_id").to_pylist()


def _bad_arrow_bodies(columns: dict[str, pa.Array], service: Any) -> list[tuple[str, bytes, dict[str, str], int, str]]:
    names = {spec.kind: spec.name for spec in service.API.schema if "surveys" not in spec.event_types}
    count, category = names["int"], names["category"]
    never_missing = next(s.name for s in service.API.schema if s.kind == "float" and not s.may_be_missing and not s.may_be_negative)
    n = len(columns["partner_id"])

    def replaced(name: str, values: Any, kind: pa.DataType | None = None) -> bytes:
        return arrow_body({**columns, name: pa.array(values, type=kind)})

    without = {k: v for k, v in columns.items() if k != count}
    ids = columns["partner_id"].to_pylist()
    broken_text = pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(np.array([0, 2], dtype=np.int32).tobytes()), pa.py_buffer(b"\xff\xfe")])
    return [
        ("not arrow", b"partner_id,clicks\np1,3\n", ARROW, 400, "not an Arrow IPC stream"),
        ("empty body", b"", ARROW, 400, "empty body"),
        ("json content type", arrow_body(columns), {"content-type": "application/json"}, 415, "application/vnd.apache.arrow.stream"),
        ("no rows", arrow_body({k: v.slice(0, 0) for k, v in columns.items()}), ARROW, 400, "no partners"),
        ("unknown column", arrow_body({**columns, "bogus": pa.array([1] * n)}), ARROW, 400, "unknown columns: bogus"),
        ("missing column", arrow_body(without), ARROW, 400, f"missing columns: {count}"),
        ("count as float", replaced(count, [1.0] * n), ARROW, 400, f"{count}: must be an integer column, not double"),
        (
            "negative count",
            replaced(count, [-1, *[0] * (n - 1)]),
            ARROW,
            400,
            f"{count}: outside 0..1e+12 or not finite in 1 row (row 0: -1)",
        ),
        (
            "infinite",
            replaced(never_missing, [float("inf"), *[1.0] * (n - 1)]),
            ARROW,
            400,
            f"{never_missing}: outside 0..1e+12 or not finite in 1 row (row 0: inf)",
        ),
        (
            "missing value",
            replaced(never_missing, [1.0, None, *[1.0] * (n - 2)]),
            ARROW,
            400,
            f"{never_missing}: missing (null or NaN) in 1 row (row 1)",
        ),
        ("NaN value", replaced(never_missing, [float("nan"), *[1.0] * (n - 1)], pa.float64()), ARROW, 400, f"{never_missing}: missing"),
        ("text as number", replaced(never_missing, ["1"] * n), ARROW, 400, f"{never_missing}: must be a number column, not string"),
        ("null partner", replaced("partner_id", [None, *ids[1:]], pa.string()), ARROW, 400, "partner_id: null in 1 row (row 0)"),
        ("partner twice", replaced("partner_id", [ids[0], ids[0], *ids[2:]]), ARROW, 400, "partner_id: partners given twice: 1 row (row 1"),
        ("long partner id", replaced("partner_id", ["x" * 201, *ids[1:]]), ARROW, 400, "partner_id: not 1-200 characters long in 1 row"),
        (
            "empty category",
            replaced(category, ["", *[None] * (n - 1)], pa.string()),
            ARROW,
            400,
            f"{category}: not 1-200 characters long in 1 row (row 0: '')",
        ),
        ("number as partner", replaced("partner_id", list(range(n))), ARROW, 400, "partner_id: must be a text column, not int64"),
        ("null flag", replaced("downgrade_warning", [None, *[False] * (n - 1)], pa.bool_()), ARROW, 400, "downgrade_warning: null in 1 row (row 0)"),
        ("text flag", replaced("explain", ["yes"] * n), ARROW, 400, "explain: must be a boolean column, not string"),
        (
            "bad UTF-8",
            arrow_body({**{k: v.slice(0, 1) for k, v in columns.items()}, "partner_id": broken_text}),
            ARROW,
            400,
            "not an Arrow IPC stream",
        ),
        ("unknown language", arrow_body(columns), ARROW | {"query": "?lang=de"}, 400, "lang 'de'"),
        (
            "too many rows",
            arrow_body({k: pa.concat_arrays([v] * 6) for k, v in columns.items()} | {"partner_id": pa.array([f"p{i}" for i in range(6 * n)])}),
            ARROW,
            413,
            "at most 20",
        ),
        ("too many reasons", replaced("explain", [True] * n), ARROW, 413, "at most 10"),
        (
            "count past 2**53",
            replaced(count, [2**60, *[0] * (n - 1)]),
            ARROW,
            400,
            f"{count}: outside 0..1e+12 or not finite in 1 row (row 0: {2**60})",
        ),
        ("largest uint64", replaced(count, [2**64 - 1, *[0] * (n - 1)], pa.uint64()), ARROW, 400, f"{count}: outside 0..1e+12"),
        ("null-typed flag", arrow_body({**columns, "downgrade_warning": pa.nulls(n)}), ARROW, 400, f"downgrade_warning: null in {n} rows"),
        ("compressed", arrow_body(columns, compression="zstd"), ARROW, 400, "compressed Arrow buffers (zstd, lz4) are not taken"),
        ("bytes after the stream", arrow_body(columns) + b"trailing", ARROW, 400, "8 bytes after the end of the Arrow stream"),
        (
            "a very long id",
            replaced("partner_id", ["y" * 5_000, *ids[1:]]),
            ARROW,
            400,
            "(row 0: 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy'... (5,000 characters))",
        ),
    ]


def test_every_bad_arrow_body_is_a_4xx_that_names_the_column(client: TestClient, service: Any, features: pd.DataFrame) -> None:
    columns = arrow_columns(features.head(11), service)  # 11 rows: within 20 partners, over 10 reasons
    for case, body, headers, status, fragment in _bad_arrow_bodies(columns, service):
        query = headers.pop("query", "")
        answer = client.post(f"/score_arrow{query}", content=body, headers=headers)
        assert answer.status_code == status, (case, answer.status_code, answer.text[:500])
        payload = answer.json()
        assert fragment in payload["error"], (case, payload)
        if "detail" in payload:
            assert payload["error"].startswith(f"{len(payload['detail'])} problem"), (case, payload)
            assert all(set(entry) == {"loc", "msg", "type"} for entry in payload["detail"]), (case, payload)
    several = arrow_body({**columns, "partner_id": pa.array([None] * 11, pa.string()), "explain": pa.array([1] * 11)})
    answer = client.post("/score_arrow", content=several, headers=ARROW).json()
    assert answer["error"].startswith("2 problems in the request: partner_id: null in 11 rows (row 0, row 1, row 2, row 3, row 4, and 6 more)")
    assert [entry["loc"] for entry in answer["detail"]] == [["partner_id"], ["explain"]]
    assert client.post("/score_arrow?bogus=1", content=arrow_body(columns), headers=ARROW).status_code == 400


def test_token_guards_scoring_and_metadata_but_not_health(client: TestClient, service: Any, features: pd.DataFrame) -> None:
    body = {"partners": [feature_record(active_rows(features, 1).iloc[0], service)]}
    os.environ["PARTNER_CHURN_API_TOKEN"] = "s3cret-token"
    try:
        for path, call in (
            ("/score", lambda h: client.post("/score", json=body, headers=h)),
            ("/score_bulk", lambda h: client.post("/score_bulk", json=body, headers=h)),
            ("/metadata", lambda h: client.get("/metadata", headers=h)),
            (
                "/score_arrow",
                lambda h: client.post("/score_arrow", content=arrow_body(arrow_columns(active_rows(features, 1), service)), headers=ARROW | h),
            ),
        ):
            assert call({}).status_code == 401, path
            assert call({"Authorization": "Bearer wrong"}).status_code == 401, path
            assert call({"Authorization": "Basic s3cret-token"}).status_code == 401, path
            assert call({"Authorization": "Bearer s3cret-token"}).status_code == 200, path
        refused = client.post("/score", json=body)
        assert refused.headers["www-authenticate"] == "Bearer" and "PARTNER_CHURN_API_TOKEN" in refused.json()["error"]
        assert client.get("/livez").status_code == 200 and client.get("/readyz").status_code == 200
        assert client.get("/docs.json").status_code == 200 and client.get("/schema.json").status_code == 401
        # metrics are behind the token too (the answer with it is checked on a real server: BentoML's
        # Prometheus endpoint needs its multiprocess folder, which only `bentoml serve` sets up)
        assert client.get("/metrics").status_code == 401 and client.get("/metrics", headers={"Authorization": "Bearer no"}).status_code == 401
    finally:
        del os.environ["PARTNER_CHURN_API_TOKEN"]


# ---------------------------------------------------------------------------------------------- models


def test_no_registered_model_is_a_clear_refusal(tmp_path: Path) -> None:
    from serving.models import load_served

    empty = load_config(env=store_settings(tmp_path))
    with pytest.raises(
        InputError, match="no model to score with: no registered model 'partner-churn-deactivation-risk'.*partner-churn train registers it"
    ):
        load_served(empty)


def test_a_new_champion_is_picked_up_without_dropping_requests(
    client: TestClient, service: Any, features: pd.DataFrame, trained: TrainingResult, config: Config
) -> None:
    import time

    import bentoml

    body = {"partners": [feature_record(r, service) for _, r in active_rows(features, 2).iterrows()]}
    keeper = bentoml.get_current_service().keeper  # the instance the client's app created
    assert keeper.check() is False  # nothing new yet
    _, versions = registry.log_training_run(trained, config=config, run_name="second")
    assert versions == {"deactivation_risk": "2", "upgrade_potential": "2"}
    for target, number in versions.items():
        registry.promote(config, registry.model_name(config, target), number, reason="test: a new champion")

    answers: list[dict[str, Any]] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            response = client.post("/score", json=body)
            answers.append({"status": response.status_code, **(response.json() if response.status_code == 200 else {})})

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        assert keeper.check() is True
        deadline = time.monotonic() + 30
        while not any(a.get("model", {}).get("deactivation_risk", "").endswith(":v2") for a in answers[-3:]):
            assert time.monotonic() < deadline, "the new champion never answered"
            time.sleep(0.01)
    finally:
        stop.set()
        asker.join()
    assert answers and all(a["status"] == 200 for a in answers)
    pairs = {(a["model"]["deactivation_risk"], a["model"]["upgrade_potential"]) for a in answers}
    assert pairs <= {
        ("partner-churn-deactivation-risk:v1", "partner-churn-upgrade-potential:v1"),
        ("partner-churn-deactivation-risk:v2", "partner-churn-upgrade-potential:v2"),
    }
    assert client.get("/metadata").json()["answer_names"]["deactivation_risk"] == "partner-churn-deactivation-risk:v2"


def test_mixed_records_and_scoring_times_keep_the_request_order(client: TestClient, service: Any, features: pd.DataFrame, program: Program) -> None:
    rows = active_rows(features, 3)
    ids = [str(p) for p in rows["partner_id"]]
    earlier = events_record(ids[0], program)
    earlier["as_of"] = (AS_OF - pd.Timedelta(days=40)).isoformat()
    earlier["events"] = [e for e in earlier["events"] if pd.Timestamp(e["ts"]) < AS_OF - pd.Timedelta(days=40)]
    mixed = [earlier, feature_record(rows.iloc[1], service), events_record(ids[2], program)]
    together = client.post("/score", json={"partners": mixed})
    assert together.status_code == 200, together.text
    alone = [client.post("/score", json={"partners": [record]}).json()["scores"][0] for record in mixed]
    assert together.json()["scores"] == alone
    assert [s["partner_id"] for s in alone] == ids


def test_the_same_partner_twice_in_one_batch_is_scored_twice(client: TestClient, service: Any, features: pd.DataFrame, program: Program) -> None:
    """Adaptive batching merges requests: two callers asking for one partner at once land in one batch."""
    from serving.online import score_records

    record = service.API.record.model_validate_json(json.dumps(events_record(str(active_rows(features, 1).iloc[0]["partner_id"]), program)))
    import bentoml

    bundle = bentoml.get_current_service().keeper.current
    twice = score_records([record, record], bundle, lang="en", explain_by_default=False)
    assert twice[0] == twice[1] and twice[0]["partner_id"] == record.partner_id

    answers: list[int] = []
    body = {"partners": [events_record(record.partner_id, program)]}
    threads = [threading.Thread(target=lambda: answers.append(client.post("/score_bulk", json=body).status_code)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 4


def test_a_champion_that_fails_to_load_is_not_retried_until_the_pair_moves(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import bentoml

    import serving.models

    keeper = bentoml.get_current_service().keeper
    serving_before = keeper.current
    attempts: list[int] = []

    def failing_load(config: Config, in_force: ChampionPair) -> Any:
        attempts.append(1)
        raise InputError("trained on another feature schema")

    monkeypatch.setattr(serving.models, "load_served", failing_load)
    monkeypatch.setattr(serving.models, "champion_pair", lambda config: ChampionPair({"deactivation_risk": "99", "upgrade_potential": "99"}, "9"))
    with pytest.raises(InputError, match="another feature schema"):
        keeper.check()
    assert keeper.check() is False and keeper.check() is False
    assert len(attempts) == 1 and keeper.current is serving_before
    monkeypatch.setattr(serving.models, "champion_pair", lambda config: ChampionPair({"deactivation_risk": "100", "upgrade_potential": "99"}, "10"))
    with pytest.raises(InputError):
        keeper.check()
    assert len(attempts) == 2


def test_raw_events_take_the_spellings_the_data_contract_takes() -> None:
    """`Sale`, ` click ` and a mapped `conversion` are read as the contract reads them; unknown ones are refused."""
    from pydantic import ValidationError

    from serving.api import api_models

    config = load_config(env={}, overrides=["data.event_type_map={conversion: sale}"])
    event = api_models(config).event
    for spelling, word in (("Sale", "sale"), (" click ", "click"), ("conversion", "sale"), ("Conversion", "sale"), ("login", "login")):
        assert event.model_validate_json(json.dumps({"ts": "2026-01-01T00:00:00Z", "event_type": spelling, "amount": 5.0})).event_type == word
        assert config.data.event_type_of(spelling) == word
    with pytest.raises(ValidationError):
        event.model_validate_json(json.dumps({"ts": "2026-01-01T00:00:00Z", "event_type": "refund", "amount": 5.0}))
    with pytest.raises(ValidationError, match="amount is required for sale"):
        event.model_validate_json(json.dumps({"ts": "2026-01-01T00:00:00Z", "event_type": "Sale"}))
    strict = load_config(env={}, overrides=["data.event_type_case_insensitive=false"])
    with pytest.raises(ValidationError):
        api_models(strict).event.model_validate_json(json.dumps({"ts": "2026-01-01T00:00:00Z", "event_type": "Sale", "amount": 5.0}))


def test_a_bundle_that_keeps_lacking_a_model_is_loaded_once_not_every_interval(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The potential champion moved but does not fit: the risk-only bundle is loaded once, then left alone."""
    import dataclasses

    import bentoml

    import serving.models

    keeper = bentoml.get_current_service().keeper
    current = keeper.current
    risk_only = dataclasses.replace(
        current, models=dataclasses.replace(current.models, potential=None, potential_version=None, unavailable={"upgrade_potential": "no fit"})
    )
    keeper.current = risk_only
    keeper._tried = (current.models.risk_version, None)
    loads: list[int] = []

    def load(config: Config, in_force: ChampionPair) -> Any:
        loads.append(1)
        return risk_only

    monkeypatch.setattr(serving.models, "load_served", load)
    pair = ChampionPair({"deactivation_risk": str(current.models.risk_version), "upgrade_potential": "7"}, "8")
    monkeypatch.setattr(serving.models, "champion_pair", lambda config: pair)
    assert keeper.check() is True
    assert keeper.check() is False and keeper.check() is False
    assert len(loads) == 1
    keeper.current = current


def test_models_are_loaded_from_one_reading_of_the_pair_even_while_it_moves(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pair moves while a bundle loads (a promotion under load): the bundle holds the pair first read, never
    one model of each pair."""
    import serving.models

    readings = iter([ChampionPair({"deactivation_risk": "1", "upgrade_potential": "1"}, "1")])
    moved = ChampionPair({"deactivation_risk": "2", "upgrade_potential": "2"}, "2")
    monkeypatch.setattr(serving.models, "champion_pair", lambda config: next(readings, moved))
    monkeypatch.setattr(serving.models, "resolve_version", lambda config, name, version=None: pytest.fail("read the champion a second time"))
    bundle = serving.models.load_scoring_models(config)
    assert (bundle.risk_version, bundle.potential_version, bundle.pair) == ("1", "1", "1")


def test_a_pinned_version_that_does_not_exist_is_an_error_not_a_missing_score(config: Config) -> None:
    from serving.models import load_scoring_models

    with pytest.raises(InputError, match="has no version 99"):
        load_scoring_models(config, {"upgrade_potential": "99"})
    partial = load_scoring_models(config, {"deactivation_risk": "1"})
    assert partial.risk_version == "1" and partial.potential is not None
