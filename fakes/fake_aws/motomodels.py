"""moto's copies of the AWS service models, found and parsed through one ``Loader`` per process.

Why: moto reads a service's botocore model (with moto's own extras) the first time it serves that
service, and makes a new botocore ``Loader`` for every model it reads (``moto.core.utils``). A new
``Loader`` remembers nothing: each one lists botocore's whole data directory again (400-odd service
directories, a ``listdir`` and a ``stat`` per API version) before it opens the one file it wants. The
bootstrap of the reference stack reads eleven models (service and pagination models of six services):
about 0.1 s of a 1.1 s bootstrap on a 2-core machine, all of it on moto's critical path. One shared
``Loader`` lists the directory once per kind of model and keeps what it parsed, as botocore does for the
clients of one session.

What changes: nothing a request sees (moto keeps its own ``@cache`` of the models; the shared loader
only stops the repeated listing); a model file added to ``~/.aws/models`` while fake_aws runs is not
seen by it (it was not before either: moto's cache kept the first model it read).
"""

from __future__ import annotations

import functools


def share_moto_loader() -> None:
    """From now on moto reads every service model through one ``Loader`` (idempotent)."""
    import moto.core.loaders
    import moto.core.utils

    if getattr(moto.core.utils.create_loader, "shared", False):
        return
    shared = functools.cache(moto.core.loaders.create_loader)
    shared.shared = True  # type: ignore[attr-defined]
    moto.core.utils.create_loader = shared
