"""Entry point: ``python -m fakes.fake_cognito`` (configuration only through env).

Loads settings, opens the store, applies the declared pools, then serves.  A
bad setting or declared config exits 2 with ``Error: ...`` naming the field;
the listening socket only opens once the declared config is in place, so
``/healthz`` answering 200 means ready.
"""

from __future__ import annotations

import logging
import os
import sys

from aiohttp import web

from fakes.common.web import answer_server_errors_as_json
from hippodrome_k8s.core.origins import policy_from_env

from . import config, seeding
from .auth import Auth
from .backend import Backend
from .errors import CognitoError
from .keys import KeyRing
from .server import error_body, make_app
from .store import Store


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="fake_cognito: %(levelname)s %(message)s", stream=sys.stderr)
    try:
        settings = config.from_env()
    except config.ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    if settings.secret_is_default:
        config.warn("HIPPODROME_ENCRYPTION_SECRET is not set; using the default "
                    f"{config.DEFAULT_SECRET!r} (fine for local tests, never for anything shared)")
    if not os.environ.get("HIPPODROME_RANDOM_SEED"):
        config.warn(f"HIPPODROME_RANDOM_SEED is not set; using random seed {settings.seed!r} "
                    "(ids and keys will differ next run)")
    store = Store(settings.db_path)
    keyring = KeyRing(settings.seed, settings.secret, store)
    backend = Backend(store, keyring, settings.seed, settings.region)
    try:
        changes = seeding.reconcile(backend, settings.pools) if settings.declared else [
            f"created {line}" for line in seeding.apply(backend, settings.pools)]
        for line in changes:
            print(f"fake_cognito: {line}", file=sys.stderr)
    except (ValueError, CognitoError) as exc:
        print(f"Error: HIPPODROME_COGNITO_CONFIG: {exc}", file=sys.stderr)
        store.close()
        return 2
    app = make_app(backend, Auth(backend), policy=policy_from_env(os.environ))
    answer_server_errors_as_json(error_body)

    async def close_store(_: web.Application) -> None:
        store.close()

    app.on_cleanup.append(close_store)
    print(f"fake_cognito: serving {len(backend.pools)} user pool(s) on http://{settings.host}:{settings.port} "
          f"(region {settings.region}, state {settings.db_path})", file=sys.stderr, flush=True)
    web.run_app(app, host=settings.host, port=settings.port, access_log=None, print=None,
                handle_signals=True, shutdown_timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
