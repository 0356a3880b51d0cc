"""A synthetic partner program that behaves like a real one, with its latent truth exposed.

Each partner has latent traits (drive, traffic scale, conversion quality, fickleness, sensitivity to
unpaid commission, propensity to come back) and moves, day by day, between states:

    idle (registered, never engages)  exploring (tinkers: logins, links, a few clicks)
    productive (traffic -> leads -> sales -> commission -> payouts)  dormant (silent; may come back)

Exploring partners activate with a hazard that an onboarding call in the first 72 hours raises; awake
partners fall dormant with a daily hazard raised by slow payouts, unpaid commission and chance shocks
(a banned traffic source), and lowered by recent sales, trainings and webinars and by retention
contacts, whose effect differs by segment (a personal check-in also brings back working weeks). Partners work
in weeks, more regularly once they sell and the more traffic they have, with good and bad spells (milder for
a regular business); a partner who starts selling grows to its traffic over six months, so the program's
stars are its older partners. The constants are set so that the segment mix at a late cutoff is the
design's (stars ~6% of in-play partners with ~60% of revenue, sleepers ~11%; tests/test_generator.py).
The program's managers log those contacts weekly with a random holdout, and a monthly satisfaction survey
(0-10) goes to a third of the partners, whose answers follow their state (its own random stream: the
program is the same with or without it). Partners who look alike differ by chance, so even the generator's own hazard (the
oracle) cannot tell the future with certainty.

The whole simulation is vectorised over partners and loops over days only, so 100,000 partners over
18 months take well under a minute.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.contract.partitions import PartitionWriter
from features.segments import assign_segments
from partner_churn.config import DataConfig, SegmentsConfig
from partner_churn.errors import InputError
from synthetic.action_truth import ActionTruthRecorder, ActionTruthSettings
from synthetic.definitions import COUNTRIES, MAX_EXIT_RATE, SECONDS_PER_DAY, WEEKDAY_SIGNUPS, GeneratedProgram, ProgramChange, Traits

EVENT_TYPES: tuple[str, ...] = tuple(DataConfig.model_fields["event_types"].default)
"""The contract's default vocabulary: the generator writes every one of these types."""
STATES: tuple[str, ...] = ("idle", "exploring", "productive", "dormant")
IDLE, EXPLORING, PRODUCTIVE, DORMANT = range(4)

PARTNER_TYPES = {
    # share of sign-ups, chance to engage at all, activation multiplier, median clicks/day when productive,
    # median sale amount, base commission rate, hazard multiplier
    "individual": (0.34, 0.50, 0.8, 4.0, 60.0, 0.12, 1.25),
    "blogger": (0.28, 0.60, 1.0, 7.0, 70.0, 0.10, 1.00),
    "coupon_site": (0.12, 0.70, 1.4, 14.0, 40.0, 0.05, 0.80),
    "cashback_site": (0.08, 0.70, 1.3, 16.0, 55.0, 0.04, 0.75),
    "media_buyer": (0.10, 0.65, 1.2, 12.0, 80.0, 0.07, 1.15),
    "agency": (0.08, 0.75, 1.5, 9.0, 180.0, 0.08, 0.70),
}
WEEKDAY_TRAFFIC = np.array([1.05, 1.10, 1.10, 1.05, 1.00, 0.80, 0.70])
MONTH_TRAFFIC = np.array([0.85, 0.90, 0.95, 1.00, 1.00, 0.90, 0.88, 0.90, 1.00, 1.05, 1.30, 1.20])
WEBINAR_WEEKDAY, NEWSLETTER_WEEKDAY, PLANNING_WEEKDAY = 3, 1, 0  # Thursday, Tuesday, Monday
MIN_PAYOUT = 50.0
RETENTION_PROGRAM_START_DAY = 120
OFF_WEEK_LOGIN_CHANCE = 0.02
"""Daily chance that an awake partner logs in during a week it does not work (before the drive multiplier)."""
STRAY_LOGIN_CHANCE = 0.15
"""Daily chance that a partner who just fell dormant logs in anyway (before the drive multiplier)."""
NEVER_PRODUCTIVE_STRAY_FACTOR = 0.05
"""A partner who never sold (it was only exploring) has less to come back to look at: its stray logins are this share."""
FADE_DAYS = 30.0
"""A dormant partner's stray logins fade with this time constant (days since it fell dormant)."""
COMEBACK_BASE, COMEBACK_EARLY = 0.0009, 0.03
"""A dormant partner's daily chance of coming back (before its own propensity): the base chance, plus an early one..."""
COMEBACK_DECAY_DAYS = 30.0
"""... that decays with this time constant: most comebacks happen soon after falling dormant."""
PRODUCTIVE_REG_POWER = 0.7
"""A productive partner's chance of a working week is its regularity to this power: selling makes work a habit."""
MOOD_SD = 1.5
"""Partners have good and bad spells: a weekly log factor on the chance of a working week, with this spread..."""
MOOD_PERSISTENCE = 0.6
"""... and this week-to-week correlation (AR(1)); the latent truth records the current week's rate only."""
CHECK_IN_ACTIVITY_WORKHORSE = 2.0
"""A personal check-in multiplies a workhorse's chance of a working week (and of an off-week login) by this while it lasts."""
CHECK_IN_ACTIVITY_STAR = 1.4
"""The same for a star, who works most weeks anyway."""
SERIES_ACTIVITY = 1.1
"""The onboarding series' nudge to an exploring newbie's working weeks."""
RESPONSIVE_DAYS = 90
"""A partner who took a training or a webinar within this many days answers a personal check-in (it knows the
program's people and what they offer): the check-in's effect on it is stronger, on the others weaker."""
RESPONSIVE_GAIN, UNRESPONSIVE_GAIN = 1.4, 0.2
"""How much of the check-in's extra activity a responsive / an unresponsive partner gets (1 = the segment's figure)."""
RECENT_SLEEP_DAYS = 45
"""A sleeper silent for less than this many days still takes up a comeback offer readily; one silent longer, hardly."""
OFFER_COMEBACK_RECENT, OFFER_COMEBACK_LONG = 15.0, 2.0
"""A comeback offer multiplies the daily chance of coming back by these for 21 days (silent under / over RECENT_SLEEP_DAYS)."""
REGULARITY_SCALE_POWER = 0.8
"""Partners with more traffic work more regularly (a real business behind it): regularity grows with the traffic scale to this power."""
EXPLORE_HAZARD = 0.06
"""Daily chance (before the partner's fickleness and drive) that an exploring partner gives up and falls silent."""
PRODUCTIVE_HAZARD = 0.005
"""Daily chance (before the partner's fickleness, drive, scale, recent sales and payouts) that a selling partner falls silent."""
ACTIVATION_HAZARD = 0.0048
"""Daily chance (before the partner's type, drive, onboarding and trainings) that an exploring partner starts selling."""
SCALE_LOG_MEAN, SCALE_LOG_SD = -0.9, 1.4
"""A partner's traffic scale is its type's median times a lognormal factor with these log mean and spread: a few carry the program."""
RAMP_DAYS = 180.0
"""A partner who starts selling grows its traffic linearly to its full scale over this many days."""
REGULAR_BUSINESS_MOOD = 1.0
"""A selling partner with a regular business has milder spells: its weekly mood counts (1 - this x regularity)."""
NEVER = 10**6
"""A payout day that never comes within any simulated period."""
SURVEY_STREAM = 4_711
"""Mixed into the seed of the surveys' own random stream: surveys never draw from the program's."""
SURVEY_MIN_TENURE_DAYS = 30
SURVEY_INVITE_CHANCE = 1 / 3
"""On the first of each month, a third of the partners who ever engaged and are a month old get the survey..."""
SURVEY_ANSWER_CHANCE = {"awake": 0.3, "dormant": 0.06}
"""... and answer it with these chances: silent partners seldom do."""
SURVEY_MOOD_SD = 1.5
"""Spread of an answer around what the partner's state predicts (0-10 scale)."""


def generate_program(
    partners: int,
    months: int,
    seed: int,
    start_date: dt.date = dt.date(2025, 1, 1),
    segments: SegmentsConfig | None = None,
    progress: Callable[[int], None] | None = None,
    scenarios: Sequence[str] = (),
    scenario_from: dt.date | None = None,
    action_truth: ActionTruthSettings | None = None,
) -> GeneratedProgram:
    """Simulate `partners` sign-ups over `months` months; the same arguments give the same program.

    `scenarios` (names from `synthetic.scenarios.SCENARIOS`) change the program from `scenario_from` on;
    without them the program is exactly the unchanged one. `progress`, when given, is called with the
    number of simulated days after each day. `action_truth`, when given, also computes every logged
    action's potential outcomes by forking the simulation (`synthetic.action_truth`; it takes about four
    times as long): the program itself is byte for byte the same with or without it.
    """
    segments = segments or SegmentsConfig()
    start, end = program_period(start_date, months)
    n_days = int((end - start).days)
    rng = np.random.default_rng(seed)
    traits = _draw_traits(partners, n_days, start, rng)
    change, shown = None, traits.frame
    if scenario_from is not None and not scenarios:
        raise InputError(f"--scenario-from {scenario_from} without --scenario: name the change to inject (or leave both out)")
    if scenarios:
        from synthetic.scenarios import inject

        traits, change, shown = inject(traits, scenarios, scenario_from, start=start, n_days=n_days, seed=seed)
    truth = None if action_truth is None else ActionTruthRecorder(action_truth, seed, EVENT_TYPES)
    sim = _Simulation(traits, n_days, start, rng, segments, change, truth, survey_rng=np.random.default_rng([seed, SURVEY_STREAM]))
    sim.run(progress)
    return GeneratedProgram(
        partners=shown,
        events=sim.events_table(),
        actions=sim.actions_frame(),
        latent=sim.latent_table(),
        action_truth=sim.action_truth_frame(),
        surveys=sim.surveys_frame(),
        start=start,
        end=end,
        scenarios=tuple(scenarios),
        scenario_from=scenario_from if scenarios else None,
    )


def program_period(start_date: dt.date, months: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last-plus-one midnight (UTC) of a program simulated from `start_date` for `months` months."""
    start = pd.Timestamp(start_date, tz="UTC")
    return start, start + pd.DateOffset(months=months)


def write_program(program: GeneratedProgram, out_dir: Path, *, partitions: int | None = None) -> dict[str, Path]:
    """Write partners, events, actions and latent truth as Parquet files in `out_dir`, `surveys.parquet` and
    `action_truth.parquet` when the program has them, and `scenario.json` (which change was injected from when, and what each does)
    when the program has scenarios. With `partitions`, the program's tables (partners, events, actions, surveys)
    are written in that many partitions of whole partners instead (`features.contract.partitions`; `out_dir`
    is then replaced whole), the truths beside them as single files."""
    if partitions is not None:
        writer = PartitionWriter(out_dir, partitions)
        try:
            _add_chunk(writer, program)
            _write_scenario(program, writer.folder)
            writer.finish()
        finally:
            writer.discard()
        return {name: out_dir / name for name in (*writer.tables, "latent.parquet")}
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, table in {**_program_tables(program), **_truth_tables(program)}.items():
        paths[name] = out_dir / f"{name}.parquet"
        pq.write_table(table, paths[name], row_group_size=2_000_000 if name == "latent" else 1_000_000)
    if (scenario := _write_scenario(program, out_dir)) is not None:
        paths["scenario"] = scenario
    return paths


GENERATION_CHUNK = 100_000
"""A partitioned program of more partners is generated this many partners at a time (one chunk in memory)."""
CHUNK_SEED_STEP = 1_000_003
"""Chunk k of a program of seed s is simulated with seed s + k * CHUNK_SEED_STEP (chunk 0: s itself)."""


def generate_partitioned(
    partners: int,
    months: int,
    seed: int,
    out_dir: Path,
    partitions: int,
    *,
    chunk: int = GENERATION_CHUNK,
    **options: Any,
) -> dict[str, int]:
    """Generate a program of `partners` in chunks of `chunk` partners and write it in `partitions` partitions of
    whole partners, holding one chunk in memory at a time (`options`: `generate_program`'s). Each chunk is a
    program of its own seed (`CHUNK_SEED_STEP`) whose partners are numbered after the previous chunks': the
    partners are independent in the simulation, so the chunks together are one program's sample of them (a
    program of at most `chunk` partners is exactly `generate_program`'s). Returns the rows written per table
    and the period (`start`, `end`) as ISO dates."""
    writer = PartitionWriter(out_dir, partitions)
    counts: dict[str, int] = {}
    try:
        for k, first in enumerate(range(0, partners, chunk)):
            program = generate_program(min(chunk, partners - first), months, seed + k * CHUNK_SEED_STEP, **options)
            for name, rows in _add_chunk(writer, program, offset=first, event_offset=counts.get("events", 0)).items():
                counts[name] = counts.get(name, 0) + rows
            if k == 0:
                _write_scenario(program, writer.folder)
                counts["start"], counts["end"] = program.start.value, program.end.value
            del program
        writer.finish()
    finally:
        writer.discard()
    return counts


def _program_tables(program: GeneratedProgram) -> dict[str, pa.Table]:
    tables = {"partners": pa.Table.from_pandas(program.partners, preserve_index=False), "events": program.events}
    tables["actions"] = pa.Table.from_pandas(program.actions, preserve_index=False)
    if program.surveys is not None:
        tables["surveys"] = pa.Table.from_pandas(program.surveys, preserve_index=False)
    return tables


def _truth_tables(program: GeneratedProgram) -> dict[str, pa.Table]:
    tables = {"latent": program.latent}
    if program.action_truth is not None:
        tables["action_truth"] = pa.Table.from_pandas(program.action_truth, preserve_index=False)
    return tables


def _add_chunk(writer: PartitionWriter, program: GeneratedProgram, *, offset: int = 0, event_offset: int = 0) -> dict[str, int]:
    """The program's tables into the writer's partitions, its truths appended beside them, partner numbers
    moved by `offset` and event ids by `event_offset` (the chunks before it); the rows per table."""
    tables = {name: _renumbered(table, offset) for name, table in _program_tables(program).items()}
    if event_offset:
        events = tables["events"]
        moved = pc.add(events.column("event_id"), pa.scalar(event_offset, pa.int64()))
        tables["events"] = events.set_column(events.schema.get_field_index("event_id"), "event_id", moved)
    writer.add(tables)
    for name, table in _truth_tables(program).items():
        writer.append_file(f"{name}.parquet", _renumbered(table, offset))
    return {name: table.num_rows for name, table in tables.items()}


def _renumbered(table: pa.Table, offset: int) -> pa.Table:
    """`table` with partner P<i> as P<i + offset> (numbers of seven digits or more, as the generator writes them)."""
    if offset == 0 or "partner_id" not in table.column_names:
        return table
    column = table.column("partner_id")
    encoded = pc.dictionary_encode(column).combine_chunks()
    numbers = np.array([int(value[1:]) for value in encoded.dictionary.to_pylist()], dtype=np.int64) + offset
    ids = pa.array([f"P{n:07d}" for n in numbers])
    renamed = pa.DictionaryArray.from_arrays(encoded.indices, ids) if pa.types.is_dictionary(column.type) else ids.take(encoded.indices)
    return table.set_column(table.schema.get_field_index("partner_id"), pa.field("partner_id", renamed.type), renamed)


def _write_scenario(program: GeneratedProgram, folder: Path) -> Path | None:
    if not program.scenarios:
        return None
    from synthetic.scenarios import SCENARIOS

    described = {name: SCENARIOS[name] for name in program.scenarios}
    path = folder / "scenario.json"
    path.write_text(json.dumps({"scenarios": described, "from": str(program.scenario_from)}, indent=2) + "\n", encoding="utf-8")
    return path


def _draw_traits(n: int, n_days: int, start: pd.Timestamp, rng: np.random.Generator) -> Traits:
    """Latent traits and declared attributes; partners are numbered in order of sign-up."""
    days = np.arange(n_days)
    weekday = (start.dayofweek + days) % 7
    growth = np.exp(np.log(2.5) * days / n_days)  # sign-ups grow 2.5x over the period
    weights = growth * WEEKDAY_SIGNUPS[weekday] * rng.lognormal(0.0, 0.25, n_days)
    signup_day = np.sort(rng.choice(n_days, size=n, p=weights / weights.sum()))
    signup_second = rng.integers(0, SECONDS_PER_DAY, n)
    order = np.lexsort((signup_second, signup_day))
    signup_day, signup_second = signup_day[order], signup_second[order]

    names = list(PARTNER_TYPES)
    table = np.array(list(PARTNER_TYPES.values()))
    type_index = rng.choice(len(names), size=n, p=table[:, 0] / table[:, 0].sum())
    params = table[type_index]
    drive = rng.normal(0.0, 1.0, n)
    onboarding_assigned = rng.random(n) < 0.45
    onboarding_holdout = onboarding_assigned & (rng.random(n) < 0.2)
    onboarded = onboarding_assigned & ~onboarding_holdout
    engages = rng.random(n) < engage_chance(type_index, drive, onboarded)
    scale_mult = rng.lognormal(SCALE_LOG_MEAN, SCALE_LOG_SD, n)
    commission_rate = np.round(params[:, 5] * rng.choice([0.8, 1.0, 1.0, 1.2, 1.5], n), 3)
    countries = rng.choice(list(COUNTRIES), size=n, p=np.array(list(COUNTRIES.values())))
    signup_at = start + pd.to_timedelta(signup_day * SECONDS_PER_DAY + signup_second, unit="s")
    frame = pd.DataFrame(
        {
            "partner_id": [f"P{i:07d}" for i in range(1, n + 1)],
            "signup_at": signup_at.astype("datetime64[us, UTC]"),
            "partner_type": np.array(names)[type_index],
            "country": countries,
            "commission_rate": commission_rate,
        }
    )
    return Traits(
        frame=frame,
        signup_day=signup_day.astype(np.int32),
        signup_second=signup_second,
        type_index=type_index,
        engages=engages,
        drive=drive,
        scale=params[:, 3] * scale_mult,
        quality=np.clip(rng.lognormal(0.0, 0.35, n), 0.3, 3.0),
        fickleness=rng.lognormal(0.0, 0.6, n),
        payout_sensitivity=rng.lognormal(0.0, 0.5, n),
        comeback=rng.lognormal(0.0, 0.8, n),
        regularity=np.clip(np.exp(np.log(0.4) + 0.35 * drive + REGULARITY_SCALE_POWER * np.log(scale_mult) + rng.normal(0, 0.7, n)), 0.04, 1.0),
        sale_median=params[:, 4] * rng.lognormal(0.0, 0.45, n),
        commission_rate=commission_rate,
        activation_mult=params[:, 2] * np.exp(0.6 * drive),
        hazard_mult=params[:, 6],
        onboarding_assigned=onboarding_assigned,
        onboarding_holdout=onboarding_holdout,
        payout_slowness=rng.lognormal(0.0, 0.5, n),
    )


def engage_chance(type_index: np.ndarray, drive: np.ndarray, onboarded: np.ndarray) -> np.ndarray:
    """Chance that a partner engages at all (ever leaves idle); an onboarding call raises it."""
    share_engaging = np.array(list(PARTNER_TYPES.values()))[type_index, 1]
    return np.clip(share_engaging * np.exp(0.35 * drive) + 0.12 * onboarded, 0.02, 0.97)


class _Simulation:
    """Day-by-day state of every partner; collects events, actions and latent truth as it goes."""

    def __init__(
        self,
        traits: Traits,
        n_days: int,
        start: pd.Timestamp,
        rng: np.random.Generator,
        segments: SegmentsConfig,
        change: ProgramChange | None = None,
        truth: ActionTruthRecorder | None = None,
        survey_rng: np.random.Generator | None = None,
    ) -> None:
        self.t = traits
        self.n_days = n_days
        self.start = start
        self.rng = rng
        self.segments = segments
        self.change = change
        n = len(traits.signup_day)
        self.state = np.full(n, IDLE, np.int8)
        self.ever_productive = np.zeros(n, bool)
        self.productive_since = np.full(n, -1, np.int32)
        self.dormant_since = np.full(n, -1, np.int32)
        self.working_week = np.zeros(n, bool)
        self.mood = np.zeros(n)
        self.woke_today = np.zeros(n, bool)
        self.week_on_rate = np.zeros(n)
        self.off_week_rate = np.zeros(n)
        self.last_active = np.full(n, -10_000, np.int32)
        self.last_sale = np.full(n, -10_000, np.int32)
        self.last_engagement = np.full(n, -10_000, np.int32)  # training or webinar
        self.active_ring = np.zeros((30, n), bool)
        self.revenue_ring = np.zeros((segments.revenue_window_days, n), np.float32)
        self.unrequested = np.zeros(n)
        self.pending_amount = np.zeros(n)
        self.pending_since = np.full(n, -1, np.int32)
        self.pay_day = np.full(n, -1, np.int32)
        self.effect_until = np.full(n, -1, np.int32)
        self.hazard_effect = np.ones(n)
        self.activation_effect = np.ones(n)
        self.comeback_effect = np.ones(n)
        self.activity_effect = np.ones(n)
        self.last_action_day = np.full(n, -10_000, np.int32)
        self.shock_until = np.full(n, -1, np.int32)
        self.left = np.zeros(n, bool)
        """Partners who left cleanly for another program under a change (they never come back)."""
        self.onboarded = traits.onboarding_assigned & ~traits.onboarding_holdout
        self._counts: list[tuple[int, np.ndarray, np.ndarray, int]] = []  # type, partners, counts, day
        self._money: list[tuple[int, np.ndarray, np.ndarray, int]] = []  # type, partners, amounts, day
        self._latent: list[tuple] = []  # partners, day, state, hazard, activity, comeback, working week, off week
        self._actions: list[tuple[np.ndarray, int, str, np.ndarray, np.ndarray]] = []  # who, day, action, holdout, seconds
        self._registered = np.searchsorted(traits.signup_day, np.arange(n_days), side="right")
        self.truth = truth
        self._truth: list[dict[str, np.ndarray]] = []  # per entry of _actions: its rows' potential outcomes
        self.plans_retention = True
        self.records_latent = True
        self.survey_rng = survey_rng
        self._surveys: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # partners, seconds, scores

    # -- the day loop -------------------------------------------------------------------------------
    def run(self, progress: Callable[[int], None] | None = None) -> None:
        self._log_onboarding_calls()
        for day in range(self.n_days):
            m = int(self._registered[day])
            if m:
                self.step(day, m)
            if progress is not None:
                progress(1)

    def step(self, day: int, m: int) -> None:
        """Simulate `day` for the first `m` partners (those signed up by its end)."""
        state = self.state[:m]
        new = self.t.signup_day[:m] == day
        state[new & self.t.engages[:m]] = EXPLORING
        if self.plans_retention and (self.start.dayofweek + day) % 7 == PLANNING_WEEKDAY and day >= RETENTION_PROGRAM_START_DAY:
            self._plan_retention(day, m)
        self.finish_day(day, m, new)

    def finish_day(self, day: int, m: int, new: np.ndarray) -> None:
        """The rest of `day` after the morning's sign-ups (`new`) and retention plan: dynamics, events, latent truth."""
        t, rng = self.t, self.rng
        weekday = (self.start.dayofweek + day) % 7
        date = self.start + pd.Timedelta(days=day)
        month = date.month
        state = self.state[:m]
        expired = self.effect_until[:m] < day
        self.hazard_effect[:m][expired] = 1.0
        self.activation_effect[:m][expired] = 1.0
        self.comeback_effect[:m][expired] = 1.0
        self.activity_effect[:m][expired] = 1.0

        exploring, productive, dormant = state == EXPLORING, state == PRODUCTIVE, state == DORMANT
        hazard, activation, comeback = self._rates(day, m, exploring, productive)
        u = rng.random(m)
        falls_asleep = (exploring | productive) & (u < hazard)
        exit_rate = self._exit_rate(day, m, productive)
        if exit_rate is not None:
            leaves = productive & ~falls_asleep & (u < hazard + exit_rate)
            self.left[:m] |= leaves
            falls_asleep |= leaves
        wakes_up = dormant & (u < comeback)
        activates = exploring & ~falls_asleep & (rng.random(m) < activation)
        state[falls_asleep] = DORMANT
        self.dormant_since[:m][falls_asleep] = day
        state[wakes_up] = np.where(self.ever_productive[:m][wakes_up], PRODUCTIVE, EXPLORING)
        state[activates] = PRODUCTIVE
        self.productive_since[:m][activates] = day
        self.woke_today[:m] = new | wakes_up | activates
        self.ever_productive[:m] |= activates
        shocked = (state == PRODUCTIVE) & (rng.random(m) < 0.0015)
        self.shock_until[:m][shocked] = day + rng.integers(20, 60, int(shocked.sum()))

        exploring, productive = state == EXPLORING, state == PRODUCTIVE
        awake = exploring | productive
        activity_rate = self._emit_events(day, m, weekday, month, exploring, productive)
        if not self.records_latent:
            return
        if self.survey_rng is not None and date.day == 1:
            self._survey(day, m)
        engaged_ever = t.engages[:m]
        if self.change is not None:
            comeback = np.where(self.left[:m], 0.0, comeback)  # left today: the rate drawn above no longer applies
        latent: tuple[Any, ...] = (
            np.flatnonzero(engaged_ever).astype(np.int32),
            day,
            state[engaged_ever].copy(),
            np.where(awake, hazard, 0.0)[engaged_ever].astype(np.float32),
            activity_rate[engaged_ever].astype(np.float32),
            np.where((state == DORMANT) & ~falls_asleep, comeback, np.where(awake | falls_asleep, self._first_dormant_day_comeback(m), 0.0))[
                engaged_ever
            ].astype(np.float32),
            self.week_on_rate[:m][engaged_ever].astype(np.float32),
            self.off_week_rate[:m][engaged_ever].astype(np.float32),
        )
        if self._records_exits():
            rate = exit_rate if exit_rate is not None else np.zeros(m)
            latent += (np.where(state == PRODUCTIVE, rate, 0.0)[engaged_ever].astype(np.float32),)
        self._latent.append(latent)

    def _survey(self, day: int, m: int) -> None:
        """The monthly satisfaction survey (0-10: would you recommend the program?), from its own random stream.
        What a partner answers follows its state: selling and paid on time, it is happy; a payout waiting two weeks
        or more, money owed, or having gone silent pull the answer down; driven partners answer a little higher."""
        rng, t = self.survey_rng, self.t
        assert rng is not None
        tenure = day - t.signup_day[:m]
        state = self.state[:m]
        invited = t.engages[:m] & (tenure >= SURVEY_MIN_TENURE_DAYS) & (rng.random(m) < SURVEY_INVITE_CHANCE)
        answers = invited & (rng.random(m) < np.where(state == DORMANT, SURVEY_ANSWER_CHANCE["dormant"], SURVEY_ANSWER_CHANCE["awake"]))
        who = np.flatnonzero(answers)
        if not who.size:
            return
        waiting = (self.pending_since[who] >= 0) & (day - self.pending_since[who] >= 14)
        owed = self.unrequested[who] + self.pending_amount[who]
        expected = (
            7.0
            + 0.6 * t.drive[who]
            + 1.2 * (state[who] == PRODUCTIVE)
            - 2.5 * waiting
            - 0.5 * np.log1p(owed / 100.0) * waiting
            - 2.0 * (state[who] == DORMANT)
        )
        scores = np.clip(np.round(expected + rng.normal(0.0, SURVEY_MOOD_SD, who.size)), 0, 10)
        seconds = day * SECONDS_PER_DAY + rng.integers(8 * 3_600, 22 * 3_600, who.size)
        self._surveys.append((who.astype(np.int32), seconds, scores))

    def surveys_frame(self) -> pd.DataFrame:
        """The survey answers in the contract's shape (partner_id, ts, score), by partner then time."""
        if not self._surveys:
            return pd.DataFrame(
                {"partner_id": pd.Series(dtype=object), "ts": pd.Series(dtype="datetime64[us, UTC]"), "score": pd.Series(dtype=float)}
            )
        who = np.concatenate([s[0] for s in self._surveys])
        seconds = np.concatenate([s[1] for s in self._surveys])
        scores = np.concatenate([s[2] for s in self._surveys])
        order = np.lexsort((seconds, who))
        return pd.DataFrame(
            {
                "partner_id": self.t.frame["partner_id"].to_numpy()[who[order]],
                "ts": (self.start + pd.to_timedelta(seconds[order], unit="s")).astype("datetime64[us, UTC]"),
                "score": scores[order].astype(float),
            }
        )

    def _first_dormant_day_comeback(self, m: int) -> np.ndarray:
        """An awake partner's comeback rate on the day after it would fall dormant: what the oracle needs to tell
        how often a partner who falls silent within the horizon is back before its end. Also the rate of one that
        fell dormant today (the day's `comeback` was computed before, from its previous spell)."""
        rate = np.clip((COMEBACK_BASE + COMEBACK_EARLY * np.exp(-1 / COMEBACK_DECAY_DAYS)) * self._comeback_scale(m), 0, 0.5)
        return np.where(self.left[:m], 0.0, rate) if self.change is not None else rate

    def _records_exits(self) -> bool:
        """Only programs whose change makes partners leave cleanly carry the `exit_hazard` latent column."""
        return self.change is not None and self.change.exit_rate > 0

    def _exit_rate(self, day: int, m: int, productive: np.ndarray) -> np.ndarray | None:
        """Daily chance each partner leaves cleanly today (productive partners under a change with exits)."""
        if not (self.change is not None and self.change.applies(day) and self.change.exit_rate > 0):
            return None
        rate = self.change.exit_rate * self.t.scale[:m] / self.change.exit_scale_reference
        return np.where(productive, np.minimum(rate, MAX_EXIT_RATE), 0.0)

    def _rates(self, day: int, m: int, exploring: np.ndarray, productive: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Daily dropout hazard (awake partners), activation hazard (exploring) and comeback rate (dormant)."""
        t = self.t
        tenure = day - t.signup_day[:m]
        recent_engagement = (day - self.last_engagement[:m]) <= 30
        recent_sale = (day - self.last_sale[:m]) <= 14
        pending_age = np.where(self.pending_since[:m] >= 0, day - self.pending_since[:m], 0)
        owed = self.unrequested[:m] + self.pending_amount[:m]
        shock = self.shock_until[:m] >= day
        log_hazard = (
            np.log(t.fickleness[:m] * t.hazard_mult[:m] * self.hazard_effect[:m]) - 0.35 * t.drive[:m] - 0.5 * recent_engagement + 0.9 * shock
        )
        explore_hazard = EXPLORE_HAZARD * np.exp(log_hazard + 0.4 * (tenure > 60))
        payout_pressure = t.payout_sensitivity[:m] * (0.05 * np.clip(pending_age - 10, 0, 30) + 0.25 * np.log1p(owed / 100.0) * (pending_age > 0))
        productive_hazard = PRODUCTIVE_HAZARD * np.exp(log_hazard - 0.6 * recent_sale - 0.12 * np.log(t.scale[:m]) + payout_pressure)
        hazard = np.where(productive, productive_hazard, np.where(exploring, explore_hazard, 0.0))
        hazard = np.clip(hazard, 0, 0.9)
        activation = np.clip(
            ACTIVATION_HAZARD
            * t.activation_mult[:m]
            * self.activation_effect[:m]
            * np.where(self.onboarded[:m], 2.7, 1.0)
            * np.where(recent_engagement, 1.6, 1.0),
            0,
            0.5,
        )
        dormant_days = day - self.dormant_since[:m]
        comeback = np.clip((COMEBACK_BASE + COMEBACK_EARLY * np.exp(-dormant_days / COMEBACK_DECAY_DAYS)) * self._comeback_scale(m), 0, 0.5)
        if self.change is not None:
            comeback = np.where(self.left[:m], 0.0, comeback)  # partners who left for another program stay gone
        return hazard, activation, comeback

    def _comeback_scale(self, m: int) -> np.ndarray:
        """What multiplies the comeback curve: the partner's own propensity, a reactivation offer's effect, and
        whether it ever sold (it has more to come back to)."""
        return self.t.comeback[:m] * self.comeback_effect[:m] * np.where(self.ever_productive[:m], 1.5, 0.4)

    def _emit_events(self, day: int, m: int, weekday: int, month: int, exploring: np.ndarray, productive: np.ndarray) -> np.ndarray:
        """Draw the day's events; return each partner's chance of any qualifying event today."""
        t, rng = self.t, self.rng
        awake = exploring | productive
        traffic_day = WEEKDAY_TRAFFIC[weekday] * MONTH_TRAFFIC[month - 1]
        drive_boost = np.exp(0.4 * t.drive[:m])
        # Partners work on some days only (regularity); a dormant partner still logs in now and then,
        # less and less, without waking up: going silent is not a clean switch.
        stray_start = STRAY_LOGIN_CHANCE * np.where(self.ever_productive[:m], 1.0, NEVER_PRODUCTIVE_STRAY_FACTOR)
        fading = np.where(self.state[:m] == DORMANT, stray_start * np.exp(-(day - self.dormant_since[:m]) / FADE_DAYS), 0.0)
        if self.change is not None:
            fading = np.where(self.left[:m], 0.0, fading)
        week_on = np.clip(np.where(productive, t.regularity[:m] ** PRODUCTIVE_REG_POWER, 0.6 * t.regularity[:m]), 0, 1.0)
        if weekday == PLANNING_WEEKDAY:
            self.mood[:m] = MOOD_PERSISTENCE * self.mood[:m] + np.sqrt(1 - MOOD_PERSISTENCE**2) * MOOD_SD * rng.standard_normal(m)
        mood_weight = np.where(productive, 1.0 - REGULAR_BUSINESS_MOOD * t.regularity[:m], 1.0)
        week_on = np.clip(week_on * np.exp(mood_weight * self.mood[:m]), 0, 1.0)
        usual_week_on = week_on  # what the partner's traffic is spread over: a contact that adds working weeks adds work
        week_on = np.clip(week_on * self.activity_effect[:m], 0, 1.0)
        if weekday == PLANNING_WEEKDAY:
            self.working_week[:m] = rng.random(m) < week_on
        self.working_week[:m] |= self.woke_today[:m]
        day_on = np.where(productive, 0.35 + 0.55 * t.regularity[:m], 0.4) * (0.7 + 0.3 * traffic_day)
        on_chance = np.clip(day_on, 0, 0.97) * awake
        on_day = self.working_week[:m] & (rng.random(m) < on_chance)
        p_login_on = np.clip(0.6 * drive_boost, 0, 0.97)
        p_login_off = np.clip(np.where(awake, OFF_WEEK_LOGIN_CHANCE, fading) * drive_boost * self.activity_effect[:m], 0, 0.97)
        p_link_on = np.where(productive, 0.15, 0.1)
        ramp = np.clip((day - self.productive_since[:m] + 1) / RAMP_DAYS, 0.15, 1.0)
        shock = np.where(self.shock_until[:m] >= day, 0.15, 1.0)
        clicks_on = np.where(productive, t.scale[:m] * ramp * shock * traffic_day / np.maximum(usual_week_on * day_on, 0.02), 0.4)
        if self.change is not None and self.change.applies(day) and self.change.traffic_factor != 1.0:
            clicks_on = np.where(productive, clicks_on * self.change.traffic_factor, clicks_on)
        p_training = np.where(exploring, 0.012, np.where(productive, 0.003, 0.0)) * drive_boost
        p_webinar = (0.04 * drive_boost * awake) if weekday == WEBINAR_WEEKDAY else np.zeros(m)
        any_on = 1.0 - (1 - p_login_on) * (1 - p_link_on) * np.exp(-clicks_on)
        day_chance = on_chance * any_on + (1 - on_chance) * p_login_off
        # Latent truth: chance of activity on a day of a working week, and the chance a week is one.
        activity_rate = 1.0 - (1 - day_chance) * (1 - p_training) * (1 - p_webinar)
        self.week_on_rate[:m] = np.where(awake, week_on, 0.0)
        self.off_week_rate[:m] = np.where(awake, p_login_off, 0.0)

        p_login = np.where(on_day, p_login_on, p_login_off)
        p_link = np.where(on_day, p_link_on, 0.0)
        clicks_rate = np.where(on_day, clicks_on, 0.0)
        login = rng.random(m) < p_login
        link = rng.random(m) < p_link
        clicks = rng.poisson(clicks_rate)
        leads = rng.binomial(clicks, np.clip(0.06 * t.quality[:m], 0, 0.5))
        sales = rng.binomial(leads, np.clip(np.where(productive, 0.3, 0.08) * t.quality[:m], 0, 0.9))
        training = rng.random(m) < p_training
        webinar = rng.random(m) < p_webinar
        self._record_counts("login", login.astype(np.int32), day)
        self._record_counts("link_created", link.astype(np.int32), day)
        self._record_counts("click", clicks, day)
        self._record_counts("lead", leads, day)
        self._record_counts("training_completed", training.astype(np.int32), day)
        self._record_counts("webinar_attended", webinar.astype(np.int32), day)
        if weekday == NEWSLETTER_WEEKDAY:
            p_open = np.where(awake, 0.35, np.where(self.state[:m] == DORMANT, 0.06, 0.02))
            self._record_counts("message_opened", (rng.random(m) < p_open).astype(np.int32), day)

        revenue = self._emit_sales(day, sales)
        self._emit_payouts(day, m, awake, revenue)
        active = login | link | (clicks > 0) | (leads > 0) | (sales > 0) | training | webinar
        self.last_active[:m][active] = day
        self.last_sale[:m][sales > 0] = day
        self.last_engagement[:m][training | webinar] = day
        self.active_ring[day % 30, :m] = active
        self.revenue_ring[day % self.revenue_ring.shape[0], :m] = revenue
        return activity_rate

    def _emit_sales(self, day: int, sales: np.ndarray) -> np.ndarray:
        """Heavy-tailed sale amounts; commission accrues to the partner's unrequested balance."""
        who = np.flatnonzero(sales)
        revenue: np.ndarray = np.zeros(len(sales))
        if who.size:
            each = np.repeat(who, sales[who])
            amounts = np.round(self.t.sale_median[each] * self.rng.lognormal(0.0, 1.0, each.size), 2)
            self._money.append((EVENT_TYPES.index("sale"), each.astype(np.int32), amounts, day))
            revenue = np.bincount(each, weights=amounts, minlength=len(sales))
            rate = self.t.commission_rate[: len(sales)]
            if self.change is not None and self.change.applies(day):
                rate = rate * self.change.commission_factor
            self.unrequested[: len(sales)] += revenue * rate
        return revenue

    def _emit_payouts(self, day: int, m: int, awake: np.ndarray, revenue: np.ndarray) -> None:
        """Awake partners request payouts above the minimum; the program pays them after a delay."""
        rng = self.rng
        due = np.flatnonzero(self.pay_day[:m] == day)
        if due.size:
            self._money.append((EVENT_TYPES.index("payout_paid"), due.astype(np.int32), np.round(self.pending_amount[due], 2), day))
            self.pending_amount[due] = 0.0
            self.pending_since[due] = -1
            self.pay_day[due] = -1
        can_request = awake & (self.pending_since[:m] < 0) & (self.unrequested[:m] >= MIN_PAYOUT)
        requests = np.flatnonzero(can_request & (rng.random(m) < 0.15))
        if requests.size:
            amounts = np.round(self.unrequested[requests], 2)
            self._money.append((EVENT_TYPES.index("payout_requested"), requests.astype(np.int32), amounts, day))
            self.pending_amount[requests] = amounts
            self.unrequested[requests] = 0.0
            self.pending_since[requests] = day
            slow = rng.random(requests.size) < 0.12
            delay = np.where(
                slow,
                rng.integers(25, 60, requests.size),
                3 + rng.poisson(6 * self.t.payout_slowness[requests]),
            )
            if self.change is not None and self.change.applies(day):
                delay = delay + self._extra_payout_delay(requests.size)
            self.pay_day[requests] = day + delay

    def _extra_payout_delay(self, n: int) -> np.ndarray:
        """Days the changed program adds to each of `n` new payouts; NEVER for those it does not pay."""
        assert self.change is not None, "called only for a payout requested under the change"
        low, high = self.change.extra_payout_delay_days
        extra = self.rng.integers(low, high, n) if high > low else np.full(n, low)
        if self.change.unpaid_share:
            extra = np.where(self.rng.random(n) < self.change.unpaid_share, NEVER, extra)
        return extra

    def _record_counts(self, event_type: str, counts: np.ndarray, day: int) -> None:
        who = np.flatnonzero(counts)
        if who.size:
            self._counts.append((EVENT_TYPES.index(event_type), who.astype(np.int32), counts[who].astype(np.int32), day))

    # -- retention program --------------------------------------------------------------------------
    def _log_onboarding_calls(self) -> None:
        """Onboarding calls within 72 hours of sign-up, assigned at random with a 20% holdout."""
        t = self.t
        who = np.flatnonzero(t.onboarding_assigned)
        seconds = t.signup_day[who].astype(np.int64) * SECONDS_PER_DAY + t.signup_second[who]
        seconds = seconds + self.rng.integers(3_600, 72 * 3_600, who.size)
        self._actions.append((who, -1, "onboarding_call", t.onboarding_holdout[who], seconds))
        if self.truth is not None:
            self._truth.append(self.truth.onboarding_calls(self, who, t.signup_day[who], seconds // SECONDS_PER_DAY))

    def _plan_retention(self, day: int, m: int) -> None:
        """Weekly: managers pick partners by segment and signal, contact most of them, hold out 20%."""
        t, rng = self.t, self.rng
        tenure = day - t.signup_day[:m]
        silent = (day - self.last_active[:m]).astype(float)
        silent[self.last_active[:m] < 0] = np.inf
        segment = assign_segments(tenure, self.active_ring[:, :m].sum(axis=0), silent, self.revenue_ring[:, :m].sum(axis=0), self.segments)
        free = (day - self.last_action_day[:m]) >= 60
        plans = [
            ("reactivation_offer", free & (segment == "sleeper") & self.ever_productive[:m] & (silent < 75), 1.0),
            ("personal_check_in", free & np.isin(segment, ["star", "workhorse"]) & (silent >= 7), 0.7),
            ("onboarding_series", free & (segment == "newbie") & (self.state[:m] == EXPLORING) & (tenure >= 7) & (tenure < 45), 0.3),
        ]
        contacts = []
        for action, eligible, reach in plans:
            chosen = np.flatnonzero(eligible & (rng.random(m) < reach))
            if not chosen.size:
                continue
            holdout = rng.random(chosen.size) < 0.2
            seconds = day * SECONDS_PER_DAY + rng.integers(9 * 3_600, 18 * 3_600, chosen.size)
            contacts.append((action, chosen, holdout, seconds))
        if self.truth is not None and contacts:  # before any contact changes anything, from the forks' own random stream
            self._truth.extend(self.truth.planned_contacts(self, day, [(action, chosen, segment[chosen]) for action, chosen, _, _ in contacts]))
        for action, chosen, holdout, seconds in contacts:
            treated = chosen[~holdout]
            self.last_action_day[chosen] = day
            self.apply_action(action, treated, segment[treated], day)
            self._actions.append((chosen, day, action, holdout, seconds))

    def apply_action(self, action: str, treated: np.ndarray, segment: np.ndarray, day: int) -> None:
        """What a planned contact on `day` does to the partners contacted (`segment`: theirs in the plan). A check-in
        lowers the dropout hazard and, as a real one does, gets a slowing partner working again (more working weeks,
        more logins in the others), so it reaches the off weeks that make most silent months too; it works much
        better on partners who took a training or webinar lately (RESPONSIVE_DAYS) than on the others. A comeback
        offer works on sleepers who fell silent lately (RECENT_SLEEP_DAYS), hardly on the long silent. Both
        differences show in features (trainings and webinars in a window, days since the last activity), so an
        uplift model can learn whom to contact."""
        self.effect_until[treated] = day + 45
        if action == "reactivation_offer":
            recent = (day - self.last_active[treated]) < RECENT_SLEEP_DAYS
            self.comeback_effect[treated] = np.where(recent, OFFER_COMEBACK_RECENT, OFFER_COMEBACK_LONG)
            self.effect_until[treated] = day + 21
        elif action == "personal_check_in":
            star = segment == "star"
            responsive = (day - self.last_engagement[treated]) <= RESPONSIVE_DAYS
            gain = np.where(responsive, RESPONSIVE_GAIN, UNRESPONSIVE_GAIN)
            self.hazard_effect[treated] = np.where(star, 0.8, 0.45) ** gain
            self.activity_effect[treated] = 1.0 + gain * (np.where(star, CHECK_IN_ACTIVITY_STAR, CHECK_IN_ACTIVITY_WORKHORSE) - 1.0)
        else:
            self.activation_effect[treated] = 1.6
            self.hazard_effect[treated] = 0.8
            self.activity_effect[treated] = SERIES_ACTIVITY

    # -- forks (synthetic.action_truth) -------------------------------------------------------------
    def fork(self, index: np.ndarray, rng: np.random.Generator) -> _Simulation:
        """The simulation of partners `index` (repeats make replicates), in their current state, drawing from
        `rng`: it plans no retention and records no latent truth; its events are taken with `drain_events`.
        Sharing nothing mutable with this one, it leaves this simulation as it was."""
        fork = copy.copy(self)
        n = len(self.t.signup_day)
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray) and name != "_registered":
                assert value.shape[-1] == n, f"{name} is not per partner: say how a fork copies it"
                setattr(fork, name, value[..., index])  # rings along their partner axis
        arrays = {field.name: getattr(self.t, field.name)[index] for field in dataclasses.fields(self.t) if field.name != "frame"}
        fork.t = dataclasses.replace(self.t, frame=self.t.frame.iloc[index].reset_index(drop=True), **arrays)
        fork._registered = np.searchsorted(fork.t.signup_day, np.arange(self.n_days), side="right")
        fork.rng, fork.truth, fork.plans_retention, fork.records_latent, fork.survey_rng = rng, None, False, False, None
        fork._counts, fork._money, fork._latent, fork._actions, fork._truth, fork._surveys = [], [], [], [], [], []
        return fork

    def registered_by(self, day: int) -> int:
        """Partners signed up by the end of `day` (they come first: partners are numbered in order of sign-up)."""
        return int(np.searchsorted(self.t.signup_day, day, side="right"))

    def drain_events(self) -> tuple[list[tuple[int, np.ndarray, np.ndarray, int]], list[tuple[int, np.ndarray, np.ndarray, int]]]:
        """Events recorded since the last call: (type, partners, counts, day) and (type, partners, amounts, day)."""
        counts, money = self._counts, self._money
        self._counts, self._money = [], []
        return counts, money

    def set_onboarding(self, onboarded: np.ndarray) -> None:
        """Put each partner of a fork in an onboarding arm from sign-up on (before they sign up). The call also
        raises the chance to engage at all, drawn with the traits: whether a partner engages is redrawn for the
        new arm from the same uniform draw, taken given what the partner did in its own arm."""
        t = self.t
        own, other = engage_chance(t.type_index, t.drive, self.onboarded), engage_chance(t.type_index, t.drive, onboarded)
        u = np.where(t.engages, own, 1.0 - own) * self.rng.random(own.size) + np.where(t.engages, 0.0, own)
        self.t = dataclasses.replace(t, engages=u < other)
        self.onboarded = onboarded.copy()

    # -- outputs ------------------------------------------------------------------------------------
    def events_table(self) -> pa.Table:
        """All events, sorted by partner then time, as an Arrow table in the data contract's shape."""
        rng = self.rng
        parts_partner, parts_day, parts_type, parts_amount = [], [], [], []
        for type_code, who, counts, day in self._counts:
            parts_partner.append(np.repeat(who, counts))
            n = int(counts.sum())
            parts_day.append(np.full(n, day, np.int32))
            parts_type.append(np.full(n, type_code, np.int8))
            parts_amount.append(np.zeros(n))
        for type_code, who, amounts, day in self._money:
            parts_partner.append(who)
            parts_day.append(np.full(who.size, day, np.int32))
            parts_type.append(np.full(who.size, type_code, np.int8))
            parts_amount.append(amounts)
        partner = np.concatenate(parts_partner)
        days = np.concatenate(parts_day).astype(np.int64)
        event_type = np.concatenate(parts_type)
        amount = np.concatenate(parts_amount)
        del parts_partner, parts_day, parts_type, parts_amount
        seconds = days * SECONDS_PER_DAY + rng.integers(0, SECONDS_PER_DAY, days.size)
        signup_seconds = self.t.signup_day.astype(np.int64) * SECONDS_PER_DAY + self.t.signup_second
        seconds = np.maximum(seconds, signup_seconds[partner] + 1)  # nothing happens before sign-up
        order = np.argsort(partner.astype(np.int64) << 32 | seconds, kind="stable")
        return self._table(partner[order], seconds[order], event_type[order], amount[order])

    def _table(self, partner: np.ndarray, seconds: np.ndarray, event_type: np.ndarray, amount: np.ndarray) -> pa.Table:
        start_us = self.start.value // 1_000
        ids = pa.array(self.t.frame["partner_id"].to_numpy())
        return pa.table(
            {
                "event_id": pa.array(np.arange(1, partner.size + 1, dtype=np.int64)),
                "partner_id": pa.DictionaryArray.from_arrays(pa.array(partner, pa.int32()), ids),
                "ts": pa.array(start_us + seconds * 1_000_000, pa.timestamp("us", tz="UTC")),
                "event_type": pa.DictionaryArray.from_arrays(pa.array(event_type.astype(np.int32)), pa.array(EVENT_TYPES)),
                "amount": pa.array(amount, pa.float64()),
            }
        )

    def actions_frame(self) -> pd.DataFrame:
        """The retention log: partner, time, action and whether the partner was held out."""
        return self._log_frame({"holdout": np.concatenate([a[3] for a in self._actions])})

    def action_truth_frame(self) -> pd.DataFrame | None:
        """Per row of `actions_frame`, in its order: the segment the plan used and the potential outcomes."""
        if self.truth is None:
            return None
        return self._log_frame({name: np.concatenate([truth[name] for truth in self._truth]) for name in self._truth[0]})

    def _log_frame(self, columns: dict[str, np.ndarray]) -> pd.DataFrame:
        """partner_id, ts, action and `columns` (one value per logged contact) of the contacts made in the period, by time."""
        who = np.concatenate([a[0] for a in self._actions])
        seconds = np.concatenate([a[4] for a in self._actions])
        frame = pd.DataFrame(
            {
                "partner_id": self.t.frame["partner_id"].to_numpy()[who],
                "ts": (self.start + pd.to_timedelta(seconds, unit="s")).astype("datetime64[us, UTC]"),
                "action": np.concatenate([np.full(a[0].size, a[2], dtype=object) for a in self._actions]),
                **columns,
            }
        )
        within_period = seconds < self.n_days * SECONDS_PER_DAY  # calls due after the period's end are not made in it
        return frame[within_period].sort_values(["ts", "partner_id"], kind="stable").reset_index(drop=True)

    def latent_table(self) -> pa.Table:
        """Latent truth by partner and day (from sign-up, for partners who ever engaged)."""
        partner = np.concatenate([x[0] for x in self._latent])
        day = np.concatenate([np.full(x[0].size, x[1], np.int32) for x in self._latent])
        keep = day >= self.t.signup_day[partner]
        order = np.argsort(partner[keep].astype(np.int64) << 32 | day[keep], kind="stable")
        columns = {
            "state": np.concatenate([x[2] for x in self._latent])[keep][order],
            "dropout_hazard": np.concatenate([x[3] for x in self._latent])[keep][order],
            "activity_rate": np.concatenate([x[4] for x in self._latent])[keep][order],
            "comeback_rate": np.concatenate([x[5] for x in self._latent])[keep][order],
            "working_week_rate": np.concatenate([x[6] for x in self._latent])[keep][order],
            "off_week_activity_rate": np.concatenate([x[7] for x in self._latent])[keep][order],
        }
        if self._records_exits():
            columns["exit_hazard"] = np.concatenate([x[8] for x in self._latent])[keep][order]
        partner, day = partner[keep][order], day[keep][order]
        start_days = self.start.value // 86_400_000_000_000
        ids = pa.array(self.t.frame["partner_id"].to_numpy())
        return pa.table(
            {
                "partner_id": pa.DictionaryArray.from_arrays(pa.array(partner, pa.int32()), ids),
                "date": pa.array((start_days + day).astype(np.int32), pa.date32()),
                "state": pa.DictionaryArray.from_arrays(pa.array(columns["state"].astype(np.int32)), pa.array(STATES)),
                "dropout_hazard": pa.array(columns["dropout_hazard"]),
                "activity_rate": pa.array(columns["activity_rate"]),
                "comeback_rate": pa.array(columns["comeback_rate"]),
                "working_week_rate": pa.array(columns["working_week_rate"]),
                "off_week_activity_rate": pa.array(columns["off_week_activity_rate"]),
                **({"exit_hazard": pa.array(columns["exit_hazard"])} if "exit_hazard" in columns else {}),
            }
        )
