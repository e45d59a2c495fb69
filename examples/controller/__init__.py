"""controller (port 9002, layer 1): the control-plane API — accounts and the Marqo Cloud index API.

The official ``marqo`` client in cloud mode (``MARQO_CLOUD_URL`` = this service's URL, plus an
``api_key``) talks to it: it creates/deletes indexes here and learns each index's data-plane
URL (``marqoEndpoint`` = ``$MARQO_ENDPOINT``, search_proxy) from the list.  Accounts and index
records live in DynamoDB; indexes are provisioned in the cell under the per-account name
from :mod:`examples.common.naming`, with the system key ``$CELL_API_KEY``.

Auth: ``x-api-key`` = a customer key (its account), or the system key plus
``x-hippodrome-account`` (see :mod:`examples.common.auth`).  Errors: Marqo's JSON envelope.

    GET    /healthz                          200 when the accounts/api_keys/indexes tables answer
    GET    /api/v2/indexes                   {"results": [{indexName, indexStatus, marqoEndpoint, Created, ...}]}
    POST   /api/v2/indexes/{name}            create (body: Marqo index settings, optional, at most 64 KiB: 413
                                             naming "settings" beyond) → 200; 409 if it exists
    GET    /api/v2/indexes/{name}            the index record; 404 index_not_found
    GET    /api/v2/indexes/{name}/status     {"indexStatus": "READY"|"CREATING"|...}; "DELETED" once gone
    DELETE /api/v2/indexes/{name}            delete in the cell and the record; 404 index_not_found
    POST   /api/v2/accounts                  system key only: {name, owner?} → 201 {accountId, name, owner, apiKey}; 409 name taken
    GET    /api/v2/accounts?owner=<email>    system key only: {"results": [account, ...]}
    GET    /api/v2/accounts/{id}             the account and its indexes (own account, or system key)

Env: PORT, HOST, CELL_URL, CELL_API_KEY, MARQO_ENDPOINT, ACCOUNTS_TABLE, API_KEYS_TABLE,
INDEXES_TABLE, HIPPODROME_RANDOM_SEED; optional GLOBAL_WORKER_URL (its rules and cache for a
deleted index are dropped, best effort).
"""
