"""boto3 clients whose requests the moto app of this process serves directly: no socket, no HTTP server.

Why: the bootstrap makes its twenty-odd AWS calls to the moto server of its own process, on moto's
critical path at start. Over loopback each call also paid urllib3 on one side and werkzeug's HTTP
server on the other (a thread per connection, the request line and headers parsed, the answer
written), all under the one GIL that moto's own work needs: about a tenth of the bootstrap
(``bench/bench_bootstrap.py`` measures the two side by side). A request handed to the app here takes
the path one from outside takes once past the HTTP server: the edge (``Guard``), ``/healthz``, moto's
errors, the JSON limits, the journal, moto.

How: botocore emits ``before-send`` with the prepared request just before sending it; a handler that
returns a response is used instead of sending (moto's own ``mock_aws`` works the same way). Retries,
signing, serialising and parsing stay botocore's.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSResponse

from .motostate import request_environ
from .server import run_to_end

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Body(io.BytesIO):
    """An answer's body as botocore reads a urllib3 response's (``stream``)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        data = self.read()
        if data:
            yield data


def call(app: WsgiApp, method: str, url: str, headers: Mapping[str, str | bytes], body: Any = None
         ) -> tuple[int, dict[str, str], bytes]:
    """One request served by ``app`` in this thread: (status, headers, body). Its environ is the one a journalled
    request is replayed with (``motostate.request_environ``, as werkzeug's server builds it); the Host header is
    ``url``'s unless given, as an HTTP client sends it."""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode("utf-8")
    sent = {name: value.decode("latin-1") if isinstance(value, bytes) else value for name, value in headers.items()}
    if not any(name.lower() == "host" for name in sent):
        sent["Host"] = urlsplit(url).netloc
    status, answer_headers, chunks = run_to_end(app, request_environ(method, url, sent, body or b""))
    return int(status.split(" ", 1)[0]), dict(answer_headers), b"".join(chunks)


def serve_in_process(client: Any, app: WsgiApp) -> None:
    """From now on ``client`` (a boto3 client) has its requests served by ``app`` instead of sent."""

    def send(request: Any, **_: Any) -> AWSResponse:
        status, headers, data = call(app, request.method, request.url, request.headers, request.body)
        return AWSResponse(request.url, status, headers, _Body(data))

    client.meta.events.register("before-send", send)
