"""The caller's own cases: the number said when one is registered, and the
lookup by phone (the `lookup` menu, a sub-machine of the call flow).

A message or a callback request becomes a case (`ivr.cases`); the controller
tells the flow its number (`RecordingEnded.case`, `CaseRegistered`) and the
caller hears it before the goodbye, digit by digit, twice: "您的受理编号是
0 0 0 1 2 5。重复一遍，受理编号是 0 0 0 1 2 5。" Digits are said as on the
telephone (幺 for 1), so 1 and 7 do not sound alike. A case whose number
never came (the database was away) is said without one: the message itself
is kept and settled later.

The lookup (a service-menu node of kind `lookup`, in the national menu, so
every department inherits it): the caller keys a case number and `#` (or
stops keying), and hears its status, the department handling it and its
deadline. A number whose check digit is wrong is refused before anything is
looked up; the controller answers only with cases registered from the
caller's own number, so a number of someone else's case is "未查到" like one
that does not exist. Two failures end the call politely.
"""

from __future__ import annotations

from datetime import date

from ivr.call import guide as menus
from ivr.call.events import (
    CaseLookedUp,
    CaseRegistered,
    Command,
    Event,
    LookupCase,
    Step,
)
from ivr.call.state import PROMPT_NO_INPUT, CallState, Context
from ivr.case_numbers import MAX_DIGITS, is_case_number

PROMPT_NUMBER_IS = "case.number_is"
PROMPT_NUMBER_AGAIN = "case.number_again"
PROMPT_LOOKUP_ASK = "case.lookup_ask"
PROMPT_LOOKUP_WRONG = "case.lookup_wrong"
PROMPT_LOOKUP_NONE = "case.lookup_none"
PROMPT_LOOKUP_RETRY = "case.lookup_retry"
PROMPT_LOOKUP_END = "case.lookup_end"
PROMPT_LOOKUP_AFTER = "case.lookup_after"
PROMPT_LOOKUP_UNAVAILABLE = "case.lookup_unavailable"
PROMPT_HANDLED_BY = "case.handled_by"
PROMPT_DUE = "case.due"

STATUSES = ("registered", "assigned", "in_progress", "resolved", "closed")
DONE = ("resolved", "closed")

# Failures (a wrong check digit, no such case of theirs) before goodbye.
MAX_LOOKUP_FAILURES = 2
KEY_ANOTHER = "1"

PROMPTS_USED = (
    PROMPT_NUMBER_IS,
    PROMPT_NUMBER_AGAIN,
    PROMPT_LOOKUP_ASK,
    PROMPT_LOOKUP_WRONG,
    PROMPT_LOOKUP_NONE,
    PROMPT_LOOKUP_RETRY,
    PROMPT_LOOKUP_END,
    PROMPT_LOOKUP_AFTER,
    PROMPT_LOOKUP_UNAVAILABLE,
    PROMPT_HANDLED_BY,
    PROMPT_DUE,
    *(f"number.{d}" for d in range(10)),
    *(f"case.status.{s}" for s in STATUSES),
    *(f"date.month.{m}" for m in range(1, 13)),
    *(f"date.day.{d}" for d in range(1, 32)),
)


def digits(number: str) -> tuple[str, ...]:
    """`number` said digit by digit."""
    return tuple(f"number.{d}" for d in number if d.isascii() and d.isdigit())


def number_prompts(number: str) -> tuple[str, ...]:
    """The case's number, said twice; nothing when there is none."""
    if not number:
        return ()
    said = digits(number)
    return (PROMPT_NUMBER_IS, *said, PROMPT_NUMBER_AGAIN, *said)


def date_prompts(day: date) -> tuple[str, ...]:
    return (f"date.month.{day.month}", f"date.day.{day.day}")


def answer_prompts(event: CaseLookedUp) -> tuple[str, ...]:
    """What a found case is, in words: "已受理，正在办理。承办单位 长丰县委组织部，
    办结期限 12月3日。" A finished case has no deadline to say."""
    status = event.status if event.status in STATUSES else "registered"
    said: tuple[str, ...] = (f"case.status.{status}",)
    if event.department:
        said += (PROMPT_HANDLED_BY, menus.department_prompt(event.department))
    if event.due is not None and status not in DONE:
        said += (PROMPT_DUE, *date_prompts(event.due))
    return said


def unheard_number(call: CallState) -> tuple[str, ...]:
    """The call's case number, said twice, if it is known and the caller has
    not heard it yet; else nothing."""
    if not call.case_number or call.case_said == call.case_number:
        return ()
    call.case_said = call.case_number
    return number_prompts(call.case_number)


def is_number_key(digit: str) -> bool:
    return len(digit) == 1 and digit in "0123456789"


class Tracking:
    def __init__(self, call: CallState, context: Context) -> None:
        self.call = call
        self.context = context

    # -- the number of the case the call left ----------------------------------------

    def registered(self, event: Event) -> list[Command]:
        """Told in any state: kept for when the caller is told."""
        assert isinstance(event, CaseRegistered)
        self.call.case_number = event.number
        return []

    # -- the lookup by phone: a sub-machine --------------------------------------------

    def start(self, *before: str) -> list[Command]:
        call = self.call
        call.menu, call.lookup_digits, call.lookup_answer = "lookup", "", ()
        call.lookup_failures = call.silences = call.invalid = 0
        return [Step("note", "case_lookup"), *call.play(*before, *self.prompts())]

    def prompts(self) -> tuple[str, ...]:
        if self.call.lookup_answer:
            return (*self.call.lookup_answer, PROMPT_LOOKUP_AFTER)
        return (PROMPT_LOOKUP_ASK,)

    def key(self, digit: str) -> list[Command] | None:
        """Digits, then `#`; once the answer is said, `#` again, `1` another.
        (`*`, back to the service menu, is the service menu's.)"""
        call = self.call
        if call.lookup_answer:  # the answer was said: again, another, back
            if digit == menus.KEY_REPEAT:
                return call.play(*self.prompts())
            if digit == KEY_ANOTHER:
                return self.start()
            return None
        if digit == menus.KEY_REPEAT:  # `#` ends the number
            return self._submit()
        if not is_number_key(digit):
            return None
        call.lookup_digits += digit
        if len(call.lookup_digits) > MAX_DIGITS:
            return self._failed(PROMPT_LOOKUP_WRONG)
        return self._more()

    def wrong_key(self) -> list[Command]:
        return self.call.wrong_key(self.context.config.max_invalid, *self.prompts())

    def silence(self) -> list[Command]:
        """The caller stopped keying: what they keyed is the number; with
        nothing keyed, the question again, then goodbye."""
        call = self.call
        if call.lookup_digits and not call.lookup_pending:
            return self._submit()
        if call.lookup_pending:  # the answer never came
            call.lookup_pending = ""
            note = Step("error", "case_lookup_unanswered")
            return [note, *call.close("case_lookup", PROMPT_LOOKUP_UNAVAILABLE)]
        call.silences += 1
        if call.silences >= self.context.config.max_silences:
            return call.close("silence")
        return call.play(PROMPT_NO_INPUT, *self.prompts())

    def hung_up(self) -> str:
        return "caller_hangup"

    def answer(self, event: Event) -> list[Command]:
        """The controller looked the number up."""
        assert isinstance(event, CaseLookedUp)
        call = self.call
        if call.menu != "lookup" or event.number != call.lookup_pending:
            return []  # the caller moved on
        call.lookup_pending = ""
        commands: list[Command] = [*call.interrupt()]
        if not event.found:
            noted = Step("note", "case_lookup_none", event.number)
            return [*commands, noted, *self._failed(PROMPT_LOOKUP_NONE)]
        call.lookup_answer = answer_prompts(event)
        noted = Step("note", "case_lookup_found", f"{event.number} {event.status}")
        return [*commands, noted, *call.play(*self.prompts())]

    def _submit(self) -> list[Command]:
        call = self.call
        number, call.lookup_digits = call.lookup_digits, ""
        if not number:
            return call.play(*self.prompts())
        if not is_case_number(number):
            noted = Step("note", "case_lookup_wrong", number[:MAX_DIGITS])
            return [noted, *self._failed(PROMPT_LOOKUP_WRONG)]
        # The answer comes as `CaseLookedUp`; meanwhile the caller waits in
        # silence (a few ms), with the digit timer as the bound.
        call.lookup_pending = number
        return [LookupCase(number), *self._more()]

    def _more(self) -> list[Command]:
        """Wait for the next digit (or the answer), as long as the digit timeout."""
        return self.call.wait_for_key(self.context.config.digit_timeout)

    def _failed(self, said: str) -> list[Command]:
        call = self.call
        call.lookup_digits = ""
        call.lookup_failures += 1
        if call.lookup_failures >= MAX_LOOKUP_FAILURES:
            return call.close("case_lookup", said, PROMPT_LOOKUP_END)
        return call.play(said, PROMPT_LOOKUP_RETRY)

    def leave(self) -> None:
        """The caller goes back (`*`, `ivr.call.service.AfterHours.lookup_key`)."""
        call = self.call
        call.lookup_digits, call.lookup_answer, call.lookup_pending = "", (), ""
