"""An in-process fake of Asterisk's REST Interface: enough ARI for the controller.

It is a real HTTP server on 127.0.0.1 (an ephemeral port), so the real
`AriClient` talks to it over real TCP: the WebSocket `/ari/events?app=...`
and the REST calls the controller makes. It keeps channels and playbacks the
way Asterisk does, answers 404 for an unknown one, checks credentials (basic
auth or `api_key`), and records every REST request in arrival order.

Tests drive it with helpers that push events shaped exactly like Asterisk
22's (`stasis_start`, `dtmf`, `playback_finished`, `hangup`), and with faults:
`drop_connection()` (the event socket closed abruptly), `fail()` (refuse
requests with a status), `delay()` (slow answers for one channel), `hold()`
(a request waits until the test lets it go), `go_down()`/`go_up()` (nothing
listening, as when Asterisk is stopped) and `restart()` (its channels gone).

It keeps stored recordings (`recordings`) and the native fallback's list
of the messages it left (`fallback`, read as the global variable the
dialplan keeps, and forgotten one by one as the dialplan's Local channel
does), and counts listings of every recording (`recording_listings()`).

Like Asterisk, it sends the events that follow from a command by itself
(`auto_events`): a playback started gives PlaybackStarted, stopping it gives
PlaybackFinished, hanging a channel up gives StasisEnd and ChannelDestroyed;
and it honours an application's event filter (PUT .../eventFilter).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

HOST = "127.0.0.1"
APP = "ivr12371"
USER = "ivr"
PASSWORD = "fake-ari-secret"
# Every event carries this time: tests never depend on the fake's clock.
TIMESTAMP = "2026-11-23T10:00:00.000+0000"
ASTERISK_ID = "52:54:00:12:37:10"
VERSION = "22.10.1"
# Time given to the event socket and handlers to close when the server stops.
SHUTDOWN_TIMEOUT = 2.0
POLL_INTERVAL = 0.01
# How long tests wait for something that should happen at once: generous,
# so a loaded machine is slow but never flaky.
WAIT = 10.0

# The global the fallback dialplan lists its messages in (ivr/ari/client.py).
FALLBACK_VARIABLE = "IVR_FALLBACK_MESSAGES"

_CHANNEL_PATH = re.compile(r"^/channels/([^/]+)")
_PLAYBACK_PATH = re.compile(r"^/playbacks/([^/]+)")


@dataclass
class RestRequest:
    """One REST request as the fake received it; `path` has no `/ari` prefix."""

    method: str
    path: str
    params: list[tuple[str, str]]
    received: float  # loop time
    body: Any = None  # the JSON body, if any
    status: int | None = None  # None while it is being answered
    answered: float | None = None

    def param(self, name: str) -> str | None:
        values = [value for key, value in self.params if key == name]
        return values[-1] if values else None


@dataclass
class FakeChannel:
    id: str
    caller: str
    dialed: str
    app: str  # the Stasis application it is in; "" for a channel in the dialplan
    state: str = "Ring"
    name: str = ""
    protocol_id: str = ""
    language: str = "en"
    variables: dict[str, str] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        in_stasis = bool(self.app)
        return {
            "id": self.id,
            "name": self.name or f"PJSIP/caller-{abs(hash(self.id)) % 0xFFFFFFFF:08x}",
            "state": self.state,
            "protocol_id": self.protocol_id or f"{self.id}@fake-sipp",
            "caller": {"name": "", "number": self.caller},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            # What the dialplan in dialplan/extensions.conf gives a channel
            # in Stasis: context ivr, extension s, the Stasis() priority.
            "dialplan": {
                "context": "ivr" if in_stasis else "from-callers",
                "exten": "s" if in_stasis else self.dialed,
                "priority": 2 if in_stasis else 1,
                "app_name": "Stasis" if in_stasis else "Wait",
                "app_data": f"{self.app},{self.dialed}" if in_stasis else "30",
            },
            "creationtime": TIMESTAMP,
            "language": self.language,
        }


@dataclass
class FakePlayback:
    id: str
    channel_id: str
    media: list[str]
    state: str = "playing"

    def json(self, state: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "media_uri": self.media[0] if self.media else "",
            "target_uri": f"channel:{self.channel_id}",
            "language": "en",
            "state": state or self.state,
        }


@dataclass
class Fault:
    """Answer matching REST requests with `status` (`times` of them, or all)."""

    status: int
    method: str | None = None
    path: str | None = None  # a regular expression searched in the path
    times: int | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or re.search(self.path, path) is not None


def event_json(kind: str, app: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "timestamp": TIMESTAMP,
        **fields,
        "asterisk_id": ASTERISK_ID,
        "application": app,
    }


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


async def wait_until(
    predicate: Callable[[], bool], *, within: float = WAIT, what: str = "a condition"
) -> None:
    """Poll `predicate` until it holds; fail naming `what` after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(POLL_INTERVAL)


class FakeAri:
    def __init__(self, *, app: str = APP, user: str = USER, password: str = PASSWORD) -> None:
        self.app = app
        self.user = user
        self.password = password
        self.port = 0
        self.channels: dict[str, FakeChannel] = {}
        self.playbacks: dict[str, FakePlayback] = {}
        self.requests: list[RestRequest] = []
        # REST requests that came as RESTRequest frames on the event socket.
        self.ws_requests: list[str] = []
        self._channel_locks: dict[str, asyncio.Lock] = {}
        # Connections of the event socket so far, and the open ones by app.
        self.ws_connects = 0
        self.auth_failures = 0
        # Asterisk's start time, as /asterisk/info tells it: a restart changes it.
        self.restarts = 0
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.events_sent: list[dict[str, Any]] = []
        self.max_connections = 0
        self.auto_events = True
        # Stops answered 204 but not carried out, as Asterisk 22 sometimes does
        # with a stop between two media of one playback.
        self.stops_to_ignore = 0
        self.faults: list[Fault] = []
        self.delays: dict[str, float] = {}
        self.rest_delay = 0.0
        self.holds: list[tuple[str, str, asyncio.Event]] = []
        # Event types each application asked for (PUT .../eventFilter).
        self.allowed: dict[str, set[str]] = {}
        self.disallowed: dict[str, set[str]] = {}
        # Stored recordings (name: WAV), and the native fallback's list of the
        # messages it left (AstDB, mirrored in a global by the dialplan).
        self.recordings: dict[str, bytes] = {}
        self.fallback: list[str] = []
        self._transports: dict[object, asyncio.Transport] = {}
        self._socket_transports: dict[str, asyncio.Transport] = {}
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    # -- life ---------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/ari/events", self._events)
        app.router.add_post("/ari/channels/{id}/answer", self._answer)
        app.router.add_post("/ari/channels/{id}/play/{playback}", self._play)
        app.router.add_get("/ari/playbacks/{id}", self._get_playback)
        app.router.add_delete("/ari/playbacks/{id}", self._stop_playback)
        app.router.add_delete("/ari/channels/{id}", self._hangup)
        app.router.add_post("/ari/channels/{id}/variable", self._set_variable)
        app.router.add_post("/ari/channels/{id}/moh", self._moh)
        app.router.add_delete("/ari/channels/{id}/moh", self._moh)
        app.router.add_get("/ari/channels/{id}/variable", self._get_variable)
        app.router.add_get("/ari/channels", self._list_channels)
        app.router.add_get("/ari/asterisk/info", self._info)
        app.router.add_get("/ari/asterisk/variable", self._global_variable)
        app.router.add_post("/ari/channels", self._originate_local)
        app.router.add_get("/ari/recordings/stored", self._list_recordings)
        app.router.add_get("/ari/recordings/stored/{name}/file", self._recording_file)
        app.router.add_delete("/ari/recordings/stored/{name}", self._delete_recording)
        app.router.add_get("/ari/recordings/live/{name}", self._live_recording)
        app.router.add_put("/ari/applications/{app}/eventFilter", self._event_filter)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT
        )
        await self._runner.setup()
        assert self._runner.server is not None
        self._count_connections(self._runner.server)
        await self.go_up()

    async def stop(self) -> None:
        self.heal()  # release held requests, so their handlers can finish
        await self.go_down()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def up(self) -> bool:
        return self._site is not None

    async def go_down(self) -> None:
        """Stop listening and cut every connection, as a stopped Asterisk would."""
        if self._site is not None:
            await self._site.stop()
            self._site = None
        for transport in list(self._transports.values()):
            transport.abort()
        self.sockets.clear()
        self._socket_transports.clear()

    async def restart(self) -> None:
        """Asterisk restarted: connections cut, channels, playbacks and filters gone."""
        await self.go_down()
        self.restarts += 1
        self.channels.clear()
        self.playbacks.clear()
        self.allowed.clear()
        self.disallowed.clear()
        await self.go_up()

    async def go_up(self) -> None:
        """Listen again, on the same port."""
        if self._site is not None:
            return
        assert self._runner is not None, "start() the fake first"
        site = web.TCPSite(self._runner, HOST, self.port, reuse_address=True)
        await site.start()
        self._site = site
        self.port = site.port

    def settings(self) -> dict[str, Any]:
        """The `Settings` fields that point a client at this fake."""
        return {
            "ari_host": HOST,
            "ari_port": self.port,
            "ari_user": self.user,
            "ari_password": self.password,
            "ari_app": self.app,
        }

    def _count_connections(self, server: web.Server) -> None:
        # aiohttp's server is told of every TCP connection it accepts and
        # loses; counting there sees the real sockets, keep-alive included.
        made, lost = server.connection_made, server.connection_lost

        def connection_made(handler: Any, transport: asyncio.Transport) -> None:
            self._transports[handler] = transport
            self.max_connections = max(self.max_connections, len(self._transports))
            made(handler, transport)

        def connection_lost(handler: Any, exc: BaseException | None = None) -> None:
            self._transports.pop(handler, None)
            lost(handler, exc)

        server.connection_made = connection_made  # type: ignore[method-assign]
        server.connection_lost = connection_lost  # type: ignore[method-assign]

    @property
    def open_connections(self) -> int:
        return len(self._transports)

    # -- faults ---------------------------------------------------------------

    def fail(
        self,
        status: int = 503,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int | None = None,
    ) -> Fault:
        """Answer matching REST requests with `status` instead of serving them."""
        fault = Fault(status, method, path, times)
        self.faults.append(fault)
        return fault

    def hold(self, method: str, path: str) -> asyncio.Event:
        """Keep matching REST requests (`path` a regex for the whole path) waiting until set."""
        gate = asyncio.Event()
        self.holds.append((method, path, gate))
        return gate

    def heal(self) -> None:
        self.faults.clear()
        self.delays.clear()
        self.rest_delay = 0.0
        for _, _, gate in self.holds:
            gate.set()
        self.holds.clear()

    def delay(self, channel_id: str, seconds: float) -> None:
        """Answer REST requests about one channel (or its playbacks) `seconds` late."""
        if seconds > 0:
            self.delays[channel_id] = seconds
        else:
            self.delays.pop(channel_id, None)

    async def drop_connection(self) -> None:
        """Close the event socket abruptly: no close frame, the TCP connection reset."""
        for app in list(self.sockets):
            del self.sockets[app]
            transport = self._socket_transports.pop(app, None)
            if transport is not None:
                transport.abort()

    # -- what the tests look at ---------------------------------------------------

    def requests_for(self, channel_id: str) -> list[RestRequest]:
        """REST requests about one channel or one of its playbacks, in order."""
        return [r for r in self.requests if self._channel_of(r.path) == channel_id]

    def calls_of(self, channel_id: str) -> list[str]:
        """`METHOD path` of every request about one channel: easy to compare."""
        return [f"{r.method} {r.path}" for r in self.requests_for(channel_id)]

    def find(self, method: str, path: str) -> RestRequest | None:
        """The first request with this method whose path matches `path` (a regex)."""
        for request in self.requests:
            if request.method == method and re.fullmatch(path, request.path):
                return request
        return None

    async def wait_request(
        self, method: str, path: str, *, within: float = WAIT, answered: bool = False
    ) -> RestRequest:
        """Wait for a request with this method and a path matching `path` (a regex)."""

        def arrived() -> bool:
            found = self.find(method, path)
            return found is not None and (not answered or found.status is not None)

        await wait_until(arrived, within=within, what=f"{method} {path}")
        found = self.find(method, path)
        assert found is not None
        return found

    def plays(self, channel_id: str) -> list[list[str]]:
        """The media lists played on a channel, in order."""
        return [
            (r.param("media") or "").split(",")
            for r in self.requests_for(channel_id)
            if r.method == "POST" and "/play/" in r.path
        ]

    async def wait_connected(self, connects: int = 1, *, within: float = WAIT) -> None:
        """Wait until the event socket was opened `connects` times and is open now."""
        await wait_until(
            lambda: self.ws_connects >= connects and self.app in self.sockets,
            within=within,
            what=f"event socket connection #{connects}",
        )

    # -- events ---------------------------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        caller: str,
        dialed: str = "12371",
        *,
        app: str | None = None,
        state: str = "Ring",
        variables: dict[str, str] | None = None,
    ) -> FakeChannel:
        """A channel that exists already (say, left in Stasis while nobody listened)."""
        channel = FakeChannel(
            channel_id,
            caller,
            dialed,
            self.app if app is None else app,
            state=state,
            variables=dict(variables or {}),
        )
        self.channels[channel_id] = channel
        return channel

    def wanted(self, event: dict[str, Any]) -> bool:
        """Whether the application's event filter lets this event through."""
        app, kind = event["application"], event["type"]
        allowed = self.allowed.get(app)
        if allowed and kind not in allowed:
            return False
        return kind not in self.disallowed.get(app, set())

    async def send(self, event: dict[str, Any], *, required: bool = True) -> None:
        """Send an event to the application's event socket, unless its filter drops it."""
        if not self.wanted(event):
            return
        socket = self.sockets.get(event["application"])
        if socket is None or socket.closed:
            if required:
                raise AssertionError(f"no event socket for {event['application']}: {event}")
            return
        self.events_sent.append(event)
        await socket.send_str(json.dumps(event))

    async def stasis_start(
        self, channel_id: str, caller: str, dialed: str = "12371", *, state: str = "Ring"
    ) -> FakeChannel:
        """A caller enters Stasis: `Ring` as if the dialplan had not answered."""
        channel = self.add_channel(channel_id, caller, dialed, state=state)
        await self.send(
            event_json("StasisStart", channel.app, args=[dialed], channel=channel.json())
        )
        return channel

    async def dtmf(self, channel_id: str, digit: str) -> None:
        channel = self.channels[channel_id]
        await self.send(
            event_json(
                "ChannelDtmfReceived",
                channel.app,
                digit=digit,
                duration_ms=120,
                channel=channel.json(),
            )
        )

    async def playback_finished(
        self, playback_id: str, channel_id: str, state: str = "done"
    ) -> None:
        playback = self.playbacks.pop(playback_id, None) or FakePlayback(
            playback_id, channel_id, ["sound:unknown"]
        )
        app = self.channels[channel_id].app if channel_id in self.channels else self.app
        await self.send(event_json("PlaybackFinished", app, playback=playback.json(state)))

    async def hangup(self, channel_id: str) -> None:
        """The caller hangs up: the channel goes, with the three events Asterisk sends."""
        channel = self.channels.pop(channel_id)
        for playback_id in [p.id for p in self.playbacks.values() if p.channel_id == channel_id]:
            del self.playbacks[playback_id]
        data = channel.json()
        await self.send(event_json("ChannelHangupRequest", channel.app, cause=16, channel=data))
        await self._ended(channel, data, required=True)

    async def _ended(self, channel: FakeChannel, data: dict[str, Any], *, required: bool) -> None:
        await self.send(event_json("StasisEnd", channel.app, channel=data), required=required)
        await self.send(
            event_json(
                "ChannelDestroyed", channel.app, cause=16, cause_txt="Normal Clearing", channel=data
            ),
            required=required,
        )

    # -- the server side ------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        key = request.query.get("api_key")
        if key is not None:
            return key == f"{self.user}:{self.password}"
        scheme, _, encoded = request.headers.get(aiohttp.hdrs.AUTHORIZATION, "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            # aiohttp's BasicAuth.decode is deprecated; this is what it did.
            decoded = base64.b64decode(encoded, validate=True).decode("latin1")
        except ValueError:
            return False
        login, _, password = decoded.partition(":")
        return login == self.user and password == self.password

    def _channel_of(self, path: str) -> str | None:
        if match := _CHANNEL_PATH.match(path):
            return match.group(1)
        if match := _PLAYBACK_PATH.match(path):
            playback_id = match.group(1)
            playback = self.playbacks.get(playback_id)
            if playback is not None:
                return playback.channel_id
            # A playback already gone: its id starts with its channel's.
            for request in self.requests:
                if request.path.endswith(f"/play/{playback_id}"):
                    return self._channel_of(request.path)
        return None

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not self._authorized(request):
            self.auth_failures += 1
            return _error(401, "Authentication required")
        if request.path == "/ari/events":
            return await handler(request)
        path = request.path.removeprefix("/ari")
        loop = asyncio.get_running_loop()
        record = RestRequest(request.method, path, list(request.query.items()), loop.time())
        if request.body_exists:
            try:
                record.body = await request.json()
            except ValueError:
                record.body = await request.text()
        self.requests.append(record)
        channel_id = self._channel_of(path)
        wait = self.rest_delay + self.delays.get(channel_id or "", 0.0)
        if wait > 0:
            await asyncio.sleep(wait)
        for method, pattern, gate in self.holds:
            if method == request.method and re.fullmatch(pattern, path):
                await gate.wait()
        fault = self._fault(request.method, path)
        response = fault if fault is not None else await handler(request)
        record.status = response.status
        record.answered = loop.time()
        return response

    def _fault(self, method: str, path: str) -> web.Response | None:
        for fault in self.faults:
            if not fault.matches(method, path):
                continue
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
            return _error(fault.status, "Service Unavailable (fake fault)")
        return None

    async def _events(self, request: web.Request) -> web.StreamResponse:
        app = request.query.get("app")
        if not app:
            return _error(400, "app parameter is required")
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.ws_connects += 1
        self.sockets[app] = socket
        if isinstance(request.transport, asyncio.Transport):
            self._socket_transports[app] = request.transport
        tasks: set[asyncio.Task[None]] = set()
        try:
            async for message in socket:
                # REST over WebSocket, as Asterisk 22.4 and newer take it:
                # answered by the same handlers as HTTP, each on its own.
                if message.type == aiohttp.WSMsgType.TEXT:
                    frame = json.loads(message.data)
                    if frame.get("type") == "RESTRequest":
                        task = asyncio.create_task(self._rest_over_ws(app, frame))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
        finally:
            if self.sockets.get(app) is socket:
                del self.sockets[app]
                self._socket_transports.pop(app, None)
        return socket

    async def _rest_over_ws(self, app: str, frame: dict[str, Any]) -> None:
        self.ws_requests.append(f"{frame['method']} /{frame['uri']}")
        # Like Asterisk's control queue: one channel's commands in the order
        # they came, different channels' at the same time.
        channel = self._channel_of("/" + frame["uri"].split("?")[0]) or ""
        async with self._channel_locks.setdefault(channel, asyncio.Lock()):
            await self._rest_over_ws_now(app, frame)

    async def _rest_over_ws_now(self, app: str, frame: dict[str, Any]) -> None:
        url = f"http://{HOST}:{self.port}/ari/{frame['uri']}"
        headers = {"Content-Type": frame.get("content_type") or "application/json"}
        token = base64.b64encode(f"{self.user}:{self.password}".encode("latin1")).decode()
        auth = f"Basic {token}"
        async with aiohttp.ClientSession(headers={aiohttp.hdrs.AUTHORIZATION: auth}) as session:
            async with session.request(
                frame["method"], url, data=frame.get("message_body"), headers=headers
            ) as response:
                body = await response.text()
                status, reason = response.status, response.reason
        answer = event_json(
            "RESTResponse", app, request_id=frame.get("request_id"), status_code=status,
            reason_phrase=reason, uri=frame["uri"], content_type="application/json",
            message_body=body,
        )
        # A reply, not an event the application handles: not in events_sent.
        socket = self.sockets.get(app)
        if self.wanted(answer) and socket is not None and not socket.closed:
            await socket.send_str(json.dumps(answer))

    def _channel(self, request: web.Request) -> FakeChannel | None:
        return self.channels.get(request.match_info["id"])

    async def _answer(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return _error(404, "Channel not found")
        channel.state = "Up"
        return web.Response(status=204)

    async def _play(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return _error(404, "Channel not found")
        values = request.query.getall("media", [])
        if not values:
            return _error(400, "media: Missing required parameter")
        # Asterisk reads one value (the last if repeated) and splits it on commas.
        media = values[-1].split(",")
        playback = FakePlayback(request.match_info["playback"], channel.id, media)
        self.playbacks[playback.id] = playback
        if self.auto_events:
            started = event_json("PlaybackStarted", channel.app, playback=playback.json())
            await self.send(started, required=False)
        return web.json_response(playback.json(), status=201)

    async def _get_playback(self, request: web.Request) -> web.Response:
        playback = self.playbacks.get(request.match_info["id"])
        if playback is None:
            return _error(404, "Playback not found")
        return web.json_response(playback.json())

    async def _stop_playback(self, request: web.Request) -> web.Response:
        if self.stops_to_ignore and request.match_info["id"] in self.playbacks:
            self.stops_to_ignore -= 1
            return web.Response(status=204)
        playback = self.playbacks.pop(request.match_info["id"], None)
        if playback is None:
            return _error(404, "Playback not found")
        channel = self.channels.get(playback.channel_id)
        if self.auto_events and channel is not None:
            finished = event_json("PlaybackFinished", channel.app, playback=playback.json("done"))
            await self.send(finished, required=False)
        return web.Response(status=204)

    async def _hangup(self, request: web.Request) -> web.Response:
        channel = self.channels.pop(request.match_info["id"], None)
        if channel is None:
            return _error(404, "Channel not found")
        if self.auto_events:
            await self._ended(channel, channel.json(), required=False)
        return web.Response(status=204)

    async def _moh(self, request: web.Request) -> web.Response:
        """Music on hold started or stopped: the fake plays nothing."""
        if self._channel(request) is None:
            return _error(404, "Channel not found")
        return web.Response(status=204)

    async def _set_variable(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return _error(404, "Channel not found")
        name = request.query.get("variable")
        if not name:
            return _error(400, "variable: Missing required parameter")
        channel.variables[name] = request.query.get("value", "")
        return web.Response(status=204)

    async def _get_variable(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return _error(404, "Channel not found")
        name = request.query.get("variable", "")
        if name not in channel.variables:
            return _error(404, "Provided variable was not found")
        return web.json_response({"value": channel.variables[name]})

    async def _list_channels(self, _: web.Request) -> web.Response:
        return web.json_response([channel.json() for channel in self.channels.values()])

    async def _event_filter(self, request: web.Request) -> web.Response:
        app = request.match_info["app"]
        try:
            body = await request.json() if request.body_exists else {}
            allowed = {str(item["type"]) for item in body.get("allowed", [])}
            disallowed = {str(item["type"]) for item in body.get("disallowed", [])}
        except (ValueError, KeyError, TypeError, AttributeError):
            return _error(400, "Invalid event filter")
        if app not in self.sockets and app not in self.allowed:
            return _error(404, "Application not found")
        self.allowed[app] = allowed
        self.disallowed[app] = disallowed
        return web.json_response(
            {
                "name": app,
                "channel_ids": [c.id for c in self.channels.values() if c.app == app],
                "bridge_ids": [],
                "endpoint_ids": [],
                "device_names": [],
                "events_allowed": [{"type": kind} for kind in sorted(allowed)],
                "events_disallowed": [{"type": kind} for kind in sorted(disallowed)],
            }
        )

    # -- recordings and the fallback's list ------------------------------------

    def recording_listings(self) -> list[RestRequest]:
        """GET /recordings/stored: every recording Asterisk keeps."""
        return [r for r in self.requests if r.method == "GET" and r.path == "/recordings/stored"]

    async def _global_variable(self, request: web.Request) -> web.Response:
        # Asterisk answers a global variable, never a function (DB_KEYS()
        # reads as ""), and "" for one that is not set.
        name = request.query.get("variable", "")
        value = ",".join(self.fallback) if name == FALLBACK_VARIABLE else ""
        return web.json_response({"value": value})

    async def _originate_local(self, request: web.Request) -> web.Response:
        """Only what forgetting a fallback message dials: Local/<name>@fallback-imported."""
        endpoint = request.query.get("endpoint", "")
        match = re.fullmatch(r"Local/([0-9-]+)@fallback-imported", endpoint)
        if match is None:
            return _error(400, f"the fake originates no {endpoint!r}")
        name = f"fallback-{match.group(1)}"
        if name in self.fallback:
            self.fallback.remove(name)
        return web.json_response({"id": f"local-{len(self.requests)}", "name": endpoint})

    async def _list_recordings(self, _: web.Request) -> web.Response:
        return web.json_response(
            [{"name": name, "format": "wav"} for name in sorted(self.recordings)]
        )

    async def _recording_file(self, request: web.Request) -> web.Response:
        audio = self.recordings.get(request.match_info["name"])
        if audio is None:
            return _error(404, "Recording not found")
        return web.Response(body=audio, content_type="audio/wav")

    async def _delete_recording(self, request: web.Request) -> web.Response:
        if self.recordings.pop(request.match_info["name"], None) is None:
            return _error(404, "Recording not found")
        return web.Response(status=204)

    async def _live_recording(self, _: web.Request) -> web.Response:
        return _error(404, "Recording not found")

    async def _info(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "system": {"version": VERSION, "entity_id": ASTERISK_ID},
                "status": {
                    "startup_time": f"{TIMESTAMP} (start {self.restarts})",
                    "last_reload_time": TIMESTAMP,
                },
            }
        )


@asynccontextmanager
async def running(**kwargs: Any) -> AsyncIterator[FakeAri]:
    fake = FakeAri(**kwargs)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
