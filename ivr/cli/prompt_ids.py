"""The prompts the product plays, by id, collected from each part that plays them.

A prompt build fails without any of them (`ivr.audio.build.build(required=...)`).
Collected here, in the composition root, because the parts that play prompts
(the call flow, the desk, the published menus) sit above `ivr.audio`: the
audio build cannot import them without a cycle.
"""

from __future__ import annotations

from ivr.audio.build import FALLBACK_PROMPTS
from ivr.call import guide, queueing, service, state
from ivr.desk import phones
from ivr.publish import menus

REQUIRED_PROMPTS: tuple[str, ...] = (
    *guide.PROMPTS_USED,
    state.PROMPT_INVALID,
    state.PROMPT_NO_INPUT,
    state.PROMPT_GOODBYE,
    state.PROMPT_RESUMED,
    state.PROMPT_ENDED_BY_SYSTEM,
    *FALLBACK_PROMPTS,
    # Working hours, the queue and the operator's phone.
    *queueing.PROMPTS_USED,
    *phones.PROMPTS_USED,
    # The after-hours service menu, around its nodes' own texts, and the
    # message box's review and the survey.
    *menus.PROMPTS_USED,
    *service.PROMPTS_USED,
)
