"""search_proxy (port 9005, layer 2): the data-plane gateway customers (and the marqo client) call.

The controller hands out this service's URL as every index's ``marqoEndpoint``, so the
official ``marqo`` client sends data-plane calls here.  Each call is authenticated
(``x-api-key``: a customer key, or the system key plus ``x-hippodrome-account``), the index
name is mapped to the account's cell index (:mod:`examples.common.naming`), and then:

- searches go through global_worker (``GLOBAL_WORKER_URL``: rules, cache);
- everything else goes straight to the cell (``CELL_URL``) with ``$CELL_API_KEY``; after a
  document write the index's cached searches are invalidated in global_worker.

Answers are the cell's (status and JSON), with the cell index name mapped back to the
customer's.  A cell or global_worker that is down, slow or answers garbage is a JSON 502.

    GET    /                                      {"message", "version"} (the cell's version; public)
    GET    /healthz                               200 when the api_keys table answers
    GET    /indexes                               {"results": [{"indexName"}]} (from the controller)
    POST   /indexes/{name}/search                 → global_worker → cell
    POST   /indexes/{name}/documents              add/replace documents (then invalidate the cache)
    PATCH  /indexes/{name}/documents              partial updates (then invalidate)
    GET    /indexes/{name}/documents              body: [ids]
    GET    /indexes/{name}/documents/{id}
    POST   /indexes/{name}/documents/delete-batch body: [ids] (then invalidate)
    GET    /indexes/{name}/settings|stats|health
    POST   /indexes/{name}/recommend|embed
    PUT    /indexes/{name}/rules                  {"pins": [{"query", "ids"}]} → global_worker
    GET    /indexes/{name}/rules, DELETE /indexes/{name}/rules
    POST|DELETE /indexes/{name}                   405: indexes are created and deleted through the controller

Env: PORT, HOST, CELL_URL, CELL_API_KEY, GLOBAL_WORKER_URL, CONTROLLER_URL, API_KEYS_TABLE.
"""
