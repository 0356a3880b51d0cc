"""Per-table checks: partners, events and actions, each screened in the contract's order into its frame."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.extensions import ExtensionArray

from features.contract.errors import show_value
from features.contract.parsing import (
    CodedColumn,
    ParsedNumbers,
    ParsedTimestamps,
    as_text,
    categorical_from_codes,
    encode_column,
    event_id_values,
    is_blank,
    lookup_codes,
    parse_numbers,
    parse_timestamps,
    plain_values,
    utc_array,
)
from features.contract.screening import TableScreen, reject_declared, reject_timestamps, repeated_rows, show_repeats
from partner_churn.config import ColumnType, DataConfig


def screen_partners(screen: TableScreen, data: DataConfig, as_of: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray, TableScreen]:
    """Checked partners frame, their signup times in UTC nanoseconds (frame order), and the screen."""
    raw = screen.raw
    signup = parse_timestamps(raw.column("signup_at"))
    reject_timestamps(screen, "signup_at", signup, required=True)

    ids_text = as_text(raw.column("partner_id"))
    ids = ids_text.to_numpy(zero_copy_only=False)
    screen.reject("partner_id", "null partner_id", is_blank(ids_text))
    declared = reject_declared(screen, raw, data.partner_attributes, large=False)
    screen.reject(
        "partner_id",
        "duplicate partner_id",
        repeated_rows(ids_text, screen.alive),
        show=lambda rows: show_repeats(screen, ids_text, rows),
    )
    screen.reject(
        "signup_at",
        "after as-of",
        signup.ns > as_of.value,
        text=f"signup_at in the future relative to as-of {as_of.isoformat()}",
    )

    keep = np.flatnonzero(screen.alive)
    columns: dict[str, object] = {
        "partner_id": ids[keep].astype(object),
        "signup_at": utc_array(signup.ns[keep]),
    }
    for name, values in declared.items():
        columns[name] = _taken(values, keep)
    return pd.DataFrame(columns, copy=False), signup.ns[keep], screen


def _screen_timed_rows(screen: TableScreen, partner_index: pd.Index) -> tuple[ParsedTimestamps, np.ndarray]:
    """The checks events and actions share first: their `ts` column, then null partner ids."""
    ts = parse_timestamps(screen.raw.column("ts"))
    reject_timestamps(screen, "ts", ts, required=True)
    partner_codes = lookup_codes(screen.raw.column("partner_id"), partner_index)
    screen.reject("partner_id", "null partner_id", partner_codes == -2)
    return ts, partner_codes


def screen_events(
    screen: TableScreen,
    data: DataConfig,
    types: CodedColumn,
    partner_index: pd.Index,
    signup_ns: np.ndarray,
    as_of: pd.Timestamp,
) -> tuple[pd.DataFrame, str | None, TableScreen]:
    """Checked events frame, sorted by partner then time, the money events' currency, and the screen."""
    raw = screen.raw
    ts, partner_codes = _screen_timed_rows(screen, partner_index)

    type_codes = types.codes
    money = np.isin(type_codes, [data.event_types.index(name) for name in data.money_event_types])
    event_types = raw.column("event_type")
    amount: ParsedNumbers | None = None
    if "amount" in raw.column_names:
        amount = parse_numbers(raw.column("amount"))
        screen.reject("amount", "non-numeric amount", amount.bad)
        screen.reject(
            "amount",
            "missing amount",
            amount.missing & money,
            text="missing amount",
            detail=lambda rows: f"required for money event types: {', '.join(data.money_event_types)}",
            show=lambda rows: [f"empty amount, event_type {show_value(value)}" for value in event_types.take(pa.array(rows)).to_pylist()],
        )
        screen.reject("amount", "negative amount", amount.values < 0)
    screen.reject("event_type", "null event_type", type_codes == -2)
    screen.reject(
        "event_type",
        "unknown event_type",
        type_codes == -1,
        detail=lambda rows: _unknown_event_types(types, rows, data),
    )
    currencies: tuple[np.ndarray, list[str]] | None = None
    if "currency" in raw.column_names:
        currencies = _reject_currencies(screen, raw.column("currency"), money, data)
    declared = reject_declared(screen, raw, data.event_extra_columns, large=True)
    _reject_unknown_partners(screen, raw.column("partner_id"), partner_codes)
    if "event_id" in raw.column_names:
        event_ids = raw.column("event_id")
        screen.reject(
            "event_id",
            "duplicate event_id",
            repeated_rows(event_ids, screen.alive),
            show=lambda rows: show_repeats(screen, event_ids, rows),
        )
    _reject_outside_lifetime(screen, ts.ns, partner_codes, partner_index, signup_ns, as_of)

    currency: str | None = None
    if currencies is not None:
        kept = currencies[0][screen.alive & money]  # by now, all in one currency
        currency = currencies[1][kept[0]] if kept.size else None

    rows = _partner_time_rows(screen.alive, partner_codes, ts.ns, len(partner_index))
    columns: dict[str, object] = {
        "partner_id": categorical_from_codes(partner_codes[rows], partner_index),
        "ts": utc_array(ts.ns[rows]),
        "event_type": categorical_from_codes(type_codes[rows], pd.Index(data.event_types, dtype=object)),
        "amount": (np.zeros(int(np.count_nonzero(screen.alive))) if amount is None else np.where(amount.missing[rows], 0.0, amount.values[rows])),
    }
    if "event_id" in raw.column_names:
        columns["event_id"] = event_id_values(raw.column("event_id"), rows)
    for name, values in declared.items():
        columns[name] = _taken(values, rows)
    return pd.DataFrame(columns, copy=False), currency, screen


def screen_actions(
    screen: TableScreen,
    data: DataConfig,
    partner_index: pd.Index,
    signup_ns: np.ndarray,
    as_of: pd.Timestamp,
) -> tuple[pd.DataFrame, TableScreen]:
    """Checked actions frame, sorted like events, and the screen."""
    ts, partner_codes = _screen_timed_rows(screen, partner_index)
    action_text = as_text(screen.raw.column("action"))
    screen.reject("action", "null action", is_blank(action_text))

    def own(rows: np.ndarray | slice) -> dict[str, object]:
        return {"action": action_text.to_numpy(zero_copy_only=False)[rows].astype(object)}

    return _timed_frame(screen, ts, partner_codes, partner_index, signup_ns, as_of, data.action_extra_columns, own), screen


SURVEY_SCORE_RANGE = (0.0, 10.0)
"""A survey answer is a score from 0 to 10 (the NPS question: how likely are you to recommend the program)."""


def screen_surveys(
    screen: TableScreen,
    data: DataConfig,
    partner_index: pd.Index,
    signup_ns: np.ndarray,
    as_of: pd.Timestamp,
) -> tuple[pd.DataFrame, TableScreen]:
    """Checked surveys frame, sorted like events, and the screen: a score from 0 to 10 (whole or not, as the
    survey tool exports it), an optional free-text comment."""
    raw = screen.raw
    ts, partner_codes = _screen_timed_rows(screen, partner_index)
    score = parse_numbers(raw.column("score"))
    screen.reject("score", "non-numeric score", score.bad)
    screen.reject("score", "missing score", score.missing)
    low, high = SURVEY_SCORE_RANGE
    screen.reject("score", f"score outside {low:g}-{high:g}", ~score.missing & ~score.bad & ((score.values < low) | (score.values > high)))
    comment = as_text(raw.column("comment")) if "comment" in raw.column_names else None

    def own(rows: np.ndarray | slice) -> dict[str, object]:
        columns: dict[str, object] = {"score": score.values[rows]}
        if comment is not None:
            columns["comment"] = np.where(is_blank(comment)[rows], None, comment.to_numpy(zero_copy_only=False)[rows].astype(object))
        return columns

    return _timed_frame(screen, ts, partner_codes, partner_index, signup_ns, as_of, data.survey_extra_columns, own), screen


def _timed_frame(
    screen: TableScreen,
    ts: ParsedTimestamps,
    partner_codes: np.ndarray,
    partner_index: pd.Index,
    signup_ns: np.ndarray,
    as_of: pd.Timestamp,
    declared_columns: Mapping[str, ColumnType],
    own: Callable[[np.ndarray | slice], dict[str, object]],
) -> pd.DataFrame:
    """The checks a small timed table (actions, surveys) ends with, after its own columns' checks: declared
    columns, unknown partners, outside the partner's lifetime; then its kept rows by partner and time as a frame
    of partner_id, ts, its own columns (`own(rows)`) and the declared ones."""
    declared = reject_declared(screen, screen.raw, declared_columns, large=False)
    _reject_unknown_partners(screen, screen.raw.column("partner_id"), partner_codes)
    _reject_outside_lifetime(screen, ts.ns, partner_codes, partner_index, signup_ns, as_of)
    rows = _partner_time_rows(screen.alive, partner_codes, ts.ns, len(partner_index))
    columns: dict[str, object] = {"partner_id": categorical_from_codes(partner_codes[rows], partner_index), "ts": utc_array(ts.ns[rows]), **own(rows)}
    for name, values in declared.items():
        columns[name] = _taken(values, rows)
    return pd.DataFrame(columns, copy=False)


def _taken(values: object, rows: np.ndarray | slice) -> object:
    """`values[rows]` of a column `reject_declared` cast (its mapping's values are typed `object`)."""
    assert isinstance(values, (np.ndarray, ExtensionArray)), "reject_declared casts every column to a numpy or pandas array"
    return values[rows]


def _reject_unknown_partners(screen: TableScreen, raw_ids: pa.ChunkedArray, codes: np.ndarray) -> None:
    """Rows whose partner_id is not among the (kept) partners."""
    screen.reject(
        "partner_id",
        "unknown partner",
        codes == -1,
        detail=lambda rows: f"{_distinct_count(raw_ids, rows)} distinct partner_id values not in partners",
    )


def _reject_currencies(screen: TableScreen, column: pa.ChunkedArray, money: np.ndarray, data: DataConfig) -> tuple[np.ndarray, list[str]]:
    """Money events without a currency, then money events in another currency than most of them.

    Returns each row's currency code (-2 when blank) and the currencies, trimmed and upper case.
    Mixing money in several currencies would add euros to dollars, so it is never let through.
    """
    names: list[str] = []

    def lookup(dictionary: pa.Array) -> np.ndarray:
        folded = pc.utf8_upper(pc.utf8_trim_whitespace(dictionary)).to_numpy(zero_copy_only=False)
        codes, uniques = pd.factorize(np.where(folded == "", None, folded))
        names.extend(str(name) for name in uniques)
        return np.where(codes == -1, -2, codes)

    codes = encode_column(column, lookup).codes  # a position in names, -2 when blank
    event_types = screen.raw.column("event_type")
    screen.reject(
        "currency",
        "missing currency",
        money & (codes == -2),
        detail=lambda rows: (
            f"required on money events ({', '.join(data.money_event_types)}) when the file has a currency column; other events may leave it empty"
        ),
        show=lambda rows: [f"empty currency, event_type {show_value(value)}" for value in event_types.take(pa.array(rows)).to_pylist()],
    )
    counted = codes[screen.alive & money & (codes >= 0)]
    counts = np.bincount(counted, minlength=len(names))
    used = sorted(np.flatnonzero(counts), key=lambda code: (-counts[code], names[code]))
    if len(used) > 1:
        main = used[0]
        listed = ", ".join(f"{names[code]} {counts[code]:,} {_row_noun(counts[code])}" for code in used[:10])
        more = f" and {len(used) - 10} more" if len(used) > 10 else ""
        screen.reject(
            "currency",
            "other currency",
            money & (codes >= 0) & (codes != main),
            text=f"other currency than {names[main]}",
            detail=lambda rows: (
                f"money events in {len(used)} currencies: {listed}{more}; one program has one currency: "
                "convert the amounts, or load each currency as its own program"
            ),
        )
    return codes, names


def _reject_outside_lifetime(
    screen: TableScreen,
    ts_ns: np.ndarray,
    codes: np.ndarray,
    partner_index: pd.Index,
    signup_ns: np.ndarray,
    as_of: pd.Timestamp,
) -> None:
    """Rows dated before their partner signed up, then rows dated after `as_of`."""
    known = codes >= 0
    if signup_ns.size:  # one gather for every row (unknown partners read the first signup, then are masked out)
        before = ts_ns < signup_ns[np.maximum(codes, 0)]
        before &= known
    else:
        before = np.zeros(len(codes), dtype=bool)

    def show_before(rows: np.ndarray) -> list[str]:
        return [f"partner {partner_index[codes[row]]}: ts {_iso(ts_ns[row])} < signup_at {_iso(signup_ns[codes[row]])}" for row in rows]

    screen.reject("ts", "before signup", before, text="timestamp before the partner's signup_at", show=show_before)
    screen.reject(
        "ts",
        "after as-of",
        ts_ns > as_of.value,
        text=f"timestamp in the future relative to as-of {as_of.isoformat()}",
    )


def _fold_event_types(values: pa.Array) -> pa.Array:
    """Event types as compared under event_type_case_insensitive (DataConfig.fold_event_type, columnar)."""
    return pc.utf8_lower(pc.utf8_trim_whitespace(values))


def _partner_time_rows(alive: np.ndarray, codes: np.ndarray, ts_ns: np.ndarray, partners: int) -> np.ndarray | slice:
    """Rows to keep, in (partner, ts) order, stable; `slice(None)` when that is every row as it is.

    Sorting by time and then, stably, by partner in 16-bit radix passes takes about half the time of
    a lexsort on tens of millions of rows. Input already in order, with nothing set aside, is neither
    sorted nor copied.
    """
    everything = bool(alive.all())
    rows = None if everything else np.flatnonzero(alive)
    c, t = (codes, ts_ns) if rows is None else (codes[rows], ts_ns[rows])
    if c.size < 2 or bool(np.all((c[1:] > c[:-1]) | ((c[1:] == c[:-1]) & (t[1:] >= t[:-1])))):
        return slice(None) if rows is None else rows
    order = np.argsort(t, kind="stable")
    c = c[order]
    for shift in (0, 16) if partners > 1 << 16 else (0,):
        step = np.argsort(((c >> shift) & 0xFFFF).astype(np.uint16), kind="stable")
        order, c = order[step], c[step]
    return order if rows is None else rows[order]


def _iso(ns: int) -> str:
    return pd.Timestamp(int(ns), tz="UTC").isoformat()


def _unknown_event_types(types: CodedColumn, rows: np.ndarray, data: DataConfig) -> str:
    """The unknown values with their rows, most frequent first, and how to make them known."""
    counts = np.bincount(types.indices[rows], minlength=len(types.dictionary))
    values = types.dictionary.to_pylist()
    seen = sorted(np.flatnonzero(counts), key=lambda i: (-counts[i], str(values[i])))
    listed = ", ".join(f"{str(values[i])!r} {counts[i]:,} {_row_noun(counts[i])}" for i in seen[:10])
    more = f" and {len(seen) - 10} more" if len(seen) > 10 else ""
    hint = "map them to the vocabulary with data.event_type_map (file value: event type), or add them to data.event_types"
    if not data.event_type_case_insensitive:
        known = pa.array([*data.event_types, *data.event_type_map], pa.string())
        unknown = pa.array([str(values[i]) for i in seen], pa.string())
        near = pc.filter(unknown, pc.is_in(_fold_event_types(unknown), _fold_event_types(known))).to_pylist()
        if near:
            others = " and others" if len(near) > 1 else ""
            hint += f"; {near[0]!r}{others} would match ignoring case with data.event_type_case_insensitive: true"
    return f"values not in data.event_types: {listed}{more}; {hint}"


def _row_noun(count: int) -> str:
    return "row" if count == 1 else "rows"


def _distinct_count(column: pa.ChunkedArray, rows: np.ndarray) -> int:
    return len(pc.unique(plain_values(column.take(pa.array(rows)))))
