"""Product and option mentions matched against a shop's catalogue, in Chinese or English.

``Catalogue.from_products`` takes a tau-bench style products dict (``{product_id: {"name",
"variants": {item_id: {"options": {...}}}}}``, optionally ``name_en`` and ``aliases``) and
builds one lookup table of surface forms:

- product names, English names and aliases (score 1.0); the names of the same product in the
  other language from the bilingual glossary ``data/catalogue_glossary.json`` (0.9); the head
  noun of the name ("keyboard", "保温杯" from "316不锈钢保温杯") when no other product shares it
  (0.7), and the one-character head of a Chinese name (靴, 包, 杯) used as a noun (0.6). A form
  shared by several products at the same score ("boots") names the one the message singles
  out (named before, its own head, the words before it; 0.6) or, in a definite phrase ("the
  boots", "我的靴子"), the first in the catalogue (0.5), listing the rest in
  ``ProductMention.alternatives``; a bare "camera" names none.
- option values as the catalogue spells them, their glossary translations (黑色 <-> black,
  青轴 <-> clicky) and measures in any unit spelling (1升 = 1L = 1000ml, 13寸 = 13-inch,
  128G = 128GB). Short or generic values ("L", "10", "high", "yes") count only next to their
  key ("L码", "size 10", "brightness high"); key-dependent phrases ("防水" = waterproof: yes)
  come from the glossary's ``pairs``.

Matching folds the message (full-width, traditional, case), takes the longest form at each
position, and picks an option's key from an adjacent key word, then from the products named in
the same message, then from how many products have that option.
"""

from __future__ import annotations

import bisect
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from kefu.understanding.entities_text import Folded, fold, word_freq


@dataclass(frozen=True, slots=True)
class ProductMention:
    """A product named in a message. ``alternatives`` lists the other products the same words
    fit just as well ("the boots" in a shop with two kinds of boots), best first; it is empty
    when the words name one product."""

    product_id: str
    name: str
    score: float
    alternatives: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "product_id": self.product_id,
            "name": self.name,
            "score": self.score,
        }
        if self.alternatives:
            out["alternatives"] = list(self.alternatives)
        return out


@dataclass(frozen=True, slots=True)
class OptionMention:
    """An option value in the catalogue's own spelling, with the key it belongs to."""

    key: str
    value: str
    product_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "product_ids": list(self.product_ids)}


CatalogueMatch = tuple[int, int, ProductMention | OptionMention]

_HAN = re.compile(r"[\u3400-\u9fff]")
_WEAK_WORDS = frozenset(
    """yes no none high low medium large small full half fixed standard basic light dark plain
    custom art fresh men women unisex road gas electric manual automatic portable
    on off regular digital analog round type one two normal classic mini pro plus max
    是 否 无 有 大 中 小 高 低 长 短 厚 薄""".split()
)
_FILLER = " :是为的要选换成改"

# Units of measure: spelling -> (canonical unit, factor).
_UNITS: dict[str, tuple[str, float]] = {
    "ml": ("ml", 1),
    "毫升": ("ml", 1),
    "l": ("ml", 1000),
    "liter": ("ml", 1000),
    "liters": ("ml", 1000),
    "litre": ("ml", 1000),
    "litres": ("ml", 1000),
    "升": ("ml", 1000),
    "gb": ("gb", 1),
    "g": ("gb", 1),
    "tb": ("gb", 1024),
    "t": ("gb", 1024),
    "inch": ("inch", 1),
    "inches": ("inch", 1),
    "in": ("inch", 1),
    '"': ("inch", 1),
    "寸": ("inch", 1),
    "英寸": ("inch", 1),
    "mah": ("mah", 1),
    "毫安": ("mah", 1),
    "ft": ("ft", 1),
    "feet": ("ft", 1),
    "foot": ("ft", 1),
    "英尺": ("ft", 1),
    "mp": ("mp", 1),
    "万像素": ("mp", 0.01),
    "mm": ("mm", 1),
    "毫米": ("mm", 1),
    "bar": ("bar", 1),
    "hours": ("hour", 1),
    "hour": ("hour", 1),
    "h": ("hour", 1),
    "小时": ("hour", 1),
    "cups": ("cup", 1),
    "cup": ("cup", 1),
    "杯": ("cup", 1),
    "lbs": ("lb", 1),
    "lb": ("lb", 1),
    "磅": ("lb", 1),
    "x": ("x", 1),
    "倍": ("x", 1),
    "mp ": ("mp", 1),
    "w": ("w", 1),
    "瓦": ("w", 1),
    "degrees": ("deg", 1),
    "度": ("deg", 1),
    "p": ("p", 1),
    "k": ("k", 1),
}
_UNIT_RE = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True) if u.strip())
_MEASURE = re.compile(rf"(?<![a-z0-9.])(\d+(?:\.\d+)?)\s*-?\s*({_UNIT_RE})(?![a-z0-9])")
_MEASURE_VALUE = re.compile(rf"^(\d+(?:\.\d+)?)\s*-?\s*({_UNIT_RE})(?:\s+(?:equivalent))?$")
_NOT_OPTION_AFTER = re.compile(
    r"\s*(?:members?|membership|tier|level|status|card|plan|account|friday|会员|等级|卡)\b"
)
_NOT_PRODUCT_AFTER = re.compile(
    r"\s*(?:号|号码|尾号|上|端|版|app|:?\s*\+?\d{5,}|支付|验证|打不通|壳|膜|卡)"
)


# Head nouns of Chinese product names that name the product on their own (靴 for 真皮马丁靴),
# with the everyday two-character forms (靴子, 包包). A bare one-character head counts only as
# a noun of its own: after 这个/那双/的/a classifier or at the start of a clause, and not as the
# first character of a word (包邮, 包装, 杯盖).
_ZH_HEADS: dict[str, tuple[str, ...]] = {
    "靴": ("靴子",),
    "鞋": ("鞋子",),
    "包": ("包包",),
    "杯": ("杯子",),
    "裤": ("裤子",),
    "袜": ("袜子",),
    "帽": ("帽子",),
    "裙": ("裙子",),
    "毯": ("毯子",),
    "壶": (),
    "伞": ("雨伞",),
    "枕": ("枕头",),
    "灯": (),
}
_NOT_HEAD_WORDS = frozenset("包邮 包税 包月 包年 包运 包安 包售 包子 灯具".split())
_HEAD_BEFORE = re.compile(
    r"(?:^|[\s,.!?;:、。()]|[这那哪每][个双只件条把款顶台盏套副]?|[个双只件条把款顶台盏套副]|的)$"
)
# An ambiguous head ("the boots" in a shop with two kinds of boots) is resolved by catalogue
# order only in a definite noun phrase; a bare "camera", "kettles", "鞋子尺码怎么选" asks about a
# kind of product, not one.
_DEFINITE_BEFORE = re.compile(r"\b(?:the|my|this|that|these|those|our|his|her|their)\s+$")
_DEFINITE_BEFORE_ZH = re.compile(
    r"(?:[这那][个双只件条把款顶台盏套副]?|我的|买的|收到的|寄来的|发来的|到的)$"
)
# Head nouns that are also everyday words ("set up", "in case", "stand", "bank transfer"):
# they name a product only in a definite noun phrase ("the stand", "my power bank" is a name).
_GENERIC_HEADS = frozenset(
    """set sets case cases stand stands bank banks band bands frame frames cap caps box boxes
    kit kits machine machines maker makers mat mats pack packs cleaner cleaners""".split()
)
_NAME_STOP = frozenset("and for with the of in set pack pairs pieces".split())
# Scores below a product's head noun (0.7): a one-character head, and an ambiguous head
# resolved by the words around it or, failing those, by catalogue order.
HEAD_CHAR_SCORE = 0.6
CONTEXT_PICK_SCORE = 0.6
ORDER_PICK_SCORE = 0.5


def norm(text: str) -> str:
    """The folded, lower-cased form used for every lookup."""
    return " ".join(fold(text).lower.split())


def _measure(text: str) -> tuple[str, float] | None:
    m = _MEASURE_VALUE.match(text)
    if not m:
        return None
    unit, factor = _UNITS[m.group(2)]
    return unit, round(float(m.group(1)) * factor, 3)


@functools.cache
def glossary() -> dict[str, Any]:
    """The bundled zh/en glossary of product names, option keys and option values."""
    path = resources.files("kefu.understanding").joinpath("data/catalogue_glossary.json")
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


@dataclass(frozen=True, slots=True)
class _Glossary:
    product_forms: dict[str, frozenset[str]]  # concept -> surfaces
    product_concepts: dict[str, frozenset[str]]  # surface -> concepts
    value_forms: dict[str, frozenset[str]]
    value_concepts: dict[str, frozenset[str]]
    key_forms: dict[str, frozenset[str]]
    key_concepts: dict[str, frozenset[str]]
    pairs: tuple[tuple[str, str, frozenset[str]], ...]  # key, value, surfaces


def _variants(surface: str) -> set[str]:
    """Spelling variants of an English form: hyphens and spaces, plural and singular."""
    s = norm(surface)
    out = {s}
    if _HAN.search(s) or not s:
        return out
    for form in list(out):
        out.add(form.replace("-", " "))
        out.add(form.replace("-", ""))
    for form in list(out):
        if not form[-1].isalpha():
            continue
        if form.endswith("s") and not form.endswith("ss") and len(form) > 4:
            out.add(form[:-1])
        elif form.endswith(("sh", "ch", "x", "ss")):
            out.add(form + "es")
        elif form.endswith("y") and form[-2:-1] not in "aeiou":
            out.add(form[:-1] + "ies")
        else:
            out.add(form + "s")
    return out


def _index(
    section: Mapping[str, Mapping[str, list[str]]],
) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    forms: dict[str, set[str]] = {}
    concepts: dict[str, set[str]] = {}
    for concept, langs in section.items():
        key = norm(concept)
        surfaces = set(_variants(concept))
        for s in (*langs.get("zh", []), *langs.get("en", [])):
            surfaces |= _variants(s)
        forms.setdefault(key, set()).update(surfaces)
        for s in surfaces:
            concepts.setdefault(s, set()).add(key)
    return (
        {k: frozenset(v) for k, v in forms.items()},
        {k: frozenset(v) for k, v in concepts.items()},
    )


@functools.cache
def _glossary_index() -> _Glossary:
    g = glossary()
    pf, pc = _index(g["products"])
    vf, vc = _index(g["values"])
    kf, kc = _index(g["keys"])
    pairs = tuple(
        (
            norm(p["key"]),
            norm(p["value"]),
            frozenset(s for x in (*p["zh"], *p["en"]) for s in _variants(x)),
        )
        for p in g["pairs"]
    )
    return _Glossary(pf, pc, vf, vc, kf, kc, pairs)


def _suffix_concepts(names: Iterable[Any], gl: _Glossary) -> set[str]:
    out: set[str] = set()
    for name in names:
        n = norm(str(name))
        words = n.split()
        for surface, concepts in gl.product_concepts.items():
            if len(surface) < 2 or surface == n:
                continue
            if _HAN.search(surface):
                if n.endswith(surface):
                    out |= concepts
            elif " " + surface in " " + n and (
                n.endswith(surface) or n.endswith(surface + ")") or surface in words[-2:]
            ):
                out |= concepts
    return out


@functools.cache
def _jieba_cut() -> Any:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba.lcut


def _head_nouns(name: str) -> set[str]:
    """Shorter forms of a product name that still name it: "keyboard" for "Mechanical
    Keyboard", "保温杯" and "不锈钢保温杯" for "316不锈钢保温杯"."""
    s = norm(name)
    out: set[str] = set()
    if _HAN.search(s):
        s = re.sub(r"\s*\([^)]*\)$", "", s)  # 降噪蓝牙耳机(入耳式): the head is 蓝牙耳机
        words = [w for w in _jieba_cut()(s) if w.strip()]
        for i in range(1, len(words)):
            tail = "".join(words[i:])
            if len(tail) >= 2 and _HAN.search(tail):
                out.add(tail)
    else:
        words = re.sub(r"\s*\([^)]*\)$", "", s).split()  # "towels (2)": the head is towels
        for size in (1, 2):
            if len(words) > size:
                out |= _variants(" ".join(words[-size:]))
    return out - {s}


@dataclass(slots=True)
class _Ref:
    kind: str  # "p" product, "v" option value, "k" option key
    target: Any  # product id, (key, value), or key
    score: float = 1.0
    weak: bool = False
    head: bool = False  # one of the product's own names or their head nouns


@dataclass(slots=True)
class _Builder:
    refs: dict[str, list[_Ref]] = field(default_factory=dict)

    def add(self, surface: str, ref: _Ref) -> None:
        if not surface:
            return
        bucket = self.refs.setdefault(surface, [])
        for existing in bucket:
            if existing.kind == ref.kind and existing.target == ref.target:
                existing.score = max(existing.score, ref.score)
                existing.weak = existing.weak and ref.weak
                existing.head = existing.head or ref.head
                return
        bucket.append(ref)


def _is_weak(surface: str) -> bool:
    if surface in _WEAK_WORDS:
        return True
    if len(surface) == 1:
        return True
    if surface.replace(".", "").isdigit():
        return True
    return bool(re.fullmatch(r"[a-z]{1,2}", surface)) and surface not in ("xs", "xl")


class Catalogue:
    """Product and option lookup for one shop; build once, match many messages."""

    def __init__(
        self,
        products: Mapping[str, str],
        pair_products: Mapping[tuple[str, str], frozenset[str]],
        refs: Mapping[str, list[_Ref]],
        measures: Mapping[tuple[str, float], list[tuple[str, str]]],
        key_concepts: Mapping[str, frozenset[str]],
        name_tokens: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self.products = dict(products)  # id -> display name
        self._order = {pid: i for i, pid in enumerate(self.products)}
        self._name_tokens = dict(name_tokens or {})
        self._pair_products = dict(pair_products)
        self._refs = {k: tuple(v) for k, v in refs.items()}
        self._lengths = tuple(sorted({len(k) for k in self._refs}, reverse=True))
        self._first = frozenset(k[0] for k in self._refs)
        self._measures = {k: tuple(v) for k, v in measures.items()}
        self._key_concepts = dict(key_concepts)

    def __len__(self) -> int:
        return len(self.products)

    @classmethod
    def from_products(cls, products: Mapping[str, Mapping[str, Any]]) -> Catalogue:
        gl = _glossary_index()
        b = _Builder()
        names: dict[str, str] = {}
        name_tokens: dict[str, frozenset[str]] = {}
        pair_products: dict[tuple[str, str], set[str]] = {}
        for pid, product in products.items():
            pid = str(product.get("product_id", pid))
            name = str(product.get("name", pid))
            names[pid] = name
            own = [name, *(x for x in [product.get("name_en")] if x), *product.get("aliases", [])]
            concepts: set[str] = set()
            name_tokens[pid] = frozenset(t for n in own for t in _tokens(norm(str(n))))
            for n in own:
                for s in _variants(str(n)):
                    b.add(s, _Ref("p", pid, 1.0, head=True))
                    concepts |= gl.product_concepts.get(s, frozenset())
                    concepts |= {s} & gl.product_forms.keys()
            for c in concepts:
                for s in gl.product_forms[c]:
                    b.add(s, _Ref("p", pid, 0.9))
            # A glossary name at the end of this one ("偏光太阳镜" ends in 太阳镜): its forms
            # in both languages name this product too, a little less surely.
            for c in _suffix_concepts(own, gl) - concepts:
                for s in gl.product_forms[c]:
                    b.add(s, _Ref("p", pid, 0.8))
            for n in own:
                for s in _head_nouns(str(n)):
                    b.add(s, _Ref("p", pid, 0.7, head=True))
                for s in _head_chars(str(n)):
                    b.add(s, _Ref("p", pid, HEAD_CHAR_SCORE, head=True))
            for variant in product.get("variants", {}).values():
                for key, value in variant.get("options", {}).items():
                    pair_products.setdefault((str(key), str(value)), set()).add(pid)

        measures: dict[tuple[str, float], list[tuple[str, str]]] = {}
        key_concepts: dict[str, set[str]] = {}
        for key, value in pair_products:
            nkey, nvalue = norm(key), norm(value)
            kc = {nkey} | gl.key_concepts.get(nkey, frozenset())
            key_concepts[key] = kc
            for c in kc:
                for s in gl.key_forms.get(c, frozenset({c})) | {nkey}:
                    b.add(s, _Ref("k", key, 1.0, weak=False))
            vc = {nvalue} | gl.value_concepts.get(nvalue, frozenset())
            surfaces = set(_variants(value))
            for c in vc:
                surfaces |= gl.value_forms.get(c, frozenset())
            for pkey, pvalue, psurfaces in gl.pairs:
                if pkey in kc and pvalue in vc:
                    for s in psurfaces:
                        b.add(s, _Ref("v", (key, value), 1.0, weak=False))
            if kc & {"颜色", "color", "colour"} and _HAN.search(nvalue) and nvalue[-1] != "色":
                surfaces.add(nvalue + "色")  # 藕粉 is also said 藕粉色
            for s in surfaces:
                b.add(s, _Ref("v", (key, value), 1.0, weak=_is_weak(s)))
            if m := _measure(nvalue):
                measures.setdefault(m, []).append((key, value))
        return cls(
            names,
            {k: frozenset(v) for k, v in pair_products.items()},
            b.refs,
            measures,
            {k: frozenset(v) for k, v in key_concepts.items()},
            name_tokens,
        )

    # -- matching ---------------------------------------------------------------------------

    def match(self, text: str) -> list[CatalogueMatch]:
        """Product and option mentions with offsets into ``text``."""
        folded = fold(text)
        return [(*folded.span(s, e), v) for s, e, v in self.find(folded)]

    def find(self, folded: Folded) -> list[CatalogueMatch]:
        """Mentions with offsets into the folded text."""
        lower = folded.lower
        hits = self._scan(lower)
        products = [h for h in hits if h[2].kind == "p"]
        # Products: drop ambiguous forms and "手机号"-style uses.
        out: list[CatalogueMatch] = []
        product_ids: set[str] = set()
        ambiguous: list[tuple[int, int, list[_Ref]]] = []
        for start, end, _ref, refs in ((h[0], h[1], h[2], h[3]) for h in products):
            best = max(r.score for r in refs if r.kind == "p")
            top = [r for r in refs if r.kind == "p" and r.score == best]
            if _HAN.match(lower[start]) and (
                _NOT_PRODUCT_AFTER.match(lower, end)
                or lower[max(0, start - 2) : start].endswith("绑")
            ):
                continue  # 手机号 / 换绑手机 are about the customer's phone number
            if end - start == 1 and not _head_char_in_context(lower, start):
                continue  # 包邮, 邮箱, 一杯: not the bag, the box, the cup
            if (
                best <= 0.7
                and lower[start:end] in _GENERIC_HEADS
                and not _DEFINITE_BEFORE.search(lower[max(0, start - 30) : start])
            ):
                continue  # "set up", "in case": a verb or a phrase, not the product
            if len(top) != 1:
                if best < 1.0:  # two products with one name name neither
                    ambiguous.append((start, end, top))
                continue
            pid = top[0].target
            product_ids.add(pid)
            out.append((start, end, ProductMention(pid, self.products[pid], best)))
        for start, end, top in ambiguous:
            picked = self._pick(lower, start, end, top, product_ids)
            if picked is not None:
                out.append((start, end, picked))
        product_ids |= {m.product_id for _, _, m in out if isinstance(m, ProductMention)}
        keys = [(s, e, {r.target for r in refs if r.kind == "k"}) for s, e, _, refs in hits]
        keys = [k for k in keys if k[2]]  # sorted by start: hits come left to right
        for start, end, _, refs in hits:
            values: Sequence[_Ref] = [r for r in refs if r.kind == "v"]
            if not values:
                continue
            if _NOT_OPTION_AFTER.match(lower, end):
                continue  # gold member, black friday
            if start > 0 and lower[start - 1] == "多" and _HAN.match(lower[start]):
                continue  # 多大码 asks which size, it does not pick one
            if any(r.kind == "p" for r in refs):  # "camera": a product word first
                values = [_Ref(r.kind, r.target, r.score, weak=True) for r in values]
            found = self._choose(lower, start, end, values, keys, product_ids)
            if found:
                out.append(found)
        covered: bytearray | None = None
        for m in _MEASURE.finditer(lower):
            unit, factor = _UNITS[m.group(2)]
            pairs = self._measures.get((unit, round(float(m.group(1)) * factor, 3)))
            if not pairs:
                continue
            if covered is None:
                covered = bytearray(len(lower) + 1)
                for s, e, _ in out:
                    covered[s:e] = b"\x01" * (e - s)
            if any(covered[m.start() : m.end()]):
                continue
            # Bare letters are weak: 4G/5G are networks, "10 in stock", 3x; 128G is storage.
            unit_text = m.group(2)
            weak = unit_text in ("x", "h", "t", "in") or (
                unit_text == "g" and float(m.group(1)) < 16
            )
            measure_refs = [_Ref("v", p, 1.0, weak=weak) for p in pairs]
            found = self._choose(lower, m.start(), m.end(), measure_refs, keys, product_ids)
            if found:
                out.append(found)
        out.sort(key=lambda x: (x[0], -x[1]))
        return out

    def _pick(
        self, lower: str, start: int, end: int, top: list[_Ref], named: set[str]
    ) -> ProductMention | None:
        """One of several products a head noun fits equally ("boots"), or ``None``.

        In order: the one named elsewhere in the message; the one whose own name ends that
        way when the others are only glossary relatives ("earbuds"); the one the words just
        before it name ("the leather boots", "真皮的靴子"); then, only in a definite phrase
        ("the boots", "我的靴子") and not for everyday words ("the box"), the shop's first."""
        ids = {r.target for r in top}
        already = ids & named
        zh = bool(_HAN.match(lower[start]))
        before = lower[max(0, start - 30) : start]
        context = _tokens(lower[max(0, start - 6) : start] if zh else " ".join(before.split()[-3:]))
        overlap = {pid: len(self._name_tokens.get(pid, frozenset()) & context) for pid in ids}
        head = {r.target for r in top if r.head}

        def rank(pid: str) -> tuple[bool, bool, int, int]:
            return (pid in already, pid in head, overlap[pid], -self._order[pid])

        ordered = sorted(ids, key=rank, reverse=True)
        first, second = ordered[0], ordered[1]
        if rank(first)[:3] != rank(second)[:3]:
            score = CONTEXT_PICK_SCORE
        elif (
            _DEFINITE_BEFORE_ZH.search(before) if zh else _DEFINITE_BEFORE.search(before)
        ) and lower[start:end] not in _GENERIC_HEADS:
            score = ORDER_PICK_SCORE
        else:
            return None
        score = min(score, max(r.score for r in top))
        return ProductMention(first, self.products[first], score, tuple(ordered[1:]))

    def _scan(self, lower: str) -> list[tuple[int, int, _Ref, tuple[_Ref, ...]]]:
        hits: list[tuple[int, int, _Ref, tuple[_Ref, ...]]] = []
        i, n = 0, len(lower)
        while i < n:
            if lower[i] not in self._first or (
                i > 0 and _word_char(lower[i - 1]) and _word_char(lower[i])
            ):
                i += 1
                continue
            for length in self._lengths:
                if i + length > n:
                    continue
                surface = lower[i : i + length]
                refs = self._refs.get(surface)
                if refs is None:
                    continue
                end = i + length
                if end < n and _word_char(lower[end - 1]) and _word_char(lower[end]):
                    continue
                ref = max(refs, key=lambda r: (r.kind == "p", r.kind == "v", r.score))
                hits.append((i, end, ref, refs))
                i = end
                break
            else:
                i += 1
        return hits

    def _choose(
        self,
        lower: str,
        start: int,
        end: int,
        values: Sequence[_Ref],
        keys: list[tuple[int, int, set[str]]],
        product_ids: set[str],
    ) -> CatalogueMatch | None:
        adjacent: set[str] = set()
        span_start, span_end = start, end
        own_keys = {r.target[0] for r in values}
        first = bisect.bisect_left(keys, (start - 8,))
        for ks, ke, kset in keys[first:]:
            if ks > end + 2:
                break
            gap_before = lower[ke:start]
            gap_after = lower[end:ks]
            if ke <= start and len(gap_before) <= 2 and all(c in _FILLER for c in gap_before):
                adjacent |= kset
                span_start = min(span_start, ks)
            elif (
                ks >= end
                and len(gap_after) <= 1
                and all(c in _FILLER for c in gap_after)
                and kset & own_keys  # "dark blue size 31": that "size" belongs to the 31
            ):
                adjacent |= kset
                span_end = max(span_end, ke)
        candidates = [r for r in values if not r.weak or adjacent]
        if adjacent:
            keyed = [r for r in candidates if r.target[0] in adjacent]
            if not keyed and all(r.weak for r in candidates):
                return None
            candidates = keyed or candidates
        if not candidates:
            return None
        if product_ids:
            in_context = [r for r in candidates if self._pair_products[r.target] & product_ids]
            candidates = in_context or candidates

        typed = lower[start:end]

        def rank(r: _Ref) -> tuple[bool, int, bool, str, str]:
            key, value = r.target
            exact = norm(value) == typed  # "gray" stays gray where a shop has gray and grey
            return (exact, len(self._pair_products[r.target]), key == "color", key, value)

        best = max(candidates, key=rank)
        key, value = best.target
        if not adjacent:
            span_start, span_end = start, end
        having = self._pair_products[best.target]
        pids = tuple(sorted(having & product_ids or having))
        return span_start, span_end, OptionMention(key, value, pids)


def _tokens(text: str) -> set[str]:
    """Words of an English name, character pairs of a Chinese one: what "the leather boots"
    or "真皮的靴子" share with "Leather Chelsea Boots" / "真皮马丁靴"."""
    out: set[str] = set()
    for word in re.findall(r"[a-z][a-z']+", text):
        if len(word) > 2 and word not in _NAME_STOP:
            out.add(word[:-1] if word.endswith("s") and len(word) > 4 else word)
    for run in re.findall(r"[\u3400-\u9fff]+", text):
        out.update(run[i : i + 2] for i in range(len(run) - 1))
    return out


def _head_chars(name: str) -> set[str]:
    """The one-character head of a Chinese name (靴 of 真皮马丁靴) and its everyday forms."""
    s = re.sub(r"\([^)]*\)$", "", norm(name)).strip()
    if len(s) < 2 or s[-1] not in _ZH_HEADS:
        return set()
    return {s[-1], *_ZH_HEADS[s[-1]]} - {s}


def _head_char_in_context(lower: str, start: int) -> bool:
    """A one-character head used as a noun: "那个包坏了", "这双鞋", not "包邮", "一杯", "钱包"."""
    if not _HEAD_BEFORE.search(lower[max(0, start - 2) : start]):
        return False
    freq = word_freq()
    for size in (2, 3):
        word = lower[start : start + size]
        if len(word) == size and (word in _NOT_HEAD_WORDS or (freq.get(word) or 0) >= 3):
            return False
    return True


def _word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def products_from(items: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """A list of product dicts keyed by their ``product_id`` (for catalogues kept as lists)."""
    return {str(p["product_id"]): dict(p) for p in items}
