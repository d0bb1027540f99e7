"""The case number's format, shared by the cases (`ivr.cases.rules`) and the
call flow that says and reads it back (`ivr.call.tracking`). No I/O.

A case number is the case's id, at least five digits, and a check digit:
case 123 is "00123" and its check digit, "001234". Six digits
until the 100,000th case, seven until the millionth: short enough for a
caller to hear twice and key back, like a local telephone number, where a
date-and-id number (20261124-000123, fourteen digits) is not. The id is not
secret: a caller hears only cases registered from their own number.

The check digit is Damm's (H. M. Damm, 2004): it catches every single wrong
digit and every swap of two neighbours, the two slips of keying a number
heard, so a mistyped number is refused before any case is looked up.
"""

from __future__ import annotations

# Damm's totally antisymmetric quasigroup of order 10.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
# Digits of the id, at least (zero-padded), before the check digit.
ID_DIGITS = 5
# Longer than any number this format makes for a long while (8 digits: a
# hundred million cases); what a caller keys past it is no number of ours.
MAX_DIGITS = 12


def _damm(digits: str) -> int:
    interim = 0
    for digit in digits:
        interim = _DAMM[interim][int(digit)]
    return interim


def number_of(case_id: int) -> str:
    """Case `case_id`'s number: 123 → "001234"."""
    if case_id < 1:
        raise ValueError("a case id is positive")
    body = f"{case_id:0{ID_DIGITS}d}"
    return body + str(_damm(body))


def is_case_number(text: str) -> bool:
    """Digits only, six to `MAX_DIGITS` of them, and the check digit right."""
    return (
        ID_DIGITS < len(text) <= MAX_DIGITS
        and text.isascii()
        and text.isdigit()
        and _damm(text) == 0
    )
