"""The settings every fake reads from its env the same way: where to listen, where its state lives, the
encryption secret. A bad value is a ValueError naming the variable (the fake exits 2 with it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SECRET = "1234567890ABCDEF"  # the documented local default (README, "Contracts")


@dataclass(frozen=True)
class ServiceEnv:
    host: str
    port: int
    state_dir: Path
    secret: str
    secret_is_default: bool

    @classmethod
    def read(cls, env: Mapping[str, str], default_port: int) -> "ServiceEnv":
        secret = env.get("HIPPODROME_ENCRYPTION_SECRET") or ""
        return cls(host=env.get("HOST") or "127.0.0.1", port=port_from(env, default_port),
                   state_dir=Path(env.get("HIPPODROME_STATE_DIR") or ".hippodrome/state"),
                   secret=secret or DEFAULT_SECRET, secret_is_default=not secret)


def port_from(env: Mapping[str, str], default: int) -> int:
    text = env.get("PORT", str(default))
    try:
        port = int(text)
    except ValueError:
        raise ValueError(f"PORT must be an integer, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"PORT must be within 0..65535, got {port}")
    return port


def flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = env.get(name, "true" if default else "false").strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no", ""):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value in ("true", "1", "yes")


def number(env: Mapping[str, str], name: str, default, kind, what: str, ok) -> object:
    """``kind(env[name])`` (``default`` when unset or empty), refused unless ``ok(value)``: "NAME must be <what>"."""
    text = env.get(name) or ""
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name} must be {what}, got {text!r}") from None
    if not ok(value):
        raise ValueError(f"{name} must be {what}, got {text!r}")
    return value
