"""ecom_indexer (port 9018, layer 2): consumes the ingest queue and writes documents through search_proxy.

admin_server queues ``{importId, accountId, indexName, documents, tensorFields}`` batches;
this service long-polls the queue (1 s waits, so it stops fast), writes each batch with
``POST {SEARCH_PROXY_URL}/indexes/{indexName}/documents`` using the system key plus
``x-hippodrome-account`` (never straight to the cell), and deletes the message once
search_proxy accepted it.  A 502 from search_proxy leaves the message for a retry; a 4xx
(e.g. the index was deleted) drops it, counted as failed (see :mod:`examples.common.queue`).

    GET /healthz   200 when the ingest queue answers
    GET /stats     {"processed", "failed", "retried", "documents", "documentErrors", "lastError", ...}

Env: PORT, HOST, INGEST_QUEUE_URL, SEARCH_PROXY_URL, CELL_API_KEY.
"""
