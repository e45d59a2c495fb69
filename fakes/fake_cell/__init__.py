"""fake_cell: a fake of the Marqo data plane that the official `marqo` client works against.

Run it with `python -m fakes.fake_cell` (configuration through env, see config.py). Layout:
config -> server (HTTP, errors, auth) -> search / documents / settings (Marqo semantics) ->
store (SQLite + FTS5) with embedding + vectors (local TENSOR search) and apikeys (encrypted).
"""

VERSION = "2.24.0"  # >= the marqo 3.18 client's minimum supported Marqo version (2.23.1)
