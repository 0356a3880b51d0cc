"""Where a scoring lands: one folder per scoring date holding the risk list (CSV, Parquet, spreadsheet),
the report and a manifest; the only I/O of a scoring, crash-safe.

Files with words in them carry the scoring's language in their name (`report.ru.html`, `risk_list.ru.xlsx`,
`contacts_OWNER.ru.csv`: `LANGUAGE_FILES`): a scoring in one language replaces that language's files and
keeps the other language's, so `--lang ru` and `--lang en` of one date live side by side. The CSV, the
Parquet (every partner, what later scorings and monitoring read) and `scoring.json` are one per date:
the latest scoring's. The spreadsheet speaks the language throughout: headers, sheet names, segment,
band, owner, channel and action basis names, and a sheet of definitions.

A scoring holds a lock on its date (`scoring_lock`): a second scoring of the same date refuses in one line
instead of mixing rows into the same files. Its files are first written into a staging folder, which takes
the date folder's place in one atomic swap once all of them were written (`write_scoring`): a full disk or
a crash leaves the previous scoring of that date as it was. Then the date's entry in the score history
(`serving.history`) is replaced: what later scorings compare with. `scoring_dates` skips folders whose
manifest says no partner was active (a forced scoring of nobody is never the latest risk list).
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import xlsxwriter
from xlsxwriter.exceptions import FileCreateError

from partner_churn.domain import FIRST_SCORING, LANGS, RISK_LIST_ORDER, sort_risk_list
from partner_churn.errors import InputError
from partner_churn.files import PART_GLOB, exchange_folders, give_parts_one_schema, part_name
from partner_churn.locks import process_lock
from retention.wording import format_date, format_money, format_number, format_percent, format_signed
from serving.history import write_entry
from serving.today import CONTACT_COLUMNS, contacts_due, crm_tasks
from serving.words import ACTION_BASIS_NAMES, CHANNEL_NAMES, OWNER_NAMES, SEGMENT_NAMES, TEXT

RISK_LIST = "risk_list.parquet"
"""What makes a folder a scoring (what monitoring reads): one file, or from the dask engine a folder of one part
per partition (`write_risk_list_part`); `read_risk_list_file` reads either in risk-list order."""
RISK_LIST_CSV = "risk_list.csv"
MANIFEST = "scoring.json"
"""What was scored: date, partners, active partners, models, language; written last."""
KPIS = "kpis.json"
"""The owner's figures with their trends (`serving.kpis.kpis_json`), for programs: one per date, like the manifest."""
REPORT = "report.{lang}.html"
SPREADSHEET = "risk_list.{lang}.xlsx"
CONTACTS_CSV = "contacts_{owner}.{lang}.csv"
"""One CRM import file per owner with contacts due this week (`serving.today.CRM_COLUMNS`)."""
LANGUAGE_FILES = (REPORT, SPREADSHEET, CONTACTS_CSV)
"""Names of the files written in the scoring's language: one set per language in a date's folder."""
UNLABELLED_FILES = ("report.html", "risk_list.xlsx", "contacts_*.csv")
"""Names of language files from before they carried the language; a scoring replaces them."""


def language_file(template: str, lang: str, *, owner: str = "*") -> str:
    """The name of a language file: `language_file(REPORT, "ru")` is report.ru.html."""
    return template.format(lang=lang, owner=owner)


def _language_of(name: str) -> str | None:
    """The language a file of a scoring folder is written in, None for a language-free or a user's file."""
    for lang in LANGS:
        if any(fnmatch.fnmatch(name, language_file(template, lang)) for template in LANGUAGE_FILES):
            return lang
    return None


def _replaced(name: str, lang: str) -> bool:
    """Whether a scoring in `lang` replaces this file of the folder's earlier scoring: its own language's
    files (a contacts file of an owner with nobody due now goes too) and the unlabelled ones of old; the
    other languages' files and a user's stay."""
    language = _language_of(name)
    if language is not None:
        return language == lang
    return any(fnmatch.fnmatch(name, pattern) for pattern in UNLABELLED_FILES)


def scoring_folder(output_dir: Path, as_of: pd.Timestamp) -> Path:
    """The folder of one scoring date, e.g. work/scores/2026-07-01."""
    return output_dir / f"{as_of:%Y-%m-%d}"


def scoring_dates(output_dir: Path, *, with_active_partners: bool = True) -> list[pd.Timestamp]:
    """Dates with a scoring folder holding a risk list, oldest first; by default without the folders whose
    manifest says no partner was active (a forced scoring of nobody)."""
    found = []
    if output_dir.is_dir():
        for folder in output_dir.iterdir():
            try:
                stamp = pd.Timestamp(folder.name, tz="UTC")
            except ValueError:
                continue
            if (folder / RISK_LIST).exists() and (not with_active_partners or _has_active_partners(folder)):
                found.append(stamp)
    return sorted(found)


SPREADSHEET_COLUMNS = [
    "partner_id",
    "segment",
    "previous_segment",
    "deactivation_risk",
    "risk_band",
    "risk_trend",
    "previous_risk",
    "risk_change",
    "weeks_in_high_band",
    "high_band_since",
    "upgrade_potential",
    "value_at_risk",
    "action_title",
    "action_basis",
    "expected_saved_revenue",
    "due_in_days",
    "owner",
    "reasons",
    "model_version",
    "trained_through",
    "scored_at",
]
"""What a manager reads in the spreadsheet, in reading order (the full detail, and the action's code, are
in the CSV and Parquet)."""
TODAY_SHEET, RISK_LIST_SHEET, DEFINITIONS_SHEET = "today", "risk_list", "definitions"
"""The spreadsheet's sheets, in order; their names per language are in SHEET_NAMES."""
SHEET_NAMES = {
    "en": {TODAY_SHEET: "This week", RISK_LIST_SHEET: "Risk list", DEFINITIONS_SHEET: "Definitions"},
    "ru": {TODAY_SHEET: "Контакты недели", RISK_LIST_SHEET: "Список риска", DEFINITIONS_SHEET: "Определения"},
}
SHEET_MEANINGS = {
    "en": {
        TODAY_SHEET: "Each owner's personal contacts due within 7 days of the scoring, worth something (value at risk or expected revenue above 0); by owner, due date, value at risk.",
        RISK_LIST_SHEET: "The first partners of the risk list in priority order: value at risk, then deactivation risk, then upgrade potential. Every partner, with every column, is in risk_list.csv and risk_list.parquet.",
        DEFINITIONS_SHEET: "What each sheet and column means.",
    },
    "ru": {
        TODAY_SHEET: "Личные контакты каждого исполнителя на 7 дней от даты расчёта, которые чего-то стоят (ценность под риском или ожидаемая выручка больше 0); по исполнителю, сроку, ценности под риском.",
        RISK_LIST_SHEET: "Первые партнёры списка риска в порядке приоритета: ценность под риском, затем риск ухода, затем потенциал роста. Все партнёры со всеми столбцами — в risk_list.csv и risk_list.parquet.",
        DEFINITIONS_SHEET: "Что значит каждый лист и каждый столбец.",
    },
}
COLUMN_WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "partner_id": {"en": ("Partner ID", "The partner's identifier in the program."), "ru": ("ID партнёра", "Идентификатор партнёра в программе.")},
    "segment": {
        "en": ("Segment", "Star, Workhorse, Newbie or Sleeper, by the program's rules at the scoring date."),
        "ru": ("Сегмент", "Звезда, рабочая лошадка, новичок или спящий — по правилам программы на дату расчёта."),
    },
    "previous_segment": {
        "en": ("Previous segment", "The segment at the previous scoring; 'new' for a partner not scored then."),
        "ru": ("Прошлый сегмент", "Сегмент на прошлом расчёте; «новый» — партнёра тогда ещё не оценивали."),
    },
    "deactivation_risk": {
        "en": ("Deactivation risk", "Chance that an active partner has no qualifying event over the horizon; empty for inactive partners."),
        "ru": ("Риск ухода", "Вероятность, что активный партнёр не совершит ни одного целевого действия за горизонт прогноза; пусто для неактивных."),
    },
    "risk_band": {
        "en": ("Risk band", "Low, medium or high deactivation risk; inactive for partners not active now; unavailable without a risk model."),
        "ru": ("Уровень риска", "Низкий, средний или высокий риск ухода; «неактивен» — партнёр сейчас неактивен; «нет модели» — модели риска нет."),
    },
    "risk_trend": {
        "en": (
            "Trend",
            "↑ risk rose, ↓ fell, → steady since the previous scoring (by at least scoring.risk_trend_step); empty when either scoring has no risk.",
        ),
        "ru": (
            "Тренд",
            "↑ риск вырос, ↓ снизился, → без изменений с прошлого расчёта (на scoring.risk_trend_step и больше); пусто, если в одном из расчётов риска нет.",
        ),
    },
    "previous_risk": {
        "en": ("Previous risk", "Deactivation risk at the previous scoring; empty if the partner was not scored then or not active."),
        "ru": ("Прошлый риск", "Риск ухода на прошлом расчёте; пусто, если партнёра тогда не оценивали или он был неактивен."),
    },
    "risk_change": {
        "en": ("Risk change", "Deactivation risk now minus at the previous scoring."),
        "ru": ("Изменение риска", "Риск ухода сейчас минус риск на прошлом расчёте."),
    },
    "weeks_in_high_band": {
        "en": ("Weeks in high risk", "Whole weeks since the partner entered the high risk band; empty when not in it."),
        "ru": ("Недель в высоком риске", "Полных недель с тех пор, как партнёр попал в высокий риск; пусто, если риск не высокий."),
    },
    "high_band_since": {
        "en": ("High risk since", "The scoring at which the partner entered the high risk band and has stayed there since."),
        "ru": ("Высокий риск с", "Расчёт, на котором партнёр попал в высокий риск и с тех пор в нём остаётся."),
    },
    "upgrade_potential": {
        "en": ("Upgrade potential", "Chance of climbing to a higher segment over the horizon."),
        "ru": ("Потенциал роста", "Вероятность подняться в более высокий сегмент за горизонт прогноза."),
    },
    "value_at_risk": {
        "en": (
            "Value at risk",
            "Stars and workhorses: deactivation risk × expected revenue; newbies and sleepers: upgrade potential × the value of growing into a typical workhorse.",
        ),
        "ru": (
            "Ценность под риском",
            "Звёзды и рабочие лошадки: риск ухода × ожидаемая выручка; новички и спящие: потенциал роста × ценность роста до типичной рабочей лошадки.",
        ),
    },
    "expected_revenue": {
        "en": ("Expected revenue", "Revenue the partner is expected to bring over the horizon, in the program's currency."),
        "ru": ("Ожидаемая выручка", "Выручка, которую партнёр, как ожидается, принесёт за горизонт прогноза, в валюте программы."),
    },
    "action_title": {"en": ("Action", "The one action chosen for the partner."), "ru": ("Действие", "Одно действие, выбранное для партнёра.")},
    "action_basis": {
        "en": (
            "Chosen by",
            "Measured effect: the action the action log measured to save most for this partner (partner-churn effects); "
            "Action table: the action table's rule for the partner's state.",
        ),
        "ru": (
            "Основание выбора",
            "Измеренный эффект — действие, которое по журналу действий сохраняет для этого партнёра больше всего (partner-churn effects); "
            "таблица действий — правило таблицы действий для состояния партнёра.",
        ),
    },
    "expected_saved_revenue": {
        "en": (
            "Expected saved revenue",
            "For a measured action: its uplift (the rise in the chance of staying active over the horizon) × the revenue at stake − "
            "the action's cost, in the program's currency; empty for an action from the action table.",
        ),
        "ru": (
            "Ожидаемая сохранённая выручка",
            "Для измеренного действия: его эффект (рост вероятности остаться активным за горизонт прогноза) × выручка под угрозой − "
            "стоимость действия, в валюте программы; пусто для действия по таблице действий.",
        ),
    },
    "action_description": {
        "en": ("What to do and say", "What exactly to do, for the person who does it."),
        "ru": ("Что сделать и сказать", "Что именно сделать — для того, кто выполняет действие."),
    },
    "channel": {"en": ("Channel", "How the partner is reached."), "ru": ("Канал", "Как связаться с партнёром.")},
    "owner": {"en": ("Owner", "Who carries the action out."), "ru": ("Исполнитель", "Кто выполняет действие.")},
    "due_in_days": {
        "en": ("Due in days", "Days from the scoring by which the action should be done (0: the same day)."),
        "ru": ("Срок, дн.", "Через сколько дней от даты расчёта действие должно быть выполнено (0 — в тот же день)."),
    },
    "due_date": {"en": ("Due date", "The day the contact is due."), "ru": ("Дата", "День, на который назначен контакт.")},
    "reasons": {
        "en": ("Reasons", "Why: the facts behind the scores, most important first."),
        "ru": ("Причины", "Почему: факты, стоящие за оценками, сначала самые важные."),
    },
    "last_activity_date": {
        "en": ("Last activity", "Day of the partner's last qualifying event; empty if never active."),
        "ru": ("Последняя активность", "День последнего целевого действия партнёра; пусто, если активности не было."),
    },
    "model_version": {
        "en": ("Models", "The registered models that scored, with their versions."),
        "ru": ("Модели", "Зарегистрированные модели, выставившие оценки, с их версиями."),
    },
    "trained_through": {
        "en": ("Trained through", "The models learned from outcomes up to this day."),
        "ru": ("Обучена по", "Модели обучены на исходах по этот день."),
    },
    "scored_at": {"en": ("Scored at", "When the scoring ran (UTC)."), "ru": ("Время расчёта", "Когда выполнен расчёт (UTC).")},
}
"""Per spreadsheet column and language: its header and what it means (the definitions sheet)."""
DEFINITIONS_HEADER = {"en": ("Sheet or column", "Meaning"), "ru": ("Лист или столбец", "Что значит")}


def _has_active_partners(folder: Path) -> bool:
    """False only when the folder's manifest says nobody was active (folders from before manifests count)."""
    try:
        return int(json.loads((folder / MANIFEST).read_text()).get("active_partners", 1)) > 0
    except (OSError, ValueError, TypeError, AttributeError):
        return True


def scoring_lock(output_dir: Path, as_of: pd.Timestamp) -> AbstractContextManager[None]:
    """The lock of one scoring date, held for a block; InputError at once when another process holds it."""
    return process_lock(output_dir / f".{as_of:%Y-%m-%d}.lock", f"scoring of {as_of:%Y-%m-%d}")


def write_scoring(
    scored: pd.DataFrame,
    report_html: str,
    output_dir: Path,
    as_of: pd.Timestamp,
    manifest: dict[str, Any],
    *,
    lang: str,
    spreadsheet_rows: int = 10_000,
    kpis: Mapping[str, Any] | None = None,
    staging: Path | None = None,
) -> Path:
    """Write risk_list.csv and .parquet (every partner), risk_list.LANG.xlsx (the first `spreadsheet_rows`
    in priority order: what a manager works through), report.LANG.html, contacts_OWNER.LANG.csv,
    kpis.json (`kpis`, when given) and scoring.json into the date's folder, then the date's score history entry; return the folder. The other languages' files of the date stay
    (`_replaced`). All or nothing: the files are written into a staging folder beside it, which then takes
    the date folder's place in one step (`_swap_into_place`); an InputError (one line) leaves the folder as
    it was. Call it holding `scoring_lock`.

    With `staging` (a `scoring_staging` whose RISK_LIST the partitioned scoring wrote as a dataset of parts),
    `scored` is that scoring's summary (`serving.batch.summary_rows`): the other files are made from it, and
    no risk_list.csv is written (a stale one of an earlier scoring of the date does not stay either)."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: expected one of {', '.join(LANGS)}")
    folder = scoring_folder(output_dir, as_of)
    contacts = contacts_due(scored, as_of) if len(scored) else pd.DataFrame(columns=CONTACT_COLUMNS)
    whole_list: dict[str, Callable[[Path], object]] = {
        RISK_LIST: lambda path: scored.to_parquet(path, index=False),
        RISK_LIST_CSV: lambda path: _with_times_as_text(scored).to_csv(path, index=False, float_format="%.6g"),
    }
    parts: dict[str, Callable[[Path], object]] = {RISK_LIST: lambda path: _one_schema(path, scored)}
    writers: dict[str, Callable[[Path], object]] = {
        **(whole_list if staging is None else parts),
        language_file(SPREADSHEET, lang): lambda path: _write_spreadsheet(scored.head(spreadsheet_rows), contacts, lang, path),
        language_file(REPORT, lang): lambda path: path.write_text(report_html, encoding="utf-8"),
        MANIFEST: lambda path: path.write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8"),
    }
    if kpis is not None:
        writers = {KPIS: lambda path: path.write_text(json.dumps(kpis, indent=2, allow_nan=False), encoding="utf-8"), **writers}
    for owner, tasks in contacts.groupby("owner", sort=True):
        name = language_file(CONTACTS_CSV, lang, owner=str(owner))
        writers = {name: _crm_writer(tasks), **writers}
    try:
        if staging is None:
            staging = _fresh_staging(output_dir, as_of)
        for name, write in writers.items():
            write(staging / name)
        if folder.is_dir():  # the other languages' files, and files someone put beside an earlier scoring, stay
            for other in folder.iterdir():
                if other.name not in writers and other.name not in (KPIS, *whole_list) and not _replaced(other.name, lang) and other.is_file():
                    os.link(other, staging / other.name)
        _swap_into_place(staging, folder, last=MANIFEST, stale=[name for name in whole_list if name not in writers])
    except (OSError, FileCreateError, pa.ArrowException) as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise _cannot_write(folder, as_of, exc) from None
    shutil.rmtree(staging, ignore_errors=True)  # after a swap it holds the previous files
    write_entry(scored, output_dir, as_of, active_partners=int(manifest.get("active_partners", len(scored))))
    return folder


def _cannot_write(folder: Path, as_of: pd.Timestamp, exc: BaseException) -> InputError:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return InputError(f"cannot write the scoring of {as_of:%Y-%m-%d} to {folder}: {reason}; the files already there are left as they were")


def _fresh_staging(output_dir: Path, as_of: pd.Timestamp) -> Path:
    """This process's empty staging folder for the scoring of `as_of`, beside its folder; the staging folders
    of scorings of the date killed before their swap are removed (the date's `scoring_lock` is held)."""
    name = scoring_folder(output_dir, as_of).name
    for leftover in output_dir.glob(f".{name}.*.staging"):
        shutil.rmtree(leftover, ignore_errors=True)
    staging = output_dir / f".{name}.{os.getpid()}.staging"
    staging.mkdir(parents=True)
    return staging


@contextmanager
def scoring_staging(output_dir: Path, as_of: pd.Timestamp) -> Iterator[Path]:
    """A fresh staging folder for a scoring whose risk list is written in parts before `write_scoring(...,
    staging=)` adds the other files and swaps it into place; removed when the block fails. Hold `scoring_lock`."""
    folder = scoring_folder(output_dir, as_of)
    try:
        staging = _fresh_staging(output_dir, as_of)
        (staging / RISK_LIST).mkdir()
    except OSError as exc:
        raise _cannot_write(folder, as_of, exc) from None
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _one_schema(parts: Path, summary: pd.DataFrame) -> None:
    """Give every part of a risk list written in parts the column types of the whole list (`summary`'s, as
    pandas made them for all rows together: `give_parts_one_schema`). With no part (nobody to score), the list
    of nobody."""
    if not any(parts.glob(PART_GLOB)):
        summary.to_parquet(parts / part_name(0), index=False)
    give_parts_one_schema(parts, pa.Schema.from_pandas(summary, preserve_index=False))


def write_risk_list_part(staging: Path, partition: int, rows: pd.DataFrame, as_of: pd.Timestamp) -> None:
    """One partition's finished rows (in risk-list order) as a part of the staging folder's RISK_LIST dataset;
    read the whole list with `read_risk_list_file`."""
    try:
        rows.to_parquet(staging / RISK_LIST / part_name(partition), index=False)
    except OSError as exc:
        raise _cannot_write(scoring_folder(staging.parent, as_of), as_of, exc) from None


def read_risk_list_file(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A scoring's RISK_LIST in risk-list order: one file (the local engine's), or a dataset of parts, one per
    partition in risk-list order (the dask engine's), merged as one sort of the whole list orders them."""
    frame = pd.read_parquet(path, columns=None if columns is None else list(dict.fromkeys([*columns, *RISK_LIST_ORDER])))
    if path.is_dir():
        frame = sort_risk_list(frame)
    return frame if columns is None else frame[columns]


def _crm_writer(tasks: pd.DataFrame) -> Callable[[Path], object]:
    """Writes one owner's contacts as CRM tasks; a function of its own so that each owner's writer keeps its tasks."""
    return lambda path: crm_tasks(tasks).to_csv(path, index=False)


def _swap_into_place(staging: Path, folder: Path, *, last: str, stale: Sequence[str] = ()) -> None:
    """Make `staging`'s files the folder's in one step: a rename when there is no folder yet, else Linux's
    renameat2(RENAME_EXCHANGE), which swaps the two folders atomically (a reader sees all old or all new
    files, even if the process dies right then). Where that call is missing (another OS, a file system
    without it), the files are renamed one by one, `last` last, and the folder's `stale` files removed: a crash
    in that loop can leave some files of each scoring, with the earlier manifest saying so."""
    if not folder.exists():
        os.rename(staging, folder)
        return
    if exchange_folders(staging, folder):
        return
    names = sorted((p.name for p in staging.iterdir()), key=lambda name: name == last)
    for name in names:
        if (folder / name).is_dir() or (staging / name).is_dir():  # a partitioned risk list, or one it replaces
            shutil.rmtree(folder / name, ignore_errors=True)
            (folder / name).unlink(missing_ok=True)
        os.replace(staging / name, folder / name)
    for name in stale:  # what the staging folder leaves out on purpose (the CSV beside a partitioned risk list)
        (folder / name).unlink(missing_ok=True)


def _names(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Segment, band, owner, channel and action basis codes as a manager reads them in `lang`; a partner new
    since the previous scoring is 'new' (a missing action basis stays empty)."""
    named = frame.copy()
    tables = {
        "segment": SEGMENT_NAMES[lang],
        "previous_segment": SEGMENT_NAMES[lang],
        "risk_band": TEXT[lang]["bands"],
        "owner": OWNER_NAMES[lang],
        "channel": CHANNEL_NAMES[lang],
        "action_basis": ACTION_BASIS_NAMES[lang],
    }
    for column, table in tables.items():
        if column in named.columns:
            codes = named[column].astype(object)
            missing = "" if column == "action_basis" else TEXT[lang]["new"]
            named[column] = codes.map(lambda code, table=table, missing=missing: missing if pd.isna(code) else table.get(str(code), str(code)))
    return named


def spreadsheet_sheets(scored: pd.DataFrame, contacts: pd.DataFrame, lang: str) -> dict[str, pd.DataFrame]:
    """The spreadsheet's sheets as they are written (TODAY_SHEET, RISK_LIST_SHEET, DEFINITIONS_SHEET), in
    `lang`: headers from COLUMN_WORDS, codes named (`_names`), times without a zone (Excel has none). Pure."""
    risk_list = _names(scored[[c for c in SPREADSHEET_COLUMNS if c in scored.columns]], lang)
    if "segment_change" in scored and "previous_segment" in risk_list:
        risk_list.loc[(scored["segment_change"] == FIRST_SCORING).to_numpy(), "previous_segment"] = TEXT[lang]["first_scoring"]
    today = _names(contacts[[c for c in CONTACT_COLUMNS if c in contacts.columns]], lang)
    for sheet in (risk_list, today):
        for column in sheet.columns:
            if isinstance(sheet[column].dtype, pd.DatetimeTZDtype):
                sheet[column] = sheet[column].dt.tz_convert("UTC").dt.tz_localize(None)
    shown = list(dict.fromkeys([*today.columns, *risk_list.columns]))
    definitions = pd.DataFrame(
        [(SHEET_NAMES[lang][sheet], SHEET_MEANINGS[lang][sheet]) for sheet in SHEET_NAMES[lang]] + [COLUMN_WORDS[column][lang] for column in shown],
        columns=list(DEFINITIONS_HEADER[lang]),
    )
    headers = {column: words[lang][0] for column, words in COLUMN_WORDS.items()}
    return {TODAY_SHEET: today.rename(columns=headers), RISK_LIST_SHEET: risk_list.rename(columns=headers), DEFINITIONS_SHEET: definitions}


CONSOLE_TOP = 10
"""How many of the risk list's first partners `partner-churn score` prints."""


def console_top(scored: pd.DataFrame, lang: str, n: int = CONSOLE_TOP) -> pd.DataFrame:
    """The first `n` partners of the risk list as `partner-churn score` prints them, in `lang`."""
    columns = ["partner_id", "segment", "deactivation_risk", "risk_trend", "upgrade_potential", "value_at_risk", "action_title", "reasons"]
    top = _figures(_names(scored.head(n)[columns], lang), lang)
    return top.rename(columns={c: COLUMN_WORDS[c][lang][0] for c in columns})


HISTORY_VIEW_COLUMNS = [
    "as_of",
    "segment",
    "deactivation_risk",
    "risk_trend",
    "risk_change",
    "risk_band",
    "weeks_in_high_band",
    "upgrade_potential",
    "value_at_risk",
    "action",
    "model_version",
]
"""What `partner-churn history PARTNER_ID` shows of each scoring, oldest first."""
SCORING_DATE = {"en": "Scoring", "ru": "Расчёт"}
"""The header of the scoring date in `history_view`."""


def history_view(rows: pd.DataFrame, lang: str, action_titles: Mapping[str, str]) -> pd.DataFrame:
    """One partner's history entries (`serving.history.partner_history`) as `partner-churn history` prints
    them, in `lang`: the scoring date, named codes, actions by their titles (a code the action table no
    longer has as it is), percentages, the risk's change in points."""
    view = _figures(_names(rows[[c for c in HISTORY_VIEW_COLUMNS if c in rows.columns]], lang), lang)
    view["as_of"] = [format_date(t, lang) for t in view["as_of"]]
    view["action"] = [action_titles.get(str(code), code) for code in view["action"]]
    words = {**{c: w[lang][0] for c, w in COLUMN_WORDS.items()}, "as_of": SCORING_DATE[lang], "action": COLUMN_WORDS["action_title"][lang][0]}
    return view.rename(columns=words)


def _figures(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Scores, money, changes and counts of `frame` as a manager reads them in `lang` (`retention.wording`);
    a dash where there is none."""
    shown = {
        "deactivation_risk": lambda x: format_percent(100 * x, lang),
        "upgrade_potential": lambda x: format_percent(100 * x, lang),
        "value_at_risk": lambda x: format_money(x, lang),
        "risk_change": lambda x: format_signed(100 * x, lang),
        "weeks_in_high_band": lambda x: format_number(x, lang),
    }
    for column, show in shown.items():
        if column in frame.columns:
            frame[column] = [("—" if pd.isna(x) else show(float(x))) for x in frame[column]]
    if "risk_trend" in frame.columns:
        frame["risk_trend"] = frame["risk_trend"].where(frame["risk_trend"].notna(), "—")
    return frame


def _with_times_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with each zoned time column as the text `to_csv` writes for it (missing: empty), worded once per
    distinct time: a scoring's few distinct times over 100,000 rows took pandas 1.1 s a column, per row."""
    times = [name for name in frame.columns if isinstance(frame[name].dtype, pd.DatetimeTZDtype)]  # naive days pandas shortens
    if not times:
        return frame
    worded = {}
    for name in times:
        codes, distinct = pd.factorize(frame[name])
        worded[name] = np.array([str(stamp) for stamp in distinct] + [""], dtype=object)[codes]
    return frame.assign(**worded)


_PANDAS_HEADER = {"bold": True, "border": 1, "align": "center", "valign": "top"}
"""The header cells' look, as pandas' `to_excel` gives them."""


def _write_cells(page: Any, position: int, values: pd.Series, time_format: Any) -> None:
    """One column's cells below its header, as `to_excel` writes them but without its per-cell machinery (2.4x
    faster on 10,000 rows): missing values stay empty cells, times take `time_format`, numbers and text as they are."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        for row, stamp in enumerate(values, start=1):
            if not pd.isna(stamp):
                page.write_datetime(row, position, stamp.to_pydatetime(), time_format)
        return
    for row, value in enumerate(values.tolist(), start=1):
        if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
            continue
        if isinstance(value, str):
            page.write_string(row, position, value)
        elif isinstance(value, bool):
            page.write_boolean(row, position, value)
        elif isinstance(value, float) and math.isinf(value):
            page.write_string(row, position, "inf" if value > 0 else "-inf")  # pandas' inf_rep
        elif isinstance(value, (int, float)):
            page.write_number(row, position, value)
        else:
            page.write(row, position, value)


def _write_spreadsheet(scored: pd.DataFrame, contacts: pd.DataFrame, lang: str, path: Path) -> None:
    """The spreadsheet for managers (`spreadsheet_sheets`): first the contacts due this week by owner
    (`serving.today`), then the risk list, then the definitions; frozen headers, filters, readable widths
    and number formats."""
    sheets = spreadsheet_sheets(scored, contacts, lang)
    header = {column: words[lang][0] for column, words in COLUMN_WORDS.items()}
    widths = {
        "partner_id": 12,
        "reasons": 90,
        "action_title": 40,
        "action_basis": 18,
        "expected_saved_revenue": 16,
        "action_description": 90,
        "model_version": 30,
        "scored_at": 20,
    }
    with xlsxwriter.Workbook(str(path)) as book:
        header_format = book.add_format(_PANDAS_HEADER)
        when = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        percent, money = book.add_format({"num_format": "0%"}), book.add_format({"num_format": "#,##0"})
        wrapped = book.add_format({"text_wrap": True, "valign": "top"})
        signed, day = book.add_format({"num_format": "+0%;-0%;0%"}), book.add_format({"num_format": "yyyy-mm-dd"})
        formats = {
            "deactivation_risk": percent,
            "previous_risk": percent,
            "risk_change": signed,
            "high_band_since": day,
            "upgrade_potential": percent,
            "value_at_risk": money,
            "expected_revenue": money,
            "expected_saved_revenue": money,
            "action_description": wrapped,
            "reasons": wrapped,
        }
        by_header = {header[c]: (widths.get(c, 14), formats.get(c)) for c in header}
        by_header.update({name: (30, wrapped) for name in DEFINITIONS_HEADER[lang][:1]})
        by_header.update({name: (110, wrapped) for name in DEFINITIONS_HEADER[lang][1:]})
        for key, sheet in sheets.items():
            page = book.add_worksheet(SHEET_NAMES[lang][key])
            page.write_row(0, 0, [str(column) for column in sheet.columns], header_format)
            for position, column in enumerate(sheet.columns):
                width, style = by_header.get(column, (14, None))
                page.set_column(position, position, width, style)
                _write_cells(page, position, sheet[column], style or when)
            page.freeze_panes(1, 1)
            page.autofilter(0, 0, max(len(sheet), 1), max(len(sheet.columns) - 1, 0))
