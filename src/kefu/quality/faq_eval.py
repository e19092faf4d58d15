"""``kefu eval faq``: how well the L1 engine answers a labelled query file.

Each line of the queries file is ``{"query": "...", "expected": "<faq id>" | null}``; ``null``
marks an out-of-scope query. Metrics:

* ``top1_accuracy``: in-scope queries whose best candidate is the expected FAQ.
* ``top3_recall``: in-scope queries with the expected FAQ among the best three.
* ``answer_accuracy``: in-scope queries answered directly with the expected FAQ.
* ``wrong_answer_rate``: all queries answered directly with a wrong FAQ (an answer to an
  out-of-scope query is wrong), divided by all queries.
* ``oos_rejection_rate``: out-of-scope queries not answered directly (fallback, clarify, handoff).
* ``decisions``: count per decision.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kefu.dialogue.l1_policy import History, L1Policy
from kefu.errors import InvalidInputError


@dataclass(frozen=True)
class LabelledQuery:
    query: str
    expected: str | None
    language: str | None = None


@dataclass
class FaqReport:
    n: int = 0
    n_in_scope: int = 0
    n_oos: int = 0
    top1: int = 0
    top3: int = 0
    answered_right: int = 0
    answered_wrong: int = 0
    oos_rejected: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    mistakes: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def ratio(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        lat = sorted(self.latencies_ms)
        return {
            "n": self.n,
            "n_in_scope": self.n_in_scope,
            "n_oos": self.n_oos,
            "top1_accuracy": ratio(self.top1, self.n_in_scope),
            "top3_recall": ratio(self.top3, self.n_in_scope),
            "answer_accuracy": ratio(self.answered_right, self.n_in_scope),
            "wrong_answer_rate": ratio(self.answered_wrong, self.n),
            "oos_rejection_rate": ratio(self.oos_rejected, self.n_oos),
            "decisions": dict(self.decisions),
            "latency_ms_p50": round(lat[len(lat) // 2], 2) if lat else None,
            "latency_ms_p95": round(lat[int(len(lat) * 0.95)], 2) if lat else None,
        }


def read_queries(path: Path) -> list[LabelledQuery]:
    out: list[LabelledQuery] = []
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}", field="queries") from exc
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path}, line {n}: invalid JSON ({exc.msg})") from exc
        if not isinstance(obj, dict) or not isinstance(obj.get("query"), str):
            raise InvalidInputError(
                f"{path}, line {n}: needs a string field 'query'", field="query"
            )
        if "expected" not in obj:
            raise InvalidInputError(
                f"{path}, line {n}: needs a field 'expected' (id or null)", field="expected"
            )
        expected = obj["expected"]
        if expected is not None and not isinstance(expected, str):
            raise InvalidInputError(
                f"{path}, line {n}: 'expected' must be a string or null", field="expected"
            )
        out.append(LabelledQuery(obj["query"], expected, obj.get("language")))
    if not out:
        raise InvalidInputError(f"{path}: no queries", field="queries")
    return out


def evaluate_faq(
    policy: L1Policy, queries: Sequence[LabelledQuery], now: datetime, keep_mistakes: int = 50
) -> FaqReport:
    report = FaqReport()
    empty = History()
    for q in queries:
        started = time.perf_counter()
        result = policy.decide(q.query, empty, now, q.language)
        report.latencies_ms.append((time.perf_counter() - started) * 1000)
        candidates = policy.index.search(q.query, k=3, now=now)
        ranked = [c.faq_id for c in candidates]
        report.n += 1
        report.decisions[result.decision] += 1
        answered = result.decision == "answer"
        if q.expected is None:
            report.n_oos += 1
            if answered:
                report.answered_wrong += 1
            else:
                report.oos_rejected += 1
        else:
            report.n_in_scope += 1
            report.top1 += bool(ranked and ranked[0] == q.expected)
            report.top3 += q.expected in ranked
            if answered and result.faq_id == q.expected:
                report.answered_right += 1
            elif answered:
                report.answered_wrong += 1
        right = (answered and result.faq_id == q.expected) or (q.expected is None and not answered)
        if not right and len(report.mistakes) < keep_mistakes:
            report.mistakes.append(
                {
                    "query": q.query,
                    "expected": q.expected,
                    "decision": result.decision,
                    "got": result.faq_id or (ranked[0] if ranked else None),
                    "confidence": round(result.confidence, 3),
                }
            )
    return report
