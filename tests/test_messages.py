"""The message box behind the calls, on SQLite and PostgreSQL: a recording
that ends becomes a case; one that ended while nobody listened is settled
from what Asterisk kept; a message left in the native fallback is imported
once, routed from the caller's number. Asterisk here is a fake ARI holding
recordings; the end-to-end tests use the real one.
"""

from __future__ import annotations

import io
import wave
from datetime import UTC, datetime

import pytest

from ivr.ari.client import AriClient
from ivr.cases import message_store as stored
from ivr.cases.messages import MessageBox, parse_fallback, wav_seconds
from ivr.cases.registry import Cases
from ivr.db.models import Call
from ivr.errors import AriError

from .test_db_operators import DIRECTORY, Sessions

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # Friday 20:00 in Beijing


def wav(seconds: float, sample: bytes = b"\0\0") -> bytes:
    """A telephone WAV of `seconds` (silence, or `sample` over and over)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(sample * round(8000 * seconds))
    return out.getvalue()


class FakeRecordings:
    """The part of ARI the message box uses: Asterisk's recordings."""

    def __init__(
        self,
        stored: dict[str, bytes],
        live: set[str] | None = None,
        fallback: list[str] | None = None,
    ) -> None:
        self.stored = stored
        self.live = live or set()
        # Asterisk's list of messages left in the fallback (AstDB, the dialplan's).
        self.fallback = list(fallback or [])
        self.fetched: list[str] = []

    async def fallback_messages(self) -> list[str]:
        return list(self.fallback)

    async def forget_fallback(self, name: str) -> None:
        self.fallback.remove(name)

    async def stored_recording_file(self, name: str) -> bytes:
        self.fetched.append(name)
        if name not in self.stored:
            raise AriError(f"GET /recordings/stored/{name}/file: 404", http_status=404)
        return self.stored[name]

    async def recording_live(self, name: str) -> bool:
        return name in self.live


def box(sessions: Sessions, ari: FakeRecordings) -> tuple[MessageBox, Cases]:
    cases = Cases(sessions, DIRECTORY, lambda: NOW)
    messages = MessageBox(
        ari=ari,  # a `Recordings`, as the ARI client is
        sessionmaker=sessions,
        directory=DIRECTORY,
        cases=cases,
        now=lambda: NOW,
    )
    return messages, cases


async def start(messages: MessageBox, name: str, source: str | None = None) -> None:
    await messages.started(
        name,
        call_id="call-1",
        department="340121",
        caller="055162345678",
        source=source or name,
        category="dues",
    )


def test_a_wav_says_how_long_it_plays_and_anything_else_is_zero() -> None:
    assert wav_seconds(wav(3.25)) == 3.25
    assert wav_seconds(b"not audio at all") == 0.0


def test_a_recording_cut_off_before_its_header_was_written_counts_what_it_holds() -> None:
    # As Asterisk leaves a WAV when it dies mid-recording: the header still
    # says no samples (RIFF and data sizes 0), the samples follow it.
    whole = wav(2.5)
    start = whole.find(b"data")
    cut = bytearray(whole)
    cut[4:8] = (0).to_bytes(4, "little")
    cut[start + 4 : start + 8] = (0).to_bytes(4, "little")
    assert wav_seconds(bytes(cut)) == 2.5


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("fallback-1795766400-179576640042-055162345678-12371", ("055162345678", "12371")),
        ("fallback-1795780800-17-", None),
        ("1795780800.42-m3", None),
    ],
)
def test_fallback_names_carry_the_caller_and_what_was_dialed(
    name: str, expected: tuple[str, str] | None
) -> None:
    left = parse_fallback(name)
    assert (left and (left.caller, left.dialed)) == expected or (left is None and expected is None)


async def test_a_finished_recording_becomes_a_case_of_its_branch(db_sessionmaker: Sessions) -> None:
    messages, cases = box(db_sessionmaker, FakeRecordings({}))
    await start(messages, "c1-m5")
    number = await messages.finished("c1-m5", 6.4, "saved")
    assert number is not None
    case = await cases.get(number)
    assert (case.kind, case.department, case.category, case.caller) == (
        "message", "340121", "dues", "055162345678"
    )
    assert (case.recording, case.recording_seconds, case.call_id) == ("c1-m5", 6.4, "call-1")


async def test_a_recording_made_again_replaces_the_first_in_the_same_case(
    db_sessionmaker: Sessions,
) -> None:
    messages, cases = box(db_sessionmaker, FakeRecordings({}))
    await start(messages, "c1-m5")
    first = await messages.finished("c1-m5", 6.4, "saved")
    await start(messages, "c1-m9", source="c1-m5")
    second = await messages.finished("c1-m9", 9.0, "saved")
    assert first == second
    case = await cases.get(str(second))
    assert (case.recording, case.recording_seconds) == ("c1-m9", 9.0)
    assert [event.action for event in case.events] == ["registered", "recording_replaced"]


async def test_a_failed_recording_is_on_record_but_opens_no_case(
    db_sessionmaker: Sessions,
) -> None:
    messages, cases = box(db_sessionmaker, FakeRecordings({}))
    await start(messages, "c1-m5")
    assert await messages.finished("c1-m5", 0.0, "failed") is None
    assert await cases.list() == []
    async with db_sessionmaker() as session:
        (row,) = await stored.messages_of(session, "call-1")
    assert row.status == "failed"


async def test_recordings_that_ended_unheard_are_settled_from_what_asterisk_kept(
    db_sessionmaker: Sessions,
) -> None:
    ari = FakeRecordings({"c1-m5": wav(4.0)}, live={"c2-m3"})
    messages, cases = box(db_sessionmaker, ari)
    await start(messages, "c1-m5")  # ended while the controller was dead
    await start(messages, "c2-m3")  # still being recorded
    await start(messages, "c3-m1")  # the caller hung up before a word: nothing kept
    settled = await messages.settle()
    assert settled == {"c1-m5": 4.0, "c3-m1": 0.0}
    (case,) = await cases.list()
    assert (case.recording, case.recording_seconds) == ("c1-m5", 4.0)
    async with db_sessionmaker() as session:
        assert [m.name for m in await stored.unfinished(session)] == ["c2-m3"]


async def test_each_asterisk_settles_only_the_messages_of_its_own_calls(
    db_sessionmaker: Sessions,
) -> None:
    # In a cluster each Asterisk keeps the recordings it made: a's controller
    # must not call b's message lost because a does not have it.
    async with db_sessionmaker() as session, session.begin():
        for call_id, node in (("call-a", "c1@a"), ("call-b", "c1@b")):
            session.add(Call(
                id=call_id, node=node, caller="055162345678", dialed="12371",
                department_code="340121", department_name="", route_rule="", route_read="",
                started_at=NOW, updated_at=NOW,
            ))
    cases = Cases(db_sessionmaker, DIRECTORY, lambda: NOW)
    on_a = MessageBox(
        ari=FakeRecordings({"a-m1": wav(2.0)}), sessionmaker=db_sessionmaker,
        directory=DIRECTORY, cases=cases, now=lambda: NOW, node="c1@a",
    )
    for name, call_id in (("a-m1", "call-a"), ("b-m1", "call-b")):
        await on_a.started(name, call_id=call_id, department="340121",
                           caller="055162345678", source=name, category="dues")
    assert await on_a.settle() == {"a-m1": 2.0}
    async with db_sessionmaker() as session:
        assert [m.name for m in await stored.unfinished(session)] == ["b-m1"]
        assert [m.name for m in await stored.unfinished(session, "c1@b")] == ["b-m1"]


async def test_fallback_messages_become_cases_once_routed_by_the_caller(
    db_sessionmaker: Sessions,
) -> None:
    left = "fallback-1795766400-179576640042-055162345678-12371"
    ari = FakeRecordings({left: wav(3.0), "c1-m5": wav(2.0)}, fallback=[left])
    messages, cases = box(db_sessionmaker, ari)
    (number,) = await messages.import_fallback()
    assert ari.fallback == [], "an imported message leaves Asterisk's list"
    case = await cases.get(number)
    assert (case.department, case.caller, case.recording) == ("340100", "055162345678", left)
    assert case.recording_seconds == 3.0
    # Registered when it was left (2026-11-27 08:00 UTC), not when imported.
    assert case.created_at == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    # A second reconnect imports nothing again.
    assert await messages.import_fallback() == []
    assert len(await cases.list()) == 1


async def test_a_fallback_message_imported_before_but_still_listed_is_only_forgotten(
    db_sessionmaker: Sessions,
) -> None:
    # The last connect imported it, then lost Asterisk before it could say so.
    left = "fallback-1795766400-179576640042-055162345678-12371"
    ari = FakeRecordings({left: wav(3.0)}, fallback=[left])
    messages, cases = box(db_sessionmaker, ari)
    await messages.import_fallback()
    ari.fallback.append(left)
    assert await messages.import_fallback() == []
    assert ari.fallback == []
    assert len(await cases.list()) == 1


async def test_a_fallback_caller_who_hung_up_before_the_tone_leaves_no_case(
    db_sessionmaker: Sessions,
) -> None:
    left = "fallback-1795766400-179576640042-055162345678-12371"
    ari = FakeRecordings({}, fallback=[left])  # noted, but nothing recorded
    messages, cases = box(db_sessionmaker, ari)
    assert await messages.import_fallback() == []
    assert await cases.list() == []
    assert ari.fallback == []


def test_the_fake_matches_the_ari_client() -> None:
    methods = ("fallback_messages", "forget_fallback", "stored_recording_file", "recording_live")
    for method in methods:
        assert callable(getattr(AriClient, method))
