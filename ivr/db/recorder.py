"""Call records written off the call path, in batches, by one writer task.

The call path only appends to an in-memory queue: the enqueue methods are
plain functions that never await and never raise. One writer task collects
what arrived during `flush_interval` (or until `batch_size` ops are waiting)
and writes it in a single transaction on a connection it keeps, so hundreds of
concurrent calls cost a few commits a second. When the database is
unavailable the batch is kept and retried with exponential backoff; ops are
only ever lost at `stop()` after its timeout, and then with an error in the
log saying how many.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from ivr.db import models
from ivr.db.batch import BatchWriter
from ivr.db.ops import (
    CallAnswered,
    CallEnded,
    CallStarted,
    DepartmentReached,
    FlowStateSaved,
    Op,
    PromptsPlayed,
    StepKind,
    StepTaken,
    clip,
    clip_optional,
    json_text,
    utc,
)
from ivr.errors import RemoteError
from ivr.metrics import Metrics

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 200
DEFAULT_FLUSH_INTERVAL = 0.05
# Backoff between attempts while the database is unavailable.
RETRY_MIN = 0.1
RETRY_MAX = 5.0
# How long stop() keeps trying to write what is pending before giving up.
STOP_TIMEOUT = 10.0


@dataclass(slots=True)
class RecorderStats:
    """Counters for health reports and tests."""

    submitted: int = 0
    written: int = 0
    # Ops for a call that was never started: logged as errors, then dropped.
    dropped: int = 0
    commits: int = 0
    failed_attempts: int = 0


class Connects(Protocol):
    """What the writer takes its connection from: an `AsyncEngine`."""

    def connect(self) -> AsyncConnection: ...


class Recorder:
    """The one writer of call records in a controller.

    The writer takes one connection from `engine` and keeps it between
    batches: a batch on a pooled session cost twice the CPU of one on a kept
    connection (the pool's checkout, reset and checkin, and the session),
    measured with SQLite and PostgreSQL alike. A batch that fails closes the
    connection, and the next attempt connects again, so a database that went
    away and came back is found again. The enqueue methods may be called
    before `start()`; their ops are written once it runs.
    """

    def __init__(
        self,
        engine: Connects,
        batch_size: int = DEFAULT_BATCH_SIZE,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        *,
        retry_min: float = RETRY_MIN,
        retry_max: float = RETRY_MAX,
        stop_timeout: float | None = STOP_TIMEOUT,
        metrics: Metrics | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._retry_min = retry_min
        self._retry_max = retry_max
        self._stop_timeout = stop_timeout
        self._writer = BatchWriter()
        self._pending: deque[Op] = deque()
        self._inflight = 0
        # Ops are finished (written or dropped) strictly in submission order,
        # so one counter tells every flush() whether its ops are done.
        self._finished = 0
        self._flushers: list[tuple[int, asyncio.Future[None]]] = []
        self._nudge = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.stats = RecorderStats()
        metrics = metrics if metrics is not None else Metrics()
        # Read at scrape time: nothing on the call path.
        metrics.recorder_queue.set_function(lambda: self.unwritten)
        self._flush_seconds = metrics.recorder_flush_seconds

    @property
    def unwritten(self) -> int:
        """Ops submitted and not yet written: queued plus the batch being written."""
        return len(self._pending) + self._inflight

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="ivr-db-recorder")

    async def stop(self) -> None:
        """Write everything pending (waiting at most `stop_timeout`), then stop the writer."""
        task = self._task
        if task is None:
            if self._pending:
                log.error("recorder never started: %d records not written", len(self._pending))
            return
        self._stopping = True
        self._nudge.set()
        try:
            async with asyncio.timeout(self._stop_timeout):
                await self.flush()
        except (TimeoutError, RemoteError):
            log.error("recorder stopped with %d records not written", self.unwritten)
        finally:
            task.cancel()
            await asyncio.wait([task])
            self._task = None
            await self._disconnect()

    async def flush(self) -> None:
        """Wait until every op submitted so far is written.

        While the database is unavailable this keeps waiting (the writer keeps
        retrying); wrap it in `asyncio.timeout` where that matters.
        """
        if self._task is None:
            raise RuntimeError("Recorder.flush() needs a started recorder")
        target = self.stats.submitted
        if self._finished >= target:
            return
        done = asyncio.get_running_loop().create_future()
        self._flushers.append((target, done))
        self._nudge.set()
        await done

    # -- the call path: never awaits, never raises ---------------------------

    def call_started(
        self,
        call_id: str,
        *,
        sip_call_id: str | None,
        node: str,
        caller: str,
        dialed: str,
        department_code: str,
        department_name: str,
        route_rule: str,
        route_read: str,
        started_at: datetime,
    ) -> None:
        self._submit(
            lambda: CallStarted(
                call_id=clip(call_id, models.ID_MAX),
                sip_call_id=clip_optional(sip_call_id, models.SIP_CALL_ID_MAX),
                node=clip(node, models.NODE_MAX),
                caller=clip(caller, models.CALLER_MAX),
                dialed=clip(dialed, models.DIALED_MAX),
                department_code=clip(department_code, models.DEPARTMENT_CODE_MAX),
                department_name=clip(department_name, models.DEPARTMENT_NAME_MAX),
                route_rule=clip(route_rule, models.ROUTE_RULE_MAX),
                route_read=clip(route_read, models.ROUTE_READ_MAX),
                started_at=utc(started_at),
            )
        )

    def call_answered(self, call_id: str, at: datetime) -> None:
        self._submit(lambda: CallAnswered(clip(call_id, models.ID_MAX), utc(at)))

    def step(
        self, call_id: str, at: datetime, kind: StepKind, value: str, detail: str | None = None
    ) -> None:
        self._submit(
            lambda: StepTaken(
                call_id=clip(call_id, models.ID_MAX),
                at=utc(at),
                kind=clip(kind, models.STEP_KIND_MAX),
                value=clip(value, models.STEP_VALUE_MAX),
                detail=clip_optional(detail),
            )
        )

    def prompts_played(self, call_id: str, at: datetime, prompts: tuple[str, ...]) -> None:
        """A playback's prompts: one row, read back as a "prompt" step each, in order."""
        self._submit(
            lambda: PromptsPlayed(
                clip(call_id, models.ID_MAX),
                utc(at),
                tuple(clip(prompt, models.STEP_VALUE_MAX) for prompt in prompts),
            )
        )

    def flow_state(self, call_id: str, state: dict[str, Any]) -> None:
        self._submit(lambda: FlowStateSaved(clip(call_id, models.ID_MAX), json_text(state)))

    def department_reached(self, call_id: str, code: str, name: str) -> None:
        """The department the call is at now; the `department` steps keep the way there."""
        self._submit(
            lambda: DepartmentReached(
                clip(call_id, models.ID_MAX),
                clip(code, models.DEPARTMENT_CODE_MAX),
                clip(name, models.DEPARTMENT_NAME_MAX),
            )
        )

    def call_ended(self, call_id: str, at: datetime, reason: str) -> None:
        self._submit(
            lambda: CallEnded(
                clip(call_id, models.ID_MAX), utc(at), clip(reason, models.END_REASON_MAX)
            )
        )

    def _submit(self, make: Callable[[], Op]) -> None:
        try:
            op = make()
        except Exception:
            # Only a programming error gets here (say, a flow state that is
            # not JSON); the call must go on, and the log says what was lost.
            log.exception("record could not be made and is dropped")
            return
        self._pending.append(op)
        self.stats.submitted += 1
        if len(self._pending) == 1 or len(self._pending) >= self._batch_size:
            self._nudge.set()

    # -- the writer task -----------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                await self._collect()
                count = min(self._batch_size, len(self._pending))
                batch = [self._pending.popleft() for _ in range(count)]
                self._inflight = count
                await self._write_until_done(batch)
                self._inflight = 0
                self._finished += count
                self._release_flushers()
        finally:
            for _, done in self._flushers:
                if not done.done():
                    done.set_exception(RemoteError("recorder stopped before writing"))
            self._flushers.clear()

    async def _collect(self) -> None:
        """Wait for ops, then a little longer so that a burst makes one batch."""
        while not self._pending:
            self._nudge.clear()
            await self._nudge.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._flush_interval
        while not self._in_a_hurry():
            self._nudge.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                async with asyncio.timeout(remaining):
                    await self._nudge.wait()
            except TimeoutError:
                return

    def _in_a_hurry(self) -> bool:
        return len(self._pending) >= self._batch_size or bool(self._flushers) or self._stopping

    async def _write_until_done(self, batch: list[Op]) -> None:
        delay = self._retry_min
        failures = 0
        while True:
            try:
                await self._write(batch)
            except Exception as exc:
                failures += 1
                self.stats.failed_attempts += 1
                log.warning(
                    "could not write %d records (attempt %d): %s; retrying in %.2fs",
                    len(batch),
                    failures,
                    exc,
                    delay,
                    exc_info=failures == 1,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            if failures:
                log.info("records written again after %d failed attempts", failures)
            return

    async def _write(self, batch: list[Op]) -> None:
        now = datetime.now(UTC)
        if self._connection is None:
            self._connection = await self._engine.connect()
        connection = self._connection
        began = time.perf_counter()
        try:
            async with connection.begin():
                dropped = await connection.run_sync(self._writer.write, batch, now)
        except BaseException:
            # Whatever broke the batch may have broken the connection too.
            await self._disconnect()
            raise
        self._flush_seconds.observe(time.perf_counter() - began)
        self._writer.committed(batch)
        self.stats.commits += 1
        self.stats.written += len(batch) - len(dropped)
        self.stats.dropped += len(dropped)
        if dropped:
            calls = sorted({op.call_id for op in dropped})
            log.error("dropped %d records for calls never started: %s", len(dropped), calls)

    async def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await connection.close()
        except Exception as exc:  # a connection that broke may fail to close too
            log.debug("record connection closed with %r", exc)

    def _release_flushers(self) -> None:
        waiting = []
        for target, done in self._flushers:
            if target <= self._finished:
                if not done.done():
                    done.set_result(None)
            else:
                waiting.append((target, done))
        self._flushers = waiting
