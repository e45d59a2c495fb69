"""admin_server (port 9004, layer 2): the ecom backend — Cognito-authenticated onboarding and import.

Every ``/api`` call needs ``Authorization: Bearer <Cognito id or access token>``, verified
with the pool's JWKS (``COGNITO_JWKS_URL``; issuer ``COGNITO_ISSUER``; audience /
``client_id`` ``COGNITO_CLIENT_ID``).  The user is the token's email (id token) or username
(access token); their account is the one whose ``owner`` is that user.

Onboarding never touches the cell: it asks the controller (system key + account header).
Import never writes documents itself: it queues batches on SQS for ecom_indexer, which
writes them through search_proxy, and publishes an event on SNS.

    GET  /healthz                        200 when the JWKS answers and the ingest queue exists
    GET  /api/me                         {"user", "groups", "account": {...} | null}
    POST /api/onboard                    {indexName, accountName?, settings?} → 201 {accountId, indexName,
                                         indexStatus, apiKey (only when the account was created now)}; 409 index exists
    GET  /api/indexes                    {"accountId", "results": [{indexName, indexStatus, marqoEndpoint}]}
    POST /api/indexes/{name}/import      {documents: [...], tensorFields?: [...]} → 202 {importId, documents, batches}

Messages on the ingest queue: ``{importId, accountId, indexName, documents, tensorFields}``.
Events on the topic: ``{event: "documents.import.queued", importId, accountId, indexName, documents, batches}``.

Env: PORT, HOST, COGNITO_JWKS_URL, COGNITO_ISSUER, COGNITO_CLIENT_ID, CONTROLLER_URL, CELL_API_KEY,
INGEST_QUEUE_URL, EVENTS_TOPIC_ARN.
"""
