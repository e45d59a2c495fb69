"""exporters (port 9006, layer 3): exports an index's documents to S3 as JSON lines.

The documents are read through search_proxy (never the cell), as the caller: with the
customer's API key (``x-api-key`` header or ``apiKey`` in the body), or — for internal
callers holding the system key (``x-api-key: $CELL_API_KEY``) — with ``account`` in the body,
which this service turns into the system key plus ``x-hippodrome-account``.  The export is written to ``s3://$EXPORTS_BUCKET/exports/<id>.jsonl``
(one document per line) with the account, index and count as object metadata, so
``GET /exports/{id}`` works across restarts.

    GET  /healthz           200 when the bucket answers
    POST /exports           {index, apiKey?} (or x-api-key), or {index, account} with the system key
                            → 201 {exportId, bucket, key, index, documents}; 401 without a key
    GET  /exports/{id}      {exportId, bucket, key, index, accountId, documents, bytes, created}; 404 unknown

Env: PORT, HOST, EXPORTS_BUCKET, SEARCH_PROXY_URL, CELL_API_KEY.
"""
