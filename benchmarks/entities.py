"""Entity extraction quality and speed on the project's labelled utterances.

    python -m benchmarks.entities [--split heldout|dev|tau|crosswoz] [--errors]

Data: ``benchmarks/data/entities_{split}.jsonl``, one utterance a line with its gold entities
(``{"text", "entities": [{"type", "text", "value"}], "now"?}``). Relative dates resolve against
2024-11-20 10:00 Asia/Shanghai (a Wednesday) unless a line sets ``now``. Products and options
are matched against the tau-bench retail catalogue (English) from ``../shared/datasets``.

An extracted entity is correct when its type and normalised value equal a gold entity's (each
gold entity matches once); the span may differ. Products compare by product id, options by
(key, value). Precision = correct / extracted, recall = correct / gold, per type and overall.
Latency is ``EntityExtractor.extract`` per utterance after one warm-up pass.

``--split tau`` is a check on text the project did not write: the 635 user instructions of
tau-bench retail (train, dev and test tasks; English, third person: "You are Yusuf Rossi in
19122 ... order #W2378156"). Its gold is taken from the tau database, for the types it can
settle: an order id is right when the order exists and every ``#W`` + 7 digits in the text
should be found; a person name is right when it is the task user's name (or first name); a
zip is right when it is the user's zip or one of their orders' zips.

``--split crosswoz`` is a second check on text written elsewhere, in Chinese: the 1,000 val and
test dialogues of CrossWOZ (travel in Beijing; turns annotated with dialogue acts). A phone is
right when its digits occur in the turn's ``Inform 电话`` value; an address when it overlaps
the turn's ``Inform 地址`` value; recall counts the ``Inform`` values found (addresses only
those that name a region, since the extractor needs one).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections import Counter
from datetime import datetime
from typing import Any

from benchmarks._common import DATA, DATASETS, machine, read_jsonl, stamp
from kefu.understanding.catalogue import Catalogue
from kefu.understanding.entities import SHANGHAI, EntityExtractor

NOW = datetime(2024, 11, 20, 10, 0, tzinfo=SHANGHAI)


def _numbers(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return round(float(value), 6)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def key(kind: str, value: Any) -> tuple[str, str]:
    """What must match: the type and its normalised value."""
    if kind == "product":
        return kind, str(value["product_id"])
    if kind == "option":
        return kind, f"{value['key']}={value['value']}"
    return kind, json.dumps(_numbers(value), ensure_ascii=False, sort_keys=True)


def evaluate(
    extractor: EntityExtractor, rows: list[dict[str, Any]]
) -> tuple[Counter[str], Counter[str], Counter[str], list[float], list[str]]:
    gold_n: Counter[str] = Counter()
    pred_n: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    latencies: list[float] = []
    errors: list[str] = []
    for row in rows:
        now = datetime.fromisoformat(row["now"]) if row.get("now") else NOW
        started = time.perf_counter()
        found = extractor.extract(row["text"], now=now)
        latencies.append(time.perf_counter() - started)
        gold = Counter(key(e["type"], e["value"]) for e in row["entities"])
        pred = Counter(key(e.type, e.to_dict()["value"]) for e in found)
        for (kind, _), n in gold.items():
            gold_n[kind] += n
        for (kind, _), n in pred.items():
            pred_n[kind] += n
        hit = gold & pred
        for (kind, _), n in hit.items():
            correct[kind] += n
        missed, extra = gold - hit, pred - hit
        if missed or extra:
            errors.append(
                f"{row['text']}\n    missed: {sorted(missed)}\n    extra:  {sorted(extra)}"
            )
    return gold_n, pred_n, correct, latencies, errors


def tau_check(extractor: EntityExtractor) -> None:
    base = DATASETS / "tau_bench_retail"
    users = json.loads((base / "users.json").read_text())
    orders = json.loads((base / "orders.json").read_text())
    tasks: list[dict[str, Any]] = []
    for name in ("tasks_train.json", "tasks_dev.json", "tasks_test.json"):
        tasks += json.loads((base / name).read_text())
    pred: Counter[str] = Counter()
    right: Counter[str] = Counter()
    gold_ids = found_ids = 0
    wrong: list[str] = []
    for task in tasks:
        text, user = task["instruction"], users[task["user_id"]]
        full = f"{user['name']['first_name']} {user['name']['last_name']}"
        zips = {user["address"]["zip"]} | {
            orders[o]["address"]["zip"] for o in user["orders"] if o in orders
        }
        entities = extractor.extract(text)
        for e in entities:
            if e.type not in ("order_id", "person_name", "zip"):
                continue
            pred[e.type] += 1
            ok = (
                (e.type == "order_id" and e.value in orders)
                or (e.type == "person_name" and e.value in (full, user["name"]["first_name"]))
                or (e.type == "zip" and e.value in zips)
            )
            right[e.type] += ok
            if not ok:
                wrong.append(f"{e.type} {e.value!r} in: {text[:120]}")
        ids = set(re.findall(r"#?W\d{7}\b", text))
        got = {e.value for e in entities if e.type == "order_id"}
        gold_ids += len(ids)
        found_ids += sum(("#" + i.lstrip("#")) in got for i in ids)
    print(f"split: tau ({len(tasks)} tau-bench retail instructions)\n")
    print("| type | extracted | right | precision |")
    print("|---|---|---|---|")
    for kind in ("order_id", "person_name", "zip"):
        print(f"| {kind} | {pred[kind]} | {right[kind]} | {right[kind] / pred[kind]:.3f} |")
    print(f"\norder ids found: {found_ids} of {gold_ids} (recall {found_ids / gold_ids:.3f})")
    for line in wrong[:20]:
        print("  wrong:", line)


def crosswoz_check(extractor: EntityExtractor) -> None:
    import zipfile

    c: Counter[str] = Counter()
    wrong: list[str] = []
    for split in ("val", "test"):
        with zipfile.ZipFile(DATASETS / "crosswoz" / f"{split}.json.zip") as z:
            dialogues = json.loads(z.read(z.namelist()[0]))
        for dialogue in dialogues.values():
            for turn in dialogue["messages"]:
                text, acts = turn["content"], turn.get("dialog_act") or []
                entities = extractor.extract(text)
                informed = [(slot, v) for a, _, slot, v in acts if a == "Inform" and v]
                phone_digits = "|".join(re.sub(r"\D", "", v) for s, v in informed if s == "电话")
                for v in (v for s, v in informed if s == "电话"):
                    if re.fullmatch(r"[\d-]{7,14}", v):
                        c["phone_gold"] += 1
                        c["phone_found"] += any(
                            e.type == "phone"
                            and re.sub(r"\D", "", str(e.value)) == v.replace("-", "")
                            for e in entities
                        )
                spans = [
                    (i, i + len(v)) for s, v in informed if s == "地址" and (i := text.find(v)) >= 0
                ]
                for s_, v in informed:
                    if s_ == "地址" and v.startswith("北京"):
                        c["address_gold"] += 1
                        i = text.find(v)
                        c["address_found"] += any(
                            e.type == "address" and i >= 0 and e.start < i + len(v) and i < e.end
                            for e in entities
                        )
                for e in entities:
                    if e.type == "phone":
                        c["phone_pred"] += 1
                        ok = re.sub(r"\D", "", str(e.value)) in phone_digits and bool(phone_digits)
                    elif e.type == "address":
                        c["address_pred"] += 1
                        ok = any(e.start < b and a < e.end for a, b in spans)
                    else:
                        continue
                    c[e.type + "_right"] += ok
                    if not ok:
                        wrong.append(f"{e.type} {e.text!r} in: {text[:80]}")
    print("split: crosswoz (val + test dialogues, every turn)\n")
    print("| type | extracted | right | precision | informed | found | recall |")
    print("|---|---|---|---|---|---|---|")
    for kind in ("phone", "address"):
        p, r = c[kind + "_pred"], c[kind + "_right"]
        g, f = c[kind + "_gold"], c[kind + "_found"]
        print(f"| {kind} | {p} | {r} | {r / p:.3f} | {g} | {f} | {f / g:.3f} |")
    for line in wrong[:20]:
        print("  wrong:", line)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="heldout", choices=["heldout", "dev", "tau", "crosswoz"])
    ap.add_argument("--errors", action="store_true", help="print every utterance with a miss")
    args = ap.parse_args()
    products = json.loads((DATASETS / "tau_bench_retail" / "products.json").read_text())
    if args.split in ("tau", "crosswoz"):
        print(f"machine: {machine()}\ndate: {stamp()}")
        check = tau_check if args.split == "tau" else crosswoz_check
        check(EntityExtractor(Catalogue.from_products(products), now=NOW))
        return
    rows = read_jsonl(DATA / f"entities_{args.split}.jsonl")
    started = time.perf_counter()
    catalogue = Catalogue.from_products(products)
    build = time.perf_counter() - started
    extractor = EntityExtractor(catalogue, now=NOW)
    for row in rows:  # warm-up: tables, jieba, OpenCC
        extractor.extract(row["text"])
    gold, pred, correct, latencies, errors = evaluate(extractor, rows)
    n_gold = sum(gold.values())
    print(f"machine: {machine()}\ndate: {stamp()}")
    print(f"split: {args.split} ({len(rows)} utterances, {n_gold} gold entities)")
    print(
        f"catalogue: tau-bench retail, {len(catalogue)} products, built in {build * 1000:.0f} ms\n"
    )
    print("| type | gold | extracted | correct | precision | recall |")
    print("|---|---|---|---|---|---|")
    kinds = sorted(set(gold) | set(pred))
    for kind in [*kinds, "overall"]:
        g = n_gold if kind == "overall" else gold[kind]
        p = sum(pred.values()) if kind == "overall" else pred[kind]
        c = sum(correct.values()) if kind == "overall" else correct[kind]
        prec = c / p if p else 1.0
        rec = c / g if g else 1.0
        name = f"**{kind}**" if kind == "overall" else kind
        print(f"| {name} | {g} | {p} | {c} | {prec:.3f} | {rec:.3f} |")
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[min(len(ms) - 1, round(0.95 * len(ms)) - 1)]
    print(f"\nlatency per utterance: p50 {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms")
    if args.errors:
        print("\n" + "\n".join(errors))


if __name__ == "__main__":
    main()
