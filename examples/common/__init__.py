"""What every example service shares, written once.

- :mod:`.web`       app factory: the Origin/Host guard, JSON error middleware, ``/healthz``, body parsing, ``run()``
- :mod:`.origins`   who may call from a browser (the env the stack renders): 403 for another Origin or Host
- :mod:`.bodies`    JSON bodies within limits: depth 64, no lone surrogate, an optional size (400/413 naming the field)
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
