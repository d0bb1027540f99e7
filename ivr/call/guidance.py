"""Voice guidance: a department's front page, the departments below it, the
region menu, pages and `*`.

A part of the call flow (`ivr/call/flow.py`) holding three of its
sub-machines: the `guidance` menu (a department's front page: the service,
then the departments below, another region), the `below` menu (the
departments below the one the call is at, in pages) and the `regions` menu
(any province, then a department in it). The menus themselves come from
`ivr/call/guide.py`, generated from the directory; the front page's service
keys are the `front` part's (`ivr/call/front.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ivr.call import guide as menus
from ivr.call.events import Answer, Command, Event, Step
from ivr.call.queueing import PROMPT_HOURS_CLOSED
from ivr.call.state import PROMPT_NO_INPUT, CallState, Context


class Guidance:
    def __init__(self, call: CallState, context: Context) -> None:
        self.call = call
        self.context = context

    def start(self, _: Event) -> list[Command]:
        call = self.call
        arrived = [Step("department", call.department, "routed"), *self._ask_service()]
        if call.choose_region:
            call.menu = "regions"
            return [Answer(), *arrived, *self.show_regions(menus.PROMPT_UNPLACED)]
        return [Answer(), *arrived, *self.show()]

    def arrive(self, code: str, how: str, *before: str) -> list[Command]:
        """Move the call on to department `code` and greet the caller there."""
        call = self.call
        if how != "back" and code != call.department:
            call.trail.append(call.department)
        call.department, call.menu, call.region, call.page = code, "guidance", "", 0
        call.node, call.node_trail, call.misses = "", [], 0
        arrived = [Step("department", code, how), *self._ask_service()]
        return [*arrived, *self.show(*before)]

    def _ask_service(self) -> list[Command]:
        self.call.service = self.context.desk(self.call.department)
        return [Step("note", "service", self.call.service)]

    # -- the department's front page: a sub-machine ---------------------------------

    def show(self, *before: str) -> list[Command]:
        """The front page with its greeting, as on arrival."""
        self.call.page = 0
        return self.call.play(*before, *self.intro(), *self.prompts())

    def front(self, *before: str) -> list[Command]:
        """Back on the front page from a menu of the same department: no greeting."""
        call = self.call
        call.menu, call.region, call.page = "guidance", "", 0
        return call.play(*before, *self.prompts())

    def intro(self) -> tuple[str, ...]:
        """What opens the front page: the greeting."""
        call = self.call
        if call.service == "after_hours":
            return (*menus.greeting_prompts(call.department), PROMPT_HOURS_CLOSED)
        return menus.greeting_prompts(call.department)

    def prompts(self) -> tuple[str, ...]:
        """The front page's choices: the service first, then where else to go."""
        call = self.call
        return menus.front_prompts(
            self_service=self.context.menus is not None,
            in_hours=call.service != "after_hours",
            below=bool(self._choices()),
            back=bool(call.trail),
        )

    def key(self, digit: str) -> list[Command] | None:
        """What a key of the front page does, but for the service's keys; None if
        it offers nothing."""
        if digit == menus.KEY_REPEAT:
            return self.show()
        if digit == menus.KEY_BACK:
            trail = self.call.trail
            return self.arrive(trail.pop(), "back") if trail else None
        if digit == menus.KEY_REGION:
            return self._open_regions("")
        if digit == menus.KEY_BELOW and self._choices():
            self.call.menu, self.call.page = "below", 0
            return self.call.play(*self.below_prompts())
        return None

    def wrong_key(self) -> list[Command]:
        return self.call.wrong_key(self.context.config.max_invalid, *self.prompts())

    def silence(self) -> list[Command]:
        """Nothing chosen and nothing else to offer: the front page's choices
        again (from the list too), then goodbye."""
        if self._counted_silence():
            return self.front(PROMPT_NO_INPUT)
        return self.call.close("silence")

    # -- the departments below: a sub-machine -----------------------------------------

    def below_prompts(self) -> tuple[str, ...]:
        """The current page's names, said the same way on every list."""
        return menus.choices_prompts(self._choices(), self.call.page, other_region=False, back=True)

    def below_key(self, digit: str) -> list[Command] | None:
        """What a key does in the list; None if it offers nothing."""
        call, choices = self.call, self._choices()
        paged = self._turn_page(digit, choices, lambda: call.play(*self.below_prompts()))
        if paged is not None:
            return paged
        if digit == menus.KEY_BACK:
            return self.front()
        if digit == menus.KEY_REGION:
            return self._open_regions("")
        code = menus.chosen(choices, call.page, digit)
        return None if code is None else self.arrive(code, "chosen")

    def below_wrong_key(self) -> list[Command]:
        return self.call.wrong_key(self.context.config.max_invalid, *self.below_prompts())

    def _choices(self) -> tuple[str, ...]:
        return self.context.guide.guidance(self.call.department)

    # -- the region menu: a sub-machine -----------------------------------------------

    def show_regions(self, *before: str) -> list[Command]:
        return self.call.play(*before, *self.region_intro(), *self.region_prompts())

    def region_intro(self) -> tuple[str, ...]:
        """What opens the first page: what to choose."""
        if self.call.page > 0:
            return ()
        region = self.call.region
        return (menus.PROMPT_CHOOSE_DEPARTMENT if region else menus.PROMPT_CHOOSE_PROVINCE,)

    def region_prompts(self) -> tuple[str, ...]:
        choices = self._regions()
        return menus.choices_prompts(choices, self.call.page, other_region=False, back=True)

    def region_key(self, digit: str) -> list[Command] | None:
        """What a key does here; None if it offers nothing."""
        call, choices = self.call, self._regions()
        paged = self._turn_page(digit, choices, self.show_regions)
        if paged is not None:
            return paged
        if digit == menus.KEY_BACK:
            if call.region:
                return self._open_regions("")
            return self.front()  # back to the department the caller was at
        code = menus.chosen(choices, call.page, digit)
        if code is None:
            return None
        return self.arrive(code, "chosen") if call.region else self._open_regions(code)

    def region_wrong_key(self) -> list[Command]:
        return self.call.wrong_key(self.context.config.max_invalid, *self.region_prompts())

    def region_silence(self) -> list[Command]:
        if self._counted_silence():
            return self.call.play(PROMPT_NO_INPUT, *self.region_prompts())
        # No choice made: the caller stays with the department the call is at.
        call = self.call
        call.silences = 0
        call.menu, call.region = "guidance", ""
        return [Step("note", "no_region_chosen", call.department), *self.show()]

    def _open_regions(self, province: str) -> list[Command]:
        self.call.menu, self.call.region, self.call.page = "regions", province, 0
        return self.show_regions()

    def _regions(self) -> tuple[str, ...]:
        return self.context.guide.regions(self.call.region)

    # -- what both menus do alike --------------------------------------------------

    def _turn_page(
        self, digit: str, choices: Sequence[str], show: Callable[[], list[Command]]
    ) -> list[Command] | None:
        """`#` says the page again, `9` the next one, `*` the one before."""
        call = self.call
        if digit == menus.KEY_REPEAT:
            return show()
        if digit == menus.KEY_MORE and call.page + 1 < menus.page_count(choices):
            call.page += 1
            return show()
        if digit == menus.KEY_BACK and call.page > 0:
            call.page -= 1
            return show()
        return None

    def _counted_silence(self) -> bool:
        """One more silence; True while the caller may still be asked again."""
        self.call.silences += 1
        return self.call.silences < self.context.config.max_silences
