"""Routing under whatever a trunk may send: caller numbers, dialed strings and
origins, written every way (SIP URIs, +86 and 0086, separators, junk), into
`Directory.resolve` on the real directory (routing/departments.csv with the
mobile ranges). It never raises, always names a department that exists, and
says why in the terms of the rule it used. `tests/test_directory.py` holds
the properties of each rule on well-formed numbers; these mix them.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ivr.directory.routing import Route
from tests.directory_data import full_directory

DIRECTORY = full_directory()
AREA_CODES = DIRECTORY.area_codes()
DIVISIONS = sorted(d.code for d in DIRECTORY)

digits = st.text(alphabet="0123456789", max_size=14)
subscriber = st.text(alphabet="0123456789", min_size=7, max_size=8)
country = st.sampled_from(["", "+86", "0086", "86", "+86 ", "+1", "00852"])
separators = st.sampled_from(["", " ", "-", "(", ")", ".", "\t"])


@st.composite
def on_the_wire(draw: st.DrawFn, number: st.SearchStrategy[str]) -> str:
    """`number` as a trunk may write it: bare, tel: or sip: URI, with parameters."""
    text = draw(number)
    shape = draw(
        st.sampled_from(
            ["{}", " {} ", "tel:{}", "sip:{}@10.0.0.1", "SIP:{}@gw;user=phone", "sips:{};x=y"]
        )
    )
    return shape.format(text)


landline = st.builds(lambda c, a, s, n: c + (a[1:] if c else a) + s + n,
                     country, st.sampled_from(AREA_CODES), separators, subscriber)
mobile = st.builds(lambda c, n: c + n, country,
                   st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
callers = st.one_of(
    on_the_wire(landline),
    on_the_wire(mobile),
    on_the_wire(digits),
    st.sampled_from(["", "anonymous", "Unknown", "PRIVATE", "withheld"]),
    st.text(max_size=60),
)
dialed = st.one_of(
    on_the_wire(st.builds(lambda a, s: a + s + "12371", st.sampled_from(AREA_CODES), separators)),
    on_the_wire(st.builds(lambda d: d + "12371", digits)),
    st.sampled_from(["12371", "", "112", "+8612371", "0086 010 12371"]),
    st.text(max_size=40),
)
origins = st.one_of(
    st.just(""),
    st.sampled_from(DIVISIONS),
    st.sampled_from(AREA_CODES),
    st.sampled_from(AREA_CODES).map(lambda a: a[1:]),
    digits,
    st.text(max_size=20),
)


def check(route: Route) -> None:
    """A route a call can follow, explained in the terms of its rule."""
    department = route.department
    assert DIRECTORY.by_code(department.code) == department
    assert route.steps and all(isinstance(step, str) and step for step in route.steps)
    if route.rule == "default":
        assert (department, route.read) == (DIRECTORY.default, "")
    elif route.rule in ("dialed_area_code", "caller_area_code"):
        assert DIRECTORY.by_area_code(route.read) == department
    elif route.rule == "mobile_prefix":
        assert DIRECTORY.by_mobile_prefix(int(route.read)) == department
    else:  # origin: a division code or an area code the carrier gave
        assert route.read in (department.code, department.area_code)


@given(caller=callers, dialed=dialed, origin=origins)
def test_any_call_reaches_a_department_that_exists(caller: str, dialed: str, origin: str) -> None:
    route = DIRECTORY.resolve(caller, dialed, origin)
    check(route)
    assert DIRECTORY.resolve(caller, dialed, origin) == route  # no state between calls


@given(
    caller=callers,
    area_code=st.sampled_from(AREA_CODES),
    prefix=st.sampled_from(["", "+86", "0086", "86"]),
    separator=separators,
    shape=st.sampled_from(["{}", "sip:{}@10.0.0.1", "tel:{}", "{};phone-context=x"]),
)
def test_an_area_code_dialed_before_12371_routes_to_that_areas_department(
    caller: str, area_code: str, prefix: str, separator: str, shape: str
) -> None:
    national = area_code[1:] if prefix else area_code
    route = DIRECTORY.resolve(caller, shape.format(prefix + national + separator + "12371"))
    assert (route.department, route.rule, route.read) == (
        DIRECTORY.by_area_code(area_code),
        "dialed_area_code",
        area_code,
    )


@given(caller=callers, dialed=dialed, division=st.sampled_from(DIVISIONS))
def test_a_division_code_from_the_carrier_wins_over_the_numbers(
    caller: str, dialed: str, division: str
) -> None:
    route = DIRECTORY.resolve(caller, dialed, division)
    assert (route.department.code, route.rule) == (division, "origin")


@given(
    caller=st.sampled_from(["", "anonymous", "unknown", "sip:anonymous@anonymous.invalid"]),
    origin=st.sampled_from(["", "  ", "abc"]),
)
def test_a_withheld_caller_dialing_12371_alone_reaches_the_central_department(
    caller: str, origin: str
) -> None:
    route = DIRECTORY.resolve(caller, "12371", origin)
    assert (route.department, route.rule) == (DIRECTORY.default, "default")


@given(
    area_code=st.sampled_from(AREA_CODES),
    prefix=st.sampled_from(["", "+86", "0086", "86"]),
    separator=separators,
    number=subscriber,
    shape=st.sampled_from(["{}", "tel:{}", "sip:{}@10.0.0.1;user=phone", " {} "]),
    dialed=st.sampled_from(["12371", "sip:12371@10.0.0.1", "tel:12371"]),
)
def test_a_landline_dialing_12371_alone_stays_in_its_own_area(
    area_code: str, prefix: str, separator: str, number: str, shape: str, dialed: str
) -> None:
    national = area_code[1:] if prefix else area_code
    route = DIRECTORY.resolve(shape.format(prefix + national + separator + number), dialed)
    assert (route.department, route.rule, route.read) == (
        DIRECTORY.by_area_code(area_code),
        "caller_area_code",
        area_code,
    )
