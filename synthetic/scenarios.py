"""Named changes to a generated program from a date on, for testing what monitoring sees.

Each scenario is a realistic event in a partner program's life, with its size fixed here and written
down (`SCENARIOS` describes each in words; `partner-churn generate --scenario NAME --scenario-from DATE`
injects one or several):

- **new_traffic_source**: a new acquisition channel (paid social ads) brings a burst of new partners,
  partner type `social_ads`, front-loaded after the date: lots of clicks of poor quality (few leads per
  click, few sales per lead), fickle partners who leave fast and rarely come back, and no onboarding
  calls (the team cannot call them all).
- **commission_cut**: commission rates are cut to `COMMISSION_CUT_FACTOR` of their value. The partners
  table shows the new rates (it is the program's current terms); commission accrues at the new rates
  from the date; partners who stay send `COMMISSION_CUT_TRAFFIC_FACTOR` of their clicks; and awake
  partners leave faster, the biggest most (they have the best alternatives), which inverts part of the
  ranking a model learned before the cut ("big partners are safe").
- **payout_delay**: the program pays late: every payout requested from the date is paid
  `PAYOUT_EXTRA_DELAY_DAYS` later, and `PAYOUT_UNPAID_SHARE` of them not at all within the period.
  Partners waiting for money leave faster through the generator's existing payout pressure.

Everything before the date is simulated exactly as in the unchanged program with the same seed (same
partners, same daily events; new partners get their traits from a separate random stream), and every
change acts through the rates the latent truth records, so the oracle stays consistent with it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from partner_churn.errors import InputError
from synthetic.definitions import COUNTRIES, SECONDS_PER_DAY, WEEKDAY_SIGNUPS, GeneratedProgram, ProgramChange, Traits

SCENARIOS: dict[str, str] = {
    "new_traffic_source": "a burst of new paid-social partners with many low-quality clicks who leave fast",
    "commission_cut": "commission rates cut to 60%; partners send fewer clicks and the biggest leave first",
    "payout_delay": "payouts paid one to two months later than before, 40% of them not at all",
}
"""Scenario name -> what it does, in a line."""

NEW_SOURCE_TYPE = "social_ads"
"""partner_type of the partners the new traffic source brings (a value the program has not seen)."""
NEW_SOURCE_PARTNERS_SHARE = 0.6
"""New-source sign-ups, as a share of the program's own sign-ups from the date to the end."""
NEW_SOURCE_MEAN_DELAY_DAYS = 30.0
"""New-source sign-ups arrive front-loaded: days after the date are exponential with this mean."""
NEW_SOURCE_STREAM = 7_001
"""Seeds the separate random stream of new-source partners' traits (added to the program's seed)."""
COMMISSION_CUT_FACTOR = 0.6
"""New commission rate as a share of the old one."""
COMMISSION_CUT_TRAFFIC_FACTOR = 0.75
"""Share of their clicks that partners who stay keep sending after the cut."""
COMMISSION_CUT_EXIT_RATE = 0.01
"""Daily chance that a productive partner sending 10 clicks a day leaves cleanly for another program after
the cut, proportional to its traffic (0.3% at 3 clicks a day, 3% at 30, at most 5%)."""
PAYOUT_EXTRA_DELAY_DAYS = (30, 61)
"""Days added to every payout requested after the date (uniform; before: 3 days + Poisson, median ~9)."""
PAYOUT_UNPAID_SHARE = 0.4
"""Share of payouts requested after the date that are never paid within the period."""


def check_scenarios(names: Sequence[str], scenario_from: dt.date | None, start: pd.Timestamp, end: pd.Timestamp) -> int:
    """The first changed day's offset from `start`; an error naming the problem otherwise."""
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        raise InputError(f"unknown scenario {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    if len(set(names)) != len(names):
        raise InputError("a scenario is named twice")
    if scenario_from is None:
        raise InputError("--scenario needs --scenario-from DATE: the first day under the changed rules")
    day = (pd.Timestamp(scenario_from, tz="UTC") - start).days
    if not 0 < day < (end - start).days:
        raise InputError(
            f"--scenario-from {scenario_from}: must lie inside the simulated period ({start:%Y-%m-%d} .. {end:%Y-%m-%d}), after its first day"
        )
    return day


def program_change(names: Sequence[str], start_day: int) -> ProgramChange:
    """The simulation knobs of the named scenarios together, from `start_day` on."""
    change = ProgramChange(start_day=start_day)
    if "commission_cut" in names:
        change = dataclasses.replace(
            change,
            commission_factor=COMMISSION_CUT_FACTOR,
            traffic_factor=COMMISSION_CUT_TRAFFIC_FACTOR,
            exit_rate=COMMISSION_CUT_EXIT_RATE,
        )
    if "payout_delay" in names:
        change = dataclasses.replace(change, extra_payout_delay_days=PAYOUT_EXTRA_DELAY_DAYS, unpaid_share=PAYOUT_UNPAID_SHARE)
    return change


def inject(
    traits: Traits,
    names: Sequence[str],
    scenario_from: dt.date | None,
    *,
    start: pd.Timestamp,
    n_days: int,
    seed: int,
) -> tuple[Traits, ProgramChange, pd.DataFrame]:
    """Traits with any new partners, the simulation's knobs, and the partners table as the program shows it."""
    start_day = check_scenarios(names, scenario_from, start, start + pd.Timedelta(days=n_days))
    if "new_traffic_source" in names:
        traits = _add_new_source_partners(traits, start_day, n_days, start, np.random.default_rng(seed + NEW_SOURCE_STREAM))
    shown = traits.frame
    if "commission_cut" in names:
        shown = shown.assign(commission_rate=np.round(shown["commission_rate"] * COMMISSION_CUT_FACTOR, 3))
    return traits, program_change(names, start_day), shown


def _add_new_source_partners(traits: Traits, start_day: int, n_days: int, start: pd.Timestamp, rng: np.random.Generator) -> Traits:
    """The new source's partners merged into the traits, everyone renumbered in order of sign-up.

    All of them sign up on or after `start_day`, so the partners before keep their numbers and the
    simulation of the days before is unchanged.
    """
    own_later = int((traits.signup_day >= start_day).sum())
    n = int(round(NEW_SOURCE_PARTNERS_SHARE * own_later))
    if n == 0:
        return traits
    days = np.arange(start_day, n_days)
    weights = np.exp(-(days - start_day) / NEW_SOURCE_MEAN_DELAY_DAYS) * WEEKDAY_SIGNUPS[(start.dayofweek + days) % 7]
    signup_day = rng.choice(days, size=n, p=weights / weights.sum()).astype(np.int32)
    signup_second = rng.integers(0, SECONDS_PER_DAY, n)
    drive = rng.normal(0.3, 1.0, n)
    commission_rate = np.full(n, 0.06)
    new = {
        "signup_day": signup_day,
        "signup_second": signup_second,
        "type_index": np.full(n, -1),
        "engages": rng.random(n) < 0.85,
        "drive": drive,
        "scale": 25.0 * rng.lognormal(0.0, 0.8, n),
        "quality": np.clip(0.35 * rng.lognormal(0.0, 0.2, n), 0.1, 1.0),
        "fickleness": rng.lognormal(np.log(2.5), 0.5, n),
        "payout_sensitivity": rng.lognormal(0.0, 0.5, n),
        "comeback": rng.lognormal(-1.0, 0.8, n),
        "regularity": np.clip(rng.lognormal(np.log(0.6), 0.3, n), 0.04, 1.0),
        "sale_median": 35.0 * rng.lognormal(0.0, 0.45, n),
        "commission_rate": commission_rate,
        "activation_mult": np.full(n, 3.0) * np.exp(0.3 * drive),
        "hazard_mult": np.full(n, 1.3),
        "onboarding_assigned": np.zeros(n, bool),
        "onboarding_holdout": np.zeros(n, bool),
        "payout_slowness": rng.lognormal(0.0, 0.5, n),
    }
    frame = pd.DataFrame(
        {
            "partner_id": "",
            "signup_at": (start + pd.to_timedelta(signup_day.astype(np.int64) * SECONDS_PER_DAY + signup_second, unit="s")).astype(
                "datetime64[us, UTC]"
            ),
            "partner_type": NEW_SOURCE_TYPE,
            "country": rng.choice(list(COUNTRIES), size=n, p=np.array(list(COUNTRIES.values()))),
            "commission_rate": commission_rate,
        }
    )
    merged = {}
    for field in dataclasses.fields(traits):
        if field.name != "frame":
            merged[field.name] = np.concatenate([getattr(traits, field.name), new[field.name]])
    order = np.lexsort((merged["signup_second"], merged["signup_day"]))
    merged = {name: values[order] for name, values in merged.items()}
    both = pd.concat([traits.frame, frame], ignore_index=True).iloc[order].reset_index(drop=True)
    both["partner_id"] = [f"P{i:07d}" for i in range(1, len(both) + 1)]
    return dataclasses.replace(traits, frame=both, **merged)


def program_before(program: GeneratedProgram, cutoff: dt.date) -> GeneratedProgram:
    """The program as its owner saw it on `cutoff` (UTC midnight): partners signed up, events, actions, survey
    answers and latent days before it. Trains the model "before the change" that monitoring then watches."""
    stamp = pd.Timestamp(cutoff, tz="UTC")
    partners = program.partners[program.partners["signup_at"] < stamp].reset_index(drop=True)
    events = program.events.filter(pc.less(program.events["ts"], stamp.to_pydatetime()))
    actions = program.actions[program.actions["ts"] < stamp].reset_index(drop=True)
    latent = program.latent.filter(pc.less(program.latent["date"], pa.scalar(cutoff, pa.date32())))
    surveys = None if program.surveys is None else program.surveys[program.surveys["ts"] < stamp].reset_index(drop=True)
    return GeneratedProgram(partners=partners, events=events, actions=actions, latent=latent, start=program.start, end=stamp, surveys=surveys)
