"""`kefu drafts`: mine, list, show, approve and reject from the command line."""

from __future__ import annotations

import json
from typing import Any

from tests.drafts_scenario import EN_FAMILY, TENANT, play, setup_tenant

from kefu.config import Config
from kefu.knowledge.faq_index import FaqIndexCache
from kefu.service import build_service


def test_drafts_cli(kefu: Any, config: Config, index_cache: FaqIndexCache) -> None:
    svc = build_service(config, embedder=None, index_cache=index_cache)
    setup_tenant(svc)
    play(svc)
    svc.close()

    out = kefu("drafts", "mine", "--tenant", TENANT).stdout
    assert "2 new, 0 updated" in out
    drafts = {
        d["language"]: d
        for d in json.loads(kefu("drafts", "list", "--tenant", TENANT, "--json").stdout)
    }
    assert set(drafts) == {"zh", "en"}
    en, zh = drafts["en"], drafts["zh"]
    assert {en["question"], *en["similar_questions"]} == set(EN_FAMILY)
    shown = kefu("drafts", "show", str(en["id"])).stdout
    assert en["question"] in shown and "hint (from FAQ ship-fee)" in shown

    # no answer yet: refused with a clear message, exit status 2
    failed = kefu("drafts", "approve", str(en["id"]), "--by", "lead", ok=False)
    assert failed.returncode == 2 and "answer" in failed.stderr
    answer = "Yes, we ship to Canada."
    out = kefu("drafts", "approve", str(en["id"]), "--answer", answer, "--by", "lead").stdout
    assert f"FAQ draft-{en['id']}" in out
    kefu("drafts", "reject", str(zh["id"]), "--note", "no 专票")
    check = build_service(config, embedder=None, index_cache=index_cache)
    try:
        decided = {(d.id, d.status, d.decided_by, d.note) for d in check.drafts.list(TENANT)}
        assert decided == {
            (en["id"], "approved", "lead", None),
            (zh["id"], "rejected", "cli", "no 专票"),
        }
        [entry] = check.faqs.get(TENANT, f"draft-{en['id']}")
        assert entry.answer == answer
    finally:
        check.close()
