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

    async def request(
        self, method: str, path: str, params: Params | None = None, body: Any = None
    ) -> Any:
        url = f"{self._base}{path}"
        try:
            async with self.session.request(method, url, params=params, json=body) as response:
                text = await response.text()
                if response.status >= 400:
                    raise AriError(
                        f"{method} {path}: {response.status} {_message(text)}",
                        http_status=response.status,
                    )
                return json.loads(text) if text else None
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise AriUnavailable(f"{method} {path}: Asterisk unreachable ({exc!r})") from exc

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

    async def filter_events(self, allowed: list[str]) -> None:
        """Ask Asterisk to send this app only these event types."""
        body = {"allowed": [{"type": name} for name in allowed]}
        await self.request("PUT", f"/applications/{self._settings.ari_app}/eventFilter", body=body)

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
                        await on_connect()
                    except Exception:
                        # Events must keep flowing even if recovery failed.
                        log.exception("recovery after connect failed")
                    await self._read(ws, on_event)
            except (aiohttp.ClientError, TimeoutError, AriError) as exc:
                log.warning("ARI events unavailable (%s); retrying in %.1f s", exc, delay)
            finally:
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
                event = parse_event(json.loads(message.data))
            except (ValueError, ValidationError) as exc:
                log.error("unreadable ARI event dropped: %s", exc)
                continue
            on_event(event)
        log.warning("ARI events connection closed")


def _message(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(data, dict) and "message" in data:
        return str(data["message"])
    return text[:200]
