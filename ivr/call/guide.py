"""Voice guidance (语音平台导读): which departments a caller can move on to, and how it sounds.

Two menus are generated from the directory, never written by hand:

- a department's **guidance menu** follows 组厅字〔2009〕5号: the central
  department offers the Beijing municipal department and Beijing's districts;
  a provincial department offers its provincial-capital city department (a
  municipality, having no cities, offers its districts and counties); a city
  department offers its county-level departments; a department answering an
  area code that other places share (only one answers it) also offers them.
- the **region menu** lets a caller choose another province or city, because
  routing by number is a guess (a ported mobile number, a member far from
  home): first the provinces, then that province's department or one of the
  departments directly below it.

A department's **front page** comes first, because most callers want the
service, not another department. `1` is what most callers want at that
hour: a person in working hours, self-service after hours; `2` the other
service: self-service in working hours, a message after hours. Then the
departments below (`3`, when it has any), another province or city (`0`),
back (`*`), repeat (`#`). The list of departments below is one key away,
never read out on arrival.

A list comes in pages of `PAGE_SIZE` names (keys 1 to 5) with 9 for the next
page, so that no page takes longer than a caller will listen (issue 14: under
15 seconds); the keys are the same on every list and said on every page.
Everything here is pure: the call flow asks, and gets department codes and
prompt ids back.
"""

from __future__ import annotations

from collections.abc import Sequence

from ivr.audio.catalog import DEPARTMENT_PREFIX, PLACE_PREFIX
from ivr.directory.routing import Department, Directory

PAGE_SIZE = 5
KEY_MORE = "9"
KEY_REGION = "0"
KEY_BACK = "*"
KEY_REPEAT = "#"
BEIJING_CODE = "110000"
# The front page's keys: the first two as the module says, by the hour.
KEY_FIRST = "1"
KEY_SECOND = "2"
KEY_BELOW = "3"

# Prompt ids; their texts are in prompts/prompts.yaml.
PROMPT_HELLO = "greeting.hello"
PROMPT_HOTLINE = "greeting.hotline"
PROMPT_UNPLACED = "greeting.unplaced"
PROMPT_CHOOSE_PROVINCE = "region.choose_province"
PROMPT_CHOOSE_DEPARTMENT = "region.choose_department"
PROMPT_PRESS = "menu.press"
PROMPT_MORE = "menu.more"
PROMPT_OTHER_REGION = "menu.other_region"
PROMPT_BACK = "menu.back"
PROMPT_REPEAT = "menu.repeat"
PROMPT_FRONT_OPERATOR = "front.operator"  # 1, in working hours
PROMPT_FRONT_SELF_SERVICE_SECOND = "front.self_service_second"  # 2, in working hours
PROMPT_FRONT_SELF_SERVICE = "front.self_service"  # 1, after hours
PROMPT_FRONT_MESSAGE = "front.message"  # 2, after hours
PROMPT_FRONT_BELOW = "front.below"
DIGIT_PREFIX = "digit."
PROMPTS_USED = (
    PROMPT_HELLO,
    PROMPT_HOTLINE,
    PROMPT_UNPLACED,
    PROMPT_CHOOSE_PROVINCE,
    PROMPT_CHOOSE_DEPARTMENT,
    PROMPT_PRESS,
    PROMPT_MORE,
    PROMPT_OTHER_REGION,
    PROMPT_BACK,
    PROMPT_REPEAT,
    PROMPT_FRONT_OPERATOR,
    PROMPT_FRONT_SELF_SERVICE_SECOND,
    PROMPT_FRONT_SELF_SERVICE,
    PROMPT_FRONT_MESSAGE,
    PROMPT_FRONT_BELOW,
    *(f"{DIGIT_PREFIX}{key}" for key in range(1, PAGE_SIZE + 1)),
)


def department_prompt(code: str) -> str:
    """The prompt that says a department's name (长丰县委组织部), as greetings do."""
    return DEPARTMENT_PREFIX + code


def place_prompt(code: str) -> str:
    """The prompt that says the place a department serves (长丰县), as lists do."""
    return PLACE_PREFIX + code


def capital_code(province: str) -> str:
    """A provincial capital's division code: the first city of its province (GB/T 2260)."""
    return province[:2] + "0100"


class Guide:
    """The menus of one directory. Cheap to ask: menus are computed once per department."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        self._guidance: dict[str, tuple[str, ...]] = {}
        self._regions: dict[str, tuple[str, ...]] = {}
        self._by_area: dict[str, list[Department]] | None = None

    @property
    def default(self) -> str:
        return self._directory.default.code

    def name(self, code: str) -> str:
        return self._directory.by_code(code).name

    def knows(self, code: str) -> bool:
        return self._directory.has(code)

    def parent(self, code: str) -> str | None:
        return self._directory.by_code(code).parent

    def guidance(self, code: str) -> tuple[str, ...]:
        """The departments a caller at `code` is offered, in menu order."""
        menu = self._guidance.get(code)
        if menu is None:
            menu = self._guidance[code] = tuple(d.code for d in self._guidance_of(code))
        return menu

    def regions(self, province: str = "") -> tuple[str, ...]:
        """The provinces (`province` empty), or a province and the departments below it."""
        menu = self._regions.get(province)
        if menu is None:
            if province:
                below = self._directory.children(province)
                departments = [self._directory.by_code(province), *below]
            else:
                departments = list(self._directory.provinces())
            menu = self._regions[province] = tuple(d.code for d in departments)
        return menu

    def _guidance_of(self, code: str) -> Sequence[Department]:
        directory = self._directory
        department = directory.by_code(code)
        children = directory.children(code)
        if department.level == "central":
            return [directory.by_code(BEIJING_CODE), *directory.children(BEIJING_CODE)]
        if department.level == "province":
            capital = [child for child in children if child.code == capital_code(code)]
            return capital or children
        if department.answers:
            return [*children, *self._sharing_area_code(department)]
        return children

    def _stands_alone(self, department: Department) -> bool:
        """A city, or a county-level city a province administers directly (仙桃)."""
        if department.level == "city":
            return True
        parent = department.parent
        return (
            department.level == "county"
            and parent is not None
            and self._directory.by_code(parent).level == "province"
        )

    def _sharing_area_code(self, department: Department) -> list[Department]:
        """Places that use this department's area code without answering it (024: 铁岭,
        抚顺, 本溪 beside 沈阳; 0728: 潜江, 天门 beside 仙桃)."""
        if self._by_area is None:
            self._by_area = {}
            for other in self._directory:
                if other.area_code and self._stands_alone(other):
                    self._by_area.setdefault(other.area_code, []).append(other)
        sharing = self._by_area.get(department.area_code or "", [])
        return [other for other in sharing if other.code != department.code]


def page_count(choices: Sequence[str]) -> int:
    return max(1, -(-len(choices) // PAGE_SIZE))


def chosen(choices: Sequence[str], page: int, key: str) -> str | None:
    """The department behind `key` on `page`, or None if that key offers nothing."""
    if len(key) != 1 or not "1" <= key <= str(PAGE_SIZE):
        return None
    index = page * PAGE_SIZE + int(key) - 1
    if index >= len(choices) or index < page * PAGE_SIZE:
        return None
    return choices[index]


def choices_prompts(
    choices: Sequence[str], page: int, *, other_region: bool, back: bool
) -> tuple[str, ...]:
    """What the caller hears for one page: each place with its key, then the other keys."""
    prompts: list[str] = []
    for key, code in enumerate(choices[page * PAGE_SIZE : (page + 1) * PAGE_SIZE], 1):
        prompts += [place_prompt(code), PROMPT_PRESS, f"{DIGIT_PREFIX}{key}"]
    if page + 1 < page_count(choices):
        prompts.append(PROMPT_MORE)
    if other_region:
        prompts.append(PROMPT_OTHER_REGION)
    if back:
        prompts.append(PROMPT_BACK)
    prompts.append(PROMPT_REPEAT)
    return tuple(prompts)


def front_prompts(
    *, self_service: bool, in_hours: bool, below: bool, back: bool
) -> tuple[str, ...]:
    """A department's front page: the service first, then where else to go."""
    if in_hours:
        prompts = [PROMPT_FRONT_OPERATOR]
        if self_service:
            prompts.append(PROMPT_FRONT_SELF_SERVICE_SECOND)
    else:
        prompts = [PROMPT_FRONT_SELF_SERVICE] if self_service else []
        prompts.append(PROMPT_FRONT_MESSAGE)
    if below:
        prompts.append(PROMPT_FRONT_BELOW)
    prompts.append(PROMPT_OTHER_REGION)
    if back:
        prompts.append(PROMPT_BACK)
    prompts.append(PROMPT_REPEAT)
    return tuple(prompts)


def greeting_prompts(code: str) -> tuple[str, ...]:
    """"您好，这里是" + the department's name + "12371党员咨询服务热线"."""
    return (PROMPT_HELLO, department_prompt(code), PROMPT_HOTLINE)
