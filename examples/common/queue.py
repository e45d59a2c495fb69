"""A small SQS consumer loop: long-poll briefly, hand each message to a handler, delete on success.

The handler gets the parsed JSON body and the message's receive count, and returns nothing
on success.  What happens otherwise:

- it raises ``ApiError`` with status >= 500 (a dependency is down): the message stays and
  comes back after a short, growing visibility timeout (retried);
- it raises anything else, or the body is not a JSON object (or is nested deeper than 64 levels, or
  holds a lone surrogate: :mod:`.bodies`; a deep one used to raise ``RecursionError``, which ended the
  loop for good), or the message has been received ``max_receives`` times: the message is dropped
  (deleted) and counted as failed, with the reason in ``stats["lastError"]``.

``WaitTimeSeconds`` is short so that stopping the service is fast.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from botocore.exceptions import ClientError

from . import aws, bodies
from .errors import ApiError, bad_request

log = logging.getLogger("examples.queue")

Handler = Callable[[dict[str, Any], int], Awaitable[None]]


class Consumer:
    def __init__(self, sqs: Any, queue_url: str, handler: Handler, *, wait_seconds: int = 1,
                 batch: int = 5, max_receives: int = 5) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.handler = handler
        self.wait_seconds = wait_seconds
        self.batch = batch
        self.max_receives = max_receives
        self.stats: dict[str, Any] = {"processed": 0, "failed": 0, "retried": 0, "lastError": None,
                                      "lastErrorAt": None, "lastSuccessAt": None, "polling": False}

    def _error(self, message: str) -> None:
        self.stats["lastError"] = message
        self.stats["lastErrorAt"] = time.time()
        log.warning("%s", message)

    async def run(self) -> None:
        while True:
            try:
                response = await aws.call(self.sqs.receive_message, QueueUrl=self.queue_url,
                                          MaxNumberOfMessages=self.batch, WaitTimeSeconds=self.wait_seconds,
                                          AttributeNames=["ApproximateReceiveCount"])
                self.stats["polling"] = True
            except (ApiError, ClientError) as e:
                self.stats["polling"] = False
                self._error(f"receiving from {self.queue_url} failed: {getattr(e, 'message', e)}")
                await asyncio.sleep(1.0)
                continue
            for message in response.get("Messages", []) or []:
                await self._one(message)

    async def _one(self, message: dict[str, Any]) -> None:
        receipt = message.get("ReceiptHandle", "")
        count = int((message.get("Attributes") or {}).get("ApproximateReceiveCount", "1") or 1)
        try:
            body = bodies.parse((message.get("Body") or "").encode("utf-8", "surrogatepass"))
            if not isinstance(body, dict):
                raise bad_request("message body is not a JSON object")
        except ApiError as e:
            return await self._drop(receipt, f"malformed message {message.get('MessageId')}: {e.message}")
        try:
            await self.handler(body, count)
        except ApiError as e:
            if e.status >= 500 and count < self.max_receives:
                self.stats["retried"] += 1
                self._error(f"will retry message {message.get('MessageId')} (attempt {count}): {e.message}")
                await self._retry_later(receipt, count)
                return
            return await self._drop(receipt, f"message {message.get('MessageId')} failed: {e.message}")
        except Exception as e:  # noqa: BLE001 - a bug in one message must not stop the loop
            log.exception("handler crashed")
            return await self._drop(receipt, f"message {message.get('MessageId')} crashed the handler: {e!r}")
        self.stats["processed"] += 1
        self.stats["lastSuccessAt"] = time.time()
        await self._delete(receipt)

    async def _drop(self, receipt: str, reason: str) -> None:
        self.stats["failed"] += 1
        self._error(reason)
        await self._delete(receipt)

    async def _delete(self, receipt: str) -> None:
        try:
            await aws.call(self.sqs.delete_message, QueueUrl=self.queue_url, ReceiptHandle=receipt)
        except (ApiError, ClientError) as e:
            self._error(f"deleting a message failed (it will be redelivered): {getattr(e, 'message', e)}")

    async def _retry_later(self, receipt: str, count: int) -> None:
        try:
            await aws.call(self.sqs.change_message_visibility, QueueUrl=self.queue_url, ReceiptHandle=receipt,
                           VisibilityTimeout=min(2 ** count, 30))
        except (ApiError, ClientError):
            pass  # the queue's own visibility timeout applies

    async def ready(self) -> None:
        await aws.call(self.sqs.get_queue_attributes, QueueUrl=self.queue_url, AttributeNames=["QueueArn"])


def background(coroutine_factory: Callable[[], Awaitable[None]]):
    """An aiohttp cleanup_ctx that runs a loop for the app's lifetime and cancels it at shutdown."""

    async def ctx(app: Any):
        task = asyncio.create_task(coroutine_factory())
        yield
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001
            pass

    return ctx
