"""Errors that are the user's to fix: they reach the terminal as one clear line, never a traceback."""

from __future__ import annotations


class InputError(Exception):
    """Bad input (a file, a column, a config key, an option): the message says what and where."""


class ConfigError(InputError):
    """The configuration (YAML file, environment override or --set) is invalid."""


class DamagedModelError(InputError):
    """A registered model's files are missing or unreadable: a broken deployment, never skipped quietly."""
