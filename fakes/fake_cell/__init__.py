"""fake_cell: a fake of the Marqo data plane that the official `marqo` client works against.

Run it with `python -m fakes.fake_cell` (configuration through env, see config.py and README.md).
Layout: config -> server (HTTP, errors, auth, telemetry) -> query (search validation) / scoring
(score modifiers) / search / documents / settings / models (Marqo semantics) -> store (SQLite +
FTS5) with embedding + vectors (local TENSOR search), media (images), realmodel (the optional
[models] extra), and apikeys + accounts (encrypted keys, each bound to its account's indexes).
"""

VERSION = "2.24.0"  # >= the marqo 3.18 client's minimum supported Marqo version (2.23.1)
