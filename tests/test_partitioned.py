"""Partitions of whole partners (features/contract/partitions.py) and the dask engine (features/partitioned.py):
every partner's rows in one partition, the folder read whole or a partition at a time, and features on a
LocalCluster equal to the local engine's to the last bit, with non-default settings; bad partitions and an
unreachable scheduler are one line and exit 2."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.contract import ContractError, load_program
from features.contract.partitions import PARTITIONS_FILE, partition_of, program_tables, read_partitioning, write_partitioned
from features.partitioned import build_features_on, in_local_order
from features.pipeline import build_features, program_context
from partner_churn.compute import dask_client
from partner_churn.config import ComputeConfig, Config, load_config
from partner_churn.domain import TARGETS
from retention.actions import default_actions_path
from serving.outputs import read_risk_list_file
from synthetic.program import generate_program, write_program
from tests.support import assert_one_line_error, run, workbook_strings

NOW = pd.Timestamp("2026-12-01", tz="UTC")
CUTOFFS = [pd.Timestamp("2025-09-01", tz="UTC"), pd.Timestamp("2025-12-01", tz="UTC"), pd.Timestamp("2026-01-01", tz="UTC")]
# Not the defaults: other windows, another star quantile and segment window, a shorter onboarding period.
CONFIG = load_config(
    overrides=[
        "features.windows_days=[14,30,60,120]",
        "features.revenue_share_windows_days=[30,120]",
        "segments.revenue_window_days=60",
        "segments.star_min_revenue_quantile=0.8",
        "features.onboarding_hours=48",
    ],
    env={},
)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same 1,500-partner program (12 months, with surveys and actions) plain and in 5 partitions."""
    root = tmp_path_factory.mktemp("partitioned")
    program = generate_program(1_500, 12, seed=5)
    write_program(program, root / "plain")
    write_program(program, root / "p5", partitions=5)
    return {"plain": root / "plain", "p5": root / "p5", "root": root}


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with dask_client(ComputeConfig(workers=2, processes=False, memory_limit="2GiB")) as c:  # threads: light on a shared test machine
        yield c


def test_every_partner_is_whole_in_one_partition_and_sorted(folders: dict[str, Path]) -> None:
    layout = read_partitioning(folders["p5"])
    assert layout is not None and layout.partitions == 5 and set(layout.tables) == {"partners", "events", "actions", "surveys"}
    seen: set[str] = set()
    for k in range(5):
        partners = pq.read_table(layout.part_file(folders["p5"], "partners", k)).to_pandas()
        ids = set(partners["partner_id"])
        assert not ids & seen  # no partner in two partitions
        seen |= ids
        assert (partition_of(partners["partner_id"].to_numpy(), 5) == k).all()
        for table in ("events", "actions", "surveys"):
            rows = pq.read_table(layout.part_file(folders["p5"], table, k)).to_pandas()
            assert set(rows["partner_id"]) <= ids  # a partner's rows live with it
            key = list(zip(rows["partner_id"], rows["ts"]))
            assert key == sorted(key)  # by partner_id, then ts
    assert seen == set(pd.read_parquet(folders["plain"] / "partners.parquet")["partner_id"])


def test_the_partition_of_a_partner_is_fixed() -> None:
    ids = np.array([f"P{i:07d}" for i in range(1, 2001)], dtype=object)
    first = partition_of(ids, 7)
    assert np.array_equal(first, partition_of(ids[::-1], 7)[::-1])  # a partner's partition depends on its id alone
    assert set(first) == set(range(7)) and np.bincount(first).min() > 200  # spread over all partitions


def test_the_folder_reads_whole_or_by_partition_as_the_plain_one(folders: dict[str, Path]) -> None:
    plain = load_program(folders["plain"], CONFIG.data, NOW)
    whole = load_program(folders["p5"], CONFIG.data, NOW)
    by_id = lambda frame: frame.sort_values(["partner_id", "ts"] if "ts" in frame else "partner_id", ignore_index=True)  # noqa: E731
    pd.testing.assert_frame_equal(by_id(whole.partners), by_id(plain.partners))
    for name in ("events", "actions", "surveys"):
        a, b = getattr(whole, name).copy(), getattr(plain, name).copy()
        a["partner_id"], b["partner_id"] = a["partner_id"].astype(str), b["partner_id"].astype(str)
        pd.testing.assert_frame_equal(by_id(a), by_id(b), check_dtype=False)
    parts = [load_program(folders["p5"], CONFIG.data, NOW, partition=k) for k in range(5)]
    assert sum(len(p.partners) for p in parts) == len(plain.partners)
    assert sum(len(p.events) for p in parts) == len(plain.events)


def test_the_partition_command_keeps_the_currency_and_reads_back(folders: dict[str, Path], tmp_path: Path) -> None:
    plain = load_program(folders["plain"], CONFIG.data, NOW)
    events = plain.events.copy()
    tables = program_tables(plain.partners, events, plain.actions, plain.surveys, "EUR", CONFIG.data.money_event_types)
    write_partitioned(tables, tmp_path / "eur", 3)
    again = load_program(tmp_path / "eur", CONFIG.data, NOW)
    assert again.currency == "EUR" and len(again.events) == len(plain.events)
    result = run("partition", "--data", str(folders["plain"]), "--out", str(tmp_path / "cli"), "--partitions", "4")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "cli" / PARTITIONS_FILE).read_text())["partitions"] == 4
    assert len(load_program(tmp_path / "cli", CONFIG.data, NOW).events) == len(plain.events)
    (tmp_path / "a_file").write_text("mine")  # --out naming a file: refused, the file kept
    refused = run("partition", "--data", str(folders["plain"]), "--out", str(tmp_path / "a_file"), "--partitions", "2")
    assert_one_line_error(refused, "a_file: exists and is not a partitioned data folder")
    assert (tmp_path / "a_file").read_text() == "mine"


def test_a_writer_killed_before_it_finished_leaves_nothing_the_next_run_keeps(folders: dict[str, Path], tmp_path: Path) -> None:
    """A staging folder of a `partition` or `generate --partitions` that was killed (its process gone) is
    removed by the next writer of the same folder; one of a writer still running is left alone."""
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead = tmp_path / f".out.staging-{int(gone.stdout)}-deadbeef"
    (dead / "events" / ".buckets").mkdir(parents=True)
    alive = tmp_path / f".out.staging-{os.getpid()}-0123abcd"
    alive.mkdir()
    other = tmp_path / f".other.staging-{int(gone.stdout)}-deadbeef"  # another folder's: not this writer's to judge
    other.mkdir()
    plain = load_program(folders["plain"], CONFIG.data, NOW)
    write_partitioned(program_tables(plain.partners, plain.events, None, None, "USD", CONFIG.data.money_event_types), tmp_path / "out", 2)
    assert not dead.exists() and alive.is_dir() and other.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name, "out"])
    # Written again: the new folder takes the old one's place in one swap (another directory at the path), and
    # nothing of the old one stays beside it (no `.out.old-*` a kill between two renames would have left).
    before = os.stat(tmp_path / "out").st_ino
    write_partitioned(program_tables(plain.partners, plain.events, None, None, "USD", CONFIG.data.money_event_types), tmp_path / "out", 3)
    assert os.stat(tmp_path / "out").st_ino != before and read_partitioning(tmp_path / "out").partitions == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name, "out"])


def test_dask_features_equal_the_local_engine_exactly(folders: dict[str, Path], client: Any) -> None:
    whole = load_program(folders["p5"], CONFIG.data, NOW)
    local = build_features(whole.partners, whole.events, CUTOFFS, CONFIG, surveys=whole.surveys)
    dask = build_features_on(client, folders["p5"], NOW, CUTOFFS, CONFIG)
    pd.testing.assert_frame_equal(dask, local, check_exact=True)
    assert set(local["segment"]) >= {"star", "workhorse", "newbie", "sleeper"}
    plain = load_program(folders["plain"], CONFIG.data, NOW)
    unpartitioned = build_features(plain.partners, plain.events, CUTOFFS, CONFIG, surveys=plain.surveys)
    key = ["as_of", "partner_id"]
    pd.testing.assert_frame_equal(
        dask.sort_values(key, ignore_index=True), unpartitioned.sort_values(key, ignore_index=True), check_exact=True
    )  # the partitioning changes only the rows' order
    # The program's figures do not depend on how it is split: to the last bit.
    a, b = program_context(plain.partners, plain.events, CUTOFFS, CONFIG), program_context(whole.partners, whole.events, CUTOFFS, CONFIG)
    assert all(np.array_equal(a.window_revenue[w], b.window_revenue[w]) for w in a.window_revenue)
    assert np.array_equal(a.star_threshold, b.star_threshold)


def test_more_partitions_than_partners_leave_empty_parts_that_still_work(folders: dict[str, Path], client: Any, tmp_path: Path) -> None:
    small = generate_program(30, 6, seed=2)
    write_program(small, tmp_path / "p40", partitions=40)
    empty = [k for k in range(40) if pq.read_metadata(tmp_path / "p40" / "partners" / f"part-{k:05d}.parquet").num_rows == 0]
    assert empty  # 30 partners, 40 partitions
    cutoffs = [pd.Timestamp("2025-05-01", tz="UTC")]
    program = load_program(tmp_path / "p40", Config().data, NOW)
    local = build_features(program.partners, program.events, cutoffs, Config(), surveys=program.surveys)
    pd.testing.assert_frame_equal(build_features_on(client, tmp_path / "p40", NOW, cutoffs, Config()), local, check_exact=True)


def test_bad_partitions_are_one_clear_error(folders: dict[str, Path], client: Any, tmp_path: Path) -> None:
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(folders["p5"], bad)
    events = pq.read_table(bad / "events" / "part-00002.parquet")
    stamps = events.column("ts").to_pylist()
    stamps[4] = None  # a missing timestamp in the fifth row of the third part
    pq.write_table(
        events.set_column(events.schema.get_field_index("ts"), "ts", pa.array(stamps, events.schema.field("ts").type)),
        bad / "events" / "part-00002.parquet",
    )
    with pytest.raises(ContractError, match=r"bad/events: column 'ts': missing timestamp in 1 row, e\.g\. part-00002\.parquet row 5 \(empty\)"):
        load_program(bad, CONFIG.data, NOW)  # read whole: the part file and its row, not the row of all parts together
    with pytest.raises(ContractError, match=r"events/part-00002\.parquet: column 'ts': missing timestamp in 1 row, e\.g\. row 5 \(empty\)"):
        load_program(bad, CONFIG.data, NOW, partition=2)
    # Lenient: the row set aside is named in its quarantine file as the message names it, by part file and row.
    lenient = load_program(bad, CONFIG.data, NOW, lenient=True, quarantine_dir=tmp_path / "quarantine")
    set_aside = pd.read_csv(tmp_path / "quarantine" / "events.quarantine.csv")
    assert set_aside[["part", "row", "problem"]].values.tolist() == [["part-00002.parquet", 5, "missing timestamp"]]
    assert set_aside["event_id"].iloc[0] == events.column("event_id")[4].as_py() and lenient.quarantined["events"] == {"missing timestamp": 1}
    pq.write_table(events, bad / "events" / "part-00002.parquet")
    stray = pq.read_table(bad / "partners" / "part-00003.parquet").column("partner_id")[0].as_py()
    ids = events.column("partner_id").to_pylist()
    ids[4] = stray  # a partner's event in another partition than the partner
    pq.write_table(events.set_column(events.schema.get_field_index("partner_id"), "partner_id", pa.array(ids)), bad / "events" / "part-00002.parquet")
    with pytest.raises(ContractError, match=r"events/part-00002\.parquet: column 'partner_id': unknown partner in 1 row .*row 5"):
        build_features_on(client, bad, NOW, CUTOFFS, CONFIG)
    (bad / "events" / "part-00001.parquet").unlink()
    with pytest.raises(ContractError, match=r"lacks 1 part file\(s\) that partitions.json promises: .*events/part-00001\.parquet"):
        load_program(bad, CONFIG.data, NOW)
    with pytest.raises(ContractError, match=r"partition 9 does not exist \(0\.\.4\)"):
        load_program(folders["p5"], CONFIG.data, NOW, partition=9)
    (bad / PARTITIONS_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(ContractError, match="unreadable partitions file"):
        load_program(bad, CONFIG.data, NOW)


def test_the_engine_on_the_command_line(folders: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "features.parquet"
    args = ["features", "--data", str(folders["p5"]), "--as-of", "2025-12-01", "--out", str(out)]
    result = run(*args, "--engine", "dask", "--set", "compute.workers=1")  # a worker process: what users run
    assert result.returncode == 0, result.stderr
    assert "computing features on a Dask LocalCluster of 1 worker" in result.stderr
    assert run(*args[:-1], str(tmp_path / "local.parquet")).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == [f"part-{k:05d}.parquet" for k in range(5)]  # a part per partition
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(tmp_path / "local.parquet"), check_exact=True)
    # Two cutoffs, written over the first folder: each part holds its partners at both; by as_of they are the local rows.
    twice = [*args[:-1], str(out), "--as-of", "2025-10-01"]
    assert run(*twice, "--engine", "dask", "--set", "compute.processes=false").returncode == 0
    assert run(*twice[:-3], str(tmp_path / "local2.parquet"), "--as-of", "2025-10-01").returncode == 0
    local = pd.read_parquet(tmp_path / "local2.parquet")
    assert local["as_of"].nunique() == 2 and sorted(p.name for p in out.iterdir()) == [f"part-{k:05d}.parquet" for k in range(5)]
    pd.testing.assert_frame_equal(in_local_order([pd.read_parquet(out)]), local, check_exact=True)
    assert not list(tmp_path.glob(".*staging*"))
    (tmp_path / "mine.parquet").mkdir()  # a folder of the user's: never replaced
    (tmp_path / "mine.parquet" / "notes.txt").write_text("mine")
    assert_one_line_error(run(*args[:-1], str(tmp_path / "mine.parquet"), "--engine", "dask"), "a folder holding other files")
    assert (tmp_path / "mine.parquet" / "notes.txt").read_text() == "mine"
    unreachable = ["--set", "compute.scheduler=tcp://127.0.0.1:9", "--set", "compute.connect_timeout_seconds=1"]
    assert_one_line_error(
        run(*args, "--engine", "dask", *unreachable), "compute.scheduler tcp://127.0.0.1:9: cannot reach the Dask scheduler within 1 s"
    )
    assert_one_line_error(run(*args, "--engine", "spark"), "--engine spark: expected local or dask")
    assert_one_line_error(run(*args, "--engine", "dask", "--lenient"), "--lenient with the dask engine")
    assert not list(tmp_path.glob(".*.tmp"))  # no half-written output left by the failures


def test_scoring_on_the_dask_engine_writes_the_local_risk_list_and_figures(generated_dir: Path, fast_training: Any, tmp_path: Path) -> None:
    """The session's program in 3 partitions, scored with the session's models on both engines: the same risk list
    row for row (scores, segments, actions within the owners' capacity, reasons, order), the same top files,
    report, score history and owner KPIs; the dask engine's risk list is a Parquet part per partition."""
    from tests.support import register_in_store, store

    register_in_store(fast_training, tmp_path)
    actions = tmp_path / "actions.yaml"  # a day's capacity that binds on this program's few thousand partners
    actions.write_text(
        default_actions_path().read_text().replace("retention_team: 20", "retention_team: 2").replace("partner_manager: 20", "partner_manager: 1")
    )
    parted = tmp_path / "p3"
    assert run("partition", "--data", str(generated_dir), "--out", str(parted), "--partitions", "3").returncode == 0
    outputs = {}
    for engine in ("local", "dask"):
        result = run(
            "score",
            "--data",
            str(parted),
            "--as-of",
            "2026-06-01",
            "--engine",
            engine,
            *store(tmp_path),
            "--set",
            f"paths.output_dir={tmp_path}/{engine}",
            "--set",
            "compute.processes=false",  # worker threads: light on a shared test machine
            # fewer rows than partners in the spreadsheet, the report and the model's reasons: the texts the
            # dask engine keeps in the command are those of the first rows of the whole list, across partitions
            "--set",
            "scoring.spreadsheet_rows=700",
            "--set",
            "scoring.model_reasons_top=900",
            "--set",
            f"scoring.actions_file={actions}",
        )
        assert result.returncode == 0, result.stderr[-2000:]
        outputs[engine] = tmp_path / engine / "2026-06-01"
    assert "loading data on a Dask LocalCluster of 2 workers" in result.stderr  # the last run: the dask engine
    assert (outputs["local"] / "risk_list.parquet").is_file() and (outputs["local"] / "risk_list.csv").is_file()
    parts = sorted(p.name for p in (outputs["dask"] / "risk_list.parquet").iterdir())
    assert parts == [f"part-{k:05d}.parquet" for k in range(3)] and not (outputs["dask"] / "risk_list.csv").exists()
    local, dask = (read_risk_list_file(outputs[e] / "risk_list.parquet") for e in ("local", "dask"))
    assert len(local) > 4000 and set(local["action_basis"]) == {"rule"}
    # the whole-program decisions are exercised: owners' capacity binds, and both models' reasons reach past one partition
    assert (local["personal_contact"] == "over_capacity").any() and (local["personal_contact"] == "scheduled").sum() > 20
    assert {"risk_model", "potential_model", "facts"} <= set(local["reasons_source"])
    scored_at = {e: str(frame["scored_at"].iloc[0]) for e, frame in (("local", local), ("dask", dask))}
    pd.testing.assert_frame_equal(dask.drop(columns="scored_at"), local.drop(columns="scored_at"), check_exact=True)
    first = pd.read_parquet(outputs["dask"] / "risk_list.parquet" / "part-00000.parquet")
    assert first["partner_id"].tolist() == [p for p in local["partner_id"] if p in set(first["partner_id"])]  # a part in list order
    files = sorted(p.name for p in outputs["local"].iterdir() if p.is_file() and p.name not in ("risk_list.parquet", "risk_list.csv"))
    assert files == sorted(p.name for p in outputs["dask"].iterdir() if p.is_file()) and any(f.startswith("contacts_") for f in files)
    for name in files:
        if name.startswith("contacts_"):
            assert (outputs["dask"] / name).read_bytes() == (outputs["local"] / name).read_bytes(), name
    for name in ("report.en.html",):
        texts = {e: (outputs[e] / name).read_text() for e in outputs}
        assert scored_at["local"][:16] in texts["local"] or scored_at["local"][:10] in texts["local"]
        assert texts["dask"] == texts["local"] or _without_times(texts["dask"]) == _without_times(texts["local"]), name
    sheets, texts = workbook_strings(outputs["local"] / "risk_list.en.xlsx")
    assert (sheets, texts) == workbook_strings(outputs["dask"] / "risk_list.en.xlsx")  # every text, in the order written
    assert all(reasons in texts for reasons in local["reasons"].head(700))
    entries = {e: pd.read_parquet(tmp_path / e / "history" / "2026-06-01.parquet").drop(columns="scored_at") for e in outputs}
    pd.testing.assert_frame_equal(entries["dask"], entries["local"], check_exact=True)
    kpis = {e: json.loads((outputs[e] / "kpis.json").read_text()) for e in outputs}

    def numbers(value: Any, path: str = "") -> dict[str, Any]:
        if isinstance(value, dict):
            return {k: v for key, item in value.items() for k, v in numbers(item, f"{path}.{key}").items()}
        if isinstance(value, list):
            return {k: v for i, item in enumerate(value) for k, v in numbers(item, f"{path}[{i}]").items()}
        return {path: value}

    a, b = numbers(kpis["local"]), numbers(kpis["dask"])
    assert a.keys() == b.keys() and len(a) > 20
    for key, value in a.items():
        if isinstance(value, float):
            assert b[key] == pytest.approx(value, rel=1e-9, nan_ok=True), key
        else:
            assert b[key] == value, key


def _without_times(html: str) -> str:
    """A report without its scoring time (the one thing two runs of a scoring differ in)."""
    return re.sub(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(\+00:00| UTC)?", "TIME", html)


def test_a_program_generated_chunk_by_chunk_is_one_program(tmp_path: Path) -> None:
    """Chunks of 1,000 partners numbered after each other, event ids after each other, the truth appended: it
    meets the contract (unique partners and event ids); a program of one chunk is generate_program's."""
    from synthetic.program import generate_partitioned

    counts = generate_partitioned(2_500, 6, 3, tmp_path / "chunked", 4, chunk=1_000)
    program = load_program(tmp_path / "chunked", Config().data, NOW)
    ids = program.partners["partner_id"]
    assert counts["partners"] == len(ids) == ids.nunique() == 2_500 and (ids.min(), ids.max()) == ("P0000001", "P0002500")
    assert counts["events"] == len(program.events) == program.events["event_id"].nunique()
    latent = pq.read_table(tmp_path / "chunked" / "latent.parquet", columns=["partner_id"]).column("partner_id").to_pandas()
    assert latent.astype(str).max() > "P0002000"  # the last chunk's truth is there too
    generate_partitioned(800, 6, 3, tmp_path / "one", 3)
    write_program(generate_program(800, 6, 3), tmp_path / "whole", partitions=3)
    for table in ("partners", "events", "actions", "surveys"):
        for k in range(3):
            assert pq.read_table(tmp_path / "one" / table / f"part-{k:05d}.parquet").equals(
                pq.read_table(tmp_path / "whole" / table / f"part-{k:05d}.parquet")
            )


def test_dask_training_equals_the_local_engine_exactly(folders: dict[str, Path], client: Any) -> None:
    """Both models trained and backtested from the 5 partitions on the cluster and from the program in memory, with
    non-default feature windows, segments and horizon: the same rows, plan, labels, backtest, fingerprint and models."""
    from tests.support import FAST_SETTINGS
    from training.partitioned import source_on
    from training.source import local_source
    from training.train import train_from

    config = CONFIG.model_copy(
        update={"labels": CONFIG.labels.model_copy(update={"horizon_days": 21}), "training": load_config(env={}, overrides=FAST_SETTINGS).training}
    )
    whole = load_program(folders["p5"], config.data, NOW)
    local_rows, dask_rows = local_source(whole), source_on(client, folders["p5"], NOW, config)
    cutoffs = [pd.Timestamp("2025-10-01", tz="UTC"), pd.Timestamp("2025-12-20", tz="UTC")]  # the second's horizon ends after the data
    expected = local_rows.dataset_at(cutoffs, config)
    pd.testing.assert_frame_equal(dask_rows.dataset_at(cutoffs, config), expected, check_exact=True)
    assert expected["upgraded"].sum() > 0 and expected["deactivated"].sum() > 0 and expected["upgraded"].isna().any()
    local, dask = train_from(local_rows, config), train_from(dask_rows, config)
    assert dask.plan == local.plan and dask.fingerprint == local.fingerprint and set(local.models) == set(TARGETS)
    pd.testing.assert_frame_equal(dask.backtest, local.backtest, check_exact=True)
    pd.testing.assert_frame_equal(dask.predictions, local.predictions, check_exact=True)
    pd.testing.assert_frame_equal(dask.reference_sample, local.reference_sample, check_exact=True)
    for target, model in local.models.items():
        assert dask.models[target].program == model.program and dask.models[target].best_iteration == model.best_iteration
        np.testing.assert_array_equal(dask.models[target].predict(expected), model.predict(expected))
    plain = load_program(folders["plain"], config.data, NOW)
    assert train_from(local_source(plain), config, refit=False).fingerprint["sha256"] == local.fingerprint["sha256"]  # any split, one hash


def test_a_training_sample_is_the_same_partners_rows_on_both_engines(folders: dict[str, Path], client: Any) -> None:
    """`training.max_partners`: about that many partners, chosen by id alone (any split, any run); their rows are
    the whole program's rows of those partners exactly (built with the whole program's context), on both engines."""
    from training.partitioned import source_on
    from training.source import in_sample, local_source, outline_of, sample_share

    config = CONFIG.model_copy(update={"training": CONFIG.training.model_copy(update={"max_partners": 400})})
    whole = load_program(folders["p5"], config.data, NOW)
    share = sample_share(outline_of(whole), config)
    ids = whole.partners["partner_id"]
    chosen = set(ids[in_sample(ids, share)])
    assert share == 400 / 1_500 and 330 <= len(chosen) <= 470  # about max_partners: a binomial draw by hash
    shuffled = ids.sample(frac=1.0, random_state=1).to_numpy()
    assert set(shuffled[in_sample(shuffled, share)]) == chosen  # by id, not by place
    cutoffs = [pd.Timestamp("2025-10-01", tz="UTC"), pd.Timestamp("2025-12-01", tz="UTC")]
    everyone = local_source(whole).dataset_at(cutoffs, CONFIG)
    expected = everyone[everyone["partner_id"].isin(chosen)].reset_index(drop=True)
    local = local_source(whole).dataset_at(cutoffs, config)
    pd.testing.assert_frame_equal(local, expected, check_exact=True)  # the stars' threshold and shares are the program's
    pd.testing.assert_frame_equal(source_on(client, folders["p5"], NOW, config).dataset_at(cutoffs, config), expected, check_exact=True)
    assert (everyone["segment"] == "star").any() and (expected["segment"] == "star").any()


def test_train_and_backtest_on_the_dask_engine_from_the_command_line(folders: dict[str, Path], tmp_path: Path) -> None:
    """`train --engine dask` registers both champions from the partitions, and its backtest table is the local
    engine's `backtest` of the same folder; an unreachable scheduler stops `backtest` in one line."""
    from tests.support import FAST, store

    threads = ["--set", "compute.processes=false"]  # worker threads: light on a shared test machine
    trained = run("train", "--data", str(folders["p5"]), "--engine", "dask", *FAST, *store(tmp_path), *threads)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "building the training rows on a Dask LocalCluster of 2 workers" in trained.stderr
    assert "partner-churn-deactivation-risk v1: champion" in trained.stdout and "partner-churn-upgrade-potential v1: champion" in trained.stdout
    backtested = run("backtest", "--data", str(folders["p5"]), "--engine", "local", *FAST, *store(tmp_path))
    assert backtested.returncode == 0, backtested.stderr[-2000:]
    tables = sorted((tmp_path / "reports").glob("backtest-*.csv"), key=lambda path: path.stat().st_mtime)
    assert len(tables) == 2
    pd.testing.assert_frame_equal(pd.read_csv(tables[0]), pd.read_csv(tables[1]), check_exact=True)
    unreachable = ["--set", "compute.scheduler=tcp://127.0.0.1:9", "--set", "compute.connect_timeout_seconds=1"]
    assert_one_line_error(
        run("backtest", "--data", str(folders["p5"]), "--engine", "dask", *FAST, *store(tmp_path), *unreachable),
        "compute.scheduler tcp://127.0.0.1:9: cannot reach the Dask scheduler within 1 s",
    )
