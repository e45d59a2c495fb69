"""fake_cell's settings, read from the environment only (the stack injects them).

Why a module: one place that names every variable, its default and how it is parsed, so the
server and the tests agree and a bad value fails at startup with a clear message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .seeding import SeedAccount, seed_config_from_env

DEFAULT_SECRET = "1234567890ABCDEF"  # the seed's documented default


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 9001
    state_dir: Path = Path(".hippodrome/state")
    require_api_key: bool = False
    enable_batch_apis: bool = False  # Marqo's internal batch endpoints (MARQO_ENABLE_BATCH_APIS)
    secret: str = DEFAULT_SECRET
    seed_accounts: tuple[SeedAccount, ...] | None = None  # None: no HIPPODROME_SEED_CONFIG, seed nothing

    @property
    def db_path(self) -> Path:
        return self.state_dir / "fake_cell.sqlite3"

    @property
    def default_secret(self) -> bool:
        return self.secret == DEFAULT_SECRET

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Config":
        env = os.environ if env is None else env
        port_text = env.get("PORT", "9001")
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"PORT must be an integer, got {port_text!r}") from None
        if not 0 <= port <= 65535:
            raise ValueError(f"PORT must be within 0..65535, got {port}")
        return cls(
            host=env.get("HOST") or "127.0.0.1",
            port=port,
            state_dir=Path(env.get("HIPPODROME_STATE_DIR") or ".hippodrome/state"),
            require_api_key=_flag(env, "FAKE_CELL_REQUIRE_API_KEY"),
            enable_batch_apis=_flag(env, "FAKE_CELL_ENABLE_BATCH_APIS"),
            secret=env.get("HIPPODROME_ENCRYPTION_SECRET") or DEFAULT_SECRET,
            seed_accounts=seed_config_from_env(env),
        )


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "false").strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no", ""):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value in ("true", "1", "yes")
