"""admin_worker (port 9007, layer 3, profile full): forks an index with a Step Functions workflow.

``POST /forks`` starts the ``fork-index`` state machine (``FORK_STATE_MACHINE_ARN``; moto runs
it for real): it records the job in the ``jobs`` table (status QUEUED) and sends its input to
the ``fork-tasks`` queue (``FORK_QUEUE_URL``).  This service consumes that queue: it creates
the target index through the controller (with the source's settings), copies every document
through search_proxy (tensor fields preserved), and marks the job DONE (or FAILED, with the
error) in the jobs table.  Nothing goes straight to the cell.

Auth: ``x-api-key`` = the customer's key (or the system key plus ``x-hippodrome-account``);
a job is visible only to its account.

    GET  /healthz            200 when the jobs table and the fork queue answer
    POST /forks              {sourceIndex, targetIndex} → 202 {jobId, executionArn, status: "QUEUED"};
                             404 unknown source, 409 target exists, 422 bad names
    GET  /forks/{jobId}      {jobId, status: QUEUED|RUNNING|RETRYING|DONE|FAILED, sourceIndex, targetIndex,
                             documents, error}
    GET  /stats              the consumer's counters

Env: PORT, HOST, FORK_STATE_MACHINE_ARN, FORK_QUEUE_URL, JOBS_TABLE, CONTROLLER_URL,
SEARCH_PROXY_URL, CELL_API_KEY, API_KEYS_TABLE.
"""
