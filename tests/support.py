"""Helpers more than one test module needs (test modules do not import each other for them)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.schema import FeatureSpec


def feature_record(row: pd.Series, schema: Sequence[FeatureSpec], **extra: Any) -> dict[str, Any]:
    """A service request record (`"features": {...}`) from one row of `build_features`."""
    values: dict[str, Any] = {}
    for spec in schema:
        value = row[spec.name]
        if spec.kind == "int":
            values[spec.name] = int(value)
        elif spec.kind == "category":
            values[spec.name] = None if value is None or value != value else str(value)
        else:
            values[spec.name] = None if np.isnan(value) else float(value)
    return {"partner_id": str(row["partner_id"]), "features": values, "downgrade_warning": bool(row["downgrade_warning"]), **extra}


LAYOUT = """(() => { const table = document.querySelector(%r); const box = table ? table.parentElement : null;
    return {page: document.documentElement.scrollWidth, window: window.innerWidth, table: table ? table.scrollWidth : -1,
            box: box ? box.clientWidth : -1, lang: document.documentElement.lang, text: document.body.textContent}; })()"""
"""For `browser_facts`: the page's and a table's widths as chromium lays them out (`%` a CSS selector of
the table, measured against its parent box), the page's language and its text."""


def browser_facts(page: Path, profile: Path, script: str, *, width: int = 1366, height: int = 900) -> Any:
    """Load `page` in headless chromium `width` px wide and return what `script` (a JavaScript expression
    whose value is JSON) says of it, through the DevTools protocol (no network, no extra package)."""
    import json
    import shutil
    import subprocess
    import time
    import urllib.request

    from websockets.sync.client import connect

    browser = shutil.which("chromium")
    assert browser is not None, "chromium is not on PATH: run scripts/install_browser.sh (installs Debian's chromium) and test again"
    process = subprocess.Popen(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            f"--window-size={width},{height}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.is_file() and len(active.read_text().split()) >= 2):
            assert process.poll() is None and time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.05)
        port = active.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            target = next(t for t in json.loads(answer.read()) if t["type"] == "page")
        with connect(target["webSocketDebuggerUrl"], max_size=None) as socket:
            counter = iter(range(1, 1_000_000))

            def call(method: str, **params: Any) -> dict[str, Any]:
                ident = next(counter)
                socket.send(json.dumps({"id": ident, "method": method, "params": params}))
                while True:
                    message = json.loads(socket.recv(timeout=30))
                    if message.get("id") == ident:
                        assert "error" not in message, message
                        return message["result"]

            call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
            call("Page.navigate", url=page.as_uri())
            deadline = time.monotonic() + 30
            while call("Runtime.evaluate", expression="document.readyState", returnByValue=True)["result"]["value"] != "complete":
                assert time.monotonic() < deadline, "the page did not load"
                time.sleep(0.05)
            result = call("Runtime.evaluate", expression=f"JSON.stringify({script})", returnByValue=True)["result"]
            return json.loads(result["value"])
    finally:
        process.kill()
        process.wait()


# --------------------------------------------------------------------------------------------------
# The command line

CLI = [sys.executable, "-m", "commands"]
"""The command line as a process: for what only a process shows (signals, the console script, the service)."""


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`partner-churn ARGS` in this process, as a user's shell would see it: stdout, stderr and the exit code,
    with the environment's PARTNER_CHURN* variables replaced by `env`. The same entry point as the console
    script (`commands.main.main`) without a process start each (about 3 s of imports). An exception that
    escapes it is printed as the traceback a user would see, so `assert_one_line_error` fails on it; MLflow's
    process-wide URIs are put back afterwards (`mlflow_uris_restored`)."""
    import io
    import traceback
    from contextlib import redirect_stderr, redirect_stdout

    from commands.main import main

    out, err = io.StringIO(), io.StringIO()
    with _environment(env or {}), mlflow_uris_restored(), redirect_stdout(out), redirect_stderr(err):
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - what the console would show, for the test to fail on
            traceback.print_exc()
            code = 1
    return subprocess.CompletedProcess(["partner-churn", *args], code, out.getvalue(), err.getvalue())


def run_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`partner-churn ARGS` in a fresh process (`python -m commands`), environment as in `run`."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNER_CHURN")}
    full_env.update(env or {})
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=full_env, timeout=300)


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """os.environ without PARTNER_CHURN* variables and with `env`, for the block only."""
    saved = dict(os.environ)
    try:
        for key in [k for k in os.environ if k.startswith("PARTNER_CHURN")]:
            del os.environ[key]
        os.environ.update(env)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr  # progress may come first; the error ends it
    for fragment in fragments:
        assert fragment in errors[0]


FAST_SETTINGS = (
    "training.lightgbm.n_estimators=80",
    "training.min_positive_labels=20",
    "training.min_upgrade_labels=20",
    "training.backtest_folds=2",
)
"""Training settings of every test that trains on the session's generated program: fewer trees, lower label bars,
two rolling-origin folds instead of four (a training of the 5,000-partner program: 9.3 s -> 6.8 s)."""
FAST = [word for setting in FAST_SETTINGS for word in ("--set", setting)]


def store(tmp: Path) -> list[str]:
    return [
        "--set",
        f"paths.mlflow_tracking_uri=sqlite:///{tmp}/mlflow.db",
        "--set",
        f"paths.mlflow_artifacts_dir={tmp}/artifacts",
        "--set",
        f"paths.reports_dir={tmp}/reports",
    ]


# --------------------------------------------------------------------------------------------------
# Pages


class Links:
    """Every tag of a page, the targets of its src and href attributes, and the text a reader sees (not the CSS)."""

    def __init__(self, page: str) -> None:
        from html.parser import HTMLParser

        self.tags: list[str] = []
        self.linked: list[tuple[str, str, str]] = []
        self.text: list[str] = []
        links = self

        class Parser(HTMLParser):
            def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
                links.tags.append(tag)
                links.linked += [(tag, name, value or "") for name, value in attrs if name in ("src", "href")]

            def handle_data(self, data: str) -> None:
                if links.tags[-1:] != ["style"]:
                    links.text.append(data)

        Parser().feed(page)


# --------------------------------------------------------------------------------------------------
# Chromium

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
]
CONSOLE_LINE = re.compile(r":CONSOLE[(:]")
"""Chromium's --enable-logging=stderr prints every console message of a page as `...:INFO:CONSOLE:<line>] "text",
source: <url> (<line>)` (older builds: `INFO:CONSOLE(<line>)`); the level of console.error is not shown."""


# --------------------------------------------------------------------------------------------------
# A registered store


@contextmanager
def mlflow_uris_restored() -> Iterator[None]:
    """MLflow's process-wide tracking and registry URIs, and the variables it sets for them, as they were
    before the block: a test module's store never leaks into the next module."""
    import mlflow

    saved = {key: os.environ.get(key) for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    try:
        yield
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def register_in_store(result: Any, folder: Path) -> None:
    """Log `result` (a TrainingResult) into a fresh SQLite store in `folder` and let the gate promote it, as
    `partner-churn train` would, in process (`mlflow_uris_restored`)."""
    from partner_churn.config import load_config
    from training import registry

    config = load_config(
        env={}, overrides=[f"paths.mlflow_tracking_uri=sqlite:///{folder}/mlflow.db", f"paths.mlflow_artifacts_dir={folder}/artifacts"]
    )
    with mlflow_uris_restored():
        _, versions = registry.log_training_run(result, config=config, run_name="test-session")
        assert [d.promoted for d in registry.apply_gate(result, versions, config=config)] == [True, True]


def workbook_strings(path: Path) -> tuple[list[str], list[str]]:
    """The sheet names and every text cell of a written .xlsx (a zip of XML parts; openpyxl is not needed)."""
    import zipfile
    from html import unescape

    with zipfile.ZipFile(path) as book:
        workbook = book.read("xl/workbook.xml").decode()
        shared = book.read("xl/sharedStrings.xml").decode()
    sheets = [unescape(name) for name in re.findall(r'<sheet name="([^"]*)"', workbook)]
    return sheets, [unescape(text) for text in re.findall(r"<t(?: [^>]*)?>([^<]*)</t>", shared)]
