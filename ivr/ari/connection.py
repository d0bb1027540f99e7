"""The connection to Asterisk's REST Interface: requests and the event stream.

REST calls share one bounded connection pool (Asterisk's HTTP server refuses
sessions past its `sessionlimit`), and every failure becomes an `AriError`
(the request was refused or failed) or `AriUnavailable` (no Asterisk), never
an aiohttp exception. Once the event stream is up, requests may travel over
it instead (`ari_rest_over_websocket`). The event stream reconnects with
backoff for as long as the controller runs; after every (re)connect
`on_connect` runs before any event of the new connection is handed on, so
channels left in Stasis while nobody listened are taken back first.

What is sent is `ivr/ari/client.py`'s (`AriClient`, the commands); this is
how it travels.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any, Self
from urllib.parse import urlencode

import aiohttp
from pydantic import ValidationError

from ivr.ari.models import EVENT_TYPES, Event, RESTResponse, parse_event
from ivr.errors import AriError, AriUnavailable
from ivr.metrics import Metrics
from ivr.settings import Settings

log = logging.getLogger(__name__)

Params = list[tuple[str, str]]
_TYPE = re.compile(r'"type"\s*:\s*"(\w+)"')
# How often requests over the WebSocket are checked for their timeout: a
# request fails between `ari_request_timeout` and this much later.
EXPIRE_EVERY_S = 0.5


class AriConnection:
    def __init__(self, settings: Settings, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self._metrics = metrics if metrics is not None else Metrics()
        self._reconnects = self._metrics.ari_reconnects.labels(settings.node_name)
        self._base = settings.ari_base_url
        # The header BasicAuth would send: BasicAuth itself is deprecated
        # since aiohttp 3.14 (a DeprecationWarning on every client).
        credentials = f"{settings.ari_user}:{settings.ari_password}".encode("latin1")
        self._auth_header = "Basic " + base64.b64encode(credentials).decode("ascii")
        self._session: aiohttp.ClientSession | None = None
        # The events connection, once requests may travel over it too.
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        # (deadline, request id) in the order sent: every request has the
        # same timeout, so the oldest is always first. One sweep a
        # `EXPIRE_EVERY_S` fails those past it, instead of a timer per request.
        self._deadlines: deque[tuple[float, str]] = deque()
        self._next_request = 0
        self.connected = asyncio.Event()
        # Set whenever the events connection is down (from the start, too).
        self.disconnected = asyncio.Event()
        self.disconnected.set()

    @property
    def connections(self) -> dict[str, bool]:
        """Whether this Asterisk's events connection is up, by its node name."""
        return {self.settings.node_name: self.connected.is_set()}

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(
            limit=self.settings.ari_pool_size,
            keepalive_timeout=30,
            # No DNS on these machines; Asterisk is addressed by IP.
            use_dns_cache=False,
        )
        timeout = aiohttp.ClientTimeout(total=self.settings.ari_request_timeout)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={aiohttp.hdrs.AUTHORIZATION: self._auth_header},
            timeout=timeout,
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("AriClient used outside `async with`")
        return self._session

    @property
    def over_websocket(self) -> bool:
        """Whether requests now travel over the events connection."""
        return self._ws is not None and not self._ws.closed

    async def request(
        self, method: str, path: str, params: Params | None = None, body: Any = None
    ) -> Any:
        began = time.perf_counter()
        failed = True
        try:
            ws = self._ws
            if ws is not None and not ws.closed:
                result = await self._request_over_ws(ws, method, path, params, body)
            else:
                result = await self._request_over_http(method, path, params, body)
            failed = False
            return result
        finally:
            self._metrics.ari_request(method, path, time.perf_counter() - began, failed)

    async def fetch(self, path: str) -> bytes:
        """GET a binary body (a recording's audio): always over HTTP, since
        REST over the WebSocket carries text."""
        try:
            async with self.session.get(f"{self._base}{path}") as response:
                data = await response.read()
                if response.status >= 400:
                    raise AriError(
                        f"GET {path}: {response.status} {_message(data.decode(errors='replace'))}",
                        http_status=response.status,
                    )
                return data
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise AriUnavailable(f"GET {path}: Asterisk unreachable ({exc!r})") from exc

    async def _request_over_http(
        self, method: str, path: str, params: Params | None, body: Any
    ) -> Any:
        url = f"{self._base}{path}"
        try:
            async with self.session.request(method, url, params=params, json=body) as response:
                text = await response.text()
                return _result(method, path, response.status, text)
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise AriUnavailable(f"{method} {path}: Asterisk unreachable ({exc!r})") from exc

    async def _request_over_ws(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        method: str,
        path: str,
        params: Params | None,
        body: Any,
    ) -> Any:
        """ARI's REST over WebSocket (Asterisk 20.14, 21.9, 22.4 and newer).

        A request is one frame out and one `RESTResponse` frame back on the
        events connection: no HTTP parsing, no pool, a fraction of the CPU.
        """
        self._next_request += 1
        request_id = str(self._next_request)
        uri = path.lstrip("/")
        if params:
            uri += "?" + _query(tuple(params))
        frame: dict[str, Any] = {
            "type": "RESTRequest", "request_id": request_id, "method": method, "uri": uri,
        }
        if body is not None:
            frame["content_type"] = "application/json"
            frame["message_body"] = json.dumps(body)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._waiting[request_id] = answer
        self._deadlines.append((loop.time() + self.settings.ari_request_timeout, request_id))
        try:
            await ws.send_str(json.dumps(frame))
            response = await answer
        except (aiohttp.ClientConnectionError, ConnectionResetError, TimeoutError) as exc:
            raise AriUnavailable(
                f"{method} {path}: no answer over ARI's WebSocket ({exc!r})"
            ) from exc
        finally:
            self._waiting.pop(request_id, None)
        text = response.get("message_body") or ""
        if not isinstance(text, str):
            text = json.dumps(text)
        return _result(method, path, int(response.get("status_code", 500)), text)

    def _answered(self, data: dict[str, Any]) -> None:
        waiting = self._waiting.get(str(data.get("request_id")))
        if waiting is not None and not waiting.done():
            waiting.set_result(data)

    def _drop_waiting(self) -> None:
        for waiting in self._waiting.values():
            if not waiting.done():
                waiting.set_exception(ConnectionResetError("ARI WebSocket closed"))
        self._waiting.clear()
        self._deadlines.clear()

    async def _expire(self) -> None:
        """Fail requests over the WebSocket that got no answer in time."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(EXPIRE_EVERY_S)
            now = loop.time()
            deadlines = self._deadlines
            while deadlines and deadlines[0][0] <= now:
                waiting = self._waiting.get(deadlines.popleft()[1])
                if waiting is not None and not waiting.done():
                    waiting.set_exception(TimeoutError("no RESTResponse in time"))

    # -- events --------------------------------------------------------------------

    async def run_events(
        self,
        on_connect: Callable[[], Awaitable[None]],
        on_event: Callable[[Event], None],
    ) -> None:
        """Read events until cancelled, reconnecting with backoff.

        `on_event` must not block: it only hands the event to its call.
        """
        delay = self.settings.ari_reconnect_min
        expire: asyncio.Task[None] | None = None
        connects = 0
        url = self._base.replace("http://", "ws://", 1) + "/events"
        params = {"app": self.settings.ari_app, "subscribeAll": "false"}
        while True:
            try:
                async with self.session.ws_connect(
                    url, params=params, heartbeat=10.0, timeout=aiohttp.ClientWSTimeout(ws_close=5)
                ) as ws:
                    log.info("ARI events connected for app %s", self.settings.ari_app)
                    delay = self.settings.ari_reconnect_min
                    self.disconnected.clear()
                    self.connected.set()
                    connects += 1
                    if connects > 1:
                        self._reconnects.inc()
                    try:
                        # Over HTTP: nothing reads this connection's answers yet.
                        await on_connect()
                    except Exception:
                        # Events must keep flowing even if recovery failed.
                        log.exception("recovery after connect failed")
                    if self.settings.ari_rest_over_websocket:
                        self._ws = ws
                        expire = asyncio.create_task(self._expire(), name="ari-expire")
                    await self._read(ws, on_event)
            except (aiohttp.ClientError, TimeoutError, AriError) as exc:
                log.warning("ARI events unavailable (%s); retrying in %.1f s", exc, delay)
            finally:
                if expire is not None:
                    expire.cancel()
                    expire = None
                self._ws = None
                self._drop_waiting()
                self.connected.clear()
                self.disconnected.set()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.ari_reconnect_max)

    async def _read(
        self, ws: aiohttp.ClientWebSocketResponse, on_event: Callable[[Event], None]
    ) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                if message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                    break
                continue
            try:
                read = read_frame(message.data)
            except (ValueError, ValidationError, AttributeError) as exc:
                log.error("unreadable ARI event dropped: %s", exc)
                continue
            if isinstance(read, dict):
                self._answered(read)
            else:
                on_event(read)
        log.warning("ARI events connection closed")


def read_frame(text: str) -> Event | dict[str, Any]:
    """An event, read straight from its JSON text into its class; an answer to
    a request over the WebSocket (`RESTResponse`) as a dict.

    The class is guessed from the first `"type"` in the text (Asterisk writes
    it first) and kept only if the event read says the same; anything else
    takes the long way (`json.loads`, then `parse_event`), which also names
    what is wrong with a malformed event.
    """
    guess = _TYPE.search(text)
    kind = guess[1] if guess is not None else ""
    event_class = EVENT_TYPES.get(kind)
    if event_class is not None and event_class is not RESTResponse:
        try:
            event = event_class.model_validate_json(text)
        except ValidationError:
            pass
        else:
            if event.type == kind:
                return event
    data: dict[str, Any] = json.loads(text)
    if data.get("type") == "RESTResponse":
        return data
    return parse_event(data)


@lru_cache(maxsize=256)
def _query(params: tuple[tuple[str, str], ...]) -> str:
    # A menu's media list comes back on every call, and quoting its ~1,400
    # characters costs about 50 µs a time.
    return urlencode(params)


def _result(method: str, path: str, status: int, text: str) -> Any:
    if status >= 400:
        raise AriError(f"{method} {path}: {status} {_message(text)}", http_status=status)
    return json.loads(text) if text else None


def _message(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(data, dict) and "message" in data:
        return str(data["message"])
    return text[:200]
