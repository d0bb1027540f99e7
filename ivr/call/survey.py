"""The satisfaction survey, a sub-machine of the call flow (the `survey` menu).

When `FlowConfig.survey` is on, a call that ends with an operator's call or
a message asks how the service was before the goodbye: `1` satisfied, `2`
fair, `3` dissatisfied. Any other key, or silence, skips it. What is asked
about follows from how the call ends (`end_reason`, set before the question).
"""

from __future__ import annotations

from typing import Literal

from ivr.call import guide as menus
from ivr.call.events import Command, Step, Survey
from ivr.call.state import CallState, Context
from ivr.call.tracking import unheard_number

PROMPT_SURVEY_ASK = "survey.ask"
PROMPT_SURVEY_THANKS = "survey.thanks"
SURVEY_SCORES = ("1", "2", "3")

PROMPTS_USED = (PROMPT_SURVEY_ASK, PROMPT_SURVEY_THANKS)


class SurveyMenu:
    def __init__(self, call: CallState, context: Context) -> None:
        self.call = call
        self.context = context

    def after_service(self, reason: str, *before: str) -> list[Command]:
        """Ask how the service was, if asked for; then goodbye. A case the
        service left has its number said first (`ivr.call.tracking`)."""
        # A message's number came with the end of its recording, before the review.
        if not self.context.config.survey:
            return self.call.close(reason, *before, *unheard_number(self.call))
        self.call.end_reason = reason
        self.call.menu, self.call.silences, self.call.invalid = "survey", 0, 0
        return self.call.play(*before, *unheard_number(self.call), *self.prompts())

    # -- the sub-machine ---------------------------------------------------------

    def prompts(self) -> tuple[str, ...]:
        return (PROMPT_SURVEY_ASK,)

    def key(self, digit: str) -> list[Command]:
        if digit == menus.KEY_REPEAT:
            return self.call.play(*self.prompts())
        if digit not in SURVEY_SCORES:
            return self.skipped()
        reason = self._reason()
        kind: Literal["operator", "case"] = "operator" if reason == "completed" else "case"
        return [
            Step("survey", digit, kind),
            Survey(kind, int(digit)),
            *self.call.close(reason, PROMPT_SURVEY_THANKS),
        ]

    def skipped(self) -> list[Command]:
        """No answer (silence, or a key that is no score): goodbye."""
        return self.call.close(self._reason())

    def hung_up(self) -> str:
        return self.call.end_reason or self.call.left()

    def _reason(self) -> str:
        return self.call.end_reason or "completed"
