"""The reference control-plane services that Hippodrome's default stack (hippodrome.yaml) runs.

Each service is a package run as ``python -m examples.<name>``: configuration comes from the
environment only, every one answers ``GET /healthz`` (200 only when ready), errors are always
JSON, and a dependency that is down is a 502, never a hang or an HTML page.  What they share
(the app factory, the upstream client, AWS calls, API-key auth, the index-name mapping) lives
once in :mod:`examples.common`.

    client ─► controller (9002) ── index API, accounts ─────────────────────► cell
    client ─► search_proxy (9005) ─ search ─► global_worker (9013) ─────────► cell
                                 └─ documents, settings, stats ─────────────► cell
    browser ─► admin_server (9004) ─ onboard ─► controller; import ─► SQS ─► ecom_indexer ─► search_proxy
    exporters (9006) ─► search_proxy ─► S3;  admin_worker (9007) ─► Step Functions ─► SQS ─► controller + search_proxy
"""
