"""FAQ drafts mined from real conversations (the service's turn path over a small KB): the
paraphrases cluster into drafts and the noise does not; approving one teaches the bot."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tests.conftest import Clock
from tests.drafts_scenario import (
    AGENT_REPLY,
    EN_FAMILY,
    NOISE,
    PII,
    TENANT,
    ZH_FAMILY,
    Scenario,
    converse,
    play,
    setup_tenant,
)

from kefu.config import Config
from kefu.errors import ConflictError, FaqNotFound, InvalidInputError
from kefu.knowledge.faq_index import FaqIndexCache
from kefu.quality.drafts import Draft
from kefu.service import Service, build_service


@pytest.fixture
def shop(service: Service) -> tuple[Service, Scenario]:
    setup_tenant(service)
    return service, play(service)


@pytest.fixture
def lexical(config: Config, clock: Clock, index_cache: FaqIndexCache) -> Iterator[Service]:
    """A service without an embedder: the drafts cluster lexically."""
    svc = build_service(config, embedder=None, clock=clock, index_cache=index_cache)
    setup_tenant(svc)
    yield svc
    svc.close()


def by_language(drafts: list[Draft]) -> dict[str, Draft]:
    assert len({d.language for d in drafts}) == len(drafts), drafts
    return {d.language: d for d in drafts}


def questions(d: Draft) -> set[str]:
    return {d.question, *d.similar_questions}


def masked(text: str) -> str:
    return text.replace("13800138000", "[PHONE]")


def check_scenario_drafts(svc: Service, sc: Scenario) -> dict[str, Draft]:
    drafts = by_language(svc.drafts.list(TENANT))
    assert set(drafts) == {"zh", "en"}
    zh, en = drafts["zh"], drafts["en"]
    # the paraphrases, together; none of the noise
    assert questions(zh) == {masked(q) for q in ZH_FAMILY}
    assert questions(en) == set(EN_FAMILY)
    every = {q for d in drafts.values() for q in questions(d)}
    assert not every & {masked(n) for n in NOISE}
    assert (zh.support, en.support) == (3, 3)
    assert set(zh.examples) == set(sc.zh) and set(en.examples) == set(sc.en)
    assert all(d.status == "suggested" for d in drafts.values())
    # zh: an agent answered one of them -> that reply (masked) is the draft's answer
    assert zh.answer == AGENT_REPLY.replace("13900139000", "[PHONE]")
    assert zh.answer_source == "agent"
    # en: nobody answered -> empty answer, the nearest FAQ's answer as a hint, its category
    assert en.answer == "" and en.answer_source == "none"
    assert en.hint_faq_id == "ship-fee" and en.answer_hint.startswith("Shipping is free")
    assert en.category == "shipping"
    return drafts


def test_mining_clusters_the_paraphrases_not_the_noise(shop: tuple[Service, Scenario]) -> None:
    svc, sc = shop
    result = svc.drafts.mine(TENANT)
    assert (result.new, result.updated) == (2, 0)
    check_scenario_drafts(svc, sc)


def test_lexical_mining_without_an_embedder(lexical: Service) -> None:
    sc = play(lexical)
    assert lexical.drafts.mine(TENANT).to_dict() == {"new": 2, "updated": 0}
    check_scenario_drafts(lexical, sc)


def test_personal_data_never_reaches_a_draft(shop: tuple[Service, Scenario]) -> None:
    svc, _ = shop
    svc.drafts.mine(TENANT)
    stored = json.dumps([d.to_dict() for d in svc.drafts.list(TENANT)], ensure_ascii=False)
    assert "[PHONE]" in stored  # the masked question and agent answer are there ...
    for value in PII:
        assert value not in stored  # ... their numbers are not


def test_approving_a_draft_teaches_the_bot(shop: tuple[Service, Scenario]) -> None:
    svc, _ = shop
    svc.drafts.mine(TENANT)
    en = by_language(svc.drafts.list(TENANT))["en"]
    revision = svc.tenants.get(TENANT).kb_revision
    before = svc.handle_message(converse(svc, []), EN_FAMILY[1])
    assert before.result.to_dict()["faq_id"] == "ship-fee"  # the wrong answer

    answer = "Yes, we ship to Canada: delivery takes 7-14 days and costs ¥60."
    approved = svc.drafts.approve(en.id, "lead", faq_id="ship-canada", answer=answer)

    assert (approved.status, approved.faq_id, approved.decided_by) == (
        "approved",
        "ship-canada",
        "lead",
    )
    assert approved.decided_at == svc.clock()
    [entry] = svc.faqs.get(TENANT, "ship-canada")
    assert (entry.language, entry.question, entry.answer) == ("en", en.question, answer)
    assert set(entry.similar_questions) == set(en.similar_questions)
    assert entry.category == "shipping"
    assert svc.tenants.get(TENANT).kb_revision == revision + 1
    after = svc.handle_message(converse(svc, []), EN_FAMILY[1]).result.to_dict()
    assert (after["decision"], after["faq_id"]) == ("answer", "ship-canada")
    assert after["replies"][0]["text"] == answer
    # decided: no second decision, no edit
    with pytest.raises(ConflictError):
        svc.drafts.approve(en.id, "lead", faq_id="again", answer=answer)
    with pytest.raises(ConflictError):
        svc.drafts.edit(en.id, answer="x")


def test_approval_needs_an_answer_and_writes_nothing_without_one(
    shop: tuple[Service, Scenario],
) -> None:
    svc, _ = shop
    svc.drafts.mine(TENANT)
    en = by_language(svc.drafts.list(TENANT))["en"]
    faqs, revision = len(svc.faqs.all(TENANT)), svc.tenants.get(TENANT).kb_revision
    with pytest.raises(InvalidInputError) as err:
        svc.drafts.approve(en.id, "lead")
    assert err.value.field == "answer"
    with pytest.raises(InvalidInputError) as err:
        svc.drafts.approve(en.id, "lead", answer="   ")
    assert err.value.field == "answer"
    # an id the English knowledge base already uses: refused, nothing written
    with pytest.raises(ConflictError) as conflict:
        svc.drafts.approve(en.id, "lead", faq_id="ship-fee", answer="Yes.")
    assert conflict.value.field == "faq_id"
    assert len(svc.faqs.all(TENANT)) == faqs
    assert svc.tenants.get(TENANT).kb_revision == revision
    assert svc.drafts.get(en.id).status == "suggested"
    assert svc.drafts.get(en.id).answer == ""
    # the default id, once it has an answer
    svc.drafts.edit(en.id, answer="Yes, to Canada too.")
    assert svc.drafts.approve(en.id, "lead").faq_id == f"draft-{en.id}"
    assert svc.faqs.get(TENANT, f"draft-{en.id}")[0].answer == "Yes, to Canada too."


def test_mining_again_updates_instead_of_duplicating(lexical: Service) -> None:
    svc = lexical
    play(svc)
    assert svc.drafts.mine(TENANT).to_dict() == {"new": 2, "updated": 0}
    first = by_language(svc.drafts.list(TENANT))
    assert svc.drafts.mine(TENANT).to_dict() == {"new": 0, "updated": 0}
    # a supervisor's edit survives the next mining
    svc.drafts.edit(first["zh"].id, question="可以开增值税专用发票吗", category="invoices")
    # one more paraphrase: the zh draft grows, no second one appears
    extra = converse(svc, ["你们能开专票吗"])
    assert svc.drafts.mine(TENANT).to_dict() == {"new": 0, "updated": 1}
    drafts = by_language(svc.drafts.list(TENANT))
    zh = drafts["zh"]
    assert zh.id == first["zh"].id and zh.support == 4 and extra in zh.examples
    assert zh.question == "可以开增值税专用发票吗" and zh.category == "invoices" and zh.edited
    assert zh.cluster_key != first["zh"].cluster_key
    assert drafts["en"] == first["en"]


def test_decided_drafts_never_come_back(lexical: Service) -> None:
    svc = lexical
    play(svc)
    svc.drafts.mine(TENANT)
    drafts = by_language(svc.drafts.list(TENANT))
    rejected = svc.drafts.reject(drafts["zh"].id, "lead", "we do not issue 专票")
    assert (rejected.status, rejected.note, rejected.decided_by) == (
        "rejected",
        "we do not issue 专票",
        "lead",
    )
    svc.drafts.approve(drafts["en"].id, "lead", answer="Yes, we ship to Canada.")
    # the same conversations again, and new ones asking the same thing: nothing new
    play(svc)
    converse(svc, ["你们能开专票吗"])
    assert svc.drafts.mine(TENANT).to_dict() == {"new": 0, "updated": 0}
    statuses = sorted(d.status for d in svc.drafts.list(TENANT))
    assert statuses == ["approved", "rejected"]
    assert svc.drafts.list(TENANT, "suggested") == []


def test_merge_adds_the_questions_to_an_existing_faq(lexical: Service) -> None:
    svc = lexical
    play(svc)
    svc.drafts.mine(TENANT)
    zh = by_language(svc.drafts.list(TENANT))["zh"]
    before = svc.faqs.get(TENANT, "invoice")
    merged = svc.drafts.merge(zh.id, "lead", "invoice")
    assert (merged.status, merged.faq_id, merged.decided_by) == ("merged", "invoice", "lead")
    after = {e.language: e for e in svc.faqs.get(TENANT, "invoice")}["zh"]
    old = {e.language: e for e in before}["zh"]
    assert after.similar_questions[: len(old.similar_questions)] == old.similar_questions
    assert set(after.similar_questions[len(old.similar_questions) :]) == questions(zh)
    assert after.answer == old.answer
    reply = svc.handle_message(converse(svc, []), "专票怎么开").result.to_dict()
    assert (reply["decision"], reply["faq_id"]) == ("answer", "invoice")


def test_merge_and_edit_refuse_bad_input(lexical: Service) -> None:
    svc = lexical
    play(svc)
    svc.drafts.mine(TENANT)
    drafts = by_language(svc.drafts.list(TENANT))
    zh, en = drafts["zh"], drafts["en"]
    revision = svc.tenants.get(TENANT).kb_revision
    with pytest.raises(FaqNotFound):
        svc.drafts.merge(zh.id, "lead", "no-such-faq")
    with pytest.raises(InvalidInputError) as err:
        svc.drafts.merge(en.id, "lead", "ship-time")  # has only a Chinese version
    assert err.value.field == "faq_id"
    with pytest.raises(InvalidInputError) as err:
        svc.drafts.approve(zh.id, "lead", faq_id="bad id!")
    assert err.value.field == "faq_id"
    with pytest.raises(InvalidInputError) as err:
        svc.drafts.edit(zh.id, question="  ")
    assert err.value.field == "question"
    with pytest.raises(InvalidInputError) as err:
        svc.drafts.edit(zh.id, similar_questions=[f"问题{i}" for i in range(101)])
    assert err.value.field == "similar_questions"
    with pytest.raises(InvalidInputError) as err:
        svc.drafts.list(TENANT, "maybe")
    assert err.value.field == "status"
    assert svc.drafts.get(zh.id) == zh and svc.drafts.get(en.id) == en
    assert svc.tenants.get(TENANT).kb_revision == revision
    edited = svc.drafts.edit(zh.id, similar_questions=["专票怎么开", "专票怎么开", " 能开专票吗 "])
    assert edited.similar_questions == ("专票怎么开", "能开专票吗")
