"""Bulk scoring in columns: an Arrow IPC stream of feature columns in, an Arrow IPC stream of answers out.

`POST /score_arrow` takes what `/score_bulk` takes as feature records, as one table: a `partner_id`
column, one column per feature of the config's schema (`GET /metadata` lists them), and optionally
`downgrade_warning` and `explain`. JSON records cost most of a 10,000-partner request in parsing and in
validating one object per partner; here every rule of the JSON contract is checked once per column with
Arrow compute:

- `partner_id`: text, 1-200 characters, never null, no partner twice;
- an `int` feature: an integer column, never null, 0..1e12;
- a `float` feature: a number column, finite, 0..1e12 (-1e12..1e12 where it runs both ways); null (or
  NaN) only where the pipeline itself leaves it missing; a survey feature's column may be left out, as the
  JSON field may (it is then missing for every partner);
- a `category` feature: text (string, large_string, string_view, or a dictionary of text), 1-200
  characters, null allowed; a column of Arrow's null type is all nulls;
- `downgrade_warning`: boolean, never null (absent: false); `explain`: boolean, null meaning the default
  (`serving.reasons_in_bulk`);
- no other column; at most `serving.max_partners_per_request` rows and reasons for at most
  `serving.max_explained_per_request`; the body valid Arrow (text valid UTF-8), its buffers not compressed
  (a small zstd body can decompress past any byte limit), nothing after the stream's end.

A refusal names every broken column with a few offending rows (`ColumnsRefused`, answered as the service's
other errors are). Raw events are not taken here: they need `/score` or `/score_bulk`. The answers are the
fields of `serving.api.PartnerScore` as columns (timestamps as UTC microseconds, `reasons` a list of text),
the models that answered in the schema's metadata under `model` (JSON of `ModelInfo`).
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.schema import SURVEYS, FeatureSpec, feature_schema
from serving.api import LARGEST, PartnerScore, too_many_explained, too_many_partners
from serving.guard import problems_line
from serving.history import HistoryReader
from serving.online import ServedModels, answer_columns, given_features
from serving.openapi import ARROW_STREAM

SHOWN_ROWS = 5
"""Offending rows named per broken column."""
SHOWN_CHARACTERS = 40
"""Of a text value a refusal quotes."""
MAX_ID_LENGTH = MAX_TEXT_LENGTH = 200
"""As the JSON contract's `partner_id` and category fields."""


class ColumnsRefused(Exception):
    """A request the columnar endpoint refuses: its HTTP status and one problem per broken column."""

    def __init__(self, status: HTTPStatus, problems: list[dict[str, Any]]) -> None:
        self.status = status
        self.problems = problems
        super().__init__(self.line())

    def line(self) -> str:
        return problems_line(self.problems)

    def answer(self) -> dict[str, Any]:
        """The error body, shaped as every error answer of the service."""
        return {"error": self.line(), "detail": self.problems}


def _problem(where: str, message: str, kind: str) -> dict[str, Any]:
    return {"loc": [where], "msg": message, "type": kind}


@dataclass(frozen=True)
class ColumnarRequest:
    """A validated columnar request: features as floats (categories as objects, None for null)."""

    features: dict[str, np.ndarray]
    partner_id: np.ndarray
    downgrade_warning: np.ndarray
    explain: np.ndarray


def read_request(body: bytes, served: ServedModels, *, explain_by_default: bool) -> ColumnarRequest:
    """The body as a validated request for `served`'s config; `ColumnsRefused` naming every problem."""
    config, limits = served.config, served.config.serving
    table = _arrow_table(body)
    if table.num_rows == 0:
        raise ColumnsRefused(HTTPStatus.BAD_REQUEST, [_problem("body", "no partners: the table has no rows", "too_short")])
    if table.num_rows > limits.max_partners_per_request:
        raise ColumnsRefused(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            [_problem("body", too_many_partners(table.num_rows, limits.max_partners_per_request), "too_long")],
        )
    schema = feature_schema(config)
    given = table.column_names
    problems: list[dict[str, Any]] = []
    repeated = sorted({name for name in given if given.count(name) > 1})
    if repeated:
        problems.append(_problem("body", f"columns given more than once: {', '.join(repeated)}", "duplicate_column"))
    known = {"partner_id", "downgrade_warning", "explain", *(spec.name for spec in schema)}
    unknown = [name for name in dict.fromkeys(given) if name not in known]
    if unknown:
        problems.append(_problem("body", f"unknown columns: {_listed(unknown)}", "extra_forbidden"))
    required = ["partner_id", *(spec.name for spec in schema if SURVEYS not in spec.event_types)]
    missing = [name for name in required if name not in given]
    if missing:
        problems.append(_problem("body", f"missing columns: {_listed(missing)}", "missing"))
    if problems:
        raise ColumnsRefused(HTTPStatus.BAD_REQUEST, problems)

    n = table.num_rows
    column = {name: table.column(name).combine_chunks() for name in given}
    partner_id = _checked(problems, "partner_id", column["partner_id"], _partner_ids)
    features: dict[str, np.ndarray] = {}
    for spec in schema:
        if spec.name in column:
            features[spec.name] = _checked(problems, spec.name, column[spec.name], _feature_reader(spec))
        else:  # a survey feature the client left out: missing for every partner, as the JSON field left out
            features[spec.name] = np.full(n, np.nan)
    downgrade = _checked(problems, "downgrade_warning", column["downgrade_warning"], _flags) if "downgrade_warning" in column else np.zeros(n, bool)
    if "explain" in column:
        explain = _checked(problems, "explain", column["explain"], lambda values: _flags(values, default=explain_by_default))
    else:
        explain = np.full(n, explain_by_default)
    if problems:
        raise ColumnsRefused(HTTPStatus.BAD_REQUEST, problems)
    explained = int(np.count_nonzero(explain))
    if explained > limits.max_explained_per_request:
        raise ColumnsRefused(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, [_problem("explain", too_many_explained(explained, limits.max_explained_per_request), "too_long")]
        )
    return ColumnarRequest(features=features, partner_id=partner_id, downgrade_warning=downgrade, explain=explain)


def score_arrow(
    body: bytes,
    served: ServedModels,
    *,
    lang: str,
    explain_by_default: bool,
    history: HistoryReader | None = None,
    now: dt.datetime | None = None,
) -> bytes:
    """The answers to a columnar request, as an Arrow IPC stream (see the module's docstring)."""
    request = read_request(body, served, explain_by_default=explain_by_default)
    now = now or dt.datetime.now(dt.UTC)
    columns = given_features(request.features, request.partner_id, request.downgrade_warning, served)
    answers = answer_columns(columns, served, explain=request.explain, lang=lang, now=now, history=history)
    return answers_stream(answers, served.info())


ANSWER_TYPES: dict[str, pa.DataType] = {
    "deactivation_risk": pa.float64(),
    "upgrade_potential": pa.float64(),
    "downgrade_warning": pa.bool_(),
    "value_at_risk": pa.float64(),
    "due_in_days": pa.int32(),
    "expected_saved_revenue": pa.float64(),
    "reasons": pa.list_(pa.string()),
    "as_of": pa.timestamp("us", tz="UTC"),
    "previous_scoring": pa.timestamp("us", tz="UTC"),
    "previous_risk": pa.float64(),
    "risk_change": pa.float64(),
    "weeks_in_high_band": pa.int32(),
    "high_band_since": pa.timestamp("us", tz="UTC"),
}
"""The answer columns that are not text."""


def answers_stream(answers: dict[str, list[Any]], model: dict[str, str]) -> bytes:
    """`answer_columns`' answers as an Arrow IPC stream, in `PartnerScore`'s field order, `model` in the metadata."""
    fields = list(PartnerScore.model_fields)
    assert list(answers) == fields, f"answer columns {list(answers)} differ from PartnerScore's fields {fields}"
    arrays = []
    for name in fields:
        kind, values = ANSWER_TYPES.get(name, pa.string()), answers[name]
        if pa.types.is_timestamp(kind):  # the answers' moments are ISO 8601 text
            values = [None if v is None else dt.datetime.fromisoformat(v) for v in values]
        arrays.append(pa.array(values, type=kind))
    return ipc_stream(pa.Table.from_arrays(arrays, names=fields).replace_schema_metadata({"model": json.dumps(model)}))


def ipc_stream(table: pa.Table, *, compression: str | None = None) -> bytes:
    """`table` as the bytes of an Arrow IPC stream (what /score_arrow takes and answers; this endpoint
    refuses compressed buffers, which `compression` can make for a test)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression=compression)) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def features_table(rows: pd.DataFrame, schema: Sequence[FeatureSpec]) -> pa.Table:
    """Rows of `build_features` as the table /score_arrow takes, typed as a pandas client writes them:
    partner_id text, counts int64, numbers float64 (NaN as null), categories text, downgrade_warning."""
    columns: dict[str, pa.Array] = {"partner_id": pa.array(rows["partner_id"].astype(str).tolist(), pa.string())}
    for spec in schema:
        values = rows[spec.name]
        if spec.kind == "category":
            columns[spec.name] = pa.array([None if pd.isna(v) else str(v) for v in values], pa.string())
        elif spec.kind == "int":
            columns[spec.name] = pa.array(values.to_numpy(dtype="int64"))
        else:
            columns[spec.name] = pa.array(values.to_numpy(dtype=float), from_pandas=True)
    columns["downgrade_warning"] = pa.array(rows["downgrade_warning"].astype(bool).to_numpy())
    return pa.table(columns)


# -- reading the body -------------------------------------------------------------------------------


def _arrow_table(body: bytes) -> pa.Table:
    if not body:
        raise ColumnsRefused(HTTPStatus.BAD_REQUEST, [_problem("body", f"empty body: send the feature columns as {ARROW_STREAM}", "missing")])
    try:
        _check_messages(body)
        table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
        table.validate(full=True)  # IPC reading trusts the bytes: text that is not UTF-8, offsets out of range
    except (pa.ArrowException, ValueError, OSError, struct.error, IndexError) as error:
        message = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
        raise ColumnsRefused(
            HTTPStatus.BAD_REQUEST, [_problem("body", f"not an Arrow IPC stream ({ARROW_STREAM}): {message}", "arrow_invalid")]
        ) from None
    return table


RECORD_BATCH, DICTIONARY_BATCH = 3, 4
"""`MessageHeader` union types of Arrow's IPC flatbuffers schema (Message.fbs)."""


def _check_messages(body: bytes) -> None:
    """Refuse, before any buffer is decoded, a stream whose record or dictionary batches are compressed (a
    few kilobytes of zstd can decompress to gigabytes past `serving.max_request_bytes`), and bytes after the
    stream's end (JSON refuses trailing text too). The messages' headers are read, not their bodies."""
    source = pa.BufferReader(pa.py_buffer(body))
    reader = pa.ipc.MessageReader.open_stream(source)
    while (message := _next_message(reader)) is not None:
        header = _Flatbuffer(message.metadata.to_pybytes())
        kind = header.byte(header.root, 1)
        if kind not in (RECORD_BATCH, DICTIONARY_BATCH):
            continue
        batch = header.table(header.root, 2)
        if kind == DICTIONARY_BATCH:
            batch = header.table(batch, 1)  # DictionaryBatch.data: its RecordBatch
        if header.has(batch, 3):  # RecordBatch.compression
            raise ColumnsRefused(
                HTTPStatus.BAD_REQUEST,
                [_problem("body", "compressed Arrow buffers (zstd, lz4) are not taken: write the stream without IPC compression", "compressed")],
            )
    if source.tell() < len(body) and any(body[source.tell() :]):
        raise ColumnsRefused(
            HTTPStatus.BAD_REQUEST, [_problem("body", f"{len(body) - source.tell():,} bytes after the end of the Arrow stream", "trailing")]
        )


def _next_message(reader: pa.ipc.MessageReader) -> pa.ipc.Message | None:
    try:
        return reader.read_next_message()
    except StopIteration:
        return None


class _Flatbuffer:
    """Just enough of the flatbuffers format to read a table's fields: little-endian offsets, a table's
    vtable before it (Arrow's `Message` metadata)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.root = struct.unpack_from("<I", data, 0)[0]

    def _slot(self, table: int, field: int) -> int:
        vtable = table - struct.unpack_from("<i", self.data, table)[0]
        size = struct.unpack_from("<H", self.data, vtable)[0]
        return 0 if 4 + 2 * field >= size else struct.unpack_from("<H", self.data, vtable + 4 + 2 * field)[0]

    def has(self, table: int, field: int) -> bool:
        return self._slot(table, field) != 0

    def byte(self, table: int, field: int) -> int:
        slot = self._slot(table, field)
        return self.data[table + slot] if slot else 0

    def table(self, table: int, field: int) -> int:
        at = table + self._slot(table, field)
        return at + struct.unpack_from("<I", self.data, at)[0]


class _Broken(Exception):
    """One column's problem, raised by its reader."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def _checked(problems: list[dict[str, Any]], name: str, values: pa.Array, read: Callable[[pa.Array], np.ndarray]) -> np.ndarray:
    """The column as `read` reads it; its problem added to `problems` (and nothing read) when it is broken."""
    try:
        return read(values)
    except _Broken as broken:
        problems.append(_problem(name, str(broken), broken.kind))
        return np.empty(0)


def _rows(mask: np.ndarray, values: pa.Array | None = None) -> str:
    """e.g. '3 rows (row 0: -1.0, row 7: -2.0, row 9: -5.0)'; the first SHOWN_ROWS of them, long text cut."""
    rows = np.flatnonzero(mask)
    shown = [f"row {i}" + ("" if values is None else f": {_shown(values[int(i)].as_py())}") for i in rows[:SHOWN_ROWS]]
    more = f", and {len(rows) - SHOWN_ROWS:,} more" if len(rows) > SHOWN_ROWS else ""
    return f"{len(rows):,} row{'' if len(rows) == 1 else 's'} ({', '.join(shown)}{more})"


def _shown(value: Any) -> str:
    """A value as a refusal quotes it: text over SHOWN_CHARACTERS cut, with its length."""
    if isinstance(value, str) and len(value) > SHOWN_CHARACTERS:
        return f"{value[:SHOWN_CHARACTERS]!r}... ({len(value):,} characters)"
    return repr(value)


def _listed(names: list[str]) -> str:
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return ", ".join(names[:10]) + more


def _nulls(values: pa.Array) -> np.ndarray:
    return values.is_null().to_numpy(zero_copy_only=False)


def _text(values: pa.Array, *, nullable: bool, longest: int) -> pa.Array:
    """Text values (string, large_string or string_view, or a dictionary of them, decoded), checked: no nulls
    unless `nullable`, 1..longest characters. A column of the null type is all nulls."""
    if pa.types.is_null(values.type):
        values = values.cast(pa.string())
    if pa.types.is_dictionary(values.type):
        dictionary = values.dictionary
        if pa.types.is_string_view(dictionary.type):  # Arrow 25 has no kernels to decode or measure these
            dictionary = dictionary.cast(pa.large_string())
        values = pa.DictionaryArray.from_arrays(values.indices, dictionary).dictionary_decode()
    if pa.types.is_string_view(values.type):
        values = values.cast(pa.large_string())
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise _Broken(f"must be a text column, not {values.type}", "string_type")
    nulls = _nulls(values)
    if nulls.any() and not nullable:
        raise _Broken(f"null in {_rows(nulls)}", "missing")
    lengths = pc.fill_null(pc.utf8_length(values), 1).to_numpy(zero_copy_only=False)
    bad = (lengths < 1) | (lengths > longest)
    if bad.any():
        raise _Broken(f"not 1-{longest} characters long in {_rows(bad, values)}", "string_length")
    return values


def _partner_ids(values: pa.Array) -> np.ndarray:
    ids = _text(values, nullable=False, longest=MAX_ID_LENGTH).to_numpy(zero_copy_only=False).astype(object)
    _, first, counts = np.unique(ids, return_index=True, return_counts=True)
    if (counts > 1).any():
        seen = np.zeros(len(ids), dtype=bool)
        seen[first] = True
        raise _Broken(f"partners given twice: {_rows(~seen, values)}", "duplicate")
    return ids


def _flags(values: pa.Array, default: bool | None = None) -> np.ndarray:
    if pa.types.is_null(values.type):  # all nulls (what pandas gives for a column of None)
        values = values.cast(pa.bool_())
    if not pa.types.is_boolean(values.type):
        raise _Broken(f"must be a boolean column, not {values.type}", "bool_type")
    nulls = _nulls(values)
    if nulls.any() and default is None:
        raise _Broken(f"null in {_rows(nulls)}", "missing")
    return np.asarray(pc.fill_null(values, bool(default)).to_numpy(zero_copy_only=False), dtype=bool)


def _feature_reader(spec: FeatureSpec) -> Callable[[pa.Array], np.ndarray]:
    if spec.kind == "category":
        return lambda values: _text(values, nullable=True, longest=MAX_TEXT_LENGTH).to_numpy(zero_copy_only=False).astype(object)

    def numbers(values: pa.Array) -> np.ndarray:
        if pa.types.is_null(values.type):  # all nulls: missing everywhere (refused below where never missing)
            values = values.cast(pa.int64() if spec.kind == "int" else pa.float64())
        integer = pa.types.is_integer(values.type)
        if spec.kind == "int" and not integer:
            raise _Broken(f"must be an integer column, not {values.type}", "int_type")
        if not (integer or pa.types.is_floating(values.type)):
            raise _Broken(f"must be a number column, not {values.type}", "float_type")
        array = values.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)  # nulls: NaN; past 2**53 rounded, then out of range
        missing = np.isnan(array)
        if missing.any() and not spec.may_be_missing:
            raise _Broken(f"missing (null or NaN) in {_rows(missing)}; this feature always has a value", "missing")
        lowest = -LARGEST if spec.may_be_negative else 0.0
        with np.errstate(invalid="ignore"):
            bad = ~missing & ~((array >= lowest) & (array <= LARGEST))
        if bad.any():
            raise _Broken(f"outside {lowest:g}..{LARGEST:g} or not finite in {_rows(bad, values)}", "out_of_range")
        return array

    return numbers
