"""fake_cell's settings, read from the environment only (the stack injects them).

Why a module: one place that names every variable, its default and how it is parsed, so the
server and the tests agree and a bad value fails at startup with a clear message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from fakes.common.config import DEFAULT_SECRET, ServiceEnv, flag

from .seeding import SeedAccount, seed_config_from_env


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
        common = ServiceEnv.read(env, default_port=9001)
        return cls(
            host=common.host,
            port=common.port,
            state_dir=common.state_dir,
            require_api_key=flag(env, "FAKE_CELL_REQUIRE_API_KEY"),
            enable_batch_apis=flag(env, "FAKE_CELL_ENABLE_BATCH_APIS"),
            secret=common.secret,
            seed_accounts=seed_config_from_env(env),
        )
