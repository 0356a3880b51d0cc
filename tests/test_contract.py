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
from partner_churn.config import DataConfig
from partner_churn.errors import InputError

AS_OF = pd.Timestamp("2025-06-01", tz="UTC")
DATA = DataConfig()

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
) -> Path:
    """A data folder with the given tables (defaults: a small valid program without actions)."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "partners": partners_table() if partners is None else partners,
        "events": events_table() if events is None else events,
        "actions": actions,
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
    folder: Path, file: str, column: str, problem: str, count: int, examples: str, **kwargs: Any
) -> str:
    """Loading fails with the one-line row message: file, column, problem, count, (detail), examples."""
    noun = "row" if count == 1 else "rows"
    pattern = (
        rf"^{re.escape(str(folder / file))}: column '{re.escape(column)}': {re.escape(problem)} "
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
    assert events["ts"].tolist() == [
        utc("2025-01-05 12:00"), utc("2025-03-02"), utc("2025-02-01"), utc("2025-03-01 10:00"), utc("2025-04-01")
    ]
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
        "2025-03-01T10:00:00+03:00", "2025-03-02T00:00:00Z", "2025-01-05T12:00:00.5-0130",
        "2025-04-01T00:00Z", "2025-02-01 23:00:00+01",
    ]
    program = load(make_program(tmp_path, events=events_table(ts=ts)))
    by_type = dict(zip(program.events["event_type"], program.events["ts"]))
    assert by_type["login"] == utc("2025-03-01 07:00")
    assert by_type["click"] == utc("2025-01-05 13:30:00.5")
    assert by_type["payout_paid"] == utc("2025-02-01 22:00")


def test_parquet_and_csv_of_the_same_program_load_identically(tmp_path: Path) -> None:
    csv_program = load(make_program(tmp_path / "csv", actions=actions_table()))

    events, partners, actions = events_table(), partners_table(), actions_table()
    parquet_events = pa.table({
        "partner_id": pa.array(events["partner_id"]).dictionary_encode(),
        # tz-aware in another zone: converted to UTC
        "ts": pa.array(pd.to_datetime(events["ts"], format="ISO8601").tz_localize("UTC").tz_convert("Europe/Berlin")),
        "event_type": pa.array(events["event_type"]).dictionary_encode(),
        "amount": pa.array([None, 120.5, None, 0.0, 30.0]),
    })
    parquet_partners = pa.table({
        "partner_id": partners["partner_id"],
        # naive: read as UTC
        "signup_at": pa.array(pd.to_datetime(partners["signup_at"], format="ISO8601")),
    })
    parquet_actions = pa.table({
        "partner_id": actions["partner_id"],
        "ts": pa.array(pd.to_datetime(actions["ts"]).tz_localize("UTC").tz_convert("Asia/Tokyo")),
        "action": actions["action"],
    })
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
    events = pa.table({
        "partner_id": pa.array([8, 7], pa.int32()), "ts": ["2025-02-01", "2025-02-02"],
        "event_type": ["login", "click"], "amount": pa.array([None, None], pa.float64()),
    })
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
        channel=["a", "b", "c", "d", ""], weight=["1", "2", "", "4", "-5"],
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
def test_declared_value_that_does_not_cast_is_a_row_problem(
    tmp_path: Path, kind: str, values: list[str], problem: str, examples: str
) -> None:
    data = DataConfig(partner_attributes={"extra": kind})  # type: ignore[dict-item]
    folder = make_program(tmp_path, partners=partners_table(extra=values))
    count = examples.count("row ")
    assert_rejected(folder, "partners.csv", "extra", problem, count, examples, data=data)


def test_declared_problems_are_counted_per_column_in_lenient_mode(tmp_path: Path) -> None:
    folder = make_program(tmp_path / "data", partners=partners_table(commission_rate=["0.1", "ten", ""]))
    program = load(folder, lenient=True, quarantine_dir=tmp_path / "q")
    assert program.quarantined == {"partners": {"commission_rate not a float": 1}, "events": {"unknown partner": 2}}


# ---------------------------------------------------------------------------------------------
# 1. missing and ambiguous files


@pytest.mark.parametrize("table", ["partners", "events"])
def test_missing_required_file(tmp_path: Path, table: str) -> None:
    folder = make_program(tmp_path)
    (folder / f"{table}.csv").unlink()
    assert_file_rejected(
        folder, f"{folder}: missing {table} file: looked for {table}.parquet and {table}.csv in {folder}"
    )


def test_both_parquet_and_csv_of_a_table_is_ambiguous(tmp_path: Path) -> None:
    folder = make_program(tmp_path)
    write_parquet(folder / "events.parquet", pa.table({"x": [1]}))
    assert_file_rejected(
        folder, f"{folder}: ambiguous events table: both events.parquet and events.csv exist; keep one"
    )


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
    del events["amount"]
    folder = make_program(tmp_path, events=events)
    assert_file_rejected(
        folder,
        f"{folder / 'events.csv'}: column 'amount': missing required column "
        "(columns found: partner_id, ts, event_type)",
    )


@pytest.mark.parametrize("lenient", [False, True])
def test_undeclared_extra_column_is_an_error_in_both_modes(tmp_path: Path, lenient: bool) -> None:
    folder = make_program(tmp_path / "data", events=events_table(channel=["a", "b", "c", "d", "e"]))
    assert_file_rejected(
        folder,
        f"{folder / 'events.csv'}: column 'channel': undeclared extra column (declare it with a type under "
        "data.event_extra_columns, or remove it; allowed here: partner_id, ts, event_type, amount, event_id)",
        lenient=lenient,
        quarantine_dir=tmp_path / "q",
    )


def test_duplicate_column_name(tmp_path: Path) -> None:
    folder = make_program(tmp_path)
    (folder / "partners.csv").write_text("partner_id,signup_at,partner_id\np1,2025-01-01,p1\n")
    assert_file_rejected(
        folder,
        f"{folder / 'partners.csv'}: column 'partner_id': duplicate column name "
        "(columns found: partner_id, signup_at, partner_id)",
    )


def test_parquet_column_of_an_unusable_type(tmp_path: Path) -> None:
    events = pa.table({"partner_id": ["p1"], "ts": ["2025-02-01"], "event_type": ["login"], "amount": [True]})
    folder = make_program(tmp_path, partners=pa.table(partners_table()), events=events, fmt="parquet")
    assert_file_rejected(
        folder, f"{folder / 'events.parquet'}: column 'amount': wrong Parquet type bool (expected numbers or text)"
    )


# ---------------------------------------------------------------------------------------------
# 4. timestamps that do not parse, 5. mixed time zones


def test_unparseable_signup_at(tmp_path: Path) -> None:
    folder = make_program(tmp_path, partners=partners_table(signup_at=["2025-01-01", "01/10/2025", "yesterday"]))
    message = assert_rejected(
        folder, "partners.csv", "signup_at", "unparseable timestamp", 2, "row 2 (01/10/2025), row 3 (yesterday)"
    )
    assert "(expected ISO 8601 like 2025-03-01" in message


def test_unparseable_ts_includes_days_that_do_not_exist(tmp_path: Path) -> None:
    ts = ["2025-03-01", "2025-02-30", "2025-03-01", "2025-03-01 25:00", "2025-03-01"]
    folder = make_program(tmp_path, events=events_table(ts=ts))
    assert_rejected(
        folder, "events.csv", "ts", "unparseable timestamp", 2, "row 2 (2025-02-30), row 4 (2025-03-01 25:00)"
    )


def test_missing_ts(tmp_path: Path) -> None:
    ts = ["2025-03-01", "", "2025-03-01", "2025-03-01", "2025-03-01"]
    folder = make_program(tmp_path, events=events_table(ts=ts))
    assert_rejected(folder, "events.csv", "ts", "missing timestamp", 1, "row 2 (empty)")


def test_mixed_time_zones_in_one_column(tmp_path: Path) -> None:
    ts = ["2025-03-01T10:00:00Z", "2025-03-02 10:00", "2025-03-01T10:00:00+03:00", "2025-04-01", "2025-02-01T00:00Z"]
    folder = make_program(tmp_path, events=events_table(ts=ts))
    message = assert_rejected(
        folder, "events.csv", "ts", "mixed time zones", 2, "row 2 (2025-03-02 10:00), row 4 (2025-04-01)"
    )
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
    expected = (
        f"{folder / 'events.csv'}: column 'amount': negative amount in 3 rows, "
        "e.g. row 2 (-12.5), row 4 (-1.0), row 5 (-3)"
    )
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
    message = assert_rejected(
        folder, "events.csv", "amount", "missing amount", 1, "row 2 (empty amount, event_type sale)"
    )
    assert "(required for money event types: sale, payout_requested, payout_paid)" in message


def test_parquet_amount_nan_is_empty(tmp_path: Path) -> None:
    events = pa.table({
        "partner_id": ["p1", "p1"], "ts": ["2025-02-01", "2025-02-02"], "event_type": ["login", "sale"],
        "amount": pa.array([float("nan"), 5], pa.float64()),
    })
    program = load(make_program(tmp_path, partners=pa.table(partners_table()), events=events, fmt="parquet"))
    assert program.events["amount"].tolist() == [0.0, 5.0]


# ---------------------------------------------------------------------------------------------
# 8. unknown event_type, 9. unknown partner


def test_unknown_event_type_shows_the_unknown_values(tmp_path: Path) -> None:
    event_types = ["login", "purchase", "click", "Login", "purchase"]
    folder = make_program(tmp_path, events=events_table(event_type=event_types))
    examples = "row 2 (purchase), row 4 (Login), row 5 (purchase)"
    message = assert_rejected(folder, "events.csv", "event_type", "unknown event_type", 3, examples)
    assert "(values not in data.event_types: 'Login', 'purchase')" in message


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
        ("events", ["2025-03-01", "2025-06-01 00:00:01", "2025-03-01", "2025-06-01", "2025-02-01"],
         "row 2 (2025-06-01 00:00:01)"),
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
        folder, "events.csv", "amount", "negative amount", 12,
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
    partners = partners_table(
        partner_id=["p1", "p2", "p1", "p4"], signup_at=["2025-01-01", "2025-01-10", "2025-01-05", "bad"]
    )
    events = {
        "partner_id": ["p1", "p2", "p4", "p1", "p1", "p2", "", "p1", "p2"],
        "ts": [
            "2025-03-01", "2025-03-02", "2025-03-03", "2024-01-01", "2025-07-01",
            "2025-03-05", "2025-03-06", "2025-03-07", "2025-03-08",
        ],
        "event_type": ["login", "sale", "click", "click", "click", "oops", "click", "sale", "click"],
        "amount": ["", "10", "", "", "", "", "", "-2", "x"],
        "event_id": ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e1"],
    }
    folder = make_program(tmp_path / "data", partners=partners, events=events)
    quarantine = tmp_path / "quarantine"
    program = load(folder, lenient=True, quarantine_dir=quarantine)

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
        "partner_id": "p4", "ts": "2025-03-03", "event_type": "click", "amount": "", "event_id": "e3",
        "row": "3", "problem": "unknown partner",
    }
    assert not (quarantine / "actions.quarantine.csv").exists()


def test_lenient_duplicates_keep_the_first_surviving_occurrence(tmp_path: Path) -> None:
    events = events_table(event_id=["e1", "e1", "e2", "e1", "e2"], amount=["", "-1", "", "", "30"])
    program = load(make_program(tmp_path / "data", events=events), lenient=True, quarantine_dir=tmp_path / "q")
    assert program.quarantined == {"events": {"negative amount": 1, "duplicate event_id": 2}}
    rows = read_quarantine(tmp_path / "q" / "events.quarantine.csv")
    assert [(r["row"], r["problem"]) for r in rows] == [
        ("2", "negative amount"), ("4", "duplicate event_id"), ("5", "duplicate event_id")
    ]
    assert sorted(program.events["event_id"].tolist()) == ["e1", "e2"]
    assert program.events.loc[program.events["event_id"] == "e1", "event_type"].tolist() == ["login"]


def test_lenient_mixed_time_zones_quarantines_the_naive_rows(tmp_path: Path) -> None:
    ts = ["2025-03-01T10:00:00Z", "2025-03-02 10:00", "2025-03-01T10:00:00+03:00", "2025-04-01", "2025-02-01T00:00Z"]
    folder = make_program(tmp_path / "data", events=events_table(ts=ts))
    program = load(folder, lenient=True, quarantine_dir=tmp_path / "q")
    assert program.quarantined == {"events": {"mixed time zones": 2}}
    assert len(program.events) == 3
    assert [r["row"] for r in read_quarantine(tmp_path / "q" / "events.quarantine.csv")] == ["2", "4"]


def test_lenient_events_and_actions_of_a_quarantined_partner_are_quarantined(tmp_path: Path) -> None:
    partners = partners_table(signup_at=["2025-01-01", "2025-13-01", "2025-02-01"])
    folder = make_program(tmp_path / "data", partners=partners, actions=actions_table())
    program = load(folder, lenient=True, quarantine_dir=tmp_path / "q")
    assert program.quarantined == {
        "partners": {"unparseable timestamp": 1},
        "events": {"unknown partner": 2},
        "actions": {"unknown partner": 1},
    }
    assert "p2" not in program.events["partner_id"].cat.categories
    assert program.actions is not None and program.actions["partner_id"].tolist() == ["p1"]


def test_lenient_still_raises_on_file_level_problems(tmp_path: Path) -> None:
    folder = make_program(tmp_path / "data")
    (folder / "events.csv").write_bytes(b"")
    assert_file_rejected(
        folder, f"{folder / 'events.csv'}: empty file (zero bytes)", lenient=True, quarantine_dir=tmp_path / "q"
    )


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
# Brute-force references on random tiny programs


def _reference_events(
    partners: dict[str, pd.Timestamp], events: Table, as_of: pd.Timestamp
) -> tuple[list[int], dict[int, str]]:
    """The events contract one rule and one row at a time: kept rows (0-based, in output order), row -> problem."""
    n = len(events["ts"])
    problem: dict[int, str] = {}

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
        if amounts[i] is None and events["event_type"][i] in DATA.money_event_types:
            problem[i] = "missing amount"
    for i in alive():
        amount = amounts[i]
        if amount is not None and amount < 0:
            problem[i] = "negative amount"
    for i in alive():
        if events["event_type"][i] in ("", None):
            problem[i] = "null event_type"
    for i in alive():
        if events["event_type"][i] not in DATA.event_types:
            problem[i] = "unknown event_type"
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
    rng = random.Random(seed)
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
        "event_type": [rng.choice(DATA.event_types + ["sale", "payout_paid", "bogus", ""]) for _ in range(n)],
        "amount": [rng.choice(["", "", "3.5", "0", "-1", "1,5", "12"]) for _ in range(n)],
        "event_id": [rng.choice(["", f"e{rng.randint(0, 40)}"]) for _ in range(n)],
    }
    partners_csv = {"partner_id": list(partners), "signup_at": [t.strftime("%Y-%m-%d") for t in partners.values()]}
    folder = make_program(tmp_path / "data", partners=partners_csv, events=events)
    program = load(folder, lenient=True, quarantine_dir=tmp_path / "q")

    kept, problem = _reference_events(partners, events, AS_OF)
    expected_counts: dict[str, int] = {}
    for name in problem.values():
        expected_counts[name] = expected_counts.get(name, 0) + 1
    assert program.quarantined.get("events", {}) == expected_counts
    assert program.events["event_id"].fillna("").tolist() == [events["event_id"][i] for i in kept]
    assert program.events["partner_id"].tolist() == [events["partner_id"][i] for i in kept]
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
    event_table = pa.table({
        "partner_id": pa.array([ids[c] for c in codes]).dictionary_encode(),
        "ts": pa.array(np.datetime64("2025-01-01", "s") + seconds.astype("m8[s]")),
        "event_type": ["click"] * n,
        "amount": np.zeros(n),
        "event_id": np.arange(n),
    })
    program = load(make_program(tmp_path, partner_table, event_table, fmt="parquet"))
    assert program.events["event_id"].tolist() == sorted(range(n), key=lambda i: (codes[i], seconds[i], i))
    assert program.events["partner_id"].cat.categories.tolist() == ids
