"""The input data contract: find, read and check a program's partners, events, actions and surveys.

Everything downstream (features, labels, training, scoring, monitoring) gets its input from
`load_program`, so a program that loads can be trusted: every partner is known and unique, every
timestamp is UTC and not in the future, every event is typed from the configured vocabulary, and
money is a non-negative number. Bad input is the user's to fix, so each problem is a `ContractError`
(an `InputError`) whose one-line message names the file, the column, the problem, how many rows have
it and up to five of them (1-based data row numbers, header not counted, with their values).

Files: `<data_dir>/partners`, `<data_dir>/events` and optionally `<data_dir>/actions` and `<data_dir>/surveys`
(partner satisfaction answers: `partner_id`, `ts`, `score` 0-10, optional `comment`), each as
`.parquet` or `.csv` (never both). Columns are matched by name, after `data.column_map` renamed the
file's own names to the contract's (an export's `user_id`, `created_at`, ... to `partner_id`, `ts`);
every message then names both, e.g. `column 'ts' (file column 'created_at')`, and quarantine files
keep the file's names. CSV values are read as text (so `007` stays `007` and `12,50` can be shown as
written); an empty CSV field is a missing value.
Timestamps are ISO 8601 (`2025-03-01`, `2025-03-01 14:05`, `2025-03-01T14:05:09.123Z`,
`...+03:00`, `...+0300`), years 1680-2261: values without a zone are UTC, values with one are
converted to UTC, and a column mixing the two is refused (the naive ones are ambiguous). Parquet
timestamp columns are taken as UTC (aware ones converted); Parquet text columns are parsed like CSV.
`event_type` values are matched to the vocabulary `data.event_types` directly or through
`data.event_type_map`, ignoring case and surrounding whitespace unless
`data.event_type_case_insensitive` is off. `amount` may be absent when no event is a money event;
it then reads 0.0. An optional `currency` column (compared trimmed and upper-cased) must give every
money event one and the same currency, which becomes `Program.currency`; the column itself is not
carried into the events frame, since every kept money event has that currency.

Checks run in this order; strict mode (the default) raises at the first one that finds anything,
so the message is the same on every run:

File level, all tables before any row is read (these raise in lenient mode too):
  table found (partners and events required), not both .parquet and .csv, not zero bytes, readable,
  every file column named in data.column_map present, no duplicate column names (after the map), required
  columns present, no undeclared extra column, Parquet column types usable, then (after reading) at
  least one data row in partners and events, and no money event in an events file without `amount`.

Row level, table by table (partners, events, actions, surveys), each in this order:
  partners: signup_at missing / unparseable / mixed time zones; null partner_id; declared attributes
            (value does not cast, in file order); duplicate partner_id; signup_at after as-of.
  events:   ts missing / unparseable / mixed time zones; null partner_id; amount non-numeric /
            missing (money event types only; elsewhere empty means 0.0) / negative; event_type null /
            unknown; currency missing on a money event / other currency than the money events' most
            common one; declared extra columns; unknown partner; duplicate event_id; ts before the
            partner's signup_at; ts after as-of.
  actions:  ts missing / unparseable / mixed time zones; null partner_id; null action; declared extra
            columns; unknown partner; ts before signup_at; ts after as-of.
  surveys:  ts missing / unparseable / mixed time zones; null partner_id; score non-numeric / missing /
            outside 0-10; declared extra columns; unknown partner; ts before signup_at; ts after as-of.

Lenient mode sets each bad row aside under its first problem in that order, writes the set-aside
rows of each table to `<quarantine_dir>/<table>.quarantine.csv` (the columns as read, under the
file's names, plus `row` and `problem`) and reports the counts in `Program.quarantined`. Duplicates
keep their first surviving occurrence. Events, actions and surveys of a partner set aside from `partners` are
set aside as `unknown partner`. Every input row ends up either in the returned frames or in a
quarantine file. Last, a table with more than `data.max_quarantine_share` of its rows set aside is
refused (the quarantine files are written first): a load that kept little of a table is a broken
export or config, not a few bad rows, whatever lenient mode was asked for.

Events can be tens of millions of rows: the work is columnar (pyarrow compute, numpy), keys and
event types stay dictionary codes from the file to the returned categoricals, and Python only
formats the handful of example rows of a message.

The modules, in the order a load uses them: `files` (find, check the header of and read each table's
file), `parsing` (Arrow columns to typed numpy arrays), `screening` (the rows still in play and the
row checks all tables share), `tables` (the partners, events, actions and surveys checks), `quarantine`
(lenient mode's files and its bar), `program` (`load_program` and `Program`); `errors` holds
`ContractError`. Import from `features.contract`, not from the modules.
"""

from features.contract.errors import EXAMPLE_ROWS, ContractError
from features.contract.files import REQUIRED_COLUMNS, TABLES
from features.contract.program import Program, load_program
from features.contract.quarantine import QUARANTINE_SUFFIX

__all__ = ["EXAMPLE_ROWS", "QUARANTINE_SUFFIX", "REQUIRED_COLUMNS", "TABLES", "ContractError", "Program", "load_program"]
