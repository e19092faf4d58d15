"""Business hours of the human team."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from kefu.settings import TenantSettings

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def within_business_hours(settings: TenantSettings, now: datetime) -> bool:
    """``now`` is naive UTC or aware; compared in the tenant's time zone."""
    aware = now if now.tzinfo else now.replace(tzinfo=UTC)
    local = aware.astimezone(ZoneInfo(str(settings["timezone"])))
    if _DAYS[local.weekday()] not in settings["business_days"]:
        return False
    start, end = str(settings["business_hours"]).split("-")
    minutes = local.hour * 60 + local.minute
    sh, sm = (int(x) for x in start.split(":"))
    eh, em = (int(x) for x in end.split(":"))
    lo, hi = sh * 60 + sm, eh * 60 + em
    if lo <= hi:
        return lo <= minutes < hi
    return minutes >= lo or minutes < hi  # overnight shifts such as 20:00-02:00
