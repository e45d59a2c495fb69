"""global_worker (port 9013, layer 2): merchandising rules and a response cache in front of the cell.

search_proxy sends every search here (already mapped to the cell index name); this service
applies the index's rules, caches the answer and forwards misses to the cell.  It is
internal: every call but /healthz needs ``x-api-key: $CELL_API_KEY``.

Rules (DynamoDB ``rules`` table, one item per cell index): ``pins`` — for a query (matched
case-insensitively, whitespace-trimmed), the listed document ids go first, in order, marked
``"_pinned": true``.  Pinned documents that the search did not return are fetched from the
cell (only without a ``filter``, so filtered results stay filtered), on the first page only.

Cache: capped LRU (``GLOBAL_WORKER_CACHE_SIZE``, default 1024) with a short TTL
(``GLOBAL_WORKER_CACHE_TTL``, default 10 s); an index's entries are dropped when its rules
change or search_proxy reports a document write (``POST /invalidate/...``).  A search started
before an invalidation never stores its (stale) answer.

    GET    /healthz                        200 when the rules table answers
    POST   /indexes/{cellIndex}/search     a Marqo search; header x-hippodrome-cache: hit|miss
    PUT    /rules/{cellIndex}              {"pins": [{"query": str, "ids": [str, ...]}]} → the stored rules
    GET    /rules/{cellIndex}              the rules ({"pins": []} when none)
    DELETE /rules/{cellIndex}              drop the rules
    POST   /invalidate/{cellIndex}         drop the index's cached answers
    GET    /stats                          {"cacheEntries", "hits", "misses", "invalidations"}

Env: PORT, HOST, CELL_URL, CELL_API_KEY, RULES_TABLE.
"""
