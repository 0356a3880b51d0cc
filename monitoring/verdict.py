"""The retraining signal every monitoring check ends with: keep, watch or retrain, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Action = Literal["keep", "watch", "retrain"]
ORDER: dict[str, int] = {"keep": 0, "watch": 1, "retrain": 2}
EXIT_CODE: dict[str, int] = {"keep": 0, "watch": 0, "retrain": 1}
"""A scheduler acts on the exit code: 1 means the model can no longer be trusted; watch still exits 0."""


@dataclass(frozen=True)
class Recommendation:
    """What to do about the model, and the reason in words."""

    action: Action
    reason: str

    def line(self) -> str:
        return f"recommendation: {self.action}: {self.reason}"


def recommend(failures: Sequence[str], warnings: Sequence[str], all_clear: str) -> Recommendation:
    """retrain when any check failed, watch when one came near its bar, keep otherwise."""
    if failures:
        return Recommendation("retrain", "; ".join(failures))
    if warnings:
        return Recommendation("watch", "; ".join(warnings))
    return Recommendation("keep", all_clear)


def combine(named: Sequence[tuple[str, Recommendation]]) -> Recommendation:
    """The strongest action of several checks, with each check's reason."""
    action: Action = max((r.action for _, r in named), key=ORDER.__getitem__, default="keep")
    return Recommendation(action, "; ".join(f"{name}: {r.action} ({r.reason})" for name, r in named))
