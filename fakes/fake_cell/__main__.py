"""Entry point: `python -m fakes.fake_cell` serves the fake Marqo data plane until SIGTERM/SIGINT.

Why separate: the server module stays importable (tests, benchmarks) without side effects;
this file only reads the environment, sets up logging to stderr and runs the app.
"""

from __future__ import annotations

import logging
import os
import sys

from aiohttp import web

from fakes.common.web import answer_server_errors_as_json
from hippodrome_k8s.core.origins import policy_from_env

from .config import Config
from .server import error_body, make_app


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("fake_cell")
    try:
        config = Config.from_env()
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    if config.default_secret:
        log.warning("HIPPODROME_ENCRYPTION_SECRET is not set: using the default secret "
                    "(fine for local development; API keys stored under another secret "
                    "cannot be decrypted)")
    app = make_app(config, policy=policy_from_env(os.environ))
    answer_server_errors_as_json(error_body)  # aiohttp's own refusals (a URL over 8,190 bytes...) in JSON
    log.info("fake_cell listening on http://%s:%d (state %s, api keys %s)", config.host,
             config.port, config.db_path, "required" if config.require_api_key else "optional")
    web.run_app(app, host=config.host, port=config.port, access_log=None, print=None,
                shutdown_timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
