"""What `ivr call` does: place one real SIP call with the test phone
(`devtools.sipcall`) and describe what the controller recorded of it.

Not product: `ivr.cli.main` imports this lazily, in a development checkout.
The record is read from the database the controller writes (the admin API
would need a signed-in user); the end-to-end harness waits for it the same way.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from devtools.sipcall import CallPlan, CallResult, place_call, presses
from ivr.audio.catalog import Catalog
from ivr.db.engine import make_engine, make_sessionmaker
from ivr.db.queries import find_by_sip_call_id
from ivr.errors import DataError, IvrError
from ivr.settings import Settings

# How long `ivr call` waits for the controller to write the finished record.
RECORD_WAIT_S = 10.0


def place(
    settings: Settings,
    caller: str,
    to: str,
    keys: list[str],
    first_key_s: float,
    gap_s: float,
    hangup_after_s: float | None,
    as_json: bool,
) -> int:
    """Call, press `keys` from `first_key_s` after the answer, `gap_s` apart;
    print what happened. Exit status 0 if answered and recorded."""
    bad = [key for key in keys if key not in set("0123456789*#")]
    if bad:
        raise DataError(f"keys must be 0-9, * or #, separated by commas; not {bad}")
    times = [(first_key_s + i * gap_s, key) for i, key in enumerate(keys)]
    plan = CallPlan(caller=caller, to=to, actions=presses(*times, hangup_at_s=hangup_after_s))
    result = asyncio.run(place_call(plan, settings))
    record = wait_for_record(settings, plan.call_id)
    if as_json:
        print(json.dumps({"sip": result_json(result), "record": record}, indent=2))
    else:
        print(describe(result, record, prompt_texts(settings)))
    return 0 if result.answered and record is not None else 1


def prompt_texts(settings: Settings) -> dict[str, str]:
    """What each prompt says, from the built prompts; empty if there are none here."""
    try:
        catalog = Catalog.load(settings.prompt_build_dir)
    except IvrError:
        return {}
    return {prompt_id: entry.text for prompt_id, entry in catalog.entries.items()}


def wait_for_record(
    settings: Settings, sip_call_id: str, timeout: float = RECORD_WAIT_S
) -> dict[str, Any] | None:
    """The controller's record of a call found by its SIP Call-ID, once it
    says the call ended (or as it stands when `timeout` runs out).

    Read from the database the controller writes (the API would need a
    signed-in user), in a thread of its own so that an asyncio caller can
    wait for it too."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        deadline = time.monotonic() + timeout
        return pool.submit(asyncio.run, _poll_record(settings, sip_call_id, deadline)).result()


async def _poll_record(
    settings: Settings, sip_call_id: str, deadline: float
) -> dict[str, Any] | None:
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    record: dict[str, Any] | None = None
    try:
        while time.monotonic() < deadline:
            try:
                async with sessions() as session:
                    found = await find_by_sip_call_id(session, sip_call_id)
            except SQLAlchemyError:
                found = None  # not migrated yet, or a write holds the file: next time
            if found is not None:
                record = found.model_dump(mode="json")
                if record.get("ended_at"):
                    return record
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
    return record


def result_json(result: CallResult) -> dict[str, Any]:
    return {
        "call_id": result.call_id,
        "answered": result.answered,
        "final_status": result.final_status,
        "ended_by": result.ended_by,
        "duration_s": round(result.duration_s, 2),
    }


def describe(result: Any, record: dict[str, Any] | None, texts: dict[str, str]) -> str:
    lines = [
        f"SIP: {'answered' if result.answered else 'not answered'} "
        f"(final {result.final_status}), ended by {result.ended_by}, "
        f"{result.duration_s:.1f} s",
    ]
    if record is None:
        lines.append(
            "No record of this call at the controller: is `ivr serve` running? "
            "(a call while it is down hears the native fallback)"
        )
        return "\n".join(lines)
    lines.append(
        f"Routed by {record['route_rule']} {record['route_read']!r}; "
        f"ended at {record['department_name']} ({record['department_code']})"
    )
    heard: list[str] = []
    for step in [*record.get("steps", []), None]:
        if step is not None and step["kind"] == "prompt":
            heard.append(texts.get(step["value"], f"[{step['value']}]"))
            continue
        if heard:  # the prompts played in a row (a key cuts them short)
            lines.append(f"  {'played':>10}: {' '.join(heard)}")
            heard = []
        if step is not None:
            detail = f" ({step['detail']})" if step.get("detail") else ""
            lines.append(f"  {step['kind']:>10}: {step['value']}{detail}")
    queue = record.get("queue")
    if queue:
        offers = ", ".join(f"{o['operator']} ({o['outcome']})" for o in queue["offers"])
        lines.append(
            f"Queue: place {queue['position']} in {queue['department_code']}'s line, "
            f"waited {queue['wait_seconds']} s, talked {queue['talk_seconds']} s; "
            f"rang {offers or 'nobody'}; {queue['status']}"
        )
    lines.append(f"Ended: {record.get('end_reason') or 'still in progress'}")
    return "\n".join(lines)
