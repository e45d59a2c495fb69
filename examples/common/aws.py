"""boto3 for the example services: explicit timeouts, calls off the event loop, items as dicts.

boto3 blocks, so every call goes through :func:`call`, which runs it on a small thread pool
and maps "AWS (moto) is unreachable or timed out" to a 502.  A ``ClientError`` propagates
so the caller can handle the codes it expects (e.g. ``ConditionalCheckFailedException`` →
409); one it did not expect reaches the app middleware and becomes a 502 too.

Endpoint, region and the dummy credentials come from the env Hippodrome injects
(``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``...).
"""

from __future__ import annotations

import asyncio
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .errors import bad_gateway

_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="aws")
_CONFIG = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"},
                 max_pool_connections=16)
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def client(service: str) -> Any:
    """A boto3 client for moto (or real AWS if AWS_ENDPOINT_URL is unset). Make clients once, at start."""
    return boto3.session.Session().client(service, endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
                                          region_name=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
                                          config=_CONFIG)


async def call(fn: Any, /, **kwargs: Any) -> Any:
    """Run one boto3 call on the AWS thread pool; unreachable/timeouts become ApiError 502."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_POOL, functools.partial(fn, **kwargs))
    except BotoCoreError as e:
        raise bad_gateway("aws_unavailable", f"AWS (moto) did not answer: {e}") from None


def error_code(e: ClientError) -> str:
    response = e.response if isinstance(e.response, dict) else {}
    return str(response.get("Error", {}).get("Code", ""))


def to_item(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in obj.items() if v is not None}


def from_item(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if not item:
        return None
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


def key(**attributes: str) -> dict[str, Any]:
    return {k: {"S": v} for k, v in attributes.items()}


async def table_ready(dynamodb: Any, table: str) -> None:
    """Readiness check: the table exists (moto's bootstrap made it)."""
    try:
        await call(dynamodb.describe_table, TableName=table)
    except ClientError as e:
        raise RuntimeError(f"table {table}: {error_code(e) or e}") from None
