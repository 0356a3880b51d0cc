"""The one command line: `partner-churn <command>`. Bad input ends in one line on stderr and exit 2."""

from __future__ import annotations

import datetime as dt
import difflib
import sys
import types
from collections.abc import Sequence
from contextlib import nullcontext
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from commands.common import (
    AllowStaleOption,
    AsOfOption,
    ConfigOption,
    DataOption,
    EngineOption,
    LenientOption,
    SetOption,
    app,
    champions_in_use,
    config_app,
    config_from,
    config_with_engine,
    cutoff_or_after_data,
    dask_session,
    load_data,
    models_app,
    parse_as_of,
    scored_program,
    train_or_backtest,
    utc_now,
)
from partner_churn.config import Config, anchored, render_yaml
from partner_churn.errors import InputError
from partner_churn.telemetry import quiet_telemetry

_typer_click: types.ModuleType
try:  # typer >= 0.2x parses with its own copy of click: its usage errors are not click's
    from typer._click import exceptions as _typer_click
except ImportError:  # pragma: no cover - older typer parses with click itself
    _typer_click = click.exceptions

USAGE_ERRORS = (click.exceptions.UsageError, _typer_click.UsageError)
"""Wrong option, missing option, bad value, unknown command, a bare group: the user's to fix (exit 2)."""
CLICK_ERRORS = (click.exceptions.ClickException, _typer_click.ClickException)


@config_app.command("show")
def config_show(config: ConfigOption = None, set_: SetOption = None) -> None:
    """Print the effective config as YAML, with every key's meaning as a comment."""
    typer.echo(render_yaml(config_from(config, set_)), nl=False)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: runs the app on `argv` (the process's arguments when None) and turns bad input and
    usage errors into one clear line and exit code 2 (1 stays the code of a refused gate or a check that says
    retrain). Always ends in SystemExit with the command's code."""
    quiet_telemetry()
    try:
        # standalone_mode=False: returns typer.Exit's code instead of exiting
        code = app(args=None if argv is None else list(argv), standalone_mode=False, prog_name="partner-churn")
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except (click.exceptions.Exit, typer.Exit) as exc:
        sys.exit(exc.exit_code)
    except USAGE_ERRORS as exc:
        typer.echo(f"error: {usage_line(exc)}", err=True)
        sys.exit(2)
    except CLICK_ERRORS as exc:
        typer.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(2)
    except (click.exceptions.Abort, typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except OSError as exc:  # a full disk, a read-only folder, a file that vanished: the machine's to fix
        where = f": {exc.filename}" if exc.filename else ""
        typer.echo(f"error: {exc.strerror or exc}{where}", err=True)
        sys.exit(2)
    except Exception as exc:
        if not _is_store_error(exc):
            raise  # a bug: its traceback is what a developer needs
        cause = _last_cause(exc)
        why = "another process holds it locked; waited paths.mlflow_store_wait_seconds" if "locked" in cause else "a read-only or broken store"
        typer.echo(f"error: the MLflow tracking store failed: {cause} ({why})", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


STORE_ERROR_MODULES = ("mlflow", "sqlalchemy", "sqlite3", "alembic")
"""Errors raised by the tracking store (locked or read-only SQLite, a broken database, a server's refusal)."""


def _is_store_error(exc: BaseException) -> bool:
    return any(type(e).__module__.split(".")[0] in STORE_ERROR_MODULES for e in _chain(exc))


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        found.append(link)
        link = link.__cause__ or link.__context__
    return found


def _last_cause(exc: BaseException) -> str:
    """The innermost error's first line ('database is locked', 'attempt to write a readonly database')."""
    innermost = _chain(exc)[-1]
    text = str(getattr(innermost, "orig", None) or innermost).strip().splitlines()
    return (text[0] if text else type(innermost).__name__)[:300]


def usage_line(exc: Exception) -> str:
    """A usage error in one line: what is wrong, the closest right spelling, and where the help is."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "partner-churn"
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    commands = sorted(getattr(ctx.command, "commands", {}) or {}) if ctx is not None else []
    if commands and (message.startswith("Missing command") or type(exc).__name__ == "NoArgsIsHelpError"):
        return f"'{path}' needs a command: {', '.join(commands)} (see {path} --help)"
    possibilities = getattr(exc, "possibilities", None)
    if possibilities:
        close = difflib.get_close_matches(getattr(exc, "option_name", ""), possibilities, n=1, cutoff=0.5)
        message = f"{getattr(exc, 'message', message)}" + (
            f"; did you mean {close[0]}?" if close else f" (options: {', '.join(sorted(possibilities))})"
        )
    return f"{' '.join(message.split())} (see {path} --help)"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"partner-churn {package_version('partner-churn')}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", callback=_version, is_eager=True)] = False,
) -> None:
    """Predict which partners go silent and which are ready to grow; say what to do about each."""


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write partners/events/actions/latent Parquet files to.")],
    partners: Annotated[int | None, typer.Option(help="Partners who sign up (default: generator.partners).", min=1)] = None,
    months: Annotated[int | None, typer.Option(help="Months to simulate (default: generator.months).", min=1, max=120)] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed; the same seed gives the same program.")] = None,
    start_date: Annotated[str | None, typer.Option(help="First day of the program, YYYY-MM-DD (default: generator.start_date).")] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(help="Inject a change (repeatable): new_traffic_source, commission_cut, payout_delay (default: generator.scenarios)."),
    ] = None,
    scenario_from: Annotated[
        str | None, typer.Option(help="First day under the changed rules, YYYY-MM-DD (default: generator.scenario_from).")
    ] = None,
    action_truth: Annotated[
        bool,
        typer.Option(
            "--action-truth",
            help="Also write action_truth.parquet: each logged action's outcomes if treated and if held out, by forking "
            "the simulation (labels.horizon_days, labels.qualifying_event_types); about 4x the generation time.",
        ),
    ] = False,
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions", help="Write partners, events, actions and surveys in this many partitions of whole partners (for --engine dask).", min=1
        ),
    ] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Generate a realistic synthetic partner program (with its latent truth) as Parquet files."""
    from synthetic.action_truth import ActionTruthSettings
    from synthetic.program import GENERATION_CHUNK, generate_partitioned, generate_program, program_period, write_program

    full = config_from(config, set_)
    cfg = full.generator
    start = parse_as_of(start_date, "--start-date").date() if start_date else cfg.start_date
    n_partners, n_months = partners or cfg.partners, months or cfg.months
    scenarios = scenario or cfg.scenarios
    changed_from = parse_as_of(scenario_from, "--scenario-from").date() if scenario_from else cfg.scenario_from
    begin, end = program_period(start, n_months)
    options: dict[str, Any] = {
        "start_date": start,
        "scenarios": scenarios,
        "scenario_from": changed_from,
        "action_truth": ActionTruthSettings.from_labels(full.labels) if action_truth else None,
    }
    chunks = -(-n_partners // GENERATION_CHUNK) if partitions else 1
    changes = f"; changed from {changed_from}: {', '.join(scenarios)}" if scenarios else ""
    with typer.progressbar(length=(end - begin).days * chunks, label=f"simulating {n_partners:,} partners", file=sys.stderr) as bar:
        if partitions:  # chunk by chunk: never the whole program in memory
            counts = generate_partitioned(n_partners, n_months, cfg.seed if seed is None else seed, out, partitions, progress=bar.update, **options)
            rows = {name: counts.get(name, 0) for name in ("partners", "events", "actions", "surveys")}
        else:
            program = generate_program(n_partners, n_months, cfg.seed if seed is None else seed, progress=bar.update, **options)
            write_program(program, out)
            surveys = 0 if program.surveys is None else len(program.surveys)
            rows = {"partners": len(program.partners), "events": program.events.num_rows, "actions": len(program.actions), "surveys": surveys}
    typer.echo(
        f"generated {rows['partners']:,} partners, {rows['events']:,} events, {rows['actions']:,} actions, {rows['surveys']:,} survey answers "
        f"from {begin:%Y-%m-%d} to {end:%Y-%m-%d}{changes} -> {out}{f' in {partitions} partitions' if partitions else ''}"
    )


@app.command()
def validate(
    data: DataOption = None,
    as_of: AsOfOption = None,
    lenient: LenientOption = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Check the input tables against the data contract; exit 2 with a clear message on bad input."""
    cfg = config_from(config, set_)
    program = load_data(cfg, data, as_of, lenient)
    actions = 0 if program.actions is None else len(program.actions)
    surveys = "" if program.surveys is None else f", {len(program.surveys):,} survey answers"
    typer.echo(
        f"ok: {data or cfg.paths.data_dir} meets the contract: {len(program.partners):,} partners, "
        f"{len(program.events):,} events, {actions:,} actions{surveys}"
    )


@app.command()
def partition(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the partitioned program to (new, empty, or an earlier partitioning).")],
    partitions: Annotated[int, typer.Option("--partitions", "-n", help="Number of partitions (partners hashed by partner_id).", min=1)],
    data: DataOption = None,
    as_of: AsOfOption = None,
    lenient: LenientOption = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Check a program against the data contract and write it in partitions of whole partners (Parquet, for
    --engine dask): every partner's rows in one partition, sorted by partner_id and ts."""
    from features.contract.partitions import program_tables, write_partitioned

    cfg = config_from(config, set_)
    program = load_data(cfg, data, as_of, lenient)
    tables = program_tables(program.partners, program.events, program.actions, program.surveys, program.currency, cfg.data.money_event_types)
    write_partitioned(tables, out, partitions)
    typer.echo(f"wrote {len(program.partners):,} partners, {len(program.events):,} events in {partitions} partitions ({', '.join(tables)}) -> {out}")


@app.command()
def summary(
    data: DataOption = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Summarize as of this date, UTC (default: midnight after the last event).")] = None,
    lenient: LenientOption = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Print the program summary: partners, events by type, active partners, revenue, top-5% share, segments."""

    from features.summary import format_summary, summarize_program
    from serving.history import scorings_near
    from serving.kpis import TREND_TOLERANCE_DAYS, format_kpis, owner_kpis, trend_cutoffs

    cfg = config_from(config, set_)
    program = load_data(cfg, data, as_of, lenient)
    cutoff = cutoff_or_after_data(program, as_of)
    typer.echo(format_summary(summarize_program(program.partners, program.events, cutoff, cfg, program.surveys)), nl=False)
    # scorings dated on or before the summary's day: none saw data the summary does not
    scorings = scorings_near(cfg.paths.output_dir, trend_cutoffs(cutoff), within_days=TREND_TOLERANCE_DAYS, before=cutoff + dt.timedelta(days=1))
    typer.echo(format_kpis(owner_kpis(program.partners, program.events, cutoff, cfg, None, surveys=program.surveys, earlier=scorings)), nl=False)
    if program.currency:
        typer.echo(f"  money amounts in          {program.currency}")


@app.command()
def features(
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write: .parquet or .csv.")],
    as_of: Annotated[list[str], typer.Option("--as-of", help="Cutoff date, UTC (repeatable); cutoffs must share one time of day.")],
    data: DataOption = None,
    lenient: LenientOption = False,
    engine: EngineOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Compute point-in-time features, segment and downgrade warning for every partner at each cutoff.

    With --engine dask a .parquet --out is a folder of a part per partition, written as each finishes (each part
    holds its partners' rows at every cutoff; sorted by as_of, stable, the parts read as the local engine's rows)."""
    from features.pipeline import build_features, check_cutoffs
    from partner_churn.files import write_atomically

    if out.suffix not in (".parquet", ".csv"):
        raise InputError(f"--out {out}: expected a .parquet or .csv file name")
    cfg = config_with_engine(config, set_, engine, lenient=lenient)
    cutoffs = check_cutoffs([parse_as_of(value, "--as-of") for value in as_of])
    if cfg.compute.engine == "dask" and out.suffix == ".parquet":  # a part per partition as each finishes: no process holds them all
        from features.partitioned import partition_features_on, program_figures_on
        from partner_churn.files import give_parts_one_schema, is_part_name, part_name, write_folder_atomically

        if out.is_dir() and not all(is_part_name(p.name) for p in out.iterdir()):
            raise InputError(f"--out {out}: a folder holding other files than the parts of a features output; name a new one")

        with dask_session(cfg, data, lambda line: typer.echo(line, err=True), "computing features") as (client, folder):
            now = utc_now()
            futures = partition_features_on(client, folder, now, cutoffs, cfg, context=program_figures_on(client, folder, now, cutoffs, cfg).context)
            shape = [0, 0]

            def write_parts(staging: Path) -> None:
                for k, future in enumerate(futures):
                    part = future.result()
                    future.release()
                    part.to_parquet(staging / part_name(k), index=False)
                    shape[:] = [shape[0] + len(part), part.shape[1]]
                give_parts_one_schema(staging)

            write_folder_atomically(out, write_parts)
        typer.echo(f"wrote {shape[0]:,} rows x {shape[1] - 2} columns for {len(cutoffs)} cutoffs -> {out}/ (Parquet, a part per partition)")
        return
    if cfg.compute.engine == "dask":
        from features.partitioned import build_features_on

        with dask_session(cfg, data, lambda line: typer.echo(line, err=True), "computing features") as (client, folder):
            frame = build_features_on(client, folder, utc_now(), cutoffs, cfg)
    else:
        program = load_data(cfg, data, None, lenient)  # the data may run past the cutoffs: features only look before them
        with typer.progressbar(length=len(cutoffs), label="computing features", file=sys.stderr) as bar:
            frame = build_features(program.partners, program.events, cutoffs, cfg, progress=bar.update, surveys=program.surveys)
    if out.suffix == ".parquet":
        write_atomically(out, lambda path: frame.to_parquet(path, index=False))
    else:
        write_atomically(out, lambda path: frame.to_csv(path, index=False))
    typer.echo(f"wrote {len(frame):,} rows x {frame.shape[1] - 2} columns for {len(cutoffs)} cutoffs -> {out}")


@app.command()
def train(
    data: DataOption = None,
    lenient: LenientOption = False,
    engine: EngineOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Rolling-origin folds against the baselines -> final refit on the newest labels -> register -> gate
    (procedure against procedure), for both models; exit 1 if a gate refuses or a model cannot be trained."""
    from partner_churn.config import pin_option

    cfg = config_with_engine(config, set_, engine, lenient=lenient)
    decisions, run_id, not_trained = train_or_backtest(cfg, data, lenient, register=True)
    for decision in decisions:
        verdict = "champion" if decision.promoted else "challenger"
        typer.echo(f"{decision.name} v{decision.version}: {verdict}: {decision.reason}")
        if not decision.promoted:
            typer.echo(
                f"  to use it anyway: partner-churn promote {decision.name} {decision.version} --reason '...', "
                f"or score with {pin_option(decision.target, decision.version)}"
            )
    for target, why in not_trained.items():
        typer.echo(f"{target}: not trained: {why}")
    typer.echo(f"MLflow run {run_id}")
    refused = [d for d in decisions if not d.promoted]
    if refused or not_trained:
        said = [f"{len(refused)} of {len(decisions)} models stay challenger"] if refused else []
        said += [f"{', '.join(not_trained)} not trained"] if not_trained else []
        typer.echo(f"gate: {'; '.join(said)} (see above); in use now: {champions_in_use(cfg)}", err=True)
        raise typer.Exit(1)


@app.command()
def backtest(
    data: DataOption = None,
    lenient: LenientOption = False,
    engine: EngineOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """The rolling-origin folds of both models' procedure against the baselines (and the oracle on generated
    data), each fold and the mean ± spread; registers nothing."""
    _, run_id, _ = train_or_backtest(config_with_engine(config, set_, engine, lenient=lenient), data, lenient, register=False)
    typer.echo(f"MLflow run {run_id}")


@app.command()
def score(
    as_of: Annotated[str, typer.Option("--as-of", help="Scoring date, UTC (e.g. 2026-07-01); only events before it count.")],
    data: DataOption = None,
    model_version: Annotated[
        list[str] | None,
        typer.Option(
            "--model-version",
            help="Score with a registered version instead of the champion: risk=N, potential=N (repeatable), or N for both.",
        ),
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="Language of reasons and actions: en or ru (default: scoring.lang).")] = None,
    allow_stale: AllowStaleOption = False,
    lenient: LenientOption = False,
    engine: EngineOption = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Score every partner: risk, potential, segment and its change, action, reasons; write the risk list.

    Each model stands on its own: without a champion of one target the other still scores, and the
    missing one is marked unavailable, with the reason in one line."""
    from partner_churn.config import parse_version_pins
    from partner_churn.domain import check_active_partners
    from retention.actions import load_action_table
    from serving.effects_files import latest_effects
    from serving.history import scorings_near
    from serving.kpis import TREND_TOLERANCE_DAYS, kpis_json, kpis_of, trend_cutoffs
    from serving.models import load_scoring_models
    from serving.outputs import (
        REPORT,
        RISK_LIST,
        RISK_LIST_CSV,
        SPREADSHEET,
        console_top,
        language_file,
        scoring_lock,
        scoring_staging,
        write_scoring,
    )
    from serving.report import render_report

    def step(message: str) -> None:
        typer.echo(message, err=True)

    overrides = list(set_ or []) + ([f"scoring.lang={lang}"] if lang else [])
    cfg = config_with_engine(config, overrides, engine, lenient=lenient)
    cutoff = parse_as_of(as_of, "--as-of")
    pins = parse_version_pins(model_version)
    actions = load_action_table(cfg.scoring)
    measured_effects = latest_effects(cfg.paths.reports_dir, cutoff)  # before the work: a damaged file fails fast
    with scoring_lock(cfg.paths.output_dir, cutoff):  # a second scoring of this date refuses at once

        def scoring_models():  # noqa: ANN202 - ScoringModels; after the data's date check: fail fast on stale data
            models = load_scoring_models(cfg, pins)
            for target, why in models.unavailable.items():
                step(f"{target} unavailable: {why}; scoring the other model only")
            for target, line in models.notices.items():
                step(f"{target}: {line}")
            if warning := models.age_warning(cutoff, cfg):
                step(f"warning: {warning}")
            if warning := models.measured_warning(cutoff, cfg):
                step(f"warning: {warning}")
            return models

        # the dask engine writes the risk list's parts into the staging folder as the partitions finish
        with scoring_staging(cfg.paths.output_dir, cutoff) if cfg.compute.engine == "dask" else nullcontext() as staging:
            scored, facts, models, previous = scored_program(
                cfg, data, lenient, cutoff, actions, allow_stale=allow_stale, step=step, then=scoring_models, staging=staging
            )
            active = check_active_partners(scored, cutoff, cfg, allow_stale=allow_stale)
            earlier = scorings_near(cfg.paths.output_dir, trend_cutoffs(cutoff)[:-1], within_days=TREND_TOLERANCE_DAYS, before=cutoff)
            kpis = kpis_of(facts, cutoff, cfg, scored, earlier=earlier)
            step("writing the risk list, the report and the history")
            html = render_report(
                scored,
                previous,
                kpis,
                as_of=cutoff,
                lang=cfg.scoring.lang,
                top=cfg.scoring.top_in_report,
                active_window_days=cfg.labels.active_window_days,
                in_play_window_days=cfg.segments.in_play_window_days,
                horizon_days=cfg.labels.horizon_days,
                revenue_window_days=cfg.segments.revenue_window_days,
                notices={**models.unavailable, **models.notices, **({"models": w} if (w := models.age_warning(cutoff, cfg)) else {})},
                effects=measured_effects,
                action_titles={action.code: getattr(action.title, cfg.scoring.lang) for action in actions.actions},
            )
            manifest = {
                "as_of": cutoff.isoformat(),
                "scored_at": str(scored["scored_at"].iloc[0]) if len(scored) else "",
                "partners": len(scored),
                "active_partners": active,
                "models": models.version_label(cfg),
                "pair": models.pair,
                "trained_through": models.trained_through(),
                "lang": cfg.scoring.lang,
                "previous_scoring": previous.as_of.isoformat() if previous is not None else None,
                "measured_actions": models.measured_label(cfg) or None,
                "actions_by_basis": scored["action_basis"].value_counts().to_dict() if len(scored) else {},
            }
            folder = write_scoring(
                scored,
                html,
                cfg.paths.output_dir,
                cutoff,
                manifest,
                lang=cfg.scoring.lang,
                spreadsheet_rows=cfg.scoring.spreadsheet_rows,
                kpis=kpis_json(kpis),
                staging=staging,
            )
    report, spreadsheet = folder / language_file(REPORT, cfg.scoring.lang), folder / language_file(SPREADSHEET, cfg.scoring.lang)
    since = f"previous scoring {previous.as_of:%Y-%m-%d}" if previous is not None else "first scoring"
    whole = f"{folder / RISK_LIST_CSV} and .parquet" if staging is None else f"{folder / RISK_LIST}/ (Parquet, a part per partition)"
    if models.measured is not None:
        from retention.measured import MEASURED

        measured = scored[scored["action_basis"] == MEASURED]
        typer.echo(
            f"actions: {len(measured):,} proposed by their measured saved revenue ({cfg.effects.uplift_model_name} v{models.measured_version}: "
            f"{measured['expected_saved_revenue'].sum():,.0f} expected over {cfg.labels.horizon_days} days), the rest by the action table",
            err=True,
        )
    typer.echo(f"scored {len(scored):,} partners as of {cutoff:%Y-%m-%d} ({since}) -> {folder}")
    typer.echo(f"risk list: {whole} (all partners), {spreadsheet.name} (top {min(len(scored), cfg.scoring.spreadsheet_rows):,}); report: {report}")
    typer.echo(console_top(scored, cfg.scoring.lang).to_string(index=False, float_format=lambda v: f"{v:,.2f}", na_rep="-", max_colwidth=80))


@app.command()
def history(
    partner_id: Annotated[str, typer.Argument(help="The partner's identifier, as in the partners table.")],
    output: Annotated[str, typer.Option("--format", help="table (for people), csv or json (for programs).")] = "table",
    lang: Annotated[str | None, typer.Option("--lang", help="Language of the table: en or ru (default: scoring.lang).")] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """One partner's scores over time, from the score history: segment, risk and its trend, weeks in the
    high band, potential, value at risk, action and models of every scoring, oldest first."""
    from retention.actions import load_action_table
    from serving.history import history_folder, partner_history
    from serving.outputs import history_view

    if output not in ("table", "csv", "json"):
        raise InputError(f"--format {output!r}: expected table, csv or json")
    cfg = config_from(config, list(set_ or []) + ([f"scoring.lang={lang}"] if lang else []))
    rows = partner_history(cfg.paths.output_dir, partner_id)
    if output == "csv":
        typer.echo(rows.to_csv(index=False, float_format="%.6g"), nl=False)
    elif output == "json":
        typer.echo(rows.to_json(orient="records", date_format="iso", force_ascii=False, indent=2))
    else:
        typer.echo(f"partner {partner_id}: {len(rows)} scoring(s) in {history_folder(cfg.paths.output_dir)}")
        titles = {action.code: getattr(action.title, cfg.scoring.lang) for action in load_action_table(cfg.scoring).actions}
        typer.echo(history_view(rows, cfg.scoring.lang, titles).to_string(index=False, na_rep=""))


@app.command()
def serve(
    port: Annotated[int | None, typer.Option("--port", "-p", help="Port (default: serving.port).")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Address to bind (default: serving.host).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Worker processes (default: serving.workers).")] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Start the scoring service (BentoML) with the registered champions; Ctrl-C, SIGTERM or SIGHUP
    stops it and every process it started.

    Checks first that both models are registered and fit this config, and says so in one line if not.
    Set PARTNER_CHURN_API_TOKEN to require `Authorization: Bearer <token>` on every scoring call.
    """
    import os

    from partner_churn.processes import run_supervised
    from serving.models import load_served

    overrides = list(set_ or [])
    overrides += [f"serving.{key}={value}" for key, value in (("port", port), ("host", host), ("workers", workers)) if value is not None]
    cfg = anchored(config_from(config, overrides), Path.cwd())  # the workers start in the repository, not here
    served = load_served(cfg)
    if warning := served.models.age_warning(utc_now(), cfg):
        typer.echo(f"warning: {warning}", err=True)
    for target, why in served.models.unavailable.items():
        typer.echo(f"{target} unavailable: {why}; serving the other model only", err=True)
    effective = cfg.paths.bentoml_home / "service-config.yaml"
    effective.parent.mkdir(parents=True, exist_ok=True)
    effective.write_text(render_yaml(cfg))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PARTNER_CHURN__") and key != "MLFLOW_TRACKING_URI"}
    env |= {"PARTNER_CHURN_CONFIG": str(effective), "BENTOML_HOME": str(cfg.paths.bentoml_home)}
    answer = served.info()
    typer.echo(
        f"serving {answer['deactivation_risk']} and {answer['upgrade_potential']} on http://{cfg.serving.host}:{cfg.serving.port} "
        f"({cfg.serving.workers} workers; token {'required' if os.environ.get('PARTNER_CHURN_API_TOKEN') else 'not required'}; "
        f"{_follow_words(cfg)})"
    )
    command = [
        str(Path(sys.executable).parent / "bentoml"),
        "serve",
        "serving.service:PartnerChurn",
        "--host",
        cfg.serving.host,
        "--port",
        str(cfg.serving.port),
        "--working-dir",
        str(Path(__file__).resolve().parents[1]),
    ]
    raise typer.Exit(run_supervised(command, env))


def _follow_words(cfg: Config) -> str:
    """How the service will follow new champions, in words for the start-up line."""
    from partner_churn.config import parse_version_pins

    pinned = parse_version_pins(cfg.serving.model_version)
    if len(pinned) == 2:
        return "versions pinned: no champion check"
    if cfg.serving.reload_interval_seconds <= 0:
        return "no champion check (serving.reload_interval_seconds 0)"
    following = (
        "champion check" if not pinned else f"{', '.join(t for t in ('deactivation_risk', 'upgrade_potential') if t not in pinned)} champion check"
    )
    return f"{following} every {cfg.serving.reload_interval_seconds} s"


@models_app.command("list")
def models_list(config: ConfigOption = None, set_: SetOption = None) -> None:
    """Every registered version of both models with its aliases and backtest ROC-AUC."""
    from training.registry import list_models

    frame = list_models(config_from(config, set_))
    typer.echo(frame.to_string(index=False) if len(frame) else "no registered models yet: run partner-churn train")


@models_app.command("pairs")
def models_pairs(config: ConfigOption = None, set_: SetOption = None) -> None:
    """Every pair of model versions put in force together, newest first: by whom (gate, promote, rollback) and why."""
    from training.registry import list_pairs

    frame = list_pairs(config_from(config, set_))
    typer.echo(frame.to_string(index=False) if len(frame) else "no pair put in force yet: run partner-churn train")


@app.command()
def promote(
    name: Annotated[str, typer.Argument(help="Registered model name, e.g. partner-churn-deactivation-risk.")],
    version: Annotated[str, typer.Argument(help="Version number to make champion.")],
    reason: Annotated[str, typer.Option("--reason", help="Why you override the gate (recorded on the version).")],
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Make a version champion deliberately, overriding the gate, beside the other model's champion; who, when
    and why are recorded, and the new pair is put in force as one unit."""
    from training.registry import promote as promote_version

    pair = promote_version(config_from(config, set_), name, version, reason)
    typer.echo(f"{name} v{version.lstrip('v')} is champion; in force: {pair.words()} (override recorded: {reason})")


@app.command()
def rollback(
    reason: Annotated[str, typer.Option("--reason", help="Why the pair in force is replaced (recorded).")],
    to: Annotated[str | None, typer.Option("--to", help="Pair record to put back (default: the pair in force before this one).")] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Put an earlier pair of models back in force as a whole (see partner-churn models pairs)."""
    from training.registry import rollback as roll_back

    pair = roll_back(config_from(config, set_), reason, to)
    typer.echo(f"in force: {pair.words()} (rollback recorded: {reason})")


from commands import effects  # noqa: E402,F401,I001 - adds `partner-churn effects` after the commands above
from commands import monitor  # noqa: E402,F401 - adds `partner-churn monitor` and `retrain` after the commands above
