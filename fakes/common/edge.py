"""What the aiohttp edge (``web.py``) and the WSGI edge (``wsgi.py``, moto's) share.

Apart from both so that moto's process, which serves WSGI, never imports aiohttp (0.1 s of its start).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (status, message, field or None) -> (the JSON error body, its content type)
ErrorBody = Callable[[int, str, "str | None"], tuple[dict[str, Any], str]]
ALL_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
