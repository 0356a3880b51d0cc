"""The pair in force, moved by hand: read it, list every pair record, `promote` one version over the gate,
`rollback` to an earlier pair as a whole. Each move is a new pair record (`training.champions`) saying who
and why.
"""

from __future__ import annotations

import pandas as pd

from partner_churn import domain
from partner_churn.config import Config
from partner_churn.domain import target_of_model
from partner_churn.errors import InputError
from training import champions
from training.registry.queries import resolve, version_ref
from training.registry.runs import model_name
from training.registry.tags import current_user, utc_now
from training.registry.tracking import connect


def champion_pair(config: Config) -> champions.ChampionPair:
    """The pair in force (one read of the store)."""
    _, client, _ = connect(config)
    return champions.champion_pair(client, config)


def list_pairs(config: Config) -> pd.DataFrame:
    """Every pair record, newest first: pair, in_force, each target's version, made_by, at, reason, previous."""
    _, client, _ = connect(config)
    in_force = champions.champion_pair(client, config).number
    rows = [
        {
            "pair": pair.number,
            "in_force": "yes" if pair.number == in_force else "",
            **{target: f"v{pair.versions[target]}" if target in pair.versions else "none" for target in domain.TARGETS},
            "made_by": pair.made_by,
            "at": pair.at,
            "previous": pair.previous,
            "reason": pair.reason,
        }
        for pair in champions.pair_history(client, config)
    ]
    columns = ["pair", "in_force", *domain.TARGETS, "made_by", "at", "previous", "reason"]
    return pd.DataFrame(rows, columns=columns)


def promote(config: Config, name: str, version: str, reason: str) -> champions.ChampionPair:
    """Put a version in force by hand, overriding the gate, with the other target's champion as it is; who,
    why and when are recorded on the version and on the new pair record. Returns the pair now in force."""
    if not reason or not reason.strip():
        raise InputError("promote needs a reason: say why this version should override the gate")
    _, client, _ = connect(config)
    target_name = target_of_model(name, config)
    found = resolve(client, name, version_ref(version), config)
    if target_name is None:
        raise InputError(f"'{name}' is not one of this config's models ({', '.join(model_name(config, t) for t in domain.TARGETS)})")
    number = str(found.version)
    with champions.decision_lock(config):
        in_force = champions.champion_pair(client, config)
        who, when = current_user(), utc_now()
        tags = {
            "promoted_by_override": who,
            "override_reason": reason.strip(),
            "override_at": when,
            "override_previous_champion": in_force.versions.get(target_name, ""),
        }
        for key, value in tags.items():
            client.set_model_version_tag(name, number, key, value)
        client.set_registered_model_tag(name, "last_override", f"v{number} by {who} at {when}: {reason.strip()}")
        return champions.put_in_force(
            client,
            config,
            {**in_force.versions, target_name: number},
            made_by="promote",
            reason=f"{target_name} v{number} by {who}: {reason.strip()}",
            run_id=found.run_id or "",
        )


def rollback(config: Config, reason: str, to: str | None = None) -> champions.ChampionPair:
    """Put an earlier pair back in force as a whole: pair record `to`, else the pair in force before the current
    one. Recorded as a new pair record (made_by rollback) with who and why. Returns the pair now in force."""
    if not reason or not reason.strip():
        raise InputError("rollback needs a reason: say why the pair in force should be replaced")
    _, client, _ = connect(config)
    with champions.decision_lock(config):
        in_force = champions.champion_pair(client, config)
        if to is None:
            if in_force.number is None or not in_force.previous:
                raise InputError(f"no earlier pair to roll back to (in force: {in_force.words() or 'nothing'}); see partner-churn models pairs")
            to = in_force.previous
        earlier = champions.pair_record(client, config, to)
        return champions.put_in_force(
            client, config, earlier.versions, made_by="rollback", reason=f"back to pair {earlier.number} by {current_user()}: {reason.strip()}"
        )
