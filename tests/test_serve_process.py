"""The service as deployed: `partner-churn serve` starts `bentoml serve` in a process of its own; a
curl-like call scores a partner, and schemathesis drives the service's own OpenAPI description with
generated requests (none may end in a 5xx)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.test_cli import CLI, assert_one_line_error, run
from tests.test_cli_training import FAST, store

STARTUP_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # a redirect is an answer, as curl sees it
        return None


OPENER = urllib.request.build_opener(_NoRedirect)


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with OPENER.open(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture(scope="module")
def trained_store(generated_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("serve-store")
    result = run("train", "--data", str(generated_dir), *FAST, *store(tmp))
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp


@pytest.fixture(scope="module")
def server(trained_store: Path) -> Iterator[str]:
    """`partner-churn serve` on a free port, with a token; stopped (whole process group) at the end."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNER_CHURN")}
    env["PARTNER_CHURN_API_TOKEN"] = "smoke-token"
    # Paths relative to a folder that is not the repository: the workers must still find this store.
    settings_ = ["--set", "paths.mlflow_tracking_uri=sqlite:///mlflow.db", "--set", "paths.mlflow_artifacts_dir=artifacts",
                 "--set", "paths.bentoml_home=bentoml"]
    log = (trained_store / "serve.log").open("w")  # a file, not a pipe: a full pipe would stall the server
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--workers", "1", *settings_],
        env=env, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True, cwd=trained_store,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"the service exited with {process.returncode}: {(trained_store / 'serve.log').read_text()[-3000:]}")
            try:
                if _get(f"{url}/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the service did not become ready in time"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.mark.slow
def test_serve_refuses_to_start_without_a_registered_model(tmp_path: Path) -> None:
    assert_one_line_error(run("serve", "--port", str(_free_port()), *store(tmp_path)), "no model to score with: no registered model", "partner-churn train registers it")


@pytest.mark.slow
def test_a_real_server_scores_a_partner_from_raw_events(server: str) -> None:
    body = {
        "partners": [
            {
                "partner_id": "P-smoke",
                "as_of": "2026-07-01T00:00:00Z",
                "partner": {"signup_at": "2026-01-10T09:00:00Z", "partner_type": "blogger", "country": "DE", "commission_rate": 0.1},
                "events": [
                    {"ts": "2026-01-10T10:00:00Z", "event_type": "login"},
                    {"ts": "2026-03-02T12:00:00Z", "event_type": "click"},
                    {"ts": "2026-05-20T08:30:00Z", "event_type": "sale", "amount": 120.0},
                    {"ts": "2026-06-25T08:30:00Z", "event_type": "login"},
                ],
            }
        ]
    }
    token = {"Authorization": "Bearer smoke-token"}
    assert _post(f"{server}/score", body)[0] == 401
    status, answer = _post(f"{server}/score", body, token)
    assert status == 200, answer
    score = answer["scores"][0]
    assert 0 <= score["deactivation_risk"] <= 1 and score["segment"] in ("newbie", "workhorse", "star", "sleeper")
    assert score["reasons"] and answer["model"]["deactivation_risk"] == "partner-churn-deactivation-risk:v1"
    status, meta = _get(f"{server}/metadata", token)
    assert status == 200 and json.loads(meta)["answer_names"] == answer["model"]
    assert _get(f"{server}/livez")[0] == 200
    assert _get(f"{server}/docs.json")[0] == 200 and _get(f"{server}/no-such-thing", token)[0] == 404


@pytest.mark.slow
def test_generated_requests_never_end_in_a_server_error(server: str) -> None:
    """Schemathesis generates requests from /docs.json (valid and invalid), 25 per operation."""
    token = {"Authorization": "Bearer smoke-token"}
    schema = schemathesis.openapi.from_url(f"{server}/docs.json", headers=token)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/score", "/score_bulk"}
    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def never_a_server_error(case: Any) -> None:
            response = case.call(headers=token, timeout=30)
            statuses.append(response.status_code)
            assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text[:500]}"

        never_a_server_error()
    assert len(statuses) >= 2 * 10 and any(s == 200 for s in statuses) and any(400 <= s < 500 for s in statuses), statuses


@pytest.mark.slow
def test_bentoml_build_makes_a_bento_of_the_service(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PARTNER_CHURN")}, "BENTOML_HOME": str(tmp_path)}
    built = subprocess.run([str(Path(CLI[0]).parent / "bentoml"), "build", str(repo)], cwd=repo, env=env,
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    bento = next((tmp_path / "bentos" / "partner-churn").glob("*/bento.yaml"))
    assert "serving.service:PartnerChurn" in bento.read_text()
    source = bento.parent / "src"
    for needed in ("serving/service.py", "features/pipeline.py", "training/model.py", "configs/actions.yaml"):
        assert (source / needed).is_file(), needed
    def pins(text: str) -> set[str]:
        return {line.strip() for line in text.splitlines() if "==" in line and not line.strip().startswith("#")}

    locked = pins((repo / "requirements.lock").read_text())
    assert locked and locked <= pins((bento.parent / "env" / "python" / "requirements.txt").read_text())
