"""An operator's phone registering with Asterisk, played by SIPp.

Theory of operation. A phone that does not sit at a fixed address tells
Asterisk where it is with a REGISTER: its Contact (where to send INVITEs)
for `expires` seconds. `register` sends one, answers Asterisk's digest
challenge with the phone's password (SIPp's `[authentication]`), and
returns once Asterisk said 200; `expires=0` takes the registration back,
as a phone does when it is switched off properly. The Contact is usually a
`devtools.sipoperator` phone's, so the registered phone is one that rings.

Everything is loopback: the phone's address must be outside the carrier's
trunk networks (`IVR_SIP_CALLER_NETWORKS`), or Asterisk would take its
REGISTER for the trunk's (see README, "Operators' phones").
"""

from __future__ import annotations

import ipaddress
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devtools.sipcall import _SIPP_BIND_FAILED, PORT_ATTEMPTS, _free_ports, _run_sipp, _sipp_binary
from ivr.errors import ConfigError
from ivr.settings import Settings

REGISTER_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Registration:
    """Who registers, where their phone rings, and for how long (0: unregister)."""

    user: str  # the operator's endpoint
    password: str
    contact: str  # sip:user@host:port
    expires: int = 300
    local_ip: str = "127.0.0.2"


def build_scenario(registration: Registration) -> str:
    r = registration
    request = f"""
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{r.user}@[remote_ip]>;tag=[pid]reg[call_number]
      To: <sip:{r.user}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: {{cseq}} REGISTER
      Contact: <{r.contact}>
      Expires: {r.expires}
      Max-Forwards: 70
      User-Agent: ivr12371-test-phone
      {{auth}}Content-Length: 0
"""
    first = request.format(cseq=1, auth="")
    second = request.format(cseq=2, auth="[authentication]\n      ")
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register">
  <send retrans="500"><![CDATA[{first}
]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[{second}
]]></send>
  <recv response="200"/>
</scenario>
"""


async def register(registration: Registration, settings: Settings) -> None:
    """Register (or, with `expires` 0, unregister) the phone; raise unless Asterisk said 200."""
    if not ipaddress.ip_address(settings.sip_host).is_loopback:
        raise ConfigError("REGISTER goes to loopback only", sip_host=settings.sip_host)
    sipp = _sipp_binary()
    with tempfile.TemporaryDirectory(prefix="ivrregister-") as tmp:
        directory = Path(tmp)
        (directory / "register.xml").write_text(build_scenario(registration), encoding="latin-1")
        for _ in range(PORT_ATTEMPTS):
            host = registration.local_ip
            sip_port, media_port, control_port = _free_ports(host)
            args = [
                sipp, f"{settings.sip_host}:{settings.sip_port}",
                "-sf", str(directory / "register.xml"), "-m", "1", "-nostdin",
                "-i", host, "-p", str(sip_port), "-bind_local",
                "-mi", host, "-mp", str(media_port), "-ci", host, "-cp", str(control_port),
                "-au", registration.user, "-ap", registration.password,
                "-timeout", f"{int(REGISTER_TIMEOUT_S)}s",
                "-trace_msg", "-message_file", str(directory / "messages.log"),
            ]
            run = await _run_sipp(args, directory, REGISTER_TIMEOUT_S + 5)
            if run.exit_code != _SIPP_BIND_FAILED:
                break
        if run.exit_code != 0:
            trace = directory / "messages.log"
            sent = trace.read_text(errors="replace")[-3000:] if trace.exists() else ""
            raise AssertionError(
                f"REGISTER for {registration.user} failed (SIPp exit {run.exit_code}): "
                f"{run.stderr[-1000:]}\n{sent}"
            )
