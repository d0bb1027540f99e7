"""The ARI client against the in-process fake ARI server: pool, errors, parameters."""

from __future__ import annotations

import asyncio
import socket
import time
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from ivr.ari.client import AriClient
from ivr.ari.models import ChannelDtmfReceived, Event, StasisStart
from ivr.errors import AriError, AriUnavailable
from ivr.settings import Settings

from .fake_ari import APP, WAIT, FakeAri, running, wait_until

CHANNEL = "1763892000.1"
POOL_SIZE = 5
CONCURRENT_REQUESTS = 200


def make_settings(fake: FakeAri, tmp_path: Any, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "state_dir": tmp_path,
        "ari_pool_size": POOL_SIZE,
        "ari_request_timeout": 30.0,
        "ari_reconnect_min": 0.05,
        "ari_reconnect_max": 0.2,
        **fake.settings(),
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
async def fake() -> AsyncIterator[FakeAri]:
    async with running() as server:
        yield server


@pytest.fixture
async def client(fake: FakeAri, tmp_path: Any) -> AsyncIterator[AriClient]:
    async with AriClient(make_settings(fake, tmp_path)) as ari:
        yield ari


# Building ----------------------------------------------------------------------


async def test_the_client_uses_no_deprecated_aiohttp_api(tmp_path: Any) -> None:
    # aiohttp 3.14 deprecates BasicAuth; under `filterwarnings = error` a
    # deprecated call makes the client unusable in every test.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with AriClient(Settings(state_dir=tmp_path)) as ari:
            assert ari.session is not None


async def test_basic_auth_credentials_reach_the_server(fake: FakeAri, client: AriClient) -> None:
    await client.info()
    assert fake.auth_failures == 0


# The pool ----------------------------------------------------------------------


async def test_200_concurrent_requests_never_open_more_connections_than_the_pool(
    fake: FakeAri, client: AriClient
) -> None:
    # Slow answers keep every connection busy, so an unbounded client would
    # open one per request.
    fake.rest_delay = 0.02
    results = await asyncio.gather(*(client.info() for _ in range(CONCURRENT_REQUESTS)))
    assert all(result["system"]["version"] for result in results)
    assert len(fake.requests) == CONCURRENT_REQUESTS
    assert 1 <= fake.max_connections <= POOL_SIZE


async def test_the_pool_is_used_to_its_size_and_connections_are_kept_alive(
    fake: FakeAri, client: AriClient
) -> None:
    fake.rest_delay = 0.05
    await asyncio.gather(*(client.info() for _ in range(4 * POOL_SIZE)))
    # Proves the count above is real: the pool did fill up.
    assert fake.max_connections == POOL_SIZE
    await client.info()
    assert fake.open_connections <= POOL_SIZE


# Errors ------------------------------------------------------------------------


async def test_connection_refused_is_ari_unavailable(tmp_path: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    # Nothing listens there any more.
    settings = Settings(state_dir=tmp_path, ari_host="127.0.0.1", ari_port=free_port)
    async with AriClient(settings) as ari:
        with pytest.raises(AriUnavailable) as caught:
            await ari.answer(CHANNEL)
    assert caught.value.error_id == "ari_unavailable"
    assert "unreachable" in caught.value.message


async def test_a_server_gone_down_is_ari_unavailable_and_back_up_works_again(
    fake: FakeAri, client: AriClient
) -> None:
    fake.add_channel(CHANNEL, "055162345678")
    await client.answer(CHANNEL)
    await fake.go_down()
    with pytest.raises(AriUnavailable):
        await client.answer(CHANNEL)
    await fake.go_up()
    await client.answer(CHANNEL)
    assert fake.channels[CHANNEL].state == "Up"


async def test_unknown_channel_is_ari_error_404_not_unavailable(client: AriClient) -> None:
    with pytest.raises(AriError) as caught:
        await client.answer("no-such-channel")
    assert not isinstance(caught.value, AriUnavailable)
    assert caught.value.http_status == 404
    assert "Channel not found" in caught.value.message


async def test_unknown_playback_is_ari_error_404(client: AriClient) -> None:
    with pytest.raises(AriError) as caught:
        await client.stop_playback("no-such-playback")
    assert caught.value.http_status == 404


async def test_503_is_ari_error_with_status_503(fake: FakeAri, client: AriClient) -> None:
    fake.add_channel(CHANNEL, "055162345678")
    fake.fail(503)
    with pytest.raises(AriError) as caught:
        await client.answer(CHANNEL)
    assert caught.value.http_status == 503


async def test_wrong_password_is_ari_error_401(fake: FakeAri, tmp_path: Any) -> None:
    settings = make_settings(fake, tmp_path, ari_password="wrong")
    async with AriClient(settings) as ari:
        with pytest.raises(AriError) as caught:
            await ari.info()
    assert caught.value.http_status == 401
    assert fake.auth_failures == 1


# Parameters and answers -------------------------------------------------------------


async def test_play_sends_media_as_one_comma_separated_value(
    fake: FakeAri, client: AriClient
) -> None:
    fake.add_channel(CHANNEL, "055162345678")
    media = [
        "sound:http://127.0.0.1:8080/prompts/a.wav",
        "sound:http://127.0.0.1:8080/prompts/b.wav",
    ]
    await client.play(CHANNEL, f"{CHANNEL}-p1", media)
    request = fake.requests[-1]
    assert request.method == "POST"
    assert request.path == f"/channels/{CHANNEL}/play/{CHANNEL}-p1"
    assert request.params == [("media", ",".join(media))]
    assert fake.playbacks[f"{CHANNEL}-p1"].media == media


async def test_variables_hangup_and_channel_list(fake: FakeAri, client: AriClient) -> None:
    fake.add_channel(CHANNEL, "055162345678")
    fake.add_channel("1763892000.2", "13800138000", app="another-app")
    assert await client.get_variable(CHANNEL, "IVR_CALL") is None
    await client.set_variable(CHANNEL, "IVR_CALL", CHANNEL)
    assert await client.get_variable(CHANNEL, "IVR_CALL") == CHANNEL
    assert await client.get_variable("no-such-channel", "IVR_CALL") is None

    channels = {channel.id: channel for channel in await client.channels()}
    assert channels[CHANNEL].dialplan.app_name == "Stasis"
    assert channels[CHANNEL].dialplan.app_data == "ivr12371,12371"
    assert channels[CHANNEL].caller.number == "055162345678"
    assert channels["1763892000.2"].dialplan.app_data.startswith("another-app,")

    await client.hangup(CHANNEL)
    assert fake.requests[-1].params == [("reason", "normal")]
    assert CHANNEL not in fake.channels
    assert [channel.id for channel in await client.channels()] == ["1763892000.2"]


# The event stream ------------------------------------------------------------------


async def test_events_are_parsed_after_on_connect_and_reconnected_after_a_drop(
    fake: FakeAri, client: AriClient
) -> None:
    received: list[Event] = []
    connects: list[int] = []

    async def on_connect() -> None:
        connects.append(fake.ws_connects)

    task = asyncio.create_task(client.run_events(on_connect, received.append))
    try:
        await fake.wait_connected()
        await wait_until(lambda: connects == [1], what="on_connect")
        await fake.stasis_start(CHANNEL, "055162345678")
        await fake.dtmf(CHANNEL, "1")
        await wait_until(lambda: len(received) == 2, what="two events")
        assert isinstance(received[0], StasisStart)
        assert received[0].args == ["12371"]
        assert isinstance(received[1], ChannelDtmfReceived) and received[1].digit == "1"
        assert client.connected.is_set()

        await fake.drop_connection()
        await fake.wait_connected(2)
        await wait_until(lambda: connects == [1, 2], what="on_connect after the reconnect")
        await fake.dtmf(CHANNEL, "9")
        await wait_until(lambda: len(received) == 3, what="an event after the reconnect")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert not client.connected.is_set()


async def test_events_keep_retrying_while_credentials_are_refused(
    fake: FakeAri, tmp_path: Any
) -> None:
    settings = make_settings(fake, tmp_path, ari_password="wrong")
    async with AriClient(settings) as ari:

        async def nothing() -> None:
            return None

        task = asyncio.create_task(ari.run_events(nothing, lambda _: None))
        try:
            await wait_until(lambda: fake.auth_failures >= 3, what="three refused attempts")
            assert not ari.connected.is_set()
            assert fake.ws_connects == 0
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_every_event_the_fake_sends_parses_as_its_own_class(
    fake: FakeAri, client: AriClient
) -> None:
    received: list[Event] = []

    async def nothing() -> None:
        return None

    task = asyncio.create_task(client.run_events(nothing, received.append))
    try:
        await fake.wait_connected()
        await fake.stasis_start(CHANNEL, "055162345678")
        await client.play(CHANNEL, f"{CHANNEL}-p1", ["sound:a"])  # PlaybackStarted
        await fake.dtmf(CHANNEL, "5")
        await fake.playback_finished(f"{CHANNEL}-p1", CHANNEL)
        await fake.hangup(CHANNEL)
        await wait_until(lambda: len(received) == len(fake.events_sent), what="every event")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    kinds = [data["type"] for data in fake.events_sent]
    assert kinds == [
        "StasisStart",
        "PlaybackStarted",
        "ChannelDtmfReceived",
        "PlaybackFinished",
        "ChannelHangupRequest",
        "StasisEnd",
        "ChannelDestroyed",
    ]
    assert [type(event).__name__ for event in received] == kinds
    for event in received:
        assert event.application == APP
        assert event.timestamp == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def test_the_event_socket_takes_an_api_key_and_refuses_a_wrong_one(fake: FakeAri) -> None:
    url = f"ws://127.0.0.1:{fake.port}/ari/events"
    async with aiohttp.ClientSession() as session:
        good = {"app": APP, "api_key": f"{fake.user}:{fake.password}"}
        async with session.ws_connect(url, params=good) as socket:
            await fake.wait_connected()
            await fake.dtmf(fake.add_channel(CHANNEL, "055162345678").id, "1")
            message = await socket.receive_json(timeout=WAIT)
            assert message["type"] == "ChannelDtmfReceived"
        bad = {"app": APP, "api_key": f"{fake.user}:wrong"}
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            async with session.ws_connect(url, params=bad):
                pass
        assert caught.value.status == 401


async def test_an_event_filter_keeps_other_events_away(fake: FakeAri, client: AriClient) -> None:
    received: list[Event] = []

    async def only_calls() -> None:
        await client.filter_events(["StasisStart", "PlaybackFinished"])

    task = asyncio.create_task(client.run_events(only_calls, received.append))
    try:
        await wait_until(lambda: APP in fake.allowed, what="the filter")
        await fake.stasis_start(CHANNEL, "055162345678")
        await client.play(CHANNEL, f"{CHANNEL}-p1", ["sound:a"])  # no PlaybackStarted
        await fake.dtmf(CHANNEL, "5")  # filtered out
        await fake.playback_finished(f"{CHANNEL}-p1", CHANNEL)
        await wait_until(lambda: len(received) == 2, what="the two allowed events")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [type(event).__name__ for event in received] == ["StasisStart", "PlaybackFinished"]
    put = fake.find("PUT", f"/applications/{APP}/eventFilter")
    assert put is not None and put.status == 200
    # The answers to requests over the WebSocket always pass.
    assert put.body == {
        "allowed": [
            {"type": "StasisStart"}, {"type": "PlaybackFinished"}, {"type": "RESTResponse"}
        ]
    }


async def _connected(fake: FakeAri, client: AriClient) -> asyncio.Task[None]:
    async def nothing() -> None:
        return None

    task = asyncio.create_task(client.run_events(nothing, lambda _: None))
    await fake.wait_connected()
    await wait_until(lambda: client.over_websocket, what="requests over the socket")
    return task


async def test_requests_travel_over_the_event_socket_once_connected(
    fake: FakeAri, client: AriClient
) -> None:
    channel = fake.add_channel(CHANNEL, "055162345678", "12371")
    await client.answer(channel.id)  # before the socket: HTTP
    assert fake.ws_requests == []
    task = await _connected(fake, client)
    try:
        await client.play(channel.id, f"{channel.id}-p1", ["sound:a", "sound:b"])
        with pytest.raises(AriError) as missing:
            await client.answer("no-such-channel")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert fake.ws_requests == [
        f"POST /channels/{channel.id}/play/{channel.id}-p1?media=sound%3Aa%2Csound%3Ab",
        "POST /channels/no-such-channel/answer",
    ]
    assert missing.value.http_status == 404
    assert fake.plays(channel.id) == [["sound:a", "sound:b"]]


async def test_a_request_asterisk_never_answers_fails_after_its_timeout(
    fake: FakeAri, tmp_path: Any
) -> None:
    channel = fake.add_channel(CHANNEL, "055162345678", "12371")
    gate = fake.hold("POST", f"/channels/{channel.id}/answer")
    async with AriClient(make_settings(fake, tmp_path, ari_request_timeout=0.3)) as client:
        task = await _connected(fake, client)
        try:
            started = time.monotonic()
            with pytest.raises(AriUnavailable, match="no answer over ARI's WebSocket"):
                await client.answer(channel.id)
            waited = time.monotonic() - started
        finally:
            gate.set()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert waited >= 0.3  # not before its time


async def test_a_request_waiting_on_the_socket_fails_when_it_drops(
    fake: FakeAri, client: AriClient
) -> None:
    channel = fake.add_channel(CHANNEL, "055162345678", "12371")
    gate = fake.hold("POST", f"/channels/{channel.id}/answer")
    task = await _connected(fake, client)
    try:
        answer = asyncio.create_task(client.answer(channel.id))
        await wait_until(lambda: bool(fake.ws_requests), what="the request")
        await fake.drop_connection()
        with pytest.raises(AriUnavailable):
            await answer
    finally:
        gate.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
