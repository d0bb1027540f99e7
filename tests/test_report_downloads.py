"""`/api/report.csv` and `/api/report.xlsx`: the report a supervisor downloads
holds the same numbers as `/api/report`, of the departments its reader may
see, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from ivr.admin.auth import Role
from tests.admin_support import AdminApp, admin_app
from tests.report_support import BEIJING, CHANGFENG, HEFEI, WEEK_DAY, seed_week

from .test_web import error_of

Client = TestClient[Any, Any]
QUERY = f"period=week&date={WEEK_DAY}"
SHEETS = ["概况", "来电", "每小时来电", "工单", "工单状态", "部门工单", "满意度"]
STATUS_NAMES = ["已登记", "已分派", "办理中", "已办结", "已关闭"]


@pytest.fixture
async def admin(tmp_path: Path, database_url: str) -> AsyncIterator[AdminApp]:
    async with admin_app(tmp_path, database_url) as made:
        await seed_week(made)
        yield made


async def download(client: Client, path: str, suffix: str) -> bytes:
    response = await client.get(path)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="12371-report-week-2026-11-23.{suffix}"'
    )
    return await response.read()


def sheets_of(xlsx: bytes) -> dict[str, list[list[Any]]]:
    book = load_workbook(io.BytesIO(xlsx), read_only=True)
    return {
        sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)]
        for sheet in book.worksheets
    }


def sections_of(data: bytes) -> dict[str, list[list[str]]]:
    """The CSV's tables by title: a title line, a header line, rows; an empty line between."""
    assert data.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    sections: dict[str, list[list[str]]] = {}
    title = None
    for row in rows:
        if not row:
            title = None
        elif title is None:
            title = row[0]
            sections[title] = []
        else:
            sections[title].append(row)
    return sections


def expected(body: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """What each table should hold, from /api/report's JSON; headers left out."""
    surveys = body["surveys"]
    every = [sum(scores[s] for scores in surveys.values()) for s in ("1", "2", "3")]

    def rate(counts: list[int]) -> float | None:
        return round((counts[0] + counts[1]) / sum(counts), 4) if sum(counts) else None

    kinds = [[scores[s] for s in ("1", "2", "3")] for scores in surveys.values()]
    return {
        "来电": [
            [
                c["department"],
                c["department_name"],
                c["category_name"],
                c["calls"],
                c["answered"],
                c["after_hours"],
            ]
            for c in body["call_lines"]
        ],
        "每小时来电": [
            [
                f"{h:02d}:00-{h + 1:02d}:00",
                n,
                body["answered_per_hour"][h],
                body["after_hours_per_hour"][h],
            ]
            for h, n in enumerate(body["per_hour"])
        ],
        "工单": [
            [
                c["department"],
                c["department_name"],
                c["category_name"],
                {"message": "留言", "callback": "预约回电"}[c["kind"]],
                c["cases"],
            ]
            for c in body["case_lines"]
        ],
        "工单状态": [
            [name, n] for name, n in zip(STATUS_NAMES, body["case_statuses"].values(), strict=True)
        ],
        "部门工单": [
            [
                d["department"],
                d["department_name"],
                d["registered"],
                d["done"],
                d["open"],
                d["overdue"],
            ]
            for d in body["departments"]
        ],
        "满意度": [
            [name, *counts, sum(counts), rate(counts)]
            for name, counts in [("话务员服务", kinds[0]), ("工单办理", kinds[1]), ("全部", every)]
        ],
    }


def overview(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "来电": body["calls"],
        "人工接听": body["answered"],
        "非工作时间": body["after_hours"],
        "登记工单": body["cases"],
        "未办结工单（当前）": sum(d["open"] for d in body["departments"]),
        "超期工单（当前）": sum(d["overdue"] for d in body["departments"]),
        "满意率（满意+基本满意）": body["satisfaction_rate"],
    }


def as_csv(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float):
        return f"{cell:.1%}"
    return str(cell)


async def test_the_workbook_holds_the_numbers_of_the_report(admin: AdminApp) -> None:
    client = await admin.as_user("boss")
    body = await (await client.get(f"/api/report?{QUERY}")).json()
    # The week is what the page charts: enough of everything to tell a slip.
    assert (body["calls"], body["answered"], body["after_hours"], body["cases"]) == (13, 9, 3, 15)
    assert body["satisfaction_rate"] == 0.8
    assert sum(d["overdue"] for d in body["departments"]) == 11

    response = await client.get(f"/api/report.xlsx?{QUERY}")
    assert response.content_type == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    xlsx = await download(client, f"/api/report.xlsx?{QUERY}", "xlsx")
    sheets = sheets_of(xlsx)
    assert list(sheets) == SHEETS
    # As a person opens it: headers bold and kept in view, the rate a percentage.
    book = load_workbook(io.BytesIO(xlsx))
    assert all(sheet.freeze_panes == "A2" and sheet["A1"].font.bold for sheet in book)
    assert book["概况"]["B12"].value == 0.8 and book["概况"]["B12"].number_format == "0.0%"
    summary = {row[0]: row[1] for row in sheets["概况"][1:]}
    assert summary["报表"] == "12371 热线周报"
    assert (summary["起始日期"], summary["截止日期"]) == ("2026-11-23", "2026-11-29")
    assert {name: summary[name] for name in overview(body)} == overview(body)
    assert sheets["来电"][0] == ["部门代码", "部门", "分类", "来电", "人工接听", "非工作时间"]
    for title, rows in expected(body).items():
        assert sheets[title][1:] == rows, title


async def test_the_csv_holds_the_numbers_of_the_report_and_opens_in_excel(
    admin: AdminApp,
) -> None:
    client = await admin.as_user("boss")
    body = await (await client.get(f"/api/report?{QUERY}")).json()
    response = await client.get(f"/api/report.csv?{QUERY}")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    sections = sections_of(await download(client, f"/api/report.csv?{QUERY}", "csv"))
    assert list(sections) == SHEETS
    summary = {row[0]: row[1] for row in sections["概况"][1:]}
    assert {name: summary[name] for name in overview(body)} == {
        name: as_csv(value) for name, value in overview(body).items()
    }
    assert summary["满意率（满意+基本满意）"] == "80.0%"
    for title, rows in expected(body).items():
        assert sections[title][1:] == [[as_csv(cell) for cell in row] for row in rows], title


async def test_a_department_admin_downloads_only_its_own_departments(admin: AdminApp) -> None:
    county = await admin.as_user("changfeng", Role.DEPARTMENT_ADMIN, CHANGFENG)
    body = await (await county.get(f"/api/report?{QUERY}")).json()
    assert (body["calls"], body["cases"]) == (2, 3)
    sheets = sheets_of(await download(county, f"/api/report.xlsx?{QUERY}", "xlsx"))
    sections = sections_of(await download(county, f"/api/report.csv?{QUERY}", "csv"))
    for table in ("来电", "工单", "部门工单"):
        assert {row[0] for row in sheets[table][1:]} == {CHANGFENG}, table
        assert {row[0] for row in sections[table][1:]} == {CHANGFENG}, table
    assert dict(sheets["概况"])["来电"] == 2
    for tables in (sheets, sections):
        text = repr(tables)
        assert HEFEI not in text and BEIJING not in text and "合肥市" not in text
    # Its parent's report is refused, not quietly emptied.
    for suffix in ("csv", "xlsx"):
        says = await error_of(
            await county.get(f"/api/report.{suffix}?{QUERY}&department={HEFEI}"), 403, "forbidden"
        )
        assert "outside what changfeng may see" in says


async def test_a_national_admin_narrows_the_download_to_a_department(admin: AdminApp) -> None:
    client = await admin.as_user("boss")
    sheets = sheets_of(
        await download(client, f"/api/report.xlsx?{QUERY}&department={HEFEI}", "xlsx")
    )
    departments = {row[0] for row in sheets["部门工单"][1:]}
    assert HEFEI in departments and CHANGFENG in departments and BEIJING not in departments


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
async def test_a_bad_period_or_date_is_a_readable_400(admin: AdminApp, suffix: str) -> None:
    client = await admin.as_user("boss")
    says = await error_of(
        await client.get(f"/api/report.{suffix}?period=year"), 400, "invalid_input"
    )
    assert says == "a report's period is day, week, month; not 'year'"
    says = await error_of(
        await client.get(f"/api/report.{suffix}?date=24.11.2026"), 400, "invalid_input"
    )
    assert says == "'24.11.2026' is not a date like 2026-11-24"
    says = await error_of(
        await client.get(f"/api/report.{suffix}?department=999999"), 400, "invalid_input"
    )
    assert says == "no department with code '999999'"


async def test_the_downloads_are_in_the_openapi_document(admin: AdminApp) -> None:
    document = await (await (await admin.client()).get("/api/openapi.json")).json()
    for path, media in (
        ("/api/report.csv", "text/csv"),
        ("/api/report.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ):
        operation = document["paths"][path]["get"]
        assert list(operation["responses"]["200"]["content"]) == [media]
        names = [p["name"] for p in operation["parameters"]]
        assert names == [p["name"] for p in document["paths"]["/api/report"]["get"]["parameters"]]
        assert names == ["date", "period", "department"]
