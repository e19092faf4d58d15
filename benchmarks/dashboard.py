"""The analytics dashboard over 100,000 conversations: full refresh time, then the time of the
API calls the dashboard makes (summary, three time series, intents, emotion).

    python -m benchmarks.dashboard [--conversations 100000] [--days 30]

Populates a temporary SQLite database with synthetic conversations (about six events each,
spread over ``--days`` days, bulk-inserted with SQLAlchemy Core), runs the first full refresh
of the facts, times the dashboard's six calls over HTTP (FastAPI's TestClient, a real viewer
API key), an incremental refresh after 100 new conversations, and the calls again.
Target: the dashboard's calls together under 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from kefu.config import Config
from kefu.service import Service, build_service
from kefu.storage.models import ConversationRow, EventRow

TENANT = "bench"
END = datetime(2026, 11, 1)
INTENTS = [f"faq-{i:02d}" for i in range(40)] + ["flow:return_items", "flow:order_status"]
QUESTIONS = ["运费怎么算", "什么时候发货", "怎么退货", "能开发票吗", "我的快递到哪了", "在吗"]
CALLS = (
    ("summary", {}),
    ("timeseries", {"metric": "conversations"}),
    ("timeseries", {"metric": "automation_rate"}),
    ("timeseries", {"metric": "csat"}),
    ("intents", {}),
    ("emotion", {}),
)


def populate(svc: Service, n: int, days: int, seed: int = 7) -> int:
    """``n`` conversations of about six events: started, one or two customer turns each with a
    bot reply, and for some a handoff with an agent reply, a rating or a close."""
    rng = random.Random(seed)
    tenant_id = svc.tenants.get(TENANT).id
    start = END - timedelta(days=days)
    total = 0
    batch = 5000
    for lo in range(0, n, batch):
        convs: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for _ in range(min(batch, n - lo)):
            cid = str(uuid.uuid4())
            t = start + timedelta(seconds=rng.uniform(0, days * 86400))
            customer = f"c{rng.randrange(n // 3)}" if rng.random() < 0.6 else None
            convs.append(
                {
                    "id": cid,
                    "tenant_id": tenant_id,
                    "channel": "web",
                    "customer": customer,
                    "language": "zh",
                    "created_at": t,
                }
            )
            seq = 0

            def add(
                type_: str,
                actor: str,
                text: str | None,
                payload: dict[str, Any],
                at: datetime,
                cid: str = cid,
                out: list[dict[str, Any]] = events,
            ) -> None:
                nonlocal seq
                seq += 1
                out.append(
                    {
                        "conversation_id": cid,
                        "seq": seq,
                        "type": type_,
                        "actor": actor,
                        "text": text,
                        "payload": payload,
                        "created_at": at,
                    }
                )

            add("conversation_started", "system", None, {"channel": "web"}, t)
            for _turn in range(rng.choice((1, 2))):
                t += timedelta(seconds=rng.uniform(5, 60))
                add("customer_message", "customer", rng.choice(QUESTIONS), {}, t)
                decision = rng.choices(("answer", "clarify", "fallback"), (0.85, 0.08, 0.07))[0]
                label = rng.choices(("neutral", "negative", "positive"), (0.8, 0.12, 0.08))[0]
                t += timedelta(seconds=rng.uniform(0.2, 2))
                add(
                    "bot_reply",
                    "bot",
                    "…",
                    {
                        "decision": decision,
                        "intent": rng.choice(INTENTS) if decision == "answer" else None,
                        "confidence": round(rng.uniform(0.3, 1), 2),
                        "emotion": {"label": label, "score": round(rng.uniform(-1, 1), 2)},
                    },
                    t,
                )
            roll = rng.random()
            if roll < 0.1:
                add("handoff_requested", "system", None, {"handoff_id": 1}, t)
                t += timedelta(seconds=rng.uniform(10, 300))
                add("agent_message", "agent", "您好", {"agent": "a"}, t)
                t += timedelta(seconds=rng.uniform(30, 600))
                add("conversation_closed", "system", None, {"by": "agent:a"}, t)
            elif roll < 0.4:
                add("csat", "customer", None, {"score": rng.randint(1, 5)}, t)
            else:
                add("conversation_closed", "system", None, {"by": "customer"}, t)
        with svc.sessions.begin() as s:
            conn = s.connection()
            conn.execute(insert(ConversationRow), convs)
            conn.execute(insert(EventRow), events)
        total += len(events)
    return total


def dashboard(client: Any, headers: dict[str, str]) -> tuple[float, dict[str, float]]:
    per: dict[str, float] = {}
    t0 = time.perf_counter()
    for path, params in CALLS:
        t = time.perf_counter()
        r = client.get(
            f"/v1/analytics/{path}", params={"tenant": TENANT, **params}, headers=headers
        )
        assert r.status_code == 200, r.text
        per[f"{path}:{params.get('metric', '')}".rstrip(":")] = round(time.perf_counter() - t, 3)
    return round(time.perf_counter() - t0, 3), per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--keep", type=Path, help="keep the database in this (new) directory")
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from kefu.api.app import create_app

    with tempfile.TemporaryDirectory() as scratch:
        tmp = str(args.keep or scratch)
        Path(tmp).mkdir(parents=True, exist_ok=True)
        config = Config.from_env(Path(tmp), env={"KEFU_DATABASE_URL": f"sqlite:///{tmp}/kefu.db"})
        svc = build_service(config, embedder=None, clock=lambda: END + timedelta(days=1))
        svc.tenants.create(TENANT, {"level": "L1"})
        t = time.perf_counter()
        events = populate(svc, args.conversations, args.days)
        populate_s = time.perf_counter() - t
        t = time.perf_counter()
        result = svc.analytics.refresh(TENANT)
        refresh_s = time.perf_counter() - t
        _key, secret = svc.access.create_api_key(TENANT, "viewer", "bench")
        headers = {"Authorization": f"Bearer {secret}"}
        with TestClient(create_app(svc)) as client:
            cold_s, cold = dashboard(client, headers)
            warm_s, warm = dashboard(client, headers)
            svc_events = populate_more(svc)
            t = time.perf_counter()
            inc = svc.analytics.refresh(TENANT)
            incremental_s = time.perf_counter() - t
            after_s, _after = dashboard(client, headers)
        svc.close()
    report = {
        "conversations": args.conversations,
        "events": events,
        "days": args.days,
        "populate_s": round(populate_s, 1),
        "full_refresh_s": round(refresh_s, 1),
        "refreshed_conversations": result.conversations,
        "dashboard_first_s": cold_s,
        "dashboard_first_calls_s": cold,
        "dashboard_again_s": warm_s,
        "dashboard_again_calls_s": warm,
        "incremental_refresh_s": round(incremental_s, 3),
        "incremental_conversations": inc.conversations,
        "incremental_events": svc_events,
        "dashboard_after_new_events_s": after_s,
        "target_s": 2.0,
        "machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 1),  # other work on the machine meanwhile
        "date": datetime.now().strftime("%Y-%m-%d %H:%M"),
    }
    print(json.dumps(report, indent=2))


def populate_more(svc: Service) -> int:
    return populate(svc, 100, 1, seed=99)


if __name__ == "__main__":
    main()
