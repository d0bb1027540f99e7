"""Reading the numbers of a call: what was dialed, who calls, where the carrier says it is from.

Everything here works on strings alone (no directory): it finds an area code,
a mobile prefix or a division code in whatever a trunk sent, and says in plain
words why when it finds none. Nothing raises, for any input: this runs on the
call path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

HOTLINE = "12371"

_SEPARATORS = str.maketrans("", "", " \t-().")
_WITHHELD = frozenset({"anonymous", "unknown", "private", "restricted", "unavailable", "withheld"})
# Longer than any Chinese number written with its international prefix.
_MAX_DIGITS = 20
MIN_SUBSCRIBER = 7
MAX_SUBSCRIBER = 8
MOBILE_DIGITS = 11
# A mobile number is 1 then 3 to 9 (13x to 19x); its first seven digits (the
# H code) name the place the number was issued for.
MOBILE_SECOND_DIGITS = "3456789"
MOBILE_PREFIX_DIGITS = 7
DIVISION_CODE_DIGITS = 6
_SHOWN_CHARS = 40

CallerKind = Literal["landline", "mobile", "none"]
OriginKind = Literal["division", "area_code", "none"]


@dataclass(frozen=True, slots=True)
class Caller:
    """The calling number as read: a landline in national form (0551...), an
    11-digit mobile number, or none, with why not."""

    kind: CallerKind
    number: str
    why: str = ""


@dataclass(frozen=True, slots=True)
class Origin:
    """What the carrier said about where a call comes from."""

    kind: OriginKind
    value: str
    step: str


def is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def area_code_length(national: str) -> int:
    """3 for 010 and 02X, 4 for every other code (0XXX)."""
    return 3 if national[1:2] in ("1", "2") else 4


def is_area_code(text: str) -> bool:
    """010, 02X or 0XXX (a digit other than 0, 1 or 2 after the 0)."""
    return (
        is_digits(text)
        and len(text) >= 3
        and text[0] == "0"
        and text[1] != "0"
        and len(text) == area_code_length(text)
        and (text[1] != "1" or text == "010")
    )


def is_mobile(number: str) -> bool:
    return (
        len(number) == MOBILE_DIGITS
        and is_digits(number)
        and number[0] == "1"
        and number[1] in MOBILE_SECOND_DIGITS
    )


def show(text: str) -> str:
    """`text` quoted for a step, cut short if a trunk sent something long."""
    if len(text) <= _SHOWN_CHARS:
        return repr(text)
    return repr(text[:_SHOWN_CHARS]) + "..."


def plain(raw: str) -> str:
    """The number part of what a trunk sent: no URI scheme, host, parameters or separators."""
    text = raw.strip()
    lower = text[:5].lower()
    for scheme in ("sips:", "sip:", "tel:"):
        if lower.startswith(scheme):
            text = text[len(scheme) :]
            break
    return text.split("@", 1)[0].split(";", 1)[0].translate(_SEPARATORS)


def domestic(digits: str) -> str | None:
    """A number in national form (trunk prefix 0), given with or without +86/0086/86.

    Returns None for a number in another country. Where the country code is
    given, the trunk prefix 0 is dropped (`+86 551 ...`); some trunks keep it
    anyway (`+86 0551 ...`), and both mean the same number.
    """
    if digits.startswith("+"):
        if not digits.startswith("+86"):
            return None
        rest = digits[3:]
    elif digits.startswith("0086"):
        rest = digits[4:]
    elif digits.startswith("00"):
        return None
    elif digits.startswith("86"):
        rest = digits[2:]
    else:
        return digits
    return rest if rest.startswith("0") else "0" + rest


def dialed_area_code(dialed: str) -> tuple[str, str]:
    """(area code dialed before 12371 or "", step)."""
    shown = show(dialed)
    text = plain(dialed)
    if not text:
        return "", "dialed number is empty: no area code dialed"
    if not text.endswith(HOTLINE):
        return "", f"dialed {shown} does not end in {HOTLINE}: no area code dialed"
    prefix = text[: -len(HOTLINE)]
    if not prefix:
        return "", f"dialed {shown}: {HOTLINE} without an area code"
    national = domestic(prefix) if is_digits(prefix.removeprefix("+")) else None
    if national is None or not is_area_code(national):
        return "", f"dialed {shown}: prefix {prefix!r} is not an area code"
    return national, f"dialed {shown}: area code {national} before {HOTLINE}"


def read_caller(caller: str) -> Caller:
    """The calling number: a landline (national form) or a mobile number, or why neither."""
    text = plain(caller)
    if not text:
        return Caller("none", "", "is empty: no number to read")
    if text.lower() in _WITHHELD:
        return Caller("none", "", "is withheld")
    if not is_digits(text.removeprefix("+")):
        return Caller("none", "", "is not a telephone number (not only digits)")
    if len(text) > _MAX_DIGITS:
        return Caller("none", "", f"is too long for a telephone number ({len(text)} digits)")
    national = domestic(text)
    if national is None:
        return Caller("none", "", "is an international number outside China")
    mobile = national.removeprefix("0")  # some trunks send 0 before a mobile from elsewhere
    if is_mobile(mobile):
        return Caller("mobile", mobile)
    if not national.startswith("0") or len(national) < 3:
        why = "has no area code (a landline number in national form starts with 0)"
        return Caller("none", "", why)
    return Caller("landline", national)


def area_code_of(national: str) -> str:
    """The area code a number in national form would have by its shape."""
    return national[: area_code_length(national)]


def landline_area_codes(national: str) -> tuple[str, ...]:
    """The area codes a landline in national form may start with, longest first."""
    return tuple(national[:length] for length in (4, 3) if len(national) > length)


def subscriber_fits(national: str, area_code: str) -> bool:
    """Whether 7 or 8 digits follow the area code, as in every Chinese landline."""
    return MIN_SUBSCRIBER <= len(national) - len(area_code) <= MAX_SUBSCRIBER


def read_origin(origin: str) -> Origin:
    """A division code (340100) or an area code (0551 or 551) from the carrier, or none."""
    text = plain(origin)
    given = f"origin {show(origin)} from the carrier"
    if not text:
        return Origin("none", "", "the carrier gave no origin")
    if is_digits(text) and len(text) == DIVISION_CODE_DIGITS:
        return Origin("division", text, f"{given}: division code {text}")
    national = text if text.startswith("0") else "0" + text
    if is_area_code(national):
        return Origin("area_code", national, f"{given}: area code {national}")
    return Origin("none", "", f"{given} is neither a 6-digit division code nor an area code")
