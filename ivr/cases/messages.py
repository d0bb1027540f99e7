"""The message box behind the calls: every message a caller leaves becomes a
case (`ivr/cases/registry.py`) once its recording ends, wherever it was left.

- In a call: the flow asks for a recording (`RecordMessage`); the row is
  written before the beep, and the case when Asterisk says the recording
  ended, before the caller is asked to review it. A caller who hangs up
  mid-message leaves what was said: Asterisk ends the recording and saves it.
- In the native fallback, while no controller was connected: the dialplan
  records `fallback-<epoch>-<id>-<caller>-<dialed>` in Asterisk's recording
  folder and notes the name in Asterisk's own list of them. After every
  (re)connect those on the list become messages and cases, routed from the
  caller's number as a call would be, and leave the list. The reconnect
  asks for that list only: Asterisk's whole recording folder (every message
  ever kept) is never listed.
- Recordings that ended while no controller listened (it was killed, or
  Asterisk restarted) are settled after the reconnect from what Asterisk kept.

Audio is always fetched from Asterisk, so it may run on another host. The
box reaches Asterisk only through `Recordings`, what it asks of it; the ARI
client (`ivr/ari/client.py`) answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.cases import message_store as stored
from ivr.cases.registry import Cases
from ivr.directory.routing import Directory
from ivr.errors import AriError

log = logging.getLogger(__name__)

# extensions.conf [fallback]: fallback-${EPOCH}-${UNIQUEID digits}-${caller}-${dialed}
_FALLBACK_NAME = re.compile(r"fallback-(\d+)-(\d+)-(\d*)-(\d*)")


def wav_seconds(data: bytes) -> float:
    """How long a WAV file plays; 0 for anything that is not one.

    Asterisk writes a recording's sizes into its header when it closes the
    file: one cut off with its Asterisk (killed mid-message) still says 0,
    and then the length is what the file holds after the header."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return 0.0
    rate = frame_bytes = 0
    offset = 12
    while offset + 8 <= len(data):
        kind = data[offset : offset + 4]
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        body = offset + 8
        if kind == b"fmt " and size >= 16:
            channels = int.from_bytes(data[body + 2 : body + 4], "little")
            rate = int.from_bytes(data[body + 4 : body + 8], "little")
            bits = int.from_bytes(data[body + 14 : body + 16], "little")
            frame_bytes = channels * (bits // 8)
        elif kind == b"data":
            held = len(data) - body
            if size == 0 or size > held:
                size = held  # a header never finished
            if rate <= 0 or frame_bytes <= 0:
                return 0.0
            return round(size // frame_bytes / rate, 2)
        offset = body + size + (size & 1)
    return 0.0


class Recordings(Protocol):
    """What the message box asks of Asterisk: the recordings it keeps."""

    async def recording_live(self, name: str) -> bool:
        """Whether Asterisk is still making recording `name`."""
        ...

    async def fallback_messages(self) -> list[str]:
        """The recordings of messages left in the native fallback and not yet forgotten."""
        ...

    async def forget_fallback(self, name: str) -> None:
        """Take fallback message `name` off that list: it is a case now."""
        ...

    async def stored_recording_file(self, name: str) -> bytes:
        """A kept recording's audio (a WAV file); `AriError` 404 if there is none."""
        ...


@dataclass(frozen=True)
class FallbackMessage:
    name: str
    at: datetime
    unique_id: str
    caller: str
    dialed: str


def parse_fallback(name: str) -> FallbackMessage | None:
    match = _FALLBACK_NAME.fullmatch(name)
    if match is None:
        return None
    epoch, unique_id, caller, dialed = match.groups()
    at = datetime.fromtimestamp(int(epoch), UTC)
    return FallbackMessage(name, at, unique_id, caller, dialed)


class MessageBox:
    def __init__(
        self,
        *,
        ari: Recordings,
        sessionmaker: async_sessionmaker[AsyncSession],
        directory: Directory,
        cases: Cases,
        now: Callable[[], datetime],
        node: str | None = None,
    ) -> None:
        """`node`: the node whose calls' messages this box settles (each
        Asterisk keeps its own recordings); None: every message."""
        self._node = node
        self._ari = ari
        self._sessionmaker = sessionmaker
        self._directory = directory
        self._cases = cases
        self._now = now

    async def started(
        self, name: str, *, call_id: str, department: str, caller: str, source: str, category: str
    ) -> None:
        async with self._sessionmaker() as session, session.begin():
            await stored.start_message(
                session,
                name,
                call_id=call_id,
                department=department,
                caller=caller,
                at=self._now(),
                source=source,
                category=category,
            )

    async def finished(self, name: str, seconds: float, status: str) -> str | None:
        """Record how the recording ended and register (or update) its case.

        Returns the case's number, or None when nothing was kept."""
        async with self._sessionmaker() as session, session.begin():
            message = await stored.finish_message(session, name, seconds, status)
        if message is None:
            log.warning("recording %s ended but no message of ours has that name", name)
            return None
        if status != "saved":
            log.warning("message %s of call %s: recording %s", name, message.call_id, status)
            return None
        case = await self._cases.register(
            source=message.source or name,
            kind="message",
            department=message.department_code,
            category=message.category,
            caller=message.caller,
            call_id=message.call_id,
            recording=name,
            seconds=seconds,
        )
        return case.number

    async def settle(self) -> dict[str, float]:
        """Messages still `recording` on record that Asterisk no longer makes:
        register what it kept. Returns each settled recording's length, for
        a call still waiting on one."""
        async with self._sessionmaker() as session:
            pending = await stored.unfinished(session, self._node)
        settled: dict[str, float] = {}
        for message in pending:
            if await self._ari.recording_live(message.name):
                continue  # its end is still to come, as an event
            seconds = await self._stored_seconds(message.name)
            status = "saved" if seconds is not None else "failed"
            await self.finished(message.name, seconds or 0.0, status)
            settled[message.name] = seconds or 0.0
        return settled

    async def import_fallback(self) -> list[str]:
        """Messages left in the native fallback while no controller was here."""
        names = await self._ari.fallback_messages()
        async with self._sessionmaker() as session:
            known = await stored.known(session, names)
        numbers: list[str] = []
        for name in sorted(set(names)):
            left = parse_fallback(name)
            if left is None:
                log.warning("fallback recording %s: unexpected name, not imported", name)
                continue
            if name not in known:
                number = await self._import(left)
                if number is not None:
                    numbers.append(number)
            # Imported now or on an earlier connect whose forgetting failed.
            await self._ari.forget_fallback(name)
        if numbers:
            log.info("imported %d message(s) left in the fallback: %s", len(numbers), numbers)
        return numbers

    async def _import(self, left: FallbackMessage) -> str | None:
        seconds = await self._stored_seconds(left.name)
        if seconds is None:
            # Noted before the tone, but the caller hung up before it.
            log.warning("fallback message %s: Asterisk kept no recording", left.name)
            return None
        route = self._directory.resolve(left.caller, left.dialed)
        call_id = f"fallback:{left.unique_id}"
        async with self._sessionmaker() as session, session.begin():
            await stored.start_message(
                session,
                left.name,
                call_id=call_id,
                department=route.department.code,
                caller=left.caller,
                at=left.at,
                source=left.name,
                status="saved",
                seconds=seconds,
            )
        case = await self._cases.register(
            source=left.name,
            kind="message",
            department=route.department.code,
            category="",
            caller=left.caller,
            call_id=call_id,
            recording=left.name,
            seconds=seconds,
            at=left.at,
        )
        return case.number

    async def _stored_seconds(self, name: str) -> float | None:
        try:
            return wav_seconds(await self._ari.stored_recording_file(name))
        except AriError as exc:
            if exc.http_status == 404:
                return None
            raise
