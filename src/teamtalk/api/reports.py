"""Reports (admins only): the whole report, each of its tables as JSON, and each as CSV.

Every route takes the same query: `from` and `to` (local dates, inclusive), `tz` (IANA,
default UTC), and the filters `topic_id`, `leader_id`, `agent_id`; any other parameter is
refused (`unknown_filter`) rather than silently ignored.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, BeforeValidator

from teamtalk.api.deps import DB, Admin, get_resources
from teamtalk.api.params import QueryId
from teamtalk.errors import Invalid
from teamtalk.models import User
from teamtalk.schemas import (
    MAX_ID,
    DailyReport,
    DayRow,
    FirstResponseReport,
    FirstResponseRow,
    HeatCell,
    HeatmapReport,
    LeaderReport,
    LeaderRow,
    OutcomeReport,
    OutcomeRow,
    Report,
    SummaryReport,
    SummaryRow,
    TopicReport,
    TopicRow,
)
from teamtalk.services import reports
from teamtalk.services.periods import Period
from teamtalk.services.reports import Scope

router = APIRouter(prefix="/reports", tags=["reports"])

PARAMETERS = frozenset({"from", "to", "tz", "topic_id", "leader_id", "agent_id"})
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_date(value: object) -> object:
    """YYYY-MM-DD only: pydantic would also take a number of seconds for a date."""
    if not isinstance(value, str) or not DATE.fullmatch(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(iso_date)]


async def costly_admin(request: Request, admin: Admin) -> User:
    """An admin, spending from their reads budget: a report is the costliest read."""
    await get_resources(request).read_budget.spend(admin.id)
    return admin


ReportAdmin = Annotated[User, Depends(costly_admin)]


def report_scope(
    request: Request,
    first: Annotated[IsoDate, Query(alias="from", description="first local date")],
    last: Annotated[IsoDate, Query(alias="to", description="last local date, inclusive")],
    tz: Annotated[str, Query(description="the viewer's IANA time zone")] = "UTC",
    topic_id: QueryId | None = None,
    leader_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="any leader who ever held it")
    ] = None,
    agent_id: QueryId | None = None,
) -> Scope:
    unknown = sorted(set(request.query_params) - PARAMETERS)
    if unknown:
        details = [
            {"field": name[:64], "message": "not a report filter", "type": "unknown_filter"}
            for name in unknown[:20]
        ]
        raise Invalid(
            f"Unknown report parameter {unknown[0][:64]!r}; the report takes "
            + ", ".join(sorted(PARAMETERS))
            + ".",
            code="unknown_filter",
            details=details,
        )
    return Scope(Period.of(first, last, tz), topic_id, leader_id, agent_id)


ReportScope = Annotated[Scope, Depends(report_scope)]


@router.get("", response_model=Report, summary="The whole report")
async def whole(admin: ReportAdmin, db: DB, scope: ReportScope) -> Report:
    """Every table of the report at once, as the reports page shows it."""
    return await reports.build(db, admin, scope)


# Each table: its name in the URL, its JSON model, its row model, how to take it from the
# report, and a summary for the OpenAPI document. Each gets /{name} and /{name}.csv.
Table = tuple[str, type[BaseModel], type[BaseModel], Callable[[Report], Sequence[BaseModel]], str]
TABLES: list[Table] = [
    ("summary", SummaryReport, SummaryRow, lambda r: [r.summary], "Requests, wait, handle time"),
    ("outcomes", OutcomeReport, OutcomeRow, lambda r: r.outcomes, "Outcome rates"),
    (
        "first-response",
        FirstResponseReport,
        FirstResponseRow,
        lambda r: r.first_response,
        "Time to first response, in buckets",
    ),
    ("leaders", LeaderReport, LeaderRow, lambda r: r.leaders, "Per team leader"),
    ("topics", TopicReport, TopicRow, lambda r: r.topics, "Per topic"),
    ("heatmap", HeatmapReport, HeatCell, lambda r: r.heatmap, "Requests by weekday and hour"),
    ("daily", DailyReport, DayRow, lambda r: r.daily, "Daily trend"),
]


def csv_cell(value: Any) -> str:
    """A JSON value as its JSON text, strings unquoted and null empty; a string that a
    spreadsheet would run as a formula is prefixed with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
    return json.dumps(value)


def csv_text(row_model: type[BaseModel], rows: Sequence[BaseModel]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = list(row_model.model_fields)
    writer.writerow(columns)
    for row in rows:
        data = row.model_dump(mode="json")
        writer.writerow([csv_cell(data[c]) for c in columns])
    return out.getvalue()


def _add_table(
    name: str,
    model: type[BaseModel],
    row_model: type[BaseModel],
    pick: Callable[[Report], Sequence[BaseModel]],
    summary: str,
) -> None:
    key = name.replace("-", "_")

    async def as_json(admin: ReportAdmin, db: DB, scope: ReportScope) -> Any:
        report = await reports.build(db, admin, scope)
        return model(period=report.period, rows=pick(report))

    async def as_csv(admin: ReportAdmin, db: DB, scope: ReportScope) -> Response:
        report = await reports.build(db, admin, scope)
        period = scope.period
        filename = f"teamtalk-{name}-{period.first}-{period.last}.csv"
        return Response(
            csv_text(row_model, pick(report)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    router.add_api_route(
        f"/{name}",
        as_json,
        methods=["GET"],
        response_model=model,
        summary=summary,
        name=f"report_{key}",
    )
    router.add_api_route(
        f"/{name}.csv",
        as_csv,
        methods=["GET"],
        response_class=Response,
        summary=f"{summary} (CSV)",
        name=f"report_{key}_csv",
        responses={200: {"content": {"text/csv": {}}, "description": "The table as CSV"}},
    )


for _table in TABLES:
    _add_table(*_table)
