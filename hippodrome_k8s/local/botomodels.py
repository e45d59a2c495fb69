"""botocore's service models, parsed once by the fork server for every service it forks.

Why: a boto3 client's first creation in a process costs 40-80 ms of CPU, nearly all of it botocore
listing its data directory and decompressing and parsing JSON (endpoints, partitions, the service's
model and endpoint rules): 0.5 s of the 0.8 s the seven example services of the reference stack spend
getting ready, on a 2-core machine where moto is starting at the same time. botocore keeps what it
parsed per ``Loader``, and makes a new ``Loader`` for every session (boto3 code makes a session per
client more often than not). ``share_loaders()`` makes sessions with the same data path share one
``Loader``, as every client of one session already does; the fork server then parses the models of
the AWS services Hippodrome emulates once (``warm()``), and the children read them from memory.

What changes for a forked service: its sessions share parsed model data (botocore treats it as
read-only once loaded), and a model file added to ``~/.aws/models`` while it runs is seen by no later
session (it would be by a new session of a plainly spawned service). A session configured with another
``data_path`` gets a loader of its own.
"""

from __future__ import annotations

import threading
from typing import Any

# The AWS services Hippodrome emulates (moto's bootstrap and fake_cognito); others load on first use.
SERVICES = ("dynamodb", "s3", "sqs", "sns", "secretsmanager", "stepfunctions", "cognito-idp")


class _Paths(list):
    """A loader's search paths, where appending a path that is there already does nothing: boto3 appends
    its own data path to the loader of every session it makes, which would grow a shared loader's list
    by one path per session."""

    def append(self, path: Any) -> None:
        if path not in self:
            super().append(path)


def share_loaders() -> None:
    """From now on, sessions of this process with the same ``data_path`` share one botocore ``Loader``."""
    import botocore.loaders
    import botocore.session

    if getattr(botocore.session.create_loader, "shared", False):
        return
    original = botocore.loaders.create_loader
    loaders: dict[Any, Any] = {}
    lock = threading.Lock()

    def create_loader(search_path_string: str | None = None) -> Any:
        with lock:
            loader = loaders.get(search_path_string)
            if loader is None:
                loader = loaders[search_path_string] = original(search_path_string)
                loader._search_paths = _Paths(loader._search_paths)  # no public setter
            return loader

    create_loader.shared = True  # type: ignore[attr-defined]
    botocore.session.create_loader = create_loader


def warm(services: tuple[str, ...] = SERVICES) -> list[str]:
    """Parse what a client of each service needs, by making one (no request is sent). Returns those made."""
    import boto3

    session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="warm", aws_secret_access_key="warm")
    made = []
    for service in services:
        try:
            session.client(service, endpoint_url="http://127.0.0.1:9")
            made.append(service)
        except Exception:  # noqa: BLE001 - a service this botocore lacks is simply not warmed
            continue
    return made
