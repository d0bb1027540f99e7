"""The only place that talks to Asterisk: ARI's REST calls and event stream.

REST calls share one bounded connection pool (Asterisk's HTTP server refuses
sessions past its `sessionlimit`), and every failure becomes an `AriError`
(the request was refused or failed) or `AriUnavailable` (no Asterisk), never
an aiohttp exception. The event stream reconnects with backoff for as long as
the controller runs; after every (re)connect `on_connect` runs before any
event of the new connection is handed on, so channels left in Stasis while
nobody listened are taken back first.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from pydantic import ValidationError

from ivr.ari.models import Channel, Event, parse_event
from ivr.errors import AriError, AriUnavailable
from ivr.settings import Settings

log = logging.getLogger(__name__)

Params = list[tuple[str, str]]


class AriClient:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._base = settings.ari_base_url
        # The header BasicAuth would send: BasicAuth itself is deprecated
        # since aiohttp 3.14 (a DeprecationWarning on every client).
        credentials = f"{settings.ari_user}:{settings.ari_password}".encode("latin1")
        self._auth_header = "Basic " + base64.b64encode(credentials).decode("ascii")
        self._session: aiohttp.ClientSession | None = None
        # The events connection, once requests may travel over it too.
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._next_request = 0
        self.connected = asyncio.Event()

    async def __aenter__(self) -> AriClient:
        connector = aiohttp.TCPConnector(
            limit=self._settings.ari_pool_size,
            keepalive_timeout=30,
            # No DNS on these machines; Asterisk is addressed by IP.
            use_dns_cache=False,
        )
        timeout = aiohttp.ClientTimeout(total=self._settings.ari_request_timeout)
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
        ws = self._ws
        if ws is not None and not ws.closed:
            return await self._request_over_ws(ws, method, path, params, body)
        return await self._request_over_http(method, path, params, body)

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
            uri += "?" + urlencode(params)
        frame: dict[str, Any] = {
            "type": "RESTRequest", "request_id": request_id, "method": method, "uri": uri,
        }
        if body is not None:
            frame["content_type"] = "application/json"
            frame["message_body"] = json.dumps(body)
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = answer
        try:
            await ws.send_str(json.dumps(frame))
            async with asyncio.timeout(self._settings.ari_request_timeout):
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

    # -- the calls the controller needs ---------------------------------------

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/answer")

    async def play(self, channel_id: str, playback_id: str, media: list[str]) -> None:
        # ARI takes a list as one comma-separated value; a repeated
        # parameter would keep only the last URI.
        params = [("media", ",".join(media))]
        await self.request("POST", f"/channels/{channel_id}/play/{playback_id}", params)

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"/playbacks/{playback_id}")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{channel_id}", [("reason", reason)])

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        params = [("variable", name), ("value", value)]
        await self.request("POST", f"/channels/{channel_id}/variable", params)

    async def get_variable(self, channel_id: str, name: str) -> str | None:
        try:
            data = await self.request(
                "GET", f"/channels/{channel_id}/variable", [("variable", name)]
            )
        except AriError as exc:
            if exc.http_status == 404:
                return None
            raise
        value = data.get("value") if isinstance(data, dict) else None
        return value or None

    async def originate(
        self,
        channel_id: str,
        endpoint: str,
        app_args: str,
        *,
        caller_id: str,
        ring_seconds: float,
        variables: dict[str, str] | None = None,
    ) -> None:
        """Dial `endpoint`; once answered the channel enters our app with `app_args`."""
        params = [
            ("endpoint", endpoint),
            ("app", self._settings.ari_app),
            ("appArgs", app_args),
            ("callerId", caller_id),
            ("timeout", str(max(1, round(ring_seconds)))),
        ]
        body = {"variables": variables} if variables else None
        await self.request("POST", f"/channels/{channel_id}", params, body)

    async def create_bridge(self, bridge_id: str) -> None:
        await self.request("POST", f"/bridges/{bridge_id}", [("type", "mixing")])

    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        params = [("channel", ",".join(channel_ids))]
        await self.request("POST", f"/bridges/{bridge_id}/addChannel", params)

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{bridge_id}")

    async def bridges(self) -> list[dict[str, Any]]:
        data = await self.request("GET", "/bridges")
        return list(data or [])

    async def start_moh(self, channel_id: str, moh_class: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/moh", [("mohClass", moh_class)])

    async def stop_moh(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{channel_id}/moh")

    async def record(
        self, channel_id: str, name: str, *, max_seconds: int, max_silence: int
    ) -> None:
        """Record the channel as stored recording `name` (WAV): beep first, `#` ends."""
        params = [
            ("name", name),
            ("format", "wav"),
            ("maxDurationSeconds", str(max_seconds)),
            ("maxSilenceSeconds", str(max_silence)),
            ("ifExists", "fail"),
            ("beep", "true"),
            ("terminateOn", "#"),
        ]
        await self.request("POST", f"/channels/{channel_id}/record", params)

    async def stored_recordings(self) -> list[str]:
        """The names of every recording Asterisk keeps (its recording folder)."""
        data = await self.request("GET", "/recordings/stored")
        return [str(item["name"]) for item in data or [] if "name" in item]

    async def stored_recording_file(self, name: str) -> bytes:
        """The recording's audio as Asterisk stores it (a WAV file here).

        Binary, so always over HTTP: REST over the WebSocket carries text."""
        path = f"/recordings/stored/{quote(name, safe='')}/file"
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

    async def recording_live(self, name: str) -> bool:
        """Whether Asterisk is still making recording `name`."""
        try:
            await self.request("GET", f"/recordings/live/{quote(name, safe='')}")
        except AriError as exc:
            if exc.http_status == 404:
                return False
            raise
        return True

    async def delete_stored_recording(self, name: str) -> None:
        await self.request("DELETE", f"/recordings/stored/{quote(name, safe='')}")

    async def push_config(
        self, object_type: str, object_id: str, fields: dict[str, str]
    ) -> None:
        """Create or replace a res_pjsip object (endpoint, aor, auth) in Asterisk."""
        body = {"fields": [{"attribute": k, "value": v} for k, v in fields.items()]}
        await self.request(
            "PUT", f"/asterisk/config/dynamic/res_pjsip/{object_type}/{object_id}", body=body
        )

    async def filter_events(self, allowed: list[str]) -> None:
        """Ask Asterisk to send this app only these event types.

        Answers to REST requests over the WebSocket are events too: a filter
        without them would leave every such request unanswered."""
        if self._settings.ari_rest_over_websocket and "RESTResponse" not in allowed:
            allowed = [*allowed, "RESTResponse"]
        body = {"allowed": [{"type": name} for name in allowed]}
        await self.request("PUT", f"/applications/{self._settings.ari_app}/eventFilter", body=body)

    async def playback_exists(self, playback_id: str) -> bool:
        try:
            await self.request("GET", f"/playbacks/{playback_id}")
        except AriError as exc:
            if exc.http_status == 404:
                return False
            raise
        return True

    async def channels(self) -> list[Channel]:
        data = await self.request("GET", "/channels")
        return [Channel.model_validate(item) for item in data or []]

    async def info(self) -> dict[str, Any]:
        data = await self.request("GET", "/asterisk/info")
        return data if isinstance(data, dict) else {}

    # -- events -----------------------------------------------------------------

    async def run_events(
        self,
        on_connect: Callable[[], Awaitable[None]],
        on_event: Callable[[Event], None],
    ) -> None:
        """Read events until cancelled, reconnecting with backoff.

        `on_event` must not block: it only hands the event to its call.
        """
        delay = self._settings.ari_reconnect_min
        url = self._base.replace("http://", "ws://", 1) + "/events"
        params = {"app": self._settings.ari_app, "subscribeAll": "false"}
        while True:
            try:
                async with self.session.ws_connect(
                    url, params=params, heartbeat=10.0, timeout=aiohttp.ClientWSTimeout(ws_close=5)
                ) as ws:
                    log.info("ARI events connected for app %s", self._settings.ari_app)
                    delay = self._settings.ari_reconnect_min
                    self.connected.set()
                    try:
                        # Over HTTP: nothing reads this connection's answers yet.
                        await on_connect()
                    except Exception:
                        # Events must keep flowing even if recovery failed.
                        log.exception("recovery after connect failed")
                    if self._settings.ari_rest_over_websocket:
                        self._ws = ws
                    await self._read(ws, on_event)
            except (aiohttp.ClientError, TimeoutError, AriError) as exc:
                log.warning("ARI events unavailable (%s); retrying in %.1f s", exc, delay)
            finally:
                self._ws = None
                self._drop_waiting()
                self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._settings.ari_reconnect_max)

    async def _read(
        self, ws: aiohttp.ClientWebSocketResponse, on_event: Callable[[Event], None]
    ) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                if message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                    break
                continue
            try:
                data = json.loads(message.data)
                if data.get("type") == "RESTResponse":
                    self._answered(data)
                    continue
                event = parse_event(data)
            except (ValueError, ValidationError, AttributeError) as exc:
                log.error("unreadable ARI event dropped: %s", exc)
                continue
            on_event(event)
        log.warning("ARI events connection closed")


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
