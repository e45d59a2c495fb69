"""What every example service shares, written once.

- :mod:`.web`       app factory: JSON error middleware, ``/healthz``, body parsing, ``run()``
- :mod:`.errors`    ``ApiError`` and its constructors (400/401/404/409/422/502)
- :mod:`.upstream`  HTTP client for a dependency: timeouts, JSON-only, failures → 502
- :mod:`.aws`       boto3 clients with timeouts, calls off the loop, DynamoDB items as dicts
- :mod:`.auth`      API key → account (DynamoDB ``api_keys``), the system key
- :mod:`.naming`    (account, index) → cell index name: per-account isolation
- :mod:`.cache`     capped LRU with TTL
- :mod:`.queue`     SQS consumer loop with retry/drop rules
- :mod:`.documents` read all documents of an index through search_proxy
- :mod:`.config`    env helpers
"""
