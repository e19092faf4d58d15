"""The analytics service: per-conversation facts kept up to date from the events, and the
metrics, reports and exports computed over them.

Every read refreshes the tenant's facts first (:mod:`kefu.analytics.refresh`; one indexed read
when nothing changed), then answers with SQL aggregates over the facts tables
(:mod:`kefu.analytics.metrics`). Days are UTC calendar days (``YYYY-MM-DD``), like ``kefu
report cost``; a conversation belongs to the day of its first event.
"""

from __future__ import annotations

import csv
import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kefu.analytics import metrics as m
from kefu.analytics.refresh import FactRefresher, RefreshResult
from kefu.analytics.roi import RoiInputs, roi
from kefu.errors import InvalidInputError, SettingError
from kefu.settings import TenantSettings
from kefu.storage.fact_tables import FactRow
from kefu.storage.llm_calls import parse_day
from kefu.storage.tenants import TenantRepository

IDLE_MINUTES_DEFAULT = 30  # when the QA module's qa.idle_minutes is not declared
MAX_DAYS = 3660
TIMESERIES = (
    "conversations",
    "automation_rate",
    "self_resolution_rate",
    "transfer_rate",
    "csat",
    "first_response_time_s",
    "human_first_response_time_s",
    "average_handle_time_s",
    "repeat_contact_rate",
    "llm_cost",
    "negative_share",
    "emotion_mean",
)
DAILY_COLUMNS = (
    "day",
    "conversations",
    "engaged_conversations",
    "finished_conversations",
    "automated_conversations",
    "resolved_conversations",
    "handed_off_conversations",
    "automation_rate",
    "self_resolution_rate",
    "transfer_rate",
    "first_response_time_s",
    "human_first_response_time_s",
    "average_handle_time_s",
    "human_handle_time_s",
    "csat",
    "csat_share_satisfied",
    "csat_responses",
    "repeat_contact_rate",
    "customer_turns",
    "fallbacks",
    "clarifies",
    "negative_share",
    "emotion_mean",
    "llm_cost",
    "llm_tokens",
    "llm_cost_per_conversation",
)
CONVERSATION_COLUMNS = (
    "conversation_id",
    "day",
    "started_at",
    "last_at",
    "channel",
    "language",
    "customer",
    "customer_turns",
    "bot_turns",
    "agent_turns",
    "handed_off",
    "automated",
    "resolved",
    "closed",
    "repeat_contact",
    "fallbacks",
    "clarifies",
    "first_response_s",
    "human_first_response_s",
    "handle_time_s",
    "human_handle_time_s",
    "csat",
    "top_intent",
    "negative_turns",
    "emotion_turns",
    "emotion_sum",
    "llm_cost",
    "llm_tokens",
    "last_event_id",
)
EXPORT_KINDS = ("daily", "conversations")
CACHED = 64  # aggregate results kept per process (keyed by the facts' watermark)


class Analytics:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        tenants: TenantRepository,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._tenants = tenants
        self._clock = clock
        self._refresher = FactRefresher(sessions)
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- facts ------------------------------------------------------------------------------
    def refresh(self, tenant: str) -> RefreshResult:
        """Bring the tenant's facts up to date with its events (only the conversations with
        events newer than the watermark are recomputed)."""
        t = self._tenants.get(tenant)
        hours = int(self._tenants.settings(tenant)["analytics.repeat_hours"])
        return self._refresher.refresh(t.id, hours, self._clock())

    def _prepare(
        self, tenant: str, first: str | date | None, last: str | date | None
    ) -> tuple[int, TenantSettings, str | None, str | None]:
        start, end = period(first, last)
        t = self._tenants.get(tenant)
        settings = self._tenants.settings(tenant)
        self._refresher.refresh(t.id, int(settings["analytics.repeat_hours"]), self._clock())
        return t.id, settings, start, end

    def _memo(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """An aggregate computed once per facts version: ``key`` holds the tenant's watermark
        (it moves whenever a refresh changed something) and the "finished" cut-off to the
        minute, so the dashboard's several calls share one pass over the facts."""
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = compute()
        with self._cache_lock:
            self._cache[key] = value
            while len(self._cache) > CACHED:
                self._cache.popitem(last=False)
        return value

    def _daily_data(
        self, tid: int, settings: TenantSettings, start: str | None, end: str | None
    ) -> tuple[dict[str, m.Totals], dict[str, dict[str, Any]], str | None, str | None]:
        """Per-day totals and emotion of the period, and the days the tenant has data for."""
        cutoff = self._cutoff(settings).replace(second=0, microsecond=0)
        mark = self._refresher.watermark(tid)

        def compute() -> Any:
            with self._sessions() as s:
                conn = s.connection()
                by_day = m.daily_totals(conn, tid, start, end, cutoff)
                emotion = m.emotion_by_day(conn, tid, start, end)
                lo, hi = m.day_span(conn, tid)
            return by_day, emotion, lo, hi

        result: tuple[dict[str, m.Totals], dict[str, dict[str, Any]], str | None, str | None]
        result = self._memo(("daily", tid, mark, start, end, cutoff), compute)
        return result

    def _cutoff(self, settings: TenantSettings) -> datetime:
        try:
            idle = int(settings["qa.idle_minutes"])
        except SettingError:
            idle = IDLE_MINUTES_DEFAULT
        return self._clock() - timedelta(minutes=idle)

    # -- reports ----------------------------------------------------------------------------
    def summary(
        self, tenant: str, first: str | date | None = None, last: str | date | None = None
    ) -> dict[str, Any]:
        """Every headline metric over the period (conversations started from ``first`` to
        ``last``, inclusive; the whole history by default)."""
        tid, settings, start, end = self._prepare(tenant, first, last)
        by_day, emotion, lo, hi = self._daily_data(tid, settings, start, end)
        totals = sum(by_day.values(), m.Totals())
        body = totals.metrics()
        csat_detail = {
            "mean": body.pop("csat"),
            "share_satisfied": body.pop("csat_share_satisfied"),
            "responses": body.pop("csat_responses"),
        }
        rated = sum(d["rated_turns"] for d in emotion.values())
        negative = sum(d["negative_turns"] for d in emotion.values())
        span_from = start or lo
        span_to = end or hi
        days = _days_between(span_from, span_to)
        return {
            "tenant": tenant,
            "period": {"from": start, "to": end, "data_from": lo, "data_to": hi, "days": days},
            **body,
            "csat": csat_detail["mean"],
            "csat_detail": csat_detail,
            "negative_share": m.ratio(negative, rated),
            "currency": str(settings["llm_currency"]),
            "currency_symbol": str(settings["currency_symbol"]),
            "roi": roi(_roi_inputs(settings), totals.automated, totals.llm_cost, days),
        }

    def daily(
        self, tenant: str, first: str | date | None = None, last: str | date | None = None
    ) -> list[dict[str, Any]]:
        """One row per day of the period (days without conversations included), with every
        metric of :data:`DAILY_COLUMNS`."""
        tid, settings, start, end = self._prepare(tenant, first, last)
        by_day, emotion, _lo, _hi = self._daily_data(tid, settings, start, end)
        known = sorted({*by_day, *emotion})
        lo = start or (known[0] if known else None)
        hi = end or (known[-1] if known else None)
        rows = []
        for day in _days(lo, hi):
            metrics = (by_day.get(day) or m.Totals()).metrics()
            e = emotion.get(day, {})
            metrics["negative_share"] = e.get("negative_share")
            metrics["emotion_mean"] = e.get("mean_score")
            rows.append({"day": day, **{k: metrics[k] for k in DAILY_COLUMNS[1:]}})
        return rows

    def timeseries(
        self,
        tenant: str,
        metric: str,
        first: str | date | None = None,
        last: str | date | None = None,
    ) -> dict[str, Any]:
        if metric not in TIMESERIES:
            raise InvalidInputError(
                f"metric must be one of {', '.join(TIMESERIES)}, not {metric!r}", field="metric"
            )
        rows = self.daily(tenant, first, last)
        return {"metric": metric, "points": [{"day": r["day"], "value": r[metric]} for r in rows]}

    def intents(
        self,
        tenant: str,
        first: str | date | None = None,
        last: str | date | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """Intent distribution over customer messages (the intent the bot recognised)."""
        tid, _settings, start, end = self._prepare(tenant, first, last)
        limit = _limit(limit)
        mark = self._refresher.watermark(tid)

        def compute() -> list[dict[str, Any]]:
            with self._sessions() as s:
                return m.intents(s.connection(), tid, start, end, limit)

        items = self._memo(("intents", tid, mark, start, end, limit), compute)
        return {"period": {"from": start, "to": end}, "items": items}

    def questions(
        self,
        tenant: str,
        first: str | date | None = None,
        last: str | date | None = None,
        limit: int = 50,
        *,
        unanswered: bool = False,
    ) -> dict[str, Any]:
        """The most frequent customer questions (normalised text); with ``unanswered`` only
        those the bot fell back on, asked to clarify, or answered below
        ``analytics.low_confidence``."""
        tid, settings, start, end = self._prepare(tenant, first, last)
        below = float(settings["analytics.low_confidence"]) if unanswered else None
        with self._sessions() as s:
            items = m.questions(s.connection(), tid, start, end, _limit(limit), below)
        return {"period": {"from": start, "to": end}, "items": items}

    def emotion(
        self, tenant: str, first: str | date | None = None, last: str | date | None = None
    ) -> dict[str, Any]:
        """Daily share of negative customer turns and their mean emotion score."""
        tid, settings, start, end = self._prepare(tenant, first, last)
        _totals, by_day, _lo, _hi = self._daily_data(tid, settings, start, end)
        days = _days(start or min(by_day, default=None), end or max(by_day, default=None))
        empty = {
            "customer_turns": 0,
            "rated_turns": 0,
            "negative_turns": 0,
            "negative_share": None,
            "mean_score": None,
        }
        return {
            "period": {"from": start, "to": end},
            "points": [{"day": d, **by_day.get(d, empty)} for d in days],
        }

    def conversations(
        self, tenant: str, first: str | date | None = None, last: str | date | None = None
    ) -> list[dict[str, Any]]:
        """The per-conversation facts of the period, oldest first."""
        tid, _settings, start, end = self._prepare(tenant, first, last)
        c = FactRow.__table__.c
        cols = [c[name] for name in CONVERSATION_COLUMNS]
        with self._sessions() as s:
            rows = s.connection().execute(
                select(*cols)
                .where(*m.period_filter(c.day, c.tenant_id, tid, start, end))
                .order_by(c.started_at, c.conversation_id)
            )
            return [dict(r._mapping) for r in rows]

    def export_csv(
        self,
        tenant: str,
        first: str | date | None = None,
        last: str | date | None = None,
        kind: str = "daily",
    ) -> str:
        """CSV text: per-day rows of every metric (``daily``), or the per-conversation facts
        (``conversations``)."""
        if kind not in EXPORT_KINDS:
            raise InvalidInputError(
                f"kind must be one of {', '.join(EXPORT_KINDS)}, not {kind!r}", field="kind"
            )
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if kind == "daily":
            writer.writerow(DAILY_COLUMNS)
            for row in self.daily(tenant, first, last):
                writer.writerow([_cell(row[k]) for k in DAILY_COLUMNS])
        else:
            writer.writerow(CONVERSATION_COLUMNS)
            for row in self.conversations(tenant, first, last):
                writer.writerow([_cell(row[k]) for k in CONVERSATION_COLUMNS])
        return out.getvalue()


def period(first: str | date | None, last: str | date | None) -> tuple[str | None, str | None]:
    """Validated ``from``/``to`` days as ``YYYY-MM-DD``; 422 naming the field otherwise."""
    a, b = parse_day(first, "from"), parse_day(last, "to")
    if a and b and b < a:
        raise InvalidInputError(
            f"to ({b.isoformat()}) is before from ({a.isoformat()})", field="to"
        )
    if a and b and (b - a).days > MAX_DAYS:
        raise InvalidInputError(f"the period is longer than {MAX_DAYS} days", field="to")
    return (a.isoformat() if a else None, b.isoformat() if b else None)


def _limit(limit: int) -> int:
    if not 1 <= limit <= 1000:
        raise InvalidInputError("limit must be between 1 and 1000", field="limit")
    return limit


def _days(first: str | None, last: str | None) -> list[str]:
    if not first or not last:
        return []
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    if (b - a).days > MAX_DAYS:
        a = b - timedelta(days=MAX_DAYS)
    return [(a + timedelta(days=i)).isoformat() for i in range((b - a).days + 1)]


def _days_between(first: str | None, last: str | None) -> int:
    if not first or not last:
        return 0
    return (date.fromisoformat(last) - date.fromisoformat(first)).days + 1


def _roi_inputs(settings: TenantSettings) -> RoiInputs:
    return RoiInputs(
        agent_monthly_salary=float(settings["analytics.agent_monthly_salary"]),
        agent_conversations_per_day=int(settings["analytics.agent_conversations_per_day"]),
        working_days_per_month=int(settings["analytics.working_days_per_month"]),
        system_monthly_cost=float(settings["analytics.system_monthly_cost"]),
        currency=str(settings["llm_currency"]),
    )


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds") + "Z"
    return value
