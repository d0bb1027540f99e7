"""Voice guidance: the department's choices, the region menu, pages and `*`.

A part of the call flow (`ivr/call/flow.py`); the menus themselves come from
`ivr/call/guide.py`, generated from the directory.
"""

from __future__ import annotations

from ivr.call import guide as menus
from ivr.call.core import SERVICE_MENUS, FlowCore
from ivr.call.events import Command, Step
from ivr.call.queueing import (
    PROMPT_DESK_CHOICES,
    PROMPT_DESK_CHOICES_NO_CALLBACK,
    PROMPT_DESK_STAY,
    PROMPT_HOURS_CLOSED,
)
from ivr.publish.menus import PROMPT_SELF_SERVICE


class Menus(FlowCore):
    def _choices(self) -> tuple[str, ...]:
        if self.menu == "desk":
            return ()
        if self.menu == "regions":
            return self.guide.regions(self.region)
        return self.guide.guidance(self.department)

    def _menu_prompts(self) -> tuple[str, ...]:
        """The current page's choices, said the same way on every menu."""
        if self.menu in SERVICE_MENUS:
            return self._service_prompts()
        if self.menu == "desk":
            return (PROMPT_DESK_CHOICES if self.callback_ok else PROMPT_DESK_CHOICES_NO_CALLBACK,)
        guidance = self.menu == "guidance"
        back = not guidance or self.page > 0 or bool(self.trail)
        prompts = menus.choices_prompts(
            self._choices(), self.page, other_region=guidance, back=back
        )
        if guidance and self.service != "after_hours":
            return (*prompts, PROMPT_DESK_STAY)
        if guidance and self.menus is not None:
            return (*prompts, PROMPT_SELF_SERVICE)
        return prompts

    def _intro(self) -> tuple[str, ...]:
        """What opens the current menu's first page: the greeting, or what to choose."""
        if self.menu in SERVICE_MENUS:
            return self._service_intro()
        if self.page > 0 or self.menu == "desk":
            return ()
        if self.menu == "regions":
            choose = menus.PROMPT_CHOOSE_DEPARTMENT if self.region else menus.PROMPT_CHOOSE_PROVINCE
            return (choose,)
        if self.service == "after_hours":
            return (*menus.greeting_prompts(self.department), PROMPT_HOURS_CLOSED)
        return menus.greeting_prompts(self.department)

    def _show_menu(self, *before: str) -> list[Command]:
        return self._play(*before, *self._intro(), *self._menu_prompts())

    def _arrive(self, code: str, how: str, *before: str) -> list[Command]:
        """Move the call on to department `code` and greet the caller there."""
        if how != "back" and code != self.department:
            self.trail.append(self.department)
        self.department, self.menu, self.region, self.page = code, "guidance", "", 0
        self.node, self.node_trail, self.misses = "", [], 0
        arrived = [Step("department", code, how), *self._ask_service()]
        return [*arrived, *self._show_menu(*before)]

    def _ask_service(self) -> list[Command]:
        self.service = self.desk(self.department)
        return [Step("note", "service", self.service)]

    def _open_regions(self, province: str) -> list[Command]:
        self.menu, self.region, self.page = "regions", province, 0
        return self._show_menu()

    def _menu_key(self, digit: str) -> list[Command] | None:
        """What a key does on the current menu; None if it offers nothing there."""
        if self.menu in SERVICE_MENUS:
            return self._service_key(digit)
        if self.menu == "desk":
            return self._desk_key(digit)
        choices = self._choices()
        if digit == menus.KEY_REPEAT:
            return self._show_menu()
        if digit == menus.KEY_MORE and self.page + 1 < menus.page_count(choices):
            self.page += 1
            return self._show_menu()
        if digit == menus.KEY_BACK:
            return self._back()
        if digit == menus.KEY_REGION and self.menu == "guidance":
            return self._open_regions("")
        code = menus.chosen(choices, self.page, digit)
        if code is None:
            return None
        if self.menu == "regions" and not self.region:
            return self._open_regions(code)
        return self._arrive(code, "chosen")

    def _back(self) -> list[Command] | None:
        if self.page > 0:
            self.page -= 1
            return self._show_menu()
        if self.menu == "regions":
            if self.region:
                return self._open_regions("")
            self.menu = "guidance"  # back to the department the caller was at
            return self._show_menu()
        if self.trail:
            return self._arrive(self.trail.pop(), "back")
        return None
