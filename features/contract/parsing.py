"""Column conversions: an Arrow column in, numpy arrays out (values and the rows each problem hits), no I/O.

Text is parsed as the contract says (ISO 8601 timestamps in years 1680-2261, numbers with a decimal
point, true/false words); text key columns become positions in their own dictionary of distinct
values, so a check costs one pass over the dictionary and one gather, not a comparison per row.
The last helpers turn the kept rows back into the pandas arrays of the returned frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from partner_churn.config import DataConfig

_NAT = np.iinfo(np.int64).min
_NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_MIN_NS = pd.Timestamp("1680-01-01", tz="UTC").value
_MAX_NS = pd.Timestamp("2261-12-31 23:59:59.999999999", tz="UTC").value

_YEAR_1680_TO_2261 = r"(?:16[89]\d|1[7-9]\d\d|2[01]\d\d|22[0-5]\d|226[01])"
_DATE = _YEAR_1680_TO_2261 + r"-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TIME = r"[T ](?:[01]\d|2[0-3])(?::[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?)?"
_ZONE = r"(?:Z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)"
_NAIVE_TIMESTAMP = f"^{_DATE}(?:{_TIME})?$"
_AWARE_TIMESTAMP = f"^{_DATE}{_TIME}{_ZONE}$"
_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_INTEGER = r"^[+-]?\d{1,18}$"
_TRUE_WORDS = ["true", "t", "yes", "y", "1"]
_FALSE_WORDS = ["false", "f", "no", "n", "0"]


@dataclass(frozen=True)
class CodedColumn:
    """A text column as positions in its own dictionary of distinct values, and what each value means."""

    dictionary: pa.Array
    """The distinct values as written (strings)."""
    indices: np.ndarray
    """Each row's position in `dictionary` (int32), -1 where null."""
    codes: np.ndarray
    """Each row's meaning (int32): a position in a vocabulary, -1 when unknown, -2 when null or empty."""


@dataclass(frozen=True)
class ParsedTimestamps:
    """A timestamp column as UTC nanoseconds, with what was wrong with each row."""

    ns: np.ndarray
    missing: np.ndarray
    bad: np.ndarray
    naive: np.ndarray
    aware: np.ndarray


@dataclass(frozen=True)
class ParsedNumbers:
    """A numeric column as float64 (NaN where missing or bad), with what was wrong with each row."""

    values: np.ndarray
    missing: np.ndarray
    bad: np.ndarray


def parse_timestamps(column: pa.ChunkedArray) -> ParsedTimestamps:
    """UTC nanoseconds of a timestamp column (NaT where missing or bad) and the row masks."""
    n = len(column)
    column = plain_values(column)
    kind = column.type
    none = np.zeros(n, dtype=bool)
    if pa.types.is_null(kind):
        return ParsedTimestamps(np.full(n, _NAT, dtype=np.int64), np.ones(n, dtype=bool), none, none, none)
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        if pa.types.is_timestamp(kind):
            factor = _NS_PER_UNIT[kind.unit]
            raw = pc.cast(column, pa.int64())
        elif pa.types.is_date32(kind):
            factor, raw = 86_400 * 10**9, pc.cast(column, pa.int32()).cast(pa.int64())
        else:
            factor, raw = 10**6, pc.cast(column, pa.int64())
        missing = as_mask(pc.is_null(raw))
        ns = np.array(_filled(raw, 0, np.int64), dtype=np.int64, copy=True)
        bad = ~missing & ((ns < _MIN_NS // factor) | (ns > _MAX_NS // factor))
        if factor != 1:
            ns *= factor
        ns[missing | bad] = _NAT
        return ParsedTimestamps(ns, missing, bad, none, none)

    missing = is_blank(column)
    naive = as_mask(pc.match_substring_regex(column, _NAIVE_TIMESTAMP))
    aware = as_mask(pc.match_substring_regex(column, _AWARE_TIMESTAMP))
    ns = np.full(n, _NAT, dtype=np.int64)
    for selected, arrow_type in ((naive, pa.timestamp("ns")), (aware, pa.timestamp("ns", "UTC"))):
        if not selected.any():
            continue
        try:
            values = _cast_selected(column, selected, arrow_type)
        except pa.ArrowInvalid:
            selected &= ~_impossible_dates(column, selected)
            values = _cast_selected(column, selected, arrow_type)
        ns[selected] = values[selected]
    bad = ~missing & ~naive & ~aware
    return ParsedTimestamps(ns, missing, bad, naive, aware)


def _cast_selected(column: pa.ChunkedArray, selected: np.ndarray, arrow_type: pa.DataType) -> np.ndarray:
    """Nanoseconds of the `selected` rows (others NaT): arrow's ISO 8601 parser on well-formed text."""
    subset = column if selected.all() else pc.if_else(pa.array(selected), column, None)
    return _filled(pc.cast(pc.cast(subset, arrow_type), pa.int64()), _NAT, np.int64)


def _impossible_dates(column: pa.ChunkedArray, selected: np.ndarray) -> np.ndarray:
    """Rows among `selected` (well-formed timestamps) whose day does not exist, e.g. 2025-02-30.

    The format check cannot see this; it is worked out only when arrow refused a well-formed value.
    """
    dates = pc.if_else(pa.array(selected), column, "2000-01-01")
    day = _filled(pc.cast(pc.utf8_slice_codeunits(dates, 8, 10), pa.int8()), 1, np.int8)
    doubtful = selected & (day >= 29)
    if not doubtful.any():
        return np.zeros(len(selected), dtype=bool)
    head = pc.if_else(pa.array(doubtful), column, "2000-01-01")
    year = _filled(pc.cast(pc.utf8_slice_codeunits(head, 0, 4), pa.int32()), 2000, np.int32)
    month = _filled(pc.cast(pc.utf8_slice_codeunits(head, 5, 7), pa.int32()), 1, np.int32)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[month - 1] + ((month == 2) & leap)
    return doubtful & (day > month_days)


def parse_numbers(column: pa.ChunkedArray) -> ParsedNumbers:
    """float64 values (NaN where missing or bad); text must look like 12.5, -3, 1e3 (decimal point)."""
    n = len(column)
    column = plain_values(column)
    if pa.types.is_null(column.type):
        return ParsedNumbers(np.full(n, np.nan), np.ones(n, dtype=bool), np.zeros(n, dtype=bool))
    if _is_text_type(column.type):
        missing = is_blank(column)
        well_formed = as_mask(pc.match_substring_regex(column, _NUMBER))
        subset = column if well_formed.all() else pc.if_else(pa.array(well_formed), column, None)
        values = _filled(pc.cast(subset, pa.float64()), np.nan, np.float64)
        bad = ~missing & ~(well_formed & np.isfinite(values))
    else:
        missing = as_mask(pc.is_null(column, nan_is_null=True))
        values = _filled(pc.cast(column, pa.float64()), np.nan, np.float64)
        bad = ~missing & ~np.isfinite(values)
    values = np.where(bad, np.nan, values)
    return ParsedNumbers(values, missing, bad)


def parse_integers(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """int64 values, missing mask, bad mask; floats must be whole numbers."""
    n = len(column)
    column = plain_values(column)
    if pa.types.is_integer(column.type):
        missing = as_mask(pc.is_null(column))
        return _filled(pc.cast(column, pa.int64()), 0, np.int64), missing, np.zeros(n, dtype=bool)
    if _is_text_type(column.type):
        missing = is_blank(column)
        well_formed = as_mask(pc.match_substring_regex(column, _INTEGER))
        subset = column if well_formed.all() else pc.if_else(pa.array(well_formed), column, None)
        return _filled(pc.cast(subset, pa.int64()), 0, np.int64), missing, ~missing & ~well_formed
    numbers = parse_numbers(column)
    values = numbers.values
    whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2**62)
    bad = numbers.bad | (~numbers.missing & ~whole)
    return np.where(whole, numbers.values, 0).astype(np.int64), numbers.missing, bad


def parse_booleans(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """bool values, missing mask, bad mask; text true/false, t/f, yes/no, y/n, 1/0 in any case."""
    n = len(column)
    column = plain_values(column)
    if pa.types.is_null(column.type):
        return np.zeros(n, dtype=bool), np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    if pa.types.is_boolean(column.type):
        return _filled(column, False, bool), as_mask(pc.is_null(column)), np.zeros(n, dtype=bool)
    missing = is_blank(column) if _is_text_type(column.type) else as_mask(pc.is_null(column))
    text = pc.utf8_lower(column) if _is_text_type(column.type) else pc.cast(column, pa.string())
    true = as_mask(pc.is_in(text, value_set=pa.array(_TRUE_WORDS)))
    false = as_mask(pc.is_in(text, value_set=pa.array(_FALSE_WORDS)))
    return true, missing, ~missing & ~true & ~false


def encode_column(column: pa.ChunkedArray, lookup: Callable[[pa.Array], np.ndarray]) -> CodedColumn:
    """The column as positions in its dictionary of distinct values, and `lookup`'s meaning of each row.

    `lookup` maps the dictionary (strings) to int32 codes, -1 for unknown; null and empty values get -2.
    Working on the dictionary (one entry per distinct value) makes tens of millions of rows cost one
    gather, not a string comparison each.
    """
    n = len(column)
    if pa.types.is_null(column.type) or n == 0:
        code = -2 if n else 0
        return CodedColumn(pa.array([], pa.string()), np.full(n, -1, np.int32), np.full(n, code, np.int32))
    if pa.types.is_dictionary(column.type):
        encoded = column.unify_dictionaries()
    else:
        # one chunk: encoding a chunked array gives every chunk the whole dictionary seen so far
        encoded = pa.chunked_array([pc.dictionary_encode(column.combine_chunks())])
    dictionary = encoded.chunk(0).dictionary
    if not pa.types.is_string(dictionary.type):
        dictionary = dictionary.cast(pa.string())
    indices = np.concatenate([_filled(pc.cast(chunk.indices, pa.int32()), -1, np.int32) for chunk in encoded.chunks])
    meaning = np.asarray(lookup(dictionary), dtype=np.int32)
    meaning[is_blank(pa.chunked_array([dictionary]))] = -2
    return CodedColumn(dictionary, indices, np.append(meaning, np.int32(-2))[indices])


def lookup_codes(column: pa.ChunkedArray, keys: pd.Index) -> np.ndarray:
    """Each row's position in `keys` (int32): -1 when its value is not there, -2 when null or empty."""
    return encode_column(column, lambda dictionary: keys.get_indexer(dictionary.to_numpy(zero_copy_only=False))).codes


def event_type_codes(column: pa.ChunkedArray, data: DataConfig) -> CodedColumn:
    """Each row's position in data.event_types, by `DataConfig.event_type_of` of each distinct value (a
    file holds a handful of distinct event types, so the rule is applied to its dictionary, not per row)."""
    position = {name: i for i, name in enumerate(data.event_types)}

    def lookup(dictionary: pa.Array) -> np.ndarray:
        words = (data.event_type_of(str(value)) for value in dictionary.to_pylist())
        return np.fromiter((position.get(word, -1) if word is not None else -1 for word in words), np.int32, len(dictionary))

    return encode_column(column, lookup)


# ---------------------------------------------------------------------------------------------
# Small helpers: plain Arrow values, numpy masks, and the pandas arrays of the returned frames


def plain_values(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The column with any dictionary encoding undone (value checks work on plain values)."""
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The column as arrow strings: integers become their decimal text, nothing is stripped."""
    column = plain_values(column)
    return column if pa.types.is_string(column.type) else column.cast(pa.string())


def _is_text_type(arrow_type: pa.DataType) -> bool:
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def is_blank(column: pa.ChunkedArray) -> np.ndarray:
    """Null, or empty text (a Parquet "" means the same as an empty CSV field)."""
    blank = pc.is_null(column)
    if _is_text_type(column.type):
        blank = pc.or_(blank, pc.fill_null(pc.equal(column, ""), False))
    return as_mask(blank)


def as_mask(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return _filled(column, False, bool)


def _filled(column: pa.ChunkedArray | pa.Array, fill: object, dtype: type | np.dtype) -> np.ndarray:
    """A numpy array of the column with nulls replaced by `fill`."""
    if column.null_count:
        column = pc.fill_null(column, fill)
    array = column.to_numpy() if isinstance(column, pa.ChunkedArray) else column.to_numpy(zero_copy_only=False)
    return np.asarray(array, dtype=dtype)


def categorical_from_codes(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories, ordered=False))


def utc_array(ns: np.ndarray) -> pd.api.extensions.ExtensionArray:
    return pd.array(ns.view("M8[ns]")).tz_localize("UTC")


def event_id_values(column: pa.ChunkedArray, rows: np.ndarray | slice) -> object:
    """event_id as read: integers stay integers, text becomes `string[pyarrow]` (no Python objects)."""
    column = plain_values(column)
    if pa.types.is_integer(column.type):
        values, missing = _filled(column, 0, np.int64), as_mask(pc.is_null(column))
        return pd.arrays.IntegerArray(values[rows], missing[rows]) if missing.any() else values[rows].copy()
    text = as_text(column)
    return pd.arrays.ArrowStringArray(text if isinstance(rows, slice) else text.take(pa.array(rows)))
