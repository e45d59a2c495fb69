"""Configuration from the environment only: the engines inject it (see ``hippodrome env``).

A missing required variable stops the service at start with a message naming it, instead
of failing on the first request.
"""

from __future__ import annotations

import os


class ConfigError(RuntimeError):
    """A required variable is missing or malformed."""


def required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required (it is injected by Hippodrome; "
                          f"see `hippodrome env`)")
    return value


def optional(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


def number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be a number, got {text!r}") from None


def url(name: str) -> str:
    """A required base URL, without a trailing slash."""
    return required(name).rstrip("/")
