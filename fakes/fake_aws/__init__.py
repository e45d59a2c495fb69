"""fake_aws: the moto server plus a bootstrap of the stack's declared AWS resources.

Runs as the service named ``moto`` in the stack (port 9003).  ``/healthz``
answers 200 only once the state is restored and every declared resource exists,
so the layer gate keeps layer 1 from starting against a half-made AWS.

moto keeps its state in memory; here it survives the process (a restart, a
crash, ``kill -9``) with no acknowledged write lost, through moto's own
objects: a snapshot of its backends plus a journal of the writes answered since
(``$HIPPODROME_STATE_DIR/moto/``).  Why not moto's recorder
(``MOTO_ENABLE_RECORDING``)?  It records every request (reads and polls too)
before it runs, whether it succeeds or not, in no guaranteed order under
concurrent requests; its replay re-sends them one by one over HTTP, draws new
random ids (so an SQS delete or an SNS unsubscribe recorded
later no longer finds its target), and would run Step Functions executions and
SQS receives again.  The journal keeps moto's recorder format for each request
and fixes those points (see server.py, motostate.py, journal.py).

Layout (each module says why it exists)::

    __main__   env, start-up order (bind, restore, serve, bootstrap), clean stop
    server     /healthz, the journalling dispatcher (one write lock, seeded randomness), quiet access log
    classify   which requests are writes to keep (pure)
    journal    files: snapshot + journal segments, lock, compaction in a forked child
    motostate  moto's backends pickled and restored; per-thread randomness; SQS receipt fix-ups
    bootstrap  the declared resources, created idempotently
    seeding    which seeded DynamoDB items to put, keep or delete (pure) and their manifest
"""
