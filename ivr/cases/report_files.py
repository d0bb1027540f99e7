"""The periodic report (`ivr.cases.report`) as files to download: CSV and XLSX.

Both are made from the same tables, with the Chinese headers a department's
staff put in their own report upward. The CSV is one file of several
tables, each under its title and parted by an empty line, in UTF-8 with a
byte order mark: without it, Excel on a Chinese Windows reads the file as
GBK and shows the names garbled. The XLSX has a sheet per table, its
numbers as numbers and the satisfaction rate as a percentage.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.cell import Cell as SheetCell
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from ivr.cases.report import SCORE_WORDS, Report, satisfaction_rate
from ivr.cases.rules import SCORES
from ivr.settings import HOTLINE_TZ

CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = "\ufeff"

PERIOD_NAMES = {"day": "日报", "week": "周报", "month": "月报"}
KIND_NAMES = {"message": "留言", "callback": "预约回电"}
STATUS_NAMES = {
    "registered": "已登记",
    "assigned": "已分派",
    "in_progress": "办理中",
    "resolved": "已办结",
    "closed": "已关闭",
}
SURVEY_NAMES = {"operator": "话务员服务", "case": "工单办理"}
SCORE_NAMES = {"satisfied": "满意", "fair": "基本满意", "dissatisfied": "不满意"}
RATE_HEADER = "满意率（满意+基本满意）"


class Share(float):
    """A part of a whole (0 to 1), shown as a percentage."""


Cell = str | int | Share | None


@dataclass(frozen=True, slots=True)
class Table:
    title: str  # the sheet's name, and the CSV section's title
    headers: tuple[str, ...]
    rows: list[tuple[Cell, ...]]


def file_name(report: Report, suffix: str) -> str:
    """12371-report-week-2026-11-23.xlsx: the period and its first day."""
    return f"12371-report-{report.period}-{report.first_day.isoformat()}.{suffix}"


def tables(report: Report) -> list[Table]:
    """The report as tables: an overview, then calls, cases, departments, surveys."""
    return [
        _overview(report),
        Table(
            "来电",
            ("部门代码", "部门", "分类", "来电", "人工接听", "非工作时间"),
            [
                (
                    c.department,
                    c.department_name,
                    c.category_name,
                    c.calls,
                    c.answered,
                    c.after_hours,
                )
                for c in report.call_lines
            ],
        ),
        Table(
            "每小时来电",
            ("时段", "来电", "人工接听", "非工作时间"),
            [
                (
                    f"{hour:02d}:00-{hour + 1:02d}:00",
                    n,
                    report.answered_per_hour[hour],
                    report.after_hours_per_hour[hour],
                )
                for hour, n in enumerate(report.per_hour)
            ],
        ),
        Table(
            "工单",
            ("部门代码", "部门", "分类", "类型", "工单数"),
            [
                (
                    c.department,
                    c.department_name,
                    c.category_name,
                    KIND_NAMES.get(c.kind, c.kind),
                    c.cases,
                )
                for c in report.case_lines
            ],
        ),
        Table(
            "工单状态",
            ("状态", "工单数"),
            [(STATUS_NAMES.get(s, s), n) for s, n in report.case_statuses.items()],
        ),
        Table(
            "部门工单",
            ("部门代码", "部门", "本期登记", "其中已办结", "未办结（当前）", "超期（当前）"),
            [
                (d.department, d.department_name, d.registered, d.done, d.open, d.overdue)
                for d in report.departments
            ],
        ),
        _surveys(report),
    ]


def _overview(report: Report) -> Table:
    rate = report.satisfaction_rate
    made = report.made_at.astimezone(HOTLINE_TZ)
    rows: list[tuple[Cell, ...]] = [
        ("报表", f"12371 热线{PERIOD_NAMES.get(report.period, report.period)}"),
        ("起始日期", report.first_day.isoformat()),
        ("截止日期", report.last_day.isoformat()),
        ("生成时间（北京时间）", f"{made:%Y-%m-%d %H:%M}"),
        ("来电", report.calls),
        ("人工接听", report.answered),
        ("非工作时间", report.after_hours),
        ("登记工单", report.cases),
        ("未办结工单（当前）", sum(d.open for d in report.departments)),
        ("超期工单（当前）", sum(d.overdue for d in report.departments)),
        (RATE_HEADER, None if rate is None else Share(rate)),
    ]
    return Table("概况", ("项目", "数值"), rows)


def _surveys(report: Report) -> Table:
    """Each kind of answer, and all of them, with its satisfaction rate."""
    rows: list[tuple[Cell, ...]] = []
    every = {**report.surveys, "": {}}  # "": the line of all kinds together
    for kind, scores in every.items():
        part = {kind: scores} if kind else report.surveys
        counts = [sum(s.get(str(score), 0) for s in part.values()) for score in SCORES]
        rate = satisfaction_rate(part)
        name = SURVEY_NAMES.get(kind, kind) if kind else "全部"
        rows.append((name, *counts, sum(counts), None if rate is None else Share(rate)))
    headers = ("评价对象", *(SCORE_NAMES[SCORE_WORDS[score]] for score in SCORES), "合计")
    return Table("满意度", (*headers, RATE_HEADER), rows)


def to_csv(report: Report) -> bytes:
    """Every table, one after another, in UTF-8 with a BOM."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for number, table in enumerate(tables(report)):
        if number:
            writer.writerow([])
        writer.writerow([table.title])
        writer.writerow(table.headers)
        writer.writerows([_csv_cell(cell) for cell in row] for row in table.rows)
    return (BOM + out.getvalue()).encode("utf-8")


def _csv_cell(cell: Cell) -> str | int:
    if cell is None:
        return ""
    if isinstance(cell, Share):
        return f"{cell:.1%}"
    return cell


def to_xlsx(report: Report) -> bytes:
    """A workbook with a sheet per table; headers bold and kept in view.

    Written row by row (openpyxl's write-only mode): a province's month is
    tens of thousands of lines, which the ordinary mode takes minutes over."""
    book = Workbook(write_only=True)
    for table in tables(report):
        sheet = book.create_sheet(table.title)
        sheet.freeze_panes = "A2"
        for column, width in enumerate(_widths(table), start=1):
            sheet.column_dimensions[get_column_letter(column)].width = width
        sheet.append([_header(sheet, title) for title in table.headers])
        for row in table.rows:
            sheet.append([_xlsx_cell(sheet, cell) for cell in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _header(sheet: WriteOnlyWorksheet, title: str) -> SheetCell:
    cell = WriteOnlyCell(sheet, value=title)
    cell.font = Font(bold=True)
    return cell


def _xlsx_cell(sheet: WriteOnlyWorksheet, cell: Cell) -> Cell | SheetCell:
    if not isinstance(cell, Share):
        return cell
    share = WriteOnlyCell(sheet, value=float(cell))
    share.number_format = "0.0%"
    return share


def _widths(table: Table) -> list[int]:
    """Columns wide enough for their longest text; Chinese characters take two."""
    lines: Sequence[Sequence[Cell]] = [table.headers, *table.rows]
    return [
        min(60, max(8, *(_width(row[i]) + 2 for row in lines))) for i in range(len(table.headers))
    ]


def _width(cell: Cell) -> int:
    text = "" if cell is None else str(cell)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)
