"""The true effects of the retention actions a generated program logs, for checking effect estimates against.

A later step estimates each action's effect from the log, treated minus held out: on "silent within H"
(no qualifying event in the H days from the action's UTC day) and on sale revenue in those days. The
generator knows the truth those estimates aim at: for every logged action row, the partner's potential
outcomes under both arms. It gets them by forking the simulation at the moment of the action: the chosen
partners' whole state (every per-partner array and trait, rings along their partner axis) is copied, each
partner `replicates` times, and the copies are simulated for the window twice over, once with the action's
effect and once without, from a random stream of their own (seeded from the program's seed, the day and the
kind of fork: a sign-up week's onboarding calls, or all of a planning day's contacts in one fork), so the
program itself is byte for byte the one generated without the truth.

What a fork assumes:
- Partners are independent in the simulation except through program-wide quantities, and those enter only
  where the managers plan contacts (segments use the program's window revenue and star threshold). A fork
  plans no contacts, so its copies evolve exactly as the partner would, given the state at the action.
- The potential outcomes are those of this action and no later one in the window. For planned contacts that
  is how the program runs (a partner is contacted at most once in 60 days; H is 30 by default). A partner
  called at sign-up may get the onboarding series a week or more later: the onboarding call's truth is the
  call's effect without it, where the log's treated-minus-holdout comparison also carries the series.
- An onboarding call works from sign-up (it is part of the partner's traits: it raises both the chance to
  engage at all and activation), so sign-ups are forked per sign-up week from their sign-up on, each
  partner's outcomes counted from its own call's UTC day.
- Windows that run past the program's end are simulated to their end all the same: the truth is never
  censored, though the log's realised outcomes are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from partner_churn.config import LabelsConfig

TRUTH_STREAM = 9_103
"""Mixed into the seed of every fork's random stream, which never draws from the program's own."""
ONBOARDING_CALLS, PLANNED_CONTACTS = 0, 4
"""The numbers in the seed of a fork's random stream: a sign-up week's onboarding calls, a planning day's
contacts (1-3 were the planned actions' own streams while each plan had its fork)."""
ONBOARDING_GROUP_DAYS = 7
"""Sign-ups are forked in groups of this many sign-up days."""


@dataclass(frozen=True)
class ActionTruthSettings:
    """What the truth of an action is measured on (defaults: the config's labels) and how precisely."""

    horizon_days: int = LabelsConfig.model_fields["horizon_days"].default
    """H: outcomes look at the days [action day, action day + H)."""
    qualifying_event_types: tuple[str, ...] = field(default_factory=lambda: tuple(LabelsConfig.model_fields["qualifying_event_types"].default))
    """A partner is silent in the window when it has no event of these types in it."""
    replicates: int = 16
    """Copies of each partner per arm; the probabilities and expectations are means over them."""

    def __post_init__(self) -> None:
        if self.horizon_days < 1 or self.replicates < 1:
            raise ValueError(f"action truth needs horizon_days >= 1 and replicates >= 1, not {self.horizon_days} and {self.replicates}")

    @classmethod
    def from_labels(cls, labels: LabelsConfig, replicates: int = 16) -> ActionTruthSettings:
        """The truth on the labels' horizon and qualifying events (what `partner-churn generate --action-truth` uses)."""
        return cls(horizon_days=labels.horizon_days, qualifying_event_types=tuple(labels.qualifying_event_types), replicates=replicates)


TRUTH_COLUMNS = ("segment_at_action", "silent_if_treated", "silent_if_held_out", "revenue_if_treated", "revenue_if_held_out")
"""The action_truth table's columns after partner_id, ts and action."""

Events = list[tuple[int, np.ndarray, np.ndarray, int]]


class Forkable(Protocol):
    """What the recorder needs of the simulation (`synthetic.program`)."""

    def fork(self, index: np.ndarray, rng: np.random.Generator) -> Forkable: ...
    def apply_action(self, action: str, treated: np.ndarray, segment: np.ndarray, day: int) -> None: ...
    def set_onboarding(self, onboarded: np.ndarray) -> None: ...
    def step(self, day: int, m: int) -> None: ...
    def finish_day(self, day: int, m: int, new: np.ndarray) -> None: ...
    def drain_events(self) -> tuple[Events, Events]: ...
    def registered_by(self, day: int) -> int: ...


class ActionTruthRecorder:
    """Forks the simulation at every logged action and returns the action rows' potential outcomes."""

    def __init__(self, settings: ActionTruthSettings, seed: int, event_types: Sequence[str]) -> None:
        self.settings = settings
        self.seed = seed
        self.qualifying = np.array([code for code, name in enumerate(event_types) if name in settings.qualifying_event_types], dtype=int)
        self.sale = list(event_types).index("sale")

    def planned_contacts(self, sim: Forkable, day: int, plans: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        """The contacts of one planning day, per plan (action, `chosen` partners, their segments in it), forked
        before any of them; one fork holds them all (a partner is in one plan of a day), which costs a third of
        a fork per plan: the fork's days cost about the same whatever its size."""
        r, horizon = self.settings.replicates, self.settings.horizon_days
        index = np.concatenate([np.repeat(chosen, 2 * r) for _, chosen, _ in plans])  # per partner: r treated copies, then r held out
        treated = np.concatenate([np.tile(np.repeat([True, False], r), chosen.size) for _, chosen, _ in plans])
        fork = sim.fork(index, self._rng(day, PLANNED_CONTACTS))
        bounds = np.cumsum([0] + [2 * r * chosen.size for _, chosen, _ in plans])
        for (action, _, segment), start, stop in zip(plans, bounds[:-1], bounds[1:], strict=True):
            copies = start + np.flatnonzero(treated[start:stop])
            fork.apply_action(action, copies, np.repeat(segment, 2 * r)[treated[start:stop]], day)
        outcome = _Outcome(np.full(index.size, day), horizon, self)
        fork.finish_day(day, index.size, np.zeros(index.size, bool))
        outcome.add(fork.drain_events(), day)
        for later in range(day + 1, day + horizon):
            fork.step(later, index.size)
            outcome.add(fork.drain_events(), later)
        return [
            outcome.summary(np.asarray(segment, dtype=object), r, slice(start, stop))
            for (_, _, segment), start, stop in zip(plans, bounds[:-1], bounds[1:], strict=True)
        ]

    def onboarding_calls(self, sim: Forkable, who: np.ndarray, signup_day: np.ndarray, call_day: np.ndarray) -> dict[str, np.ndarray]:
        """Onboarding calls of partners `who` (in order of sign-up, none signed up yet), forked per sign-up week."""
        r, horizon = self.settings.replicates, self.settings.horizon_days
        parts = []
        bounds = np.flatnonzero(np.diff(signup_day // ONBOARDING_GROUP_DAYS)) + 1
        for members in np.split(np.arange(who.size), bounds):
            if not members.size:
                continue
            index = np.repeat(who[members], 2 * r)
            fork = sim.fork(index, self._rng(int(signup_day[members[0]]), ONBOARDING_CALLS))
            fork.set_onboarding(np.tile(np.repeat([True, False], r), members.size))
            window_start = np.repeat(call_day[members], 2 * r)
            outcome = _Outcome(window_start, horizon, self)
            for day in range(int(signup_day[members[0]]), int(window_start.max()) + horizon):
                m = fork.registered_by(day)
                if m:
                    fork.step(day, m)
                    outcome.add(fork.drain_events(), day)
            parts.append(outcome.summary(np.full(members.size, "newbie", dtype=object), r, slice(None)))
        if not parts:
            return {name: np.zeros(0, dtype=object if name == "segment_at_action" else float) for name in TRUTH_COLUMNS}
        return {name: np.concatenate([part[name] for part in parts]) for name in TRUTH_COLUMNS}

    def _rng(self, day: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, TRUTH_STREAM, day, stream])


class _Outcome:
    """Per copy: any qualifying event, and the sale revenue, in its window [start, start + H)."""

    def __init__(self, window_start: np.ndarray, horizon_days: int, recorder: ActionTruthRecorder) -> None:
        self.start = window_start
        self.horizon = horizon_days
        self.qualifying = recorder.qualifying
        self.sale = recorder.sale
        self.active = np.zeros(window_start.size, bool)
        self.revenue = np.zeros(window_start.size)

    def add(self, events: tuple[Events, Events], day: int) -> None:
        counts, money = events
        in_window = (self.start <= day) & (day < self.start + self.horizon)
        for type_code, who, _, _ in counts + money:
            if type_code in self.qualifying:
                self.active[who[in_window[who]]] = True
        for type_code, who, amounts, _ in money:
            if type_code == self.sale:
                kept = in_window[who]
                self.revenue += np.bincount(who[kept], weights=amounts[kept], minlength=self.revenue.size)

    def summary(self, segment: np.ndarray, replicates: int, copies: slice) -> dict[str, np.ndarray]:
        """Means over each partner's copies (those in `copies`), per arm (copies come r treated then r held out
        per partner)."""
        silent = (~self.active[copies]).reshape(-1, 2, replicates).mean(axis=2)
        revenue = self.revenue[copies].reshape(-1, 2, replicates).mean(axis=2)
        return {
            "segment_at_action": segment,
            "silent_if_treated": silent[:, 0],
            "silent_if_held_out": silent[:, 1],
            "revenue_if_treated": revenue[:, 0],
            "revenue_if_held_out": revenue[:, 1],
        }


def true_action_effects(action_truth: pd.DataFrame) -> pd.DataFrame:
    """The true average effect among the contacted, per action and per action x segment: the mean over a
    group's rows of silent_if_treated - silent_if_held_out (`silence_effect`) and of revenue_if_treated -
    revenue_if_held_out (`revenue_effect`), with the group's row count `n`. Rows by action then segment;
    segment "all" is the whole action."""
    frame = action_truth.assign(
        silence_effect=action_truth["silent_if_treated"] - action_truth["silent_if_held_out"],
        revenue_effect=action_truth["revenue_if_treated"] - action_truth["revenue_if_held_out"],
    )
    columns = ["n", "silence_effect", "revenue_effect"]

    def effects(keys: list[str]) -> pd.DataFrame:
        grouped = frame.groupby(keys, observed=True, sort=True)
        return grouped.agg(n=("silence_effect", "size"), silence_effect=("silence_effect", "mean"), revenue_effect=("revenue_effect", "mean"))

    by_action = effects(["action"]).assign(segment="all").reset_index()
    by_segment = effects(["action", "segment_at_action"]).reset_index().rename(columns={"segment_at_action": "segment"})
    both = pd.concat([by_action, by_segment], ignore_index=True)
    both["n"] = both["n"].astype(int)
    return both.sort_values(["action", "segment"], kind="stable").reset_index(drop=True)[["action", "segment", *columns]]
