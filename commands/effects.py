"""`partner-churn effects`: the measured effect of each logged retention action, contacted against held out.

Prints the table (per action, per action x segment, per action x risk band where the score history has a
scoring close enough before the action) and writes it as CSV to `paths.reports_dir/effects/effects_AS_OF.csv`
(beside `reports_dir/monitoring/`), and each action's uplift evaluation (with its Qini curve) as JSON to
`uplift_AS_OF.json` beside it, each whole or not at all (`serving.effects_files` names them; the scoring's
report reads them). Exit 0, or 2 on bad input (one `error: ...` line
from the main entry point). The work is in `retention/effect_rows.py` and `retention/effects.py`; this module
parses options, reads and writes, and adds itself to the app (`commands.main` imports it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from commands.common import ConfigOption, DataOption, LenientOption, SetOption, app, config_from, cutoff_or_after_data, load_data
from partner_churn.config import Config


@app.command()
def effects(
    data: DataOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Measure with what was known before this date, UTC: actions before it, horizons that ended by it "
            "(default: midnight after the data's last event).",
        ),
    ] = None,
    lenient: LenientOption = False,
    register: Annotated[
        bool,
        typer.Option(
            "--register/--no-register",
            help="Log the run to MLflow and register the measured actions (champion when an action's uplift beats random "
            "targeting out of time), which scoring then proposes by expected saved revenue.",
        ),
    ] = True,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """The measured effect of each logged retention action on silence and revenue over the horizon: contacted
    partners against the randomly held-out ones, overall, by segment and by risk band at the action's time,
    with intervals and a verdict (works, harms, no evidence, too few rows, no holdout)."""

    from contextlib import nullcontext

    from serving.effects_files import effects_lock

    cfg = config_from(config, set_)
    # Two registering runs at once would each register, then write the report's files in either order.
    with effects_lock(cfg.paths.reports_dir) if register else nullcontext():
        _measure(cfg, data, as_of, lenient, register=register)


def _measure(cfg: Config, data: Path | None, as_of: str | None, lenient: bool, *, register: bool) -> None:
    from monitoring.store import write_text
    from partner_churn.errors import InputError
    from retention.effect_rows import action_rows
    from retention.effects import estimate_effects, format_effects
    from retention.measure import evaluation_record, format_evaluations, measure_actions
    from serving.effects_files import effects_file, uplift_file, uplift_json
    from serving.history import risk_bands

    folder = data or cfg.paths.data_dir
    typer.echo("loading data", err=True)
    program = load_data(cfg, data, None, lenient)  # --as-of is the measurement's cutoff; later rows are simply not used
    if program.actions is None:
        raise InputError(f"{folder}: no actions table (actions.parquet or actions.csv): no logged retention contact to measure")
    cutoff = cutoff_or_after_data(program, as_of)
    if not len(program.actions) or program.actions["ts"].min() >= cutoff:
        first = f"the first is on {program.actions['ts'].min():%Y-%m-%d %H:%M} UTC" if len(program.actions) else "the table has no rows"
        raise InputError(f"{folder}: no logged action before {cutoff:%Y-%m-%d %H:%M} UTC ({first}): nothing to measure")
    scores = risk_bands(cfg.paths.output_dir)
    if "holdout" not in program.actions:
        typer.echo("the actions table has no holdout column: every action counts as made, and no effect is claimed", err=True)
    typer.echo(f"measuring {int((program.actions['ts'] < cutoff).sum()):,} logged actions before {cutoff:%Y-%m-%d}", err=True)
    if later := int((program.actions["ts"] >= cutoff).sum()):
        typer.echo(f"{later:,} logged actions at or after {cutoff:%Y-%m-%d} are left out (after the measurement's cutoff)", err=True)
    rows = action_rows(program.partners, program.events, program.actions, cutoff, cfg, scores=scores, with_features=True, surveys=program.surveys)
    table = estimate_effects(rows, cfg.effects)
    typer.echo(
        f"effects of logged actions as of {cutoff:%Y-%m-%d}: contacted minus held out, over the {cfg.labels.horizon_days} days from the "
        f"action's day (silence: share with no qualifying event, in percentage points; revenue: sales per partner)"
    )
    if scores is None:
        typer.echo(f"  no score history in {cfg.paths.output_dir}: no breakdown by risk band")
    typer.echo(format_effects(table, cfg.effects.confidence), nl=False)
    typer.echo("fitting and judging an uplift model per action (out of time)", err=True)
    measured, evaluations, skipped = measure_actions(rows, table, cfg)
    typer.echo(format_evaluations(evaluations, skipped), nl=False)
    if not register:
        typer.echo("--no-register: nothing logged or written (the report and the scoring keep the measurement in force)")
        return
    from training.registry import log_measured_actions

    # The registry first, then the files the report reads: both say what this run found, or, if the
    # registry fails, neither changes.
    run_id, version = log_measured_actions(measured, config=cfg, as_of=cutoff)
    out, uplift_out = effects_file(cfg.paths.reports_dir, cutoff), uplift_file(cfg.paths.reports_dir, cutoff)
    out.parent.mkdir(parents=True, exist_ok=True)
    uplift_out.unlink(missing_ok=True)  # an earlier run's evaluations never stand beside this table
    write_text(table.to_csv(index=False), out)
    typer.echo(f"effects table: {out}")
    records = [evaluation_record(e) for e in evaluations]
    write_text(uplift_json(records, skipped, as_of=cutoff, confidence=cfg.effects.confidence, horizon_days=cfg.labels.horizon_days), uplift_out)
    typer.echo(f"uplift evaluations: {uplift_out}")
    if version is None:
        typer.echo(
            f"MLflow run {run_id}: no action's uplift beats random targeting out of time; no measured actions are in force, "
            "scoring chooses every action by the action table"
        )
    else:
        from retention.actions import load_action_table

        defined = {a.code for a in load_action_table(cfg.scoring).actions}
        given = sorted(a for a in measured.models if a in defined)
        unknown = sorted(a for a in measured.models if a not in defined)
        typer.echo(
            f"MLflow run {run_id}: {cfg.effects.uplift_model_name} v{version} champion; "
            + (f"scoring proposes {', '.join(given)} by expected saved revenue where measured" if given else "scoring proposes none of them")
            + (
                f"; {', '.join(unknown)} beat random targeting but the action table defines no such action, so it cannot be proposed"
                if unknown
                else ""
            )
        )
