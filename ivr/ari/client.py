"""The only code that sends anything to Asterisk: ARI's commands.

`AriClient` is every request the product makes, one method each, on the
connection (`ivr/ari/connection.py`: the pool, REST over the WebSocket, the
event stream and its reconnects). Only `ivr.stasis` and the CLI's composition
root hold an `AriClient`; every other package declares a `typing.Protocol`
for exactly what it needs (its recordings, an operator's phone, a leg's
bridge) and is handed this client, which satisfies it structurally.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from ivr.ari.connection import AriConnection
from ivr.ari.models import Channel
from ivr.errors import AriError, AriUnavailable

# What the native fallback's dialplan (dialplan/extensions.conf) keeps for the
# controller: the global variable listing the messages left, and the context
# that forgets one.
FALLBACK_PREFIX = "fallback-"
FALLBACK_VARIABLE = "IVR_FALLBACK_MESSAGES"
FALLBACK_FORGET_CONTEXT = "fallback-imported"
_FALLBACK_CHARACTERS = frozenset("0123456789-")

T = TypeVar("T")


class AriClient(AriConnection):
    # -- channels ------------------------------------------------------------------

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

    async def hangup_quietly(self, channel_id: str, reason: str = "normal") -> None:
        """Hang up a channel that may be gone already. An error means the
        channel (or Asterisk) is gone: either way nothing is left to end."""
        try:
            await self.hangup(channel_id, reason)
        except AriError:
            pass

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

    # -- operators' legs and callbacks: dial, bridge -------------------------------

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
            ("app", self.settings.ari_app),
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

    # -- music on hold, recordings -------------------------------------------------

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

    async def fallback_messages(self) -> list[str]:
        """The recordings of messages left in the native fallback and not yet
        forgotten: a global variable the dialplan keeps from AstDB
        (dialplan/extensions.conf, [fallback]). ARI reads a global variable,
        not a function, so `DB_KEYS()` itself cannot be asked for."""
        data = await self.request("GET", "/asterisk/variable", [("variable", FALLBACK_VARIABLE)])
        value = data.get("value") if isinstance(data, dict) else None
        return [name for name in str(value or "").split(",") if name]

    async def forget_fallback(self, name: str) -> None:
        """Remove fallback message `name` from Asterisk's list once it is a case.

        ARI may not write AstDB (Asterisk blocks `DB()` and `DB_DELETE()` from
        its REST interface as dangerous functions), so a Local channel runs
        the dialplan that does ([fallback-imported]); it never answers and
        never enters Stasis."""
        suffix = name.removeprefix(FALLBACK_PREFIX)
        if not suffix or suffix == name or not set(suffix) <= _FALLBACK_CHARACTERS:
            raise AriError(f"not a fallback recording's name: {name!r}")
        params = [
            ("endpoint", f"Local/{suffix}@{FALLBACK_FORGET_CONTEXT}"),
            ("context", FALLBACK_FORGET_CONTEXT),
            ("extension", "done"),
            ("priority", "1"),
            ("timeout", "5"),
        ]
        await self.request("POST", "/channels", params)

    async def stored_recording_file(self, name: str) -> bytes:
        """The recording's audio as Asterisk stores it (a WAV file here)."""
        return await self.fetch(f"/recordings/stored/{quote(name, safe='')}/file")

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

    # -- Asterisk itself: configuration, events, what it holds ---------------------

    async def push_config(self, object_type: str, object_id: str, fields: dict[str, str]) -> None:
        """Create or replace a res_pjsip object (endpoint, aor, auth) in Asterisk."""
        body = {"fields": [{"attribute": k, "value": v} for k, v in fields.items()]}
        await self.request(
            "PUT", f"/asterisk/config/dynamic/res_pjsip/{object_type}/{object_id}", body=body
        )

    async def endpoint_states(self, technology: str = "PJSIP") -> dict[str, str]:
        """Each endpoint of `technology` by name, with its state as Asterisk
        sees it: `online` (a contact it can reach), `offline`, or `unknown`."""
        data = await self.request("GET", f"/endpoints/{technology}")
        return {
            str(item["resource"]): str(item.get("state") or "unknown")
            for item in data or []
            if isinstance(item, dict) and "resource" in item
        }

    async def watch_endpoint(self, technology: str, resource: str) -> None:
        """Send this app the endpoint's `EndpointStateChange` events (an
        application hears of an endpoint only once subscribed to it)."""
        source = f"endpoint:{technology}/{resource}"
        await self.request(
            "POST",
            f"/applications/{self.settings.ari_app}/subscription",
            params=[("eventSource", source)],
        )

    async def filter_events(self, allowed: list[str]) -> None:
        """Ask Asterisk to send this app only these event types.

        Answers to REST requests over the WebSocket are events too: a filter
        without them would leave every such request unanswered."""
        if self.settings.ari_rest_over_websocket and "RESTResponse" not in allowed:
            allowed = [*allowed, "RESTResponse"]
        body = {"allowed": [{"type": name} for name in allowed]}
        await self.request("PUT", f"/applications/{self.settings.ari_app}/eventFilter", body=body)

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


async def on_the_keeper(
    clients: Sequence[AriClient], ask: Callable[[AriClient], Awaitable[T]]
) -> T:
    """`ask` of whichever Asterisk keeps a recording (names are unique: they
    carry the channel's id). A 404 from every one of them is a 404; a 404
    where another Asterisk could not be asked is `AriUnavailable`, since the
    recording may be there."""
    missing: AriError | None = None
    unreachable: AriError | None = None
    for client in clients:
        try:
            return await ask(client)
        except AriError as exc:
            if exc.http_status == 404:
                missing = exc
            elif isinstance(exc, AriUnavailable) or exc.http_status is None:
                unreachable = exc
            else:
                raise
    if unreachable is not None:
        raise AriUnavailable(f"an Asterisk that may keep it is away: {unreachable}")
    raise missing or AriUnavailable("no Asterisk is connected")


class Keepers:
    """Several Asterisks asked for stored recordings as one: each request goes
    to whichever keeps the recording (`on_the_keeper`). The controller's fleet
    and the CLI both ask this way."""

    def __init__(self, clients: Sequence[AriClient]) -> None:
        self._clients = clients

    async def stored_recording_file(self, name: str) -> bytes:
        return await on_the_keeper(self._clients, lambda ari: ari.stored_recording_file(name))

    async def delete_stored_recording(self, name: str) -> None:
        await on_the_keeper(self._clients, lambda ari: ari.delete_stored_recording(name))
