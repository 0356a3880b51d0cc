"""The input data contract: every problem the loader must refuse, lenient quarantine, and typed output.

Tables are built here, a few rows each, and written as CSV or Parquet into tmp_path. Each failure test
checks that the one-line message names the file, the column, the problem and the offending rows.
"""

from __future__ import annotations

import csv
import itertools
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.contract import ContractError, Program, load_program
from partner_churn.config import DataConfig, load_config
from partner_churn.errors import ConfigError, InputError

AS_OF = pd.Timestamp("2025-06-01", tz="UTC")
DATA = DataConfig()
TOLERANT = DataConfig(max_quarantine_share=1.0)
"""For lenient tests on tiny tables, where one bad row is already more than the default share bar."""

Table = dict[str, list]


# ---------------------------------------------------------------------------------------------
# Building tiny programs


def partners_table(**overrides: list) -> Table:
    table: Table = {
        "partner_id": ["p1", "p2", "p3"],
        "signup_at": ["2025-01-01", "2025-01-10 08:00", "2025-02-01T00:00:00"],
    }
    table.update(overrides)
    return table


def events_table(**overrides: list) -> Table:
    table: Table = {
        "partner_id": ["p2", "p1", "p1", "p3", "p2"],
        "ts": ["2025-03-01 10:00", "2025-03-02", "2025-01-05T12:00:00", "2025-04-01", "2025-02-01"],
        "event_type": ["login", "sale", "click", "lead", "payout_paid"],
        "amount": ["", "120.5", "", "0", "30"],
    }
    table.update(overrides)
    return table


def actions_table(**overrides: list) -> Table:
    table: Table = {
        "partner_id": ["p1", "p2"],
        "ts": ["2025-04-01", "2025-04-02"],
        "action": ["personal_contact", "reactivation_offer"],
    }
    table.update(overrides)
    return table


def surveys_table(**overrides: list) -> Table:
    table: Table = {
        "partner_id": ["p2", "p1", "p1"],
        "ts": ["2025-04-03", "2025-04-01", "2025-03-15 09:30"],
        "score": ["9", "3", "7.5"],
        "comment": ["helpful manager", "", "payouts are slow"],
    }
    table.update(overrides)
    return table


def write_csv(path: Path, table: Table) -> Path:
    """CSV exactly as given: None and "" become empty fields."""
    columns = list(table)
    rows = zip(*(table[name] for name in columns))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([["" if value is None else value for value in row] for row in rows])
    return path


def write_parquet(path: Path, table: Table | pa.Table) -> Path:
    pq.write_table(table if isinstance(table, pa.Table) else pa.table(table), path)
    return path


def make_program(
    folder: Path,
    partners: Table | pa.Table | None = None,
    events: Table | pa.Table | None = None,
    actions: Table | pa.Table | None = None,
    fmt: str = "csv",
    surveys: Table | pa.Table | None = None,
) -> Path:
    """A data folder with the given tables (defaults: a small valid program without actions)."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "partners": partners_table() if partners is None else partners,
        "events": events_table() if events is None else events,
        "actions": actions,
        "surveys": surveys,
    }
    for name, table in tables.items():
        if table is None:
            continue
        if fmt == "csv" and not isinstance(table, pa.Table):
            write_csv(folder / f"{name}.csv", table)
        else:
            write_parquet(folder / f"{name}.parquet", table)
    return folder


def load(folder: Path, **kwargs: Any) -> Program:
    return load_program(folder, kwargs.pop("data", DATA), kwargs.pop("as_of", AS_OF), **kwargs)


def assert_rejected(
    folder: Path,
    file: str,
    column: str,
    problem: str,
    count: int,
    examples: str,
    file_column: str | None = None,
    **kwargs: Any,
) -> str:
    """Loading fails with the one-line row message: file, column (and the file's name for it), problem, count,
    (detail), examples."""
    noun = "row" if count == 1 else "rows"
    label = f"'{column}'" + (f" (file column '{file_column}')" if file_column else "")
    pattern = (
        rf"^{re.escape(str(folder / file))}: column {re.escape(label)}: {re.escape(problem)} "
        rf"in {count} {noun}( \([^\n]*\))?, e\.g\. {re.escape(examples)}$"
    )
    with pytest.raises(InputError, match=pattern) as caught:
        load(folder, **kwargs)
    return str(caught.value)


def assert_file_rejected(folder: Path, message: str, **kwargs: Any) -> None:
    """Loading fails with exactly this one-line file-level message."""
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        load(folder, **kwargs)


def read_quarantine(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# ---------------------------------------------------------------------------------------------
# A good program loads, typed


def test_valid_csv_program_loads_typed_sorted_and_utc(tmp_path: Path) -> None:
    program = load(make_program(tmp_path, actions=actions_table()))

    partners = program.partners
    assert list(partners.columns) == ["partner_id", "signup_at"]
    assert partners["partner_id"].dtype == object
    assert partners["partner_id"].tolist() == ["p1", "p2", "p3"]
    assert str(partners["signup_at"].dtype) == "datetime64[ns, UTC]"
    assert partners["signup_at"].tolist() == [utc("2025-01-01"), utc("2025-01-10 08:00"), utc("2025-02-01")]

    events = program.events
    assert list(events.columns) == ["partner_id", "ts", "event_type", "amount"]
    assert isinstance(events["partner_id"].dtype, pd.CategoricalDtype)
    assert events["partner_id"].cat.categories.tolist() == ["p1", "p2", "p3"]
    assert events["event_type"].cat.categories.tolist() == DATA.event_types
    assert str(events["ts"].dtype) == "datetime64[ns, UTC]"
    assert events["amount"].dtype == np.float64
    assert events.index.tolist() == list(range(5))
    assert events["partner_id"].tolist() == ["p1", "p1", "p2", "p2", "p3"]
    assert events["ts"].tolist() == [utc("2025-01-05 12:00"), utc("2025-03-02"), utc("2025-02-01"), utc("2025-03-01 10:00"), utc("2025-04-01")]
    assert events["event_type"].tolist() == ["click", "sale", "payout_paid", "login", "lead"]
    assert events["amount"].tolist() == [0.0, 120.5, 30.0, 0.0, 0.0]

    actions = program.actions
    assert actions is not None
    assert list(actions.columns) == ["partner_id", "ts", "action"]
    assert actions["partner_id"].cat.categories.tolist() == ["p1", "p2", "p3"]
    assert actions["action"].tolist() == ["personal_contact", "reactivation_offer"]
    assert program.quarantined == {}


def test_actions_are_optional(tmp_path: Path) -> None:
    assert load(make_program(tmp_path)).actions is None


def test_aware_timestamps_are_converted_to_utc(tmp_path: Path) -> None:
    ts = [
        "2025-03-01T10:00:00+03:00",
        "2025-03-02T00:00:00Z",
        "2025-01-05T12:00:00.5-0130",
        "2025-04-01T00:00Z",
        "2025-02-01 23:00:00+01",
    ]
    program = load(make_program(tmp_path, events=events_table(ts=ts)))
    by_type = dict(zip(program.events["event_type"], program.events["ts"]))
    assert by_type["login"] == utc("2025-03-01 07:00")
    assert by_type["click"] == utc("2025-01-05 13:30:00.5")
    assert by_type["payout_paid"] == utc("2025-02-01 22:00")


def test_parquet_and_csv_of_the_same_program_load_identically(tmp_path: Path) -> None:
    csv_program = load(make_program(tmp_path / "csv", actions=actions_table()))

    events, partners, actions = events_table(), partners_table(), actions_table()
    parquet_events = pa.table(
        {
            "partner_id": pa.array(events["partner_id"]).dictionary_encode(),
            # tz-aware in another zone: converted to UTC
            "ts": pa.array(pd.to_datetime(events["ts"], format="ISO8601").tz_localize("UTC").tz_convert("Europe/Berlin")),
            "event_type": pa.array(events["event_type"]).dictionary_encode(),
            "amount": pa.array([None, 120.5, None, 0.0, 30.0]),
        }
    )
    parquet_partners = pa.table(
        {
            "partner_id": partners["partner_id"],
            # naive: read as UTC
            "signup_at": pa.array(pd.to_datetime(partners["signup_at"], format="ISO8601")),
        }
    )
    parquet_actions = pa.table(
        {
            "partner_id": actions["partner_id"],
            "ts": pa.array(pd.to_datetime(actions["ts"]).tz_localize("UTC").tz_convert("Asia/Tokyo")),
            "action": actions["action"],
        }
    )
    folder = make_program(tmp_path / "pq", parquet_partners, parquet_events, parquet_actions, fmt="parquet")
    parquet_program = load(folder)

    pd.testing.assert_frame_equal(parquet_program.partners, csv_program.partners)
    pd.testing.assert_frame_equal(parquet_program.events, csv_program.events)
    assert parquet_program.actions is not None and csv_program.actions is not None
    pd.testing.assert_frame_equal(parquet_program.actions, csv_program.actions)


def test_parquet_text_timestamps_are_parsed_like_csv(tmp_path: Path) -> None:
    partners = pa.table({"partner_id": ["p1", "p2", "p3"], "signup_at": ["2025-01-01", "2025-01-10", "2025-02-01Z"]})
    events = pa.table(events_table(amount=[0.0, 120.5, 0.0, 0.0, 30.0]))
    folder = make_program(tmp_path, partners=partners, events=events, fmt="parquet")
    assert_rejected(folder, "partners.parquet", "signup_at", "unparseable timestamp", 1, "row 3 (2025-02-01Z)")


def test_partner_ids_are_text_integers_are_cast_and_nothing_is_stripped(tmp_path: Path) -> None:
    partners = pa.table({"partner_id": pa.array([7, 8], pa.int64()), "signup_at": ["2025-01-01", "2025-01-01"]})
    events = pa.table(
        {
            "partner_id": pa.array([8, 7], pa.int32()),
            "ts": ["2025-02-01", "2025-02-02"],
            "event_type": ["login", "click"],
            "amount": pa.array([None, None], pa.float64()),
        }
    )
    program = load(make_program(tmp_path / "pq", partners, events, fmt="parquet"))
    assert program.partners["partner_id"].tolist() == ["7", "8"]
    assert program.events["partner_id"].tolist() == ["7", "8"]

    folder = make_program(
        tmp_path / "csv",
        partners=partners_table(partner_id=["007", " p2", "p3"]),
        events=events_table(partner_id=["007", "007", "007", " p2", "p3"]),
    )
    program = load(folder)
    assert program.partners["partner_id"].tolist() == ["007", " p2", "p3"]
    assert set(program.events["partner_id"]) == {"007", " p2", "p3"}


def test_input_already_in_order_comes_back_unchanged_and_writable(tmp_path: Path) -> None:
    events = events_table(
        partner_id=["p1", "p1", "p2", "p2", "p3"],
        ts=["2025-01-05", "2025-03-02", "2025-02-01", "2025-03-01", "2025-04-01"],
        event_id=["e1", "e2", "e3", "e4", "e5"],
    )
    loaded = load(make_program(tmp_path, events=events)).events
    assert loaded["event_id"].tolist() == ["e1", "e2", "e3", "e4", "e5"]
    loaded.loc[0, "amount"] = 7.0
    loaded.loc[1, "ts"] = utc("2025-03-03")
    assert loaded["amount"].iloc[0] == 7.0 and loaded["ts"].iloc[1] == utc("2025-03-03")


def test_event_id_is_kept_when_present(tmp_path: Path) -> None:
    program = load(make_program(tmp_path, events=events_table(event_id=["e1", "e2", "e3", "e4", None])))
    assert program.events["event_id"].dtype == "string"
    assert sorted(program.events["event_id"].dropna()) == ["e1", "e2", "e3", "e4"]


# ---------------------------------------------------------------------------------------------
# Declared extra columns


def test_declared_columns_are_cast_and_may_be_absent(tmp_path: Path) -> None:
    partners = partners_table(commission_rate=["0.1", "", "0.25"], partner_type=["blogger", "agency", ""])
    actions = actions_table(holdout=["true", "False"])
    program = load(make_program(tmp_path, partners=partners, actions=actions))
    # `country` is declared but absent: fine, and not invented
    assert list(program.partners.columns) == ["partner_id", "signup_at", "commission_rate", "partner_type"]
    assert program.partners["commission_rate"].iloc[0] == 0.1
    assert np.isnan(program.partners["commission_rate"].iloc[1])
    assert program.partners["partner_type"].tolist() == ["blogger", "agency", None]
    assert program.actions is not None
    assert program.actions["holdout"].dtype == "boolean"
    assert program.actions["holdout"].tolist() == [True, False]


def test_declared_extra_event_columns_are_accepted_and_typed(tmp_path: Path) -> None:
    data = DataConfig(event_extra_columns={"channel": "string", "weight": "integer", "seen_at": "timestamp"})
    events = events_table(
        channel=["a", "b", "c", "d", ""],
        weight=["1", "2", "", "4", "-5"],
        seen_at=["2025-03-01", "", "2025-03-01", "2025-03-01", "2025-03-01"],
    )
    loaded = load(make_program(tmp_path, events=events), data=data).events
    assert loaded["channel"].dtype == "string"
    assert loaded["weight"].dtype == "Int64"
    assert sorted(loaded["weight"].dropna().tolist()) == [-5, 1, 2, 4]
    assert str(loaded["seen_at"].dtype) == "datetime64[ns, UTC]"
    assert loaded["seen_at"].isna().sum() == 1


@pytest.mark.parametrize(
    "kind,values,problem,examples",
    [
        ("float", ["0.1", "ten", "12,5"], "not a number", "row 2 (ten), row 3 (12,5)"),
        ("integer", ["1", "1.5", "x"], "not an integer", "row 2 (1.5), row 3 (x)"),
        ("boolean", ["yes", "maybe", "0"], "not a boolean", "row 2 (maybe)"),
        ("timestamp", ["2025-01-01", "", "Jan 5"], "unparseable timestamp", "row 3 (Jan 5)"),
    ],
)
def test_declared_value_that_does_not_cast_is_a_row_problem(tmp_path: Path, kind: str, values: list[str], problem: str, examples: str) -> None:
    data = DataConfig(partner_attributes={"extra": kind})  # type: ignore[dict-item]
    folder = make_program(tmp_path, partners=partners_table(extra=values))
    count = examples.count("row ")
    assert_rejected(folder, "partners.csv", "extra", problem, count, examples, data=data)


def test_declared_problems_are_counted_per_column_in_lenient_mode(tmp_path: Path) -> None:
    folder = make_program(tmp_path / "data", partners=partners_table(commission_rate=["0.1", "ten", ""]))
    program = load(folder, lenient=True, quarantine_dir=tmp_path / "q", data=TOLERANT)
    assert program.quarantined == {"partners": {"commission_rate not a float": 1}, "events": {"unknown partner": 2}}


# ---------------------------------------------------------------------------------------------
# 1. missing and ambiguous files


@pytest.mark.parametrize("table", ["partners", "events"])
def test_missing_required_file(tmp_path: Path, table: str) -> None:
    folder = make_program(tmp_path)
    (folder / f"{table}.csv").unlink()
    assert_file_rejected(folder, f"{folder}: missing {table} file: looked for {table}.parquet and {table}.csv in {folder}")


def test_both_parquet_and_csv_of_a_table_is_ambiguous(tmp_path: Path) -> None:
    folder = make_program(tmp_path)
    write_parquet(folder / "events.parquet", pa.table({"x": [1]}))
    assert_file_rejected(folder, f"{folder}: ambiguous events table: both events.parquet and events.csv exist; keep one")


def test_missing_data_folder(tmp_path: Path) -> None:
    assert_file_rejected(tmp_path / "nowhere", f"{tmp_path / 'nowhere'}: data folder not found")


# ---------------------------------------------------------------------------------------------
# 2. empty and unreadable files


@pytest.mark.parametrize("table", ["partners", "events", "actions"])
def test_zero_byte_file_is_empty(tmp_path: Path, table: str) -> None:
    folder = make_program(tmp_path)
    (folder / f"{table}.csv").write_bytes(b"")
    assert_file_rejected(folder, f"{folder / f'{table}.csv'}: empty file (zero bytes)")


@pytest.mark.parametrize("table", ["partners", "events"])
def test_header_only_file_is_empty(tmp_path: Path, table: str) -> None:
    folder = make_program(tmp_path)
    columns = {"partners": partners_table(), "events": events_table()}[table]
    write_csv(folder / f"{table}.csv", {name: [] for name in columns})
    assert_file_rejected(folder, f"{folder / f'{table}.csv'}: empty file (header only, no rows)")


def test_header_only_actions_file_means_no_actions(tmp_path: Path) -> None:
    folder = make_program(tmp_path, actions={"partner_id": [], "ts": [], "action": []})
    actions = load(folder).actions
    assert actions is not None and len(actions) == 0
    assert list(actions.columns) == ["partner_id", "ts", "action"]
    assert str(actions["ts"].dtype) == "datetime64[ns, UTC]"


def test_parquet_without_rows_is_empty(tmp_path: Path) -> None:
    partners = pa.table({"partner_id": pa.array([], pa.string()), "signup_at": pa.array([], pa.timestamp("us"))})
    events = pa.table({"partner_id": ["p1"], "ts": ["2025-02-01"], "event_type": ["login"], "amount": [0.0]})
    folder = make_program(tmp_path, partners=partners, events=events, fmt="parquet")
    assert_file_rejected(folder, f"{folder / 'partners.parquet'}: empty file (no rows)")


def test_corrupt_parquet_file_is_unreadable(tmp_path: Path) -> None:
    folder = make_program(tmp_path)
    (folder / "events.csv").unlink()
    (folder / "events.parquet").write_bytes(b"PAR1 this is not really parquet")
    pattern = rf"^{re.escape(str(folder / 'events.parquet'))}: unreadable Parquet file \(.+\)$"
    with pytest.raises(InputError, match=pattern):
        load(folder)


def test_ragged_csv_is_unreadable(tmp_path: Path) -> None:
    folder = make_program(tmp_path)
    (folder / "partners.csv").write_text("partner_id,signup_at\np1,2025-01-01\np2,2025-01-01,extra\n")
    with pytest.raises(InputError, match=rf"^{re.escape(str(folder / 'partners.csv'))}: unreadable CSV file \(.+\)$"):
        load(folder)


# ---------------------------------------------------------------------------------------------
# 3. columns: missing, undeclared, duplicated, wrongly typed


def test_missing_required_column_lists_the_columns_found(tmp_path: Path) -> None:
    events = events_table()
    del events["ts"]
    folder = make_program(tmp_path, events=events)
    assert_file_rejected(
        folder,
        f"{folder / 'events.csv'}: column 'ts': missing required column (columns found: partner_id, event_type, "
        "amount; a file column of another name can be mapped to it with data.column_map.events)",
    )


@pytest.mark.parametrize("lenient", [False, True])
def test_undeclared_extra_column_is_an_error_in_both_modes(tmp_path: Path, lenient: bool) -> None:
    folder = make_program(tmp_path / "data", events=events_table(channel=["a", "b", "c", "d", "e"]))
    assert_file_rejected(
        folder,
        f"{folder / 'events.csv'}: column 'channel': undeclared extra column (declare it with a type under "
        "data.event_extra_columns, map it to a column of the contract with data.column_map.events, or remove it; "
        "allowed here: partner_id, ts, event_type, amount, event_id, currency)",
        lenient=lenient,
        quarantine_dir=tmp_path / "q",
    )


def test_duplicate_column_name(tmp_path: Path) -> None:
    folder = make_program(tmp_path)
    (folder / "partners.csv").write_text("partner_id,signup_at,partner_id\np1,2025-01-01,p1\n")
    assert_file_rejected(
        folder,
        f"{folder / 'partners.csv'}: column 'partner_id': duplicate column name (columns found: partner_id, signup_at, partner_id)",
    )


def test_parquet_column_of_an_unusable_type(tmp_path: Path) -> None:
    events = pa.table({"partner_id": ["p1"], "ts": ["2025-02-01"], "event_type": ["login"], "amount": [True]})
    folder = make_program(tmp_path, partners=pa.table(partners_table()), events=events, fmt="parquet")
    assert_file_rejected(folder, f"{folder / 'events.parquet'}: column 'amount': wrong Parquet type bool (expected numbers or text)")


# ---------------------------------------------------------------------------------------------
# 4. timestamps that do not parse, 5. mixed time zones


def test_unparseable_signup_at(tmp_path: Path) -> None:
    folder = make_program(tmp_path, partners=partners_table(signup_at=["2025-01-01", "01/10/2025", "yesterday"]))
    message = assert_rejected(folder, "partners.csv", "signup_at", "unparseable timestamp", 2, "row 2 (01/10/2025), row 3 (yesterday)")
    assert "(expected ISO 8601 like 2025-03-01" in message


def test_unparseable_ts_includes_days_that_do_not_exist(tmp_path: Path) -> None:
    ts = ["2025-03-01", "2025-02-30", "2025-03-01", "2025-03-01 25:00", "2025-03-01"]
    folder = make_program(tmp_path, events=events_table(ts=ts))
    assert_rejected(folder, "events.csv", "ts", "unparseable timestamp", 2, "row 2 (2025-02-30), row 4 (2025-03-01 25:00)")


def test_missing_ts(tmp_path: Path) -> None:
    ts = ["2025-03-01", "", "2025-03-01", "2025-03-01", "2025-03-01"]
    folder = make_program(tmp_path, events=events_table(ts=ts))
    assert_rejected(folder, "events.csv", "ts", "missing timestamp", 1, "row 2 (empty)")


def test_mixed_time_zones_in_one_column(tmp_path: Path) -> None:
    ts = ["2025-03-01T10:00:00Z", "2025-03-02 10:00", "2025-03-01T10:00:00+03:00", "2025-04-01", "2025-02-01T00:00Z"]
    folder = make_program(tmp_path, events=events_table(ts=ts))
    message = assert_rejected(folder, "events.csv", "ts", "mixed time zones", 2, "row 2 (2025-03-02 10:00), row 4 (2025-04-01)")
    assert "(these have no zone or offset while 3 rows have one)" in message


# ---------------------------------------------------------------------------------------------
# 6. null partner_id (and null action)


@pytest.mark.parametrize("table,row", [("partners", 2), ("events", 3), ("actions", 1)])
def test_null_partner_id(tmp_path: Path, table: str, row: int) -> None:
    tables = {
        "partners": partners_table(partner_id=["p1", "", "p3"]),
        "events": events_table(partner_id=["p2", "p1", None, "p3", "p2"]),
        "actions": actions_table(partner_id=["", "p2"]),
    }
    folder = make_program(tmp_path, **{"actions": actions_table(), table: tables[table]})
    assert_rejected(folder, f"{table}.csv", "partner_id", "null partner_id", 1, f"row {row} (empty)")


def test_null_action(tmp_path: Path) -> None:
    folder = make_program(tmp_path, actions=actions_table(action=["personal_contact", ""]))
    assert_rejected(folder, "actions.csv", "action", "null action", 1, "row 2 (empty)")


# ---------------------------------------------------------------------------------------------
# 7. amount: negative, non-numeric, missing for money


def test_negative_amount_message_is_exact(tmp_path: Path) -> None:
    folder = make_program(tmp_path, events=events_table(amount=["", "-12.5", "", "-1.0", "-3"]))
    expected = f"{folder / 'events.csv'}: column 'amount': negative amount in 3 rows, e.g. row 2 (-12.5), row 4 (-1.0), row 5 (-3)"
    with pytest.raises(ContractError, match=f"^{re.escape(expected)}$") as caught:
        load(folder)
    assert isinstance(caught.value, InputError)
    assert (caught.value.column, caught.value.problem) == ("amount", "negative amount")
    assert (caught.value.rows, caught.value.count) == ((2, 4, 5), 3)


def test_non_numeric_amount(tmp_path: Path) -> None:
    folder = make_program(tmp_path, events=events_table(amount=["", "12,50", "", "abc", "1e3"]))
    assert_rejected(folder, "events.csv", "amount", "non-numeric amount", 2, "row 2 (12,50), row 4 (abc)")


def test_missing_amount_is_zero_except_for_money_events(tmp_path: Path) -> None:
    folder = make_program(tmp_path, events=events_table(amount=["", "", "", "", "30"]))
    message = assert_rejected(folder, "events.csv", "amount", "missing amount", 1, "row 2 (empty amount, event_type sale)")
    assert "(required for money event types: sale, payout_requested, payout_paid)" in message


def test_parquet_amount_nan_is_empty(tmp_path: Path) -> None:
    events = pa.table(
        {
            "partner_id": ["p1", "p1"],
            "ts": ["2025-02-01", "2025-02-02"],
            "event_type": ["login", "sale"],
            "amount": pa.array([float("nan"), 5], pa.float64()),
        }
    )
    program = load(make_program(tmp_path, partners=pa.table(partners_table()), events=events, fmt="parquet"))
    assert program.events["amount"].tolist() == [0.0, 5.0]


# ---------------------------------------------------------------------------------------------
# 8. unknown event_type, 9. unknown partner


def test_unknown_event_type_shows_the_unknown_values_with_their_counts(tmp_path: Path) -> None:
    event_types = ["login", "purchase", "click", "Login", "purchase"]
    folder = make_program(tmp_path, events=events_table(event_type=event_types))
    message = assert_rejected(folder, "events.csv", "event_type", "unknown event_type", 2, "row 2 (purchase), row 5 (purchase)")
    assert message.endswith(
        "(values not in data.event_types: 'purchase' 2 rows; map them to the vocabulary with data.event_type_map "
        "(file value: event type), or add them to data.event_types), e.g. row 2 (purchase), row 5 (purchase)"
    )

    case_sensitive = DataConfig(event_type_case_insensitive=False)
    examples = "row 2 (purchase), row 4 (Login), row 5 (purchase)"
    message = assert_rejected(folder, "events.csv", "event_type", "unknown event_type", 3, examples, data=case_sensitive)
    assert "(values not in data.event_types: 'purchase' 2 rows, 'Login' 1 row; map them" in message
    assert "; 'Login' would match ignoring case with data.event_type_case_insensitive: true)" in message


@pytest.mark.parametrize(
    "table,ids,count,examples",
    [
        ("events", ["p2", "p9", "p1", "p3", "P2"], 2, "row 2 (p9), row 5 (P2)"),
        ("actions", ["p1", "p4"], 1, "row 2 (p4)"),
    ],
)
def test_unknown_partner(tmp_path: Path, table: str, ids: list[str], count: int, examples: str) -> None:
    tables = {"events": events_table(partner_id=ids), "actions": actions_table(partner_id=ids)}
    folder = make_program(tmp_path, **{"actions": actions_table(), table: tables[table]})
    message = assert_rejected(folder, f"{table}.csv", "partner_id", "unknown partner", count, examples)
    assert f"({count} distinct partner_id values not in partners)" in message


# ---------------------------------------------------------------------------------------------
# 10./11. duplicates


def test_duplicate_partner_id(tmp_path: Path) -> None:
    folder = make_program(tmp_path, partners=partners_table(partner_id=["p1", "p2", "p1"]))
    assert_rejected(folder, "partners.csv", "partner_id", "duplicate partner_id", 1, "row 3 (p1, first in row 1)")


def test_duplicate_event_id(tmp_path: Path) -> None:
    folder = make_program(tmp_path, events=events_table(event_id=["e1", "e2", "e1", None, None]))
    assert_rejected(folder, "events.csv", "event_id", "duplicate event_id", 1, "row 3 (e1, first in row 1)")


# ---------------------------------------------------------------------------------------------
# 12. before signup, 13. after as-of


@pytest.mark.parametrize(
    "table,ts,examples",
    [
        (
            "events",
            ["2025-03-01", "2025-03-02", "2024-12-31T23:59:59", "2025-04-01", "2025-02-01"],
            "row 3 (partner p1: ts 2024-12-31T23:59:59+00:00 < signup_at 2025-01-01T00:00:00+00:00)",
        ),
        (
            "actions",
            ["2025-04-01", "2025-01-09"],
            "row 2 (partner p2: ts 2025-01-09T00:00:00+00:00 < signup_at 2025-01-10T08:00:00+00:00)",
        ),
    ],
)
def test_before_signup(tmp_path: Path, table: str, ts: list[str], examples: str) -> None:
    tables = {"events": events_table(ts=ts), "actions": actions_table(ts=ts)}
    folder = make_program(tmp_path, **{"actions": actions_table(), table: tables[table]})
    assert_rejected(folder, f"{table}.csv", "ts", "timestamp before the partner's signup_at", 1, examples)


@pytest.mark.parametrize(
    "table,ts,examples",
    [
        ("events", ["2025-03-01", "2025-06-01 00:00:01", "2025-03-01", "2025-06-01", "2025-02-01"], "row 2 (2025-06-01 00:00:01)"),
        ("actions", ["2025-07-01", "2025-04-02"], "row 1 (2025-07-01)"),
    ],
)
def test_ts_after_as_of(tmp_path: Path, table: str, ts: list[str], examples: str) -> None:
    tables = {"events": events_table(ts=ts), "actions": actions_table(ts=ts)}
    folder = make_program(tmp_path, **{"actions": actions_table(), table: tables[table]})
    problem = "timestamp in the future relative to as-of 2025-06-01T00:00:00+00:00"
    assert_rejected(folder, f"{table}.csv", "ts", problem, 1, examples)


def test_signup_after_as_of(tmp_path: Path) -> None:
    folder = make_program(tmp_path, partners=partners_table(signup_at=["2025-01-01", "2025-01-10", "2025-08-01"]))
    problem = "signup_at in the future relative to as-of 2025-06-01T00:00:00+00:00"
    assert_rejected(folder, "partners.csv", "signup_at", problem, 1, "row 3 (2025-08-01)")


def test_naive_as_of_is_utc(tmp_path: Path) -> None:
    ts = ["2025-03-01T00:00Z", "2025-03-02T00:00Z", "2025-03-01T00:00Z", "2025-05-31T23:00-02:00", "2025-02-01T00:00Z"]
    folder = make_program(tmp_path, events=events_table(ts=ts))
    problem = "timestamp in the future relative to as-of 2025-06-01T00:00:00+00:00"
    examples = "row 4 (2025-05-31T23:00-02:00)"
    assert_rejected(folder, "events.csv", "ts", problem, 1, examples, as_of=pd.Timestamp("2025-06-01"))


# ---------------------------------------------------------------------------------------------
# The message: one line, at most five examples, deterministic order of checks


def test_message_is_one_line_with_at_most_five_examples(tmp_path: Path) -> None:
    n = 12
    events = {"partner_id": ["p1"] * n, "ts": ["2025-03-01"] * n, "event_type": ["click"] * n, "amount": ["-1"] * n}
    events["amount"][-1] = "line\nbreak"
    folder = make_program(tmp_path, events=events)
    assert_rejected(folder, "events.csv", "amount", "non-numeric amount", 1, "row 12 (line\\nbreak)")

    events["amount"][-1] = "-1"
    write_csv(folder / "events.csv", events)
    message = assert_rejected(
        folder,
        "events.csv",
        "amount",
        "negative amount",
        12,
        "row 1 (-1), row 2 (-1), row 3 (-1), row 4 (-1), row 5 (-1)",
    )
    assert "\n" not in message


def test_strict_mode_reports_problems_in_the_documented_order(tmp_path: Path) -> None:
    # partners before events; within events: ts, partner_id, amount, event_type, ..., as-of
    partners = partners_table(signup_at=["2025-01-01", "2025-01-10", "2025-09-01"])
    event_types = ["login", "sale", "nope", "lead", "payout_paid"]
    events = events_table(amount=["", "-5", "", "", "30"], event_type=event_types, ts=["2025-07-01"] * 5)
    folder = make_program(tmp_path, partners=partners, events=events)
    with pytest.raises(InputError, match="column 'signup_at': signup_at in the future"):
        load(folder)
    write_csv(folder / "partners.csv", partners_table())
    with pytest.raises(InputError, match="column 'amount': negative amount"):
        load(folder)
    write_csv(folder / "events.csv", events_table(event_type=event_types, ts=["2025-07-01"] * 5))
    with pytest.raises(InputError, match="column 'event_type': unknown event_type"):
        load(folder)
    write_csv(folder / "events.csv", events_table(ts=["2025-07-01"] * 5))
    with pytest.raises(InputError, match="column 'ts': timestamp in the future"):
        load(folder)


def test_file_level_problems_come_before_row_problems(tmp_path: Path) -> None:
    folder = make_program(
        tmp_path,
        partners=partners_table(signup_at=["bad", "2025-01-10", "2025-02-01"]),
        actions={"partner_id": ["p1"], "ts": ["2025-04-01"]},
    )
    with pytest.raises(InputError, match=r"actions\.csv: column 'action': missing required column"):
        load(folder)


# ---------------------------------------------------------------------------------------------
# Lenient mode


def test_lenient_quarantines_bad_rows_and_keeps_the_good_ones(tmp_path: Path) -> None:
    partners = partners_table(partner_id=["p1", "p2", "p1", "p4"], signup_at=["2025-01-01", "2025-01-10", "2025-01-05", "bad"])
    events = {
        "partner_id": ["p1", "p2", "p4", "p1", "p1", "p2", "", "p1", "p2"],
        "ts": [
            "2025-03-01",
            "2025-03-02",
            "2025-03-03",
            "2024-01-01",
            "2025-07-01",
            "2025-03-05",
            "2025-03-06",
            "2025-03-07",
            "2025-03-08",
        ],
        "event_type": ["login", "sale", "click", "click", "click", "oops", "click", "sale", "click"],
        "amount": ["", "10", "", "", "", "", "", "-2", "x"],
        "event_id": ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e1"],
    }
    folder = make_program(tmp_path / "data", partners=partners, events=events)
    quarantine = tmp_path / "quarantine"
    program = load(folder, lenient=True, quarantine_dir=quarantine, data=TOLERANT)

    assert program.quarantined == {
        "partners": {"unparseable timestamp": 1, "duplicate partner_id": 1},
        "events": {
            "null partner_id": 1,
            "non-numeric amount": 1,
            "negative amount": 1,
            "unknown event_type": 1,
            "unknown partner": 1,
            "before signup": 1,
            "after as-of": 1,
        },
    }
    assert program.partners["partner_id"].tolist() == ["p1", "p2"]
    assert program.partners["signup_at"].tolist() == [utc("2025-01-01"), utc("2025-01-10")]
    assert program.events["event_id"].tolist() == ["e1", "e2"]
    assert program.events["partner_id"].cat.categories.tolist() == ["p1", "p2"]

    assert read_quarantine(quarantine / "partners.quarantine.csv") == [
        {"partner_id": "p1", "signup_at": "2025-01-05", "row": "3", "problem": "duplicate partner_id"},
        {"partner_id": "p4", "signup_at": "bad", "row": "4", "problem": "unparseable timestamp"},
    ]
    event_rows = read_quarantine(quarantine / "events.quarantine.csv")
    assert [(r["row"], r["problem"]) for r in event_rows] == [
        ("3", "unknown partner"),
        ("4", "before signup"),
        ("5", "after as-of"),
        ("6", "unknown event_type"),
        ("7", "null partner_id"),
        ("8", "negative amount"),
        ("9", "non-numeric amount"),
    ]
    assert event_rows[0] == {
        "partner_id": "p4",
        "ts": "2025-03-03",
        "event_type": "click",
        "amount": "",
        "event_id": "e3",
        "row": "3",
        "problem": "unknown partner",
    }
    assert not (quarantine / "actions.quarantine.csv").exists()


def test_lenient_duplicates_keep_the_first_surviving_occurrence(tmp_path: Path) -> None:
    events = events_table(event_id=["e1", "e1", "e2", "e1", "e2"], amount=["", "-1", "", "", "30"])
    program = load(make_program(tmp_path / "data", events=events), lenient=True, quarantine_dir=tmp_path / "q", data=TOLERANT)
    assert program.quarantined == {"events": {"negative amount": 1, "duplicate event_id": 2}}
    rows = read_quarantine(tmp_path / "q" / "events.quarantine.csv")
    assert [(r["row"], r["problem"]) for r in rows] == [("2", "negative amount"), ("4", "duplicate event_id"), ("5", "duplicate event_id")]
    assert sorted(program.events["event_id"].tolist()) == ["e1", "e2"]
    assert program.events.loc[program.events["event_id"] == "e1", "event_type"].tolist() == ["login"]


def test_lenient_mixed_time_zones_quarantines_the_naive_rows(tmp_path: Path) -> None:
    ts = ["2025-03-01T10:00:00Z", "2025-03-02 10:00", "2025-03-01T10:00:00+03:00", "2025-04-01", "2025-02-01T00:00Z"]
    folder = make_program(tmp_path / "data", events=events_table(ts=ts))
    program = load(folder, lenient=True, quarantine_dir=tmp_path / "q", data=TOLERANT)
    assert program.quarantined == {"events": {"mixed time zones": 2}}
    assert len(program.events) == 3
    assert [r["row"] for r in read_quarantine(tmp_path / "q" / "events.quarantine.csv")] == ["2", "4"]


def test_lenient_events_and_actions_of_a_quarantined_partner_are_quarantined(tmp_path: Path) -> None:
    partners = partners_table(signup_at=["2025-01-01", "2025-13-01", "2025-02-01"])
    folder = make_program(tmp_path / "data", partners=partners, actions=actions_table())
    program = load(folder, lenient=True, quarantine_dir=tmp_path / "q", data=TOLERANT)
    assert program.quarantined == {
        "partners": {"unparseable timestamp": 1},
        "events": {"unknown partner": 2},
        "actions": {"unknown partner": 1},
    }
    assert "p2" not in program.events["partner_id"].cat.categories
    assert program.actions is not None and program.actions["partner_id"].tolist() == ["p1"]


# ---------------------------------------------------------------------------------------------
# Surveys (partner satisfaction, issue #19): optional, validated like the other tables


def test_surveys_load_typed_sorted_and_are_optional(tmp_path: Path) -> None:
    assert load(make_program(tmp_path / "none")).surveys is None
    surveys = load(make_program(tmp_path / "csv", surveys=surveys_table())).surveys
    assert surveys is not None and list(surveys.columns) == ["partner_id", "ts", "score", "comment"]
    assert surveys["partner_id"].astype(str).tolist() == ["p1", "p1", "p2"]  # by partner, then time
    assert surveys["ts"].tolist() == [utc("2025-03-15 09:30"), utc("2025-04-01"), utc("2025-04-03")]
    assert surveys["score"].dtype == np.float64 and surveys["score"].tolist() == [7.5, 3.0, 9.0]
    assert surveys["comment"].tolist() == ["payouts are slow", None, "helpful manager"]  # an empty comment is none
    parquet = pa.table({"partner_id": ["p2", "p1", "p1"], "ts": surveys_table()["ts"], "score": pa.array([9, 3, 7.5])})
    from_parquet = load(make_program(tmp_path / "pq", surveys=parquet)).surveys
    assert from_parquet is not None and "comment" not in from_parquet  # the comment is optional
    pd.testing.assert_frame_equal(from_parquet, surveys.drop(columns="comment"))
    header_only = load(make_program(tmp_path / "header", surveys={"partner_id": [], "ts": [], "score": []})).surveys
    assert header_only is not None and header_only.empty  # a survey tool's export of no answers yet


@pytest.mark.parametrize(
    ("column", "values", "problem", "examples"),
    [
        ("score", ["9", "ten", "7"], "non-numeric score", "row 2 (ten)"),
        ("score", ["9", "", "7"], "missing score", "row 2 (empty)"),
        ("score", ["-1", "10.5", "10"], "score outside 0-10", "row 1 (-1), row 2 (10.5)"),
        ("partner_id", ["p2", "p9", "p1"], "unknown partner", "row 2 (p9)"),
        (
            "ts",
            ["2025-04-03", "2024-12-01", "2025-03-15"],
            "timestamp before the partner's signup_at",
            "row 2 (partner p1: ts 2024-12-01T00:00:00+00:00 < signup_at 2025-01-01T00:00:00+00:00)",
        ),
        (
            "ts",
            ["2025-04-03", "2025-04-01", "2030-01-01"],
            "timestamp in the future relative to as-of 2025-06-01T00:00:00+00:00",
            "row 3 (2030-01-01)",
        ),
        ("ts", ["2025-04-03", "soon", "2025-03-15"], "unparseable timestamp", "row 2 (soon)"),
    ],
)
def test_bad_survey_rows_are_one_clear_line(tmp_path: Path, column: str, values: list[str], problem: str, examples: str) -> None:
    folder = make_program(tmp_path, surveys=surveys_table(**{column: values}))
    assert_rejected(folder, "surveys.csv", column, problem, examples.count("row "), examples)


def test_survey_file_problems(tmp_path: Path) -> None:
    folder = make_program(tmp_path, surveys={"partner_id": ["p1"], "ts": ["2025-04-01"]})
    with pytest.raises(InputError, match=r"surveys\.csv: column 'score': missing required column"):
        load(folder)
    write_csv(folder / "surveys.csv", {**surveys_table(), "channel": ["email"] * 3})
    with pytest.raises(InputError, match=r"surveys\.csv: .*channel.*data\.survey_extra_columns"):
        load(folder)
    (folder / "surveys.csv").write_bytes(b"")
    assert_file_rejected(folder, f"{folder / 'surveys.csv'}: empty file (zero bytes)")


def test_lenient_surveys_set_aside_bad_rows_and_those_of_a_quarantined_partner(tmp_path: Path) -> None:
    partners = partners_table(signup_at=["2025-01-01", "2025-13-01", "2025-02-01"])  # p2 is set aside
    surveys = surveys_table(score=["9", "11", "x"])
    folder = make_program(tmp_path / "data", partners=partners, surveys=surveys)
    program = load(folder, lenient=True, quarantine_dir=tmp_path / "q", data=TOLERANT)
    assert program.quarantined["surveys"] == {"non-numeric score": 1, "score outside 0-10": 1, "unknown partner": 1}
    assert program.surveys is not None and len(program.surveys) == 0
    rows = read_quarantine(tmp_path / "q" / "surveys.quarantine.csv")
    assert [(r["row"], r["problem"]) for r in rows] == [("1", "unknown partner"), ("2", "score outside 0-10"), ("3", "non-numeric score")]


def test_lenient_still_raises_on_file_level_problems(tmp_path: Path) -> None:
    folder = make_program(tmp_path / "data")
    (folder / "events.csv").write_bytes(b"")
    assert_file_rejected(folder, f"{folder / 'events.csv'}: empty file (zero bytes)", lenient=True, quarantine_dir=tmp_path / "q")


def test_lenient_needs_a_quarantine_dir(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="quarantine_dir"):
        load(make_program(tmp_path), lenient=True)


def test_lenient_clean_load_reports_nothing_and_removes_stale_quarantine(tmp_path: Path) -> None:
    quarantine = tmp_path / "q"
    quarantine.mkdir()
    for table in ("events", "actions"):
        (quarantine / f"{table}.quarantine.csv").write_text("stale\n")
    program = load(make_program(tmp_path / "data"), lenient=True, quarantine_dir=quarantine)
    assert program.quarantined == {}
    assert list(quarantine.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Real exports: their own column names, event type spellings, no amount, a currency


EXPORT_MAP = {
    "events": {"user_id": "partner_id", "created_at": "ts", "type": "event_type", "revenue": "amount"},
    "partners": {"id": "partner_id", "registered": "signup_at"},
}


def exported(table: Table, renames: dict[str, str]) -> Table:
    """`table` under an export's own column names (the inverse of `renames`), in the same column order."""
    back = {target: name for name, target in renames.items()}
    return {back.get(name, name): values for name, values in table.items()}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_column_map_renames_an_exports_columns_to_the_contracts(tmp_path: Path, fmt: str) -> None:
    expected = load(make_program(tmp_path / "ours", actions=actions_table()))
    partners = exported(partners_table(), EXPORT_MAP["partners"])
    events = exported(events_table(), EXPORT_MAP["events"])
    assert list(events) == ["user_id", "created_at", "type", "revenue"]
    if fmt == "parquet":
        partners, events = pa.table(partners), pa.table(events | {"revenue": [None, 120.5, None, 0.0, 30.0]})
    folder = make_program(tmp_path / "theirs", partners, events, actions_table(), fmt=fmt)
    program = load(folder, data=DataConfig(column_map=EXPORT_MAP))
    pd.testing.assert_frame_equal(program.partners, expected.partners)
    pd.testing.assert_frame_equal(program.events, expected.events)
    assert program.actions is not None and expected.actions is not None
    pd.testing.assert_frame_equal(program.actions, expected.actions)


def test_column_map_messages_name_the_contract_column_and_the_files(tmp_path: Path) -> None:
    events = exported(events_table(ts=["2025-03-01", "yesterday", "2025-03-01", "2025-03-01", "2025-03-01"]), EXPORT_MAP["events"])
    folder = make_program(tmp_path, partners=exported(partners_table(), EXPORT_MAP["partners"]), events=events)
    with pytest.raises(ContractError) as caught:
        load(folder, data=DataConfig(column_map=EXPORT_MAP))
    assert str(caught.value).startswith(f"{folder / 'events.csv'}: column 'ts' (file column 'created_at'): unparseable timestamp in 1 row (")
    assert str(caught.value).endswith(", e.g. row 2 (yesterday)")
    assert (caught.value.column, caught.value.file_column, caught.value.rows) == ("ts", "created_at", (2,))

    write_csv(folder / "events.csv", exported(events_table(amount=["", "", "", "", "30"]), EXPORT_MAP["events"]))
    assert_rejected(
        folder,
        "events.csv",
        "amount",
        "missing amount",
        1,
        "row 2 (empty amount, event_type sale)",
        file_column="revenue",
        data=DataConfig(column_map=EXPORT_MAP),
    )


def test_lenient_quarantine_keeps_the_files_column_names(tmp_path: Path) -> None:
    events = exported(events_table(amount=["", "-1", "", "", "30"]), EXPORT_MAP["events"])
    folder = make_program(tmp_path / "data", exported(partners_table(), EXPORT_MAP["partners"]), events)
    program = load(
        folder,
        lenient=True,
        quarantine_dir=tmp_path / "q",
        data=DataConfig(column_map=EXPORT_MAP, max_quarantine_share=1.0),
    )
    assert program.quarantined == {"events": {"negative amount": 1}}
    assert read_quarantine(tmp_path / "q" / "events.quarantine.csv") == [
        {"user_id": "p1", "created_at": "2025-03-02", "type": "sale", "revenue": "-1", "row": "2", "problem": "negative amount"},
    ]


def test_column_map_naming_a_column_the_file_lacks_is_a_file_level_error(tmp_path: Path) -> None:
    folder = make_program(tmp_path, events=exported(events_table(), {"created_at": "ts"}))
    data = DataConfig(column_map={"events": {"created_at": "ts", "type": "event_type", "kind": "event_id"}})
    assert_file_rejected(
        folder,
        f"{folder / 'events.csv'}: columns 'event_type' (file column 'type'), 'event_id' (file column 'kind'): not "
        "in the file, though data.column_map.events names them (columns found: partner_id, created_at, event_type, "
        "amount)",
        data=data,
        lenient=True,
        quarantine_dir=tmp_path / "q",
    )


def test_column_map_onto_a_column_the_file_also_has_is_a_duplicate(tmp_path: Path) -> None:
    folder = make_program(tmp_path, events=events_table(created_at=["2025-03-01"] * 5))
    assert_file_rejected(
        folder,
        f"{folder / 'events.csv'}: column 'ts' (file columns 'ts', 'created_at'): duplicate column name (columns "
        "found: partner_id, ts, event_type, amount, created_at; data.column_map.events maps a file column to it)",
        data=DataConfig(column_map={"events": {"created_at": "ts"}}),
    )


def test_column_map_onto_a_declared_column_and_parquet_type_errors_name_the_file_column(tmp_path: Path) -> None:
    data = DataConfig(event_extra_columns={"channel": "string"}, column_map={"events": {"Channel": "channel", "Amount": "amount"}})
    events = {"partner_id": ["p1"], "ts": ["2025-02-01"], "event_type": ["login"], "Amount": [0.0], "Channel": ["ad"]}
    partners = pa.table(partners_table())
    program = load(make_program(tmp_path / "ok", partners, pa.table(events), fmt="parquet"), data=data)
    assert list(program.events.columns) == ["partner_id", "ts", "event_type", "amount", "channel"]
    assert program.events["channel"].tolist() == ["ad"]

    folder = make_program(tmp_path / "bad", partners, pa.table(events | {"Amount": [True]}), fmt="parquet")
    assert_file_rejected(
        folder,
        f"{folder / 'events.parquet'}: column 'amount' (file column 'Amount'): wrong Parquet type bool (expected numbers or text)",
        data=data,
    )


def test_event_type_map_maps_the_exports_values_to_the_vocabulary(tmp_path: Path) -> None:
    data = DataConfig(event_type_map={"conversion": "sale", "Signed In": "login", "payout": "payout_paid"})
    events = events_table(event_type=["signed in", "Conversion", "click", " LEAD", "payout"])
    program = load(make_program(tmp_path, events=events), data=data)
    assert program.events["event_type"].tolist() == ["click", "sale", "payout_paid", "login", "lead"]
    assert program.events["event_type"].cat.categories.tolist() == DATA.event_types
    # the mapped sale and payout are money events: their amounts are required and kept
    assert program.events["amount"].tolist() == [0.0, 120.5, 30.0, 0.0, 0.0]


def test_event_type_map_keys_follow_case_folding_off(tmp_path: Path) -> None:
    data = DataConfig(event_type_map={"conversion": "sale"}, event_type_case_insensitive=False)
    events = events_table(event_type=["login", "conversion", "click", "lead", "Conversion"])
    folder = make_program(tmp_path, events=events)
    exact = events_table(event_type=["login", "conversion", "click", "lead", "payout_paid"])
    loaded = load(make_program(tmp_path / "exact", events=exact), data=data).events
    assert loaded["event_type"].tolist() == ["click", "sale", "payout_paid", "login", "lead"]
    message = assert_rejected(folder, "events.csv", "event_type", "unknown event_type", 1, "row 5 (Conversion)", data=data)
    assert "'Conversion' 1 row; map them" in message
    # the map's key matches ignoring case, so the message says how
    assert "; 'Conversion' would match ignoring case with data.event_type_case_insensitive: true)" in message


def test_vocabulary_ignores_case_and_surrounding_whitespace_by_default(tmp_path: Path) -> None:
    events = events_table(event_type=["Login", " SALE ", "click\t", "Lead", "Payout_Paid"])
    program = load(make_program(tmp_path, events=events))
    assert program.events["event_type"].tolist() == ["click", "sale", "payout_paid", "login", "lead"]
    assert program.events["amount"].tolist() == [0.0, 120.5, 30.0, 0.0, 0.0]


def capitalised_export(n: int = 40) -> Table:
    """A click-and-sale export as a platform writes it: `Click`, `Sale`, one partner."""
    return {
        "partner_id": ["p1"] * n,
        "ts": [f"2025-03-{1 + i % 28:02d}" for i in range(n)],
        "event_type": ["Sale" if i % 4 == 0 else "Click" for i in range(n)],
        "amount": ["10" if i % 4 == 0 else "" for i in range(n)],
    }


def test_capitalised_export_is_refused_by_the_share_bar_and_read_with_case_folding(tmp_path: Path) -> None:
    folder = make_program(tmp_path / "data", events=capitalised_export())
    quarantine = tmp_path / "q"
    with pytest.raises(ContractError) as caught:
        load(folder, lenient=True, quarantine_dir=quarantine, data=DataConfig(event_type_case_insensitive=False))
    assert str(caught.value) == (
        f"{folder / 'events.csv'}: 40 of 40 rows set aside (100.0%: unknown event_type 40), more than "
        f"data.max_quarantine_share 0.05; the rows are in {quarantine / 'events.quarantine.csv'}; fix the input or "
        "the config, or accept the loss deliberately with --set data.max_quarantine_share=1"
    )
    assert (caught.value.problem, caught.value.count) == ("too many rows set aside", 40)
    # written before refusing, so the rows can be looked at
    assert len(read_quarantine(quarantine / "events.quarantine.csv")) == 40

    program = load(folder, lenient=True, quarantine_dir=quarantine)
    assert program.quarantined == {}
    assert len(program.events) == 40
    assert program.events["event_type"].value_counts().to_dict() == {"click": 30, "sale": 10} | {
        name: 0 for name in DATA.event_types if name not in ("click", "sale")
    }
    assert program.events["amount"].sum() == 100.0
    assert not quarantine.joinpath("events.quarantine.csv").exists()


def test_share_bar_refuses_only_above_the_bar_and_names_the_top_problems(tmp_path: Path) -> None:
    n = 40
    events: Table = {
        "partner_id": ["p1"] * n,
        "ts": ["2025-03-01"] * n,
        "event_type": ["click"] * n,
        "amount": [""] * n,
    }
    events["amount"][:2] = ["-1", "x"]  # 2 of 40 = 5%: at the bar, accepted
    folder = make_program(tmp_path / "data", events=events)
    program = load(folder, lenient=True, quarantine_dir=tmp_path / "q")
    assert program.quarantined == {"events": {"non-numeric amount": 1, "negative amount": 1}}

    events["amount"][2:5] = ["-2", "-3", "y"]
    events["event_type"][5] = "teleport"
    events["ts"][6] = "soon"
    write_csv(folder / "events.csv", events)
    with pytest.raises(ContractError) as caught:
        load(folder, lenient=True, quarantine_dir=tmp_path / "q")
    assert str(caught.value).startswith(
        f"{folder / 'events.csv'}: 7 of 40 rows set aside (17.5%: negative amount 3, non-numeric amount 2, "
        "unparseable timestamp 1 and 1 more problems), more than data.max_quarantine_share 0.05; "
    )
    assert str(caught.value).endswith("--set data.max_quarantine_share=0.18")
    accepted = load(folder, lenient=True, quarantine_dir=tmp_path / "q", data=DataConfig(max_quarantine_share=0.18))
    assert len(accepted.events) == 33

    # partners have their own bar, and the events of partners set aside count against the events' bar
    write_csv(folder / "events.csv", events_table())
    write_csv(folder / "partners.csv", partners_table(signup_at=["2025-01-01", "bad", "2025-02-01"]))
    partners_refused = r"partners\.csv: 1 of 3 rows set aside \(33\.3%: unparseable timestamp 1\)"
    with pytest.raises(ContractError, match=partners_refused):
        load(folder, lenient=True, quarantine_dir=tmp_path / "q")
    with pytest.raises(ContractError, match=r"events\.csv: 2 of 5 rows set aside \(40\.0%: unknown partner 2\)"):
        load(folder, lenient=True, quarantine_dir=tmp_path / "q", data=DataConfig(max_quarantine_share=0.34))


def test_strict_mode_has_no_share_bar(tmp_path: Path) -> None:
    folder = make_program(tmp_path, events=capitalised_export())
    assert_rejected(
        folder,
        "events.csv",
        "event_type",
        "unknown event_type",
        40,
        "row 1 (Sale), row 2 (Click), row 3 (Click), row 4 (Click), row 5 (Sale)",
        data=DataConfig(event_type_case_insensitive=False, max_quarantine_share=1.0),
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_no_amount_column_reads_zero_for_an_export_without_money(tmp_path: Path, fmt: str) -> None:
    events = events_table(event_type=["login", "click", "click", "lead", "message_opened"])
    del events["amount"]
    program = load(
        make_program(tmp_path, pa.table(partners_table()) if fmt == "parquet" else None, pa.table(events) if fmt == "parquet" else events, fmt=fmt)
    )
    assert list(program.events.columns) == ["partner_id", "ts", "event_type", "amount"]
    assert program.events["amount"].dtype == np.float64
    assert program.events["amount"].tolist() == [0.0] * 5


@pytest.mark.parametrize("lenient", [False, True])
def test_no_amount_column_with_money_events_is_refused(tmp_path: Path, lenient: bool) -> None:
    events = events_table(event_type=["login", "Sale", "click", "lead", "payout_paid"])
    del events["amount"]
    folder = make_program(tmp_path / "data", events=events)
    with pytest.raises(ContractError) as caught:
        load(folder, lenient=lenient, quarantine_dir=tmp_path / "q", data=TOLERANT)
    assert str(caught.value) == (
        f"{folder / 'events.csv'}: column 'amount': missing, but 2 rows are money events (sale, payout_requested, "
        "payout_paid), e.g. row 2 (event_type Sale), row 5 (event_type payout_paid); export the amounts (money is "
        "never taken as 0), or map the file's amount column with data.column_map.events"
    )
    assert (caught.value.column, caught.value.rows, caught.value.count) == ("amount", (2, 5), 2)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_one_currency_is_the_programs_and_is_not_a_column_of_events(tmp_path: Path, fmt: str) -> None:
    events = events_table(currency=["", "USD", "EUR", " usd", "usd"])  # EUR on a click: not money, not checked
    if fmt == "parquet":
        events = pa.table(events | {"amount": [None, 120.5, None, 0.0, 30.0]})
    program = load(make_program(tmp_path, pa.table(partners_table()) if fmt == "parquet" else None, events, fmt=fmt))
    assert program.currency == "USD"
    assert list(program.events.columns) == ["partner_id", "ts", "event_type", "amount"]
    assert len(program.events) == 5
    assert load(make_program(tmp_path / "none")).currency is None


def test_several_currencies_are_refused_with_their_counts(tmp_path: Path) -> None:
    events = events_table(
        event_type=["sale", "sale", "sale", "payout_paid", "payout_paid"],
        amount=["1", "2", "3", "4", "5"],
        currency=["EUR", "USD", "usd", "RUB", "USD"],
    )
    folder = make_program(tmp_path / "data", events=events)
    message = assert_rejected(folder, "events.csv", "currency", "other currency than USD", 2, "row 1 (EUR), row 4 (RUB)")
    assert (
        "(money events in 3 currencies: USD 3 rows, EUR 1 row, RUB 1 row; one program has one currency: "
        "convert the amounts, or load each currency as its own program)" in message
    )

    program = load(folder, lenient=True, quarantine_dir=tmp_path / "q", data=TOLERANT)
    assert program.quarantined == {"events": {"other currency": 2}}
    assert program.currency == "USD"
    assert sorted(program.events["amount"].tolist()) == [2.0, 3.0, 5.0]
    assert [(r["row"], r["currency"]) for r in read_quarantine(tmp_path / "q" / "events.quarantine.csv")] == [("1", "EUR"), ("4", "RUB")]


def test_a_money_event_without_currency_is_refused(tmp_path: Path) -> None:
    folder = make_program(tmp_path, events=events_table(currency=["", "  ", "", "", "USD"]))
    message = assert_rejected(folder, "events.csv", "currency", "missing currency", 1, "row 2 (empty currency, event_type sale)")
    assert "(required on money events (sale, payout_requested, payout_paid) when the file has a currency column" in message


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_dates_without_times_are_midnight_utc(tmp_path: Path, fmt: str) -> None:
    partners = partners_table(signup_at=["2025-01-01", "2025-01-10", "2025-02-01"])
    events = events_table(ts=["2025-03-01", "2025-03-02", "2025-01-05", "2025-04-01", "2025-02-01"])
    if fmt == "parquet":
        day = pa.array(pd.to_datetime(partners["signup_at"]).date, pa.date32())
        partners = pa.table({"partner_id": partners["partner_id"], "signup_at": day})
        events = pa.table(events | {"amount": [None, 120.5, None, 0.0, 30.0]})
    program = load(make_program(tmp_path, partners, events, fmt=fmt))
    assert program.partners["signup_at"].tolist() == [utc("2025-01-01"), utc("2025-01-10"), utc("2025-02-01")]
    assert program.events["ts"].tolist() == [utc("2025-01-05"), utc("2025-03-02"), utc("2025-02-01"), utc("2025-03-01"), utc("2025-04-01")]
    assert str(program.events["ts"].dtype) == "datetime64[ns, UTC]"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.column_map.event.created_at=ts"], "column_map names an unknown table 'event' (tables: partners, events, actions, surveys)"),
        (
            ["data.column_map.events.created_at=time"],
            "column_map.events maps 'created_at' to 'time', not a column of events (allowed: partner_id, ts, event_type, amount, event_id, currency)",
        ),
        (
            ["data.column_map.partners.tier=partner_tier"],
            "not a column of partners (allowed: partner_id, signup_at, partner_type, country, commission_rate)",
        ),
        (["data.column_map.events={created_at: ts, time: ts}"], "column_map.events maps 2 file columns to 'ts': created_at, time"),
        (["data.event_type_map.conversion=purchase"], "event_type_map maps to types not in event_types: {'conversion': 'purchase'}"),
        (["data.event_type_map.Sale=lead"], "event_type_map maps 'Sale' to 'lead', but 'Sale' is the event type 'sale' of event_types"),
        (
            ["data.event_type_map={Conversion: sale, conversion: lead}"],
            "event_type_map maps 'conversion' to 'lead' and an equal key (ignoring case and surrounding whitespace) to 'sale'",
        ),
        (
            ["data.event_types=[click, Click]", "labels.qualifying_event_types=[click]", "data.money_event_types=[]"],
            "event_types lists types that are equal ignoring case and surrounding whitespace: ['Click', 'click']",
        ),
        (["data.event_extra_columns={currency: string}"], "declared columns of events repeat contract columns: ['currency']"),
        (["data.max_quarantine_share=1.5"], "'data.max_quarantine_share': Input should be less than or equal to 1"),
    ],
)
def test_bad_maps_are_config_errors(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(env={}, overrides=overrides)


def test_maps_that_are_fine_load_from_set_overrides() -> None:
    config = load_config(
        env={},
        overrides=[
            "data.column_map.events.created_at=ts",
            "data.column_map.events.Channel=channel",
            "data.event_extra_columns.channel=string",
            "data.event_type_map.Sale=sale",  # identity, only spelled otherwise
            "data.event_type_map={Sale: sale, Conversion: sale}",
            "data.event_types=[click, Click, sale]",
            "labels.qualifying_event_types=[click]",
            "data.money_event_types=[sale]",
            "data.event_type_case_insensitive=false",
        ],
    )
    assert config.data.column_map == {"events": {"created_at": "ts", "Channel": "channel"}}
    assert config.data.event_type_map == {"Sale": "sale", "Conversion": "sale"}


# ---------------------------------------------------------------------------------------------
# Brute-force references on random tiny programs


def _reference_type(value: str | None, data: DataConfig) -> str | None:
    """The vocabulary word a file's event_type means: itself, through the map, then the same ignoring case."""
    if value in ("", None):
        return None
    table = {name: name for name in data.event_types} | data.event_type_map
    if value in table:
        return table[value]
    if data.event_type_case_insensitive:
        folded = {key.strip().lower(): name for key, name in table.items()}
        return folded.get(value.strip().lower(), "?")
    return "?"


def _reference_events(
    partners: dict[str, pd.Timestamp], events: Table, as_of: pd.Timestamp, data: DataConfig = DATA
) -> tuple[list[int], dict[int, str]]:
    """The events contract one rule and one row at a time: kept rows (0-based, in output order), row -> problem."""
    n = len(events["ts"])
    problem: dict[int, str] = {}
    types = [_reference_type(value, data) for value in events["event_type"]]

    def alive() -> list[int]:
        return [i for i in range(n) if i not in problem]

    naive_re = re.compile(r"^\d{4}-\d\d-\d\d( \d\d:\d\d)?$")
    aware_re = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
    parsed: dict[int, pd.Timestamp] = {}
    for i in alive():
        value = events["ts"][i]
        if value in ("", None):
            problem[i] = "missing timestamp"
            continue
        try:
            if naive_re.match(value):
                parsed[i] = pd.Timestamp(value, tz="UTC")
            elif aware_re.match(value):
                parsed[i] = pd.Timestamp(value).tz_convert("UTC")
            else:
                problem[i] = "unparseable timestamp"
        except ValueError:
            problem[i] = "unparseable timestamp"
    if any(aware_re.match(events["ts"][i]) for i in alive()):
        for i in alive():
            if naive_re.match(events["ts"][i]):
                problem[i] = "mixed time zones"
    for i in alive():
        if events["partner_id"][i] in ("", None):
            problem[i] = "null partner_id"
    amounts: dict[int, float | None] = {}
    for i in alive():
        value = events["amount"][i]
        if value in ("", None):
            amounts[i] = None
        elif re.match(r"^[+-]?(\d+\.?\d*|\.\d+)$", value):
            amounts[i] = float(value)
        else:
            problem[i] = "non-numeric amount"
    for i in alive():
        if amounts[i] is None and types[i] in data.money_event_types:
            problem[i] = "missing amount"
    for i in alive():
        amount = amounts[i]
        if amount is not None and amount < 0:
            problem[i] = "negative amount"
    for i in alive():
        if types[i] is None:
            problem[i] = "null event_type"
    for i in alive():
        if types[i] not in data.event_types:
            problem[i] = "unknown event_type"
    if "currency" in events:
        currency = {i: (events["currency"][i] or "").strip().upper() for i in range(n)}
        for i in alive():
            if types[i] in data.money_event_types and not currency[i]:
                problem[i] = "missing currency"
        counts: dict[str, int] = {}
        for i in alive():
            if types[i] in data.money_event_types:
                counts[currency[i]] = counts.get(currency[i], 0) + 1
        if len(counts) > 1:
            main = min(counts, key=lambda code: (-counts[code], code))
            for i in alive():
                if types[i] in data.money_event_types and currency[i] != main:
                    problem[i] = "other currency"
    for i in alive():
        if events["partner_id"][i] not in partners:
            problem[i] = "unknown partner"
    seen: set[str] = set()
    for i in alive():
        event_id = events["event_id"][i]
        if event_id in ("", None):
            continue
        if event_id in seen:
            problem[i] = "duplicate event_id"
        seen.add(event_id)
    for i in alive():
        if parsed[i] < partners[events["partner_id"][i]]:
            problem[i] = "before signup"
    for i in alive():
        if parsed[i] > as_of:
            problem[i] = "after as-of"
    order = list(partners)
    kept = sorted(alive(), key=lambda i: (order.index(events["partner_id"][i]), parsed[i], i))
    return kept, problem


@pytest.mark.parametrize("seed,zones", list(itertools.product(range(6), [False, True])))
def test_lenient_events_agree_with_a_brute_force_reference(tmp_path: Path, seed: int, zones: bool) -> None:
    # odd seeds: the export's own spellings of event types, a map, currencies, and case folding on or off
    rng = random.Random(seed)
    exported = seed % 2 == 1
    data = DataConfig(
        event_type_map={"conversion": "sale", "Signup": "login"} if exported else {},
        event_type_case_insensitive=seed != 3,
        max_quarantine_share=1.0,
    )
    spellings = ["Sale", " click", "LOGIN ", "conversion", "CONVERSION", "signup", "Payout_Paid"] if exported else []
    partners = {"p1": utc("2025-01-01"), "p2": utc("2025-02-15"), "p3": utc("2025-01-20")}
    n = 60

    def ts() -> str:
        day = pd.Timestamp("2024-12-20") + pd.Timedelta(days=rng.randint(0, 200))
        roll = rng.random()
        if roll < 0.05:
            return rng.choice(["", "soon", "2025-02-30"])
        if zones and roll < 0.25:
            return day.strftime("%Y-%m-%dT%H:%M") + rng.choice(["Z", "+02:00", "-05:00"])
        return day.strftime("%Y-%m-%d") + rng.choice(["", " 13:45"])

    events: Table = {
        "partner_id": [rng.choice(["p1", "p2", "p3", "p1", "p2", "p9", ""]) for _ in range(n)],
        "ts": [ts() for _ in range(n)],
        "event_type": [rng.choice(DATA.event_types + ["sale", "payout_paid", "bogus", ""] + spellings) for _ in range(n)],
        "amount": [rng.choice(["", "", "3.5", "0", "-1", "1,5", "12"]) for _ in range(n)],
        "event_id": [rng.choice(["", f"e{rng.randint(0, 40)}"]) for _ in range(n)],
    }
    if exported:
        events["currency"] = [rng.choice(["USD", "usd ", "USD", "EUR", "", "RUB"]) for _ in range(n)]
    partners_csv = {"partner_id": list(partners), "signup_at": [t.strftime("%Y-%m-%d") for t in partners.values()]}
    folder = make_program(tmp_path / "data", partners=partners_csv, events=events)
    program = load(folder, lenient=True, quarantine_dir=tmp_path / "q", data=data)

    kept, problem = _reference_events(partners, events, AS_OF, data)
    expected_counts: dict[str, int] = {}
    for name in problem.values():
        expected_counts[name] = expected_counts.get(name, 0) + 1
    assert program.quarantined.get("events", {}) == expected_counts
    assert program.events["event_id"].fillna("").tolist() == [events["event_id"][i] for i in kept]
    assert program.events["partner_id"].tolist() == [events["partner_id"][i] for i in kept]
    assert program.events["event_type"].tolist() == [_reference_type(events["event_type"][i], data) for i in kept]
    kept_currencies = {
        events["currency"][i].strip().upper() for i in kept if exported and _reference_type(events["event_type"][i], data) in data.money_event_types
    }
    assert len(kept_currencies) <= 1
    assert program.currency == (kept_currencies.pop() if kept_currencies else None)
    if problem:
        rows = read_quarantine(tmp_path / "q" / "events.quarantine.csv")
        assert {int(r["row"]) - 1: r["problem"] for r in rows} == problem
        assert [r["ts"] for r in rows] == [events["ts"][i] for i in sorted(problem)]
    # nothing is dropped silently
    assert len(program.events) + sum(expected_counts.values()) == n


def test_event_order_agrees_with_python_sorting_for_many_partners(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    partners = 70_000  # more than 2**16 partners: both 16-bit radix passes run
    ids = [f"p{i}" for i in range(partners)]
    n = 3_000
    codes = rng.integers(0, partners, n)
    codes[:500] = rng.integers(0, 5, 500)  # many events per partner
    seconds = rng.integers(0, 5, n)  # and ties on time, so stability shows
    partner_table = pa.table({"partner_id": ids, "signup_at": pa.array(np.zeros(partners, dtype="M8[s]"))})
    event_table = pa.table(
        {
            "partner_id": pa.array([ids[c] for c in codes]).dictionary_encode(),
            "ts": pa.array(np.datetime64("2025-01-01", "s") + seconds.astype("m8[s]")),
            "event_type": ["click"] * n,
            "amount": np.zeros(n),
            "event_id": np.arange(n),
        }
    )
    program = load(make_program(tmp_path, partner_table, event_table, fmt="parquet"))
    assert program.events["event_id"].tolist() == sorted(range(n), key=lambda i: (codes[i], seconds[i], i))
    assert program.events["partner_id"].cat.categories.tolist() == ids


@pytest.mark.parametrize("case", ["growing", "shuffled", "repeats_in_order", "repeats_shuffled"])
def test_repeated_integer_ids_are_found_as_text_ids_are(case: str) -> None:
    """Integer event ids take a numeric path (none repeats when they only grow); it must name the same rows as
    the general path does for the same ids written as text, only rows of `among` counting."""
    from features.contract.screening import repeated_rows

    rng = np.random.default_rng(len(case))
    ids = np.arange(2_000, dtype=np.int64) * 3
    if case.startswith("repeats"):
        ids[rng.choice(ids.size, 50, replace=False)] = rng.choice(ids, 50)
    if case.endswith("shuffled"):
        rng.shuffle(ids)
    among = rng.random(ids.size) > 0.1
    numeric = repeated_rows(pa.chunked_array([pa.array(ids)]), among)
    text = repeated_rows(pa.chunked_array([pa.array(ids.astype(str))]), among)
    assert (numeric == text).all()
    expected = np.zeros(ids.size, bool)
    seen: set[int] = set()
    for i in np.flatnonzero(among):
        expected[i] = int(ids[i]) in seen
        seen.add(int(ids[i]))
    assert (numeric == expected).all() and numeric.any() == case.startswith("repeats")
