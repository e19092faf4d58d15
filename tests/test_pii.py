"""PII masking: fixed cases in zh and en, and property-style checks over generated values
(seeded, so a failure reproduces): every generated value is masked, nothing else changes,
``unmask(mask(x)) == x``, and masking is idempotent."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import pytest

from kefu.understanding.pii import PLACEHOLDER, PiiKind, Vault, find_pii, mask
from kefu.understanding.pii_detect import id_check_digit, is_valid_id18, luhn_ok

# -- generators ------------------------------------------------------------------------------


def gen_mobile(rng: random.Random) -> str:
    digits = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
    form = rng.randrange(6)
    if form == 0:
        return digits
    if form == 1:
        return f"+86 {digits}"
    if form == 2:
        return f"+86{digits}"
    if form == 3:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    if form == 4:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    return f"0086 {digits}"


def gen_landline(rng: random.Random) -> str:
    area = rng.choice(["010", "021", "0571", "0755", "020", "028"])
    number = f"{rng.choice('2345678')}{rng.randrange(10**7):07d}"
    return rng.choice(
        [f"{area}-{number}", f"({area}){number}", f"{area} {number[:4]} {number[4:]}"]
    )


def gen_id(rng: random.Random) -> str:
    region = rng.choice(["110101", "310104", "440305", "330106", "510107", "650102"])
    year = rng.randrange(1950, 2006)
    month = rng.randrange(1, 13)
    day = rng.randrange(1, 29)
    first = f"{region}{year}{month:02d}{day:02d}{rng.randrange(1000):03d}"
    return first + id_check_digit(first)


def luhn_complete(body: str) -> str:
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")


def gen_card(rng: random.Random) -> str:
    prefix = rng.choice(["6222", "6217", "4367", "5187", "6228"])
    length = rng.choice([16, 19])
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    number = luhn_complete(body)
    if rng.random() < 0.5:
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return number


def gen_email(rng: random.Random) -> str:
    local = rng.choice(["zhang.wei", "li_na88", "yusuf.rossi", "amy+shop", "wang123"])
    domain = rng.choice(["qq.com", "163.com", "gmail.com", "example.co.uk", "foxmail.com"])
    return f"{local}{rng.randrange(100)}@{domain}"


GENERATORS: dict[PiiKind, Callable[[random.Random], str]] = {
    PiiKind.PHONE: lambda rng: gen_mobile(rng) if rng.random() < 0.7 else gen_landline(rng),
    PiiKind.ID: gen_id,
    PiiKind.CARD: gen_card,
    PiiKind.EMAIL: gen_email,
}

ZH_TEMPLATES = [
    "我的{label}是{v}，麻烦尽快处理",
    "{v}",
    "联系我：{v} 谢谢",
    "{label}{v}，订单#W1234567还没发货",
    "收件信息 {v}，价格¥129.00，2024-03-15下单，买了3件",
]
EN_TEMPLATES = [
    "my {label} is {v}, thanks",
    "reach me at {v}.",
    "{label}: {v} (order #W2611340, $49.99, 2 items)",
    "Please update it to {v} before 2024/03/15",
]
LABELS = {
    PiiKind.PHONE: ("手机号", "phone"),
    PiiKind.ID: ("身份证号", "id number"),
    PiiKind.CARD: ("银行卡号", "card number"),
    PiiKind.EMAIL: ("邮箱", "email"),
}


def generated_cases(seed: int, count: int) -> list[tuple[PiiKind, str, str]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        kind = rng.choice(list(GENERATORS))
        value = GENERATORS[kind](rng)
        zh = rng.random() < 0.5
        template = rng.choice(ZH_TEMPLATES if zh else EN_TEMPLATES)
        label = LABELS[kind][0 if zh else 1]
        cases.append((kind, value, template.format(label=label, v=value)))
    return cases


@pytest.mark.parametrize("seed", range(6))
def test_generated_pii_is_masked_and_round_trips(seed: int) -> None:
    for kind, value, text in generated_cases(seed, 60):
        vault = Vault()
        masked = mask(text, vault)
        assert value not in masked, (text, masked)
        digits = re.sub(r"\D", "", value)
        if len(digits) >= 7:
            assert digits not in re.sub(r"\D", "", masked), (text, masked)
        tokens = PLACEHOLDER.findall(masked)
        assert tokens == [(kind.value, "1")], (text, masked)
        assert vault.unmask(masked) == text
        assert mask(masked, vault) == masked  # idempotent
        # Everything outside the placeholder is unchanged.
        before, after = masked.split(f"[{kind.value}_1]")
        assert text.startswith(before) and text.endswith(after)


# -- negatives: what is not PII --------------------------------------------------------------


def gen_not_pii(rng: random.Random) -> str:
    choices: list[Callable[[], str]] = [
        lambda: f"¥{rng.randrange(1, 99999)}.{rng.randrange(100):02d}",
        lambda: f"${rng.randrange(1, 9)},{rng.randrange(1000):03d}.00",
        lambda: (
            f"{rng.randrange(2000, 2030)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        ),
        lambda: f"{rng.randrange(2000, 2030)}年{rng.randrange(1, 13)}月{rng.randrange(1, 29)}日",
        lambda: (
            f"{rng.randrange(2000, 2030)}/{rng.randrange(1, 13):02d}/{rng.randrange(1, 29):02d}"
        ),
        lambda: f"{rng.randrange(24)}:{rng.randrange(60):02d}",
        lambda: f"#W{rng.randrange(10**6, 10**7)}",
        lambda: f"W{rng.randrange(10**6, 10**7)}",
        lambda: f"订单号 {rng.randrange(10**17, 10**19)}",
        lambda: f"order {rng.randrange(10**15, 10**19)}",
        lambda: f"SF{rng.randrange(10**11, 10**12)}",
        lambda: f"YT{rng.randrange(10**12, 10**13)}",
        lambda: f"运单号 {rng.randrange(10**11, 10**15)}",
        lambda: f"tracking number {rng.randrange(10**11, 10**15)}",
        lambda: f"买{rng.randrange(1, 50)}件",
        lambda: f"{rng.randrange(1, 20)} pairs",
        lambda: f"{rng.randrange(100, 2000)}ml",
        lambda: f"尺码{rng.randrange(35, 46)}",
        lambda: f"{rng.randrange(1, 100)}%",
        lambda: f"400-{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}",
        lambda: f"货号{rng.randrange(10**5, 10**10)}",
        lambda: f"{rng.randrange(1, 9)} of them by the way",
        lambda: "能发到新疆吗",
        lambda: "杭州西湖区有门店吗",
        lambda: f"第{rng.randrange(2, 5)}件半价",
        lambda: f"{rng.randrange(1, 12)} items",
    ]
    return rng.choice(choices)()


@pytest.mark.parametrize("seed", range(4))
def test_generated_non_pii_is_left_alone(seed: int) -> None:
    rng = random.Random(1000 + seed)
    for _ in range(80):
        text = rng.choice(["{v}", "请问{v}怎么样", "about {v}, please check", "{v}，谢谢"]).format(
            v=gen_not_pii(rng)
        )
        vault = Vault()
        assert mask(text, vault) == text, text
        assert len(vault) == 0


# -- fixed cases -----------------------------------------------------------------------------

POSITIVE = [
    # (text, kind, the masked surface)
    ("我的手机 138 0013 8000", "PHONE", "138 0013 8000"),
    ("电话：+86 139-1234-5678", "PHONE", "+86 139-1234-5678"),
    ("手机１３８００１３８０００谢谢", "PHONE", "１３８００１３８０００"),
    ("(+86)13800138000", "PHONE", "(+86)13800138000"),
    ("座机 010-62345678", "PHONE", "010-62345678"),
    ("电话 02162345678", "PHONE", "02162345678"),
    ("call (415) 555-2671 after 5pm", "PHONE", "(415) 555-2671"),
    ("my number is 415-555-2671", "PHONE", "415-555-2671"),
    ("UK office +44 20 7946 0958", "PHONE", "+44 20 7946 0958"),
    ("Berlin: +49 30 901820", "PHONE", "+49 30 901820"),
    ("身份证号11010519491231002X", "ID", "11010519491231002X"),
    ("ID 11010519491231002x ok", "ID", "11010519491231002x"),
    ("身份证 110105 19491231 002X", "ID", "110105 19491231 002X"),
    ("身份证号 110105491231002", "ID", "110105491231002"),
    ("身份证号110105194912310021", "ID", "110105194912310021"),  # bad check digit, but cued
    ("卡号 6222 0212 3456 7890 128", "CARD", "6222 0212 3456 7890 128"),
    ("visa 4111111111111111 exp 12/28", "CARD", "4111111111111111"),
    ("refund to card 5500-0000-0000-0004", "CARD", "5500-0000-0000-0004"),
    ("amex 3782 822463 10005", "CARD", "3782 822463 10005"),
    ("邮箱 Zhang.Wei@QQ.com", "EMAIL", "Zhang.Wei@QQ.com"),
    ("mail me: amy+shop@example.co.uk.", "EMAIL", "amy+shop@example.co.uk"),
    ("13800138000@163.com 是我的邮箱", "EMAIL", "13800138000@163.com"),
    ("寄到浙江省杭州市西湖区文三路478号华星科技大厦5楼", "ADDRESS", "文三路478号华星科技大厦5楼"),
    ("地址：北京市朝阳区建国路88号SOHO现代城A座1201室", "ADDRESS", "建国路88号SOHO现代城A座1201室"),
    ("上海市浦东新区张江路100弄5号502室", "ADDRESS", "张江路100弄5号502室"),
    ("我住在中山路100号3栋502室", "ADDRESS", "中山路100号3栋502室"),
    ("阳光花园3栋2单元501", "ADDRESS", "阳光花园3栋2单元501"),
    ("建国路88号院3号楼2单元501", "ADDRESS", "建国路88号院3号楼2单元501"),
    ("ship to 221B Baker Street please", "ADDRESS", "221B Baker Street"),
    ("new address: 1600 Pennsylvania Ave NW, Apt 2, Washington", "ADDRESS", None),
    ("123 main st apt 4b springfield", "ADDRESS", "123 main st apt 4b"),
    ("send it to PO Box 4521", "ADDRESS", "PO Box 4521"),
]


@pytest.mark.parametrize(("text", "kind", "surface"), POSITIVE)
def test_positive_cases(text: str, kind: str, surface: str | None) -> None:
    spans = find_pii(text)
    assert [s.kind.value for s in spans] == [kind], (text, spans)
    if surface is not None:
        assert text[spans[0].start : spans[0].end] == surface
    vault = Vault()
    masked = mask(text, vault)
    assert f"[{kind}_1]" in masked
    assert vault.unmask(masked) == text


NEGATIVE = [
    "订单#W1234567 金额¥1299.00 2024-03-15 买3件",
    "运单号SF1234567890，顺丰",
    "order #W2611340 costs $1,299.00",
    "订单号 6222021234567890123",  # Luhn-valid, but introduced as an order number
    "客服热线 400-820-8820",
    "call 800-820-8820",
    "身份证号110105194913310021",  # no such date
    "11010519491231002X1",  # glued to another digit
    "110105194912310021",  # no cue and a wrong check digit
    "卡号 6222021234567890124",  # Luhn fails
    "1234567890123456",  # Luhn fails, no cue
    "version 3.13.8000 released",
    "能发到新疆吗",
    "浙江杭州包邮吗",
    "by the way I want 3 of them",
    "I bought 2 more yesterday",
    "the shop is 3 streets away",
    "I waited 2 days on the road",
    "尺码42，颜色红色，数量2",
    "价格 12999 元",
    "2024年11月18日 14:30 下单",
    "sku 8215938724",
    "小区门口的快递柜",
    "我在中山路",  # a street with no number
]


@pytest.mark.parametrize("text", NEGATIVE)
def test_negative_cases(text: str) -> None:
    assert find_pii(text) == [], text
    assert mask(text, Vault()) == text


def test_region_stays_readable_around_a_masked_street() -> None:
    vault = Vault()
    masked = mask("寄到浙江省杭州市西湖区文三路478号华星科技大厦5楼，张小明收", vault, ["张小明"])
    assert masked == "寄到浙江省杭州市西湖区[ADDRESS_1]，[NAME_1]收"


# -- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "我是张小明",
        "我是张 小明",
        "this is Zhang Xiaoming",
        "name: zhangxiaoming",
        "XIAOMING ZHANG here",
        "Zhang Xiao-Ming",
        "zhang_xiao_ming_1234 is my user id",
    ],
)
def test_chinese_name_in_every_form(text: str) -> None:
    vault = Vault()
    masked = mask(text, vault, ["张小明"])
    assert "[NAME_1]" in masked, masked
    assert not re.search(r"张|xiao|ming", masked, re.I), masked
    assert vault.unmask(masked) == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("I'm Yusuf Rossi", "I'm [NAME_1]"),
        ("rossi yusuf", "[NAME_1]"),
        ("user id yusuf_rossi_9620", "user id [NAME_1]_9620"),
        ("Yusuf Rossini", "Yusuf Rossini"),  # another name
        ("Rossi", "Rossi"),  # a surname alone is not masked
        ("yusufrossi@gmail.com", "[EMAIL_1]"),
    ],
)
def test_latin_names(text: str, masked: str) -> None:
    assert mask(text, Vault(), ["Yusuf Rossi"]) == masked


def test_forms_of_one_name_share_a_placeholder() -> None:
    vault = Vault()
    names = ["张伟", "Wei Zhang"]
    assert mask("张伟", vault, names) == "[NAME_1]"
    assert mask("zhang wei", vault, names) == "[NAME_1]"
    assert mask("Wei Zhang", vault, names) == "[NAME_1]"
    assert vault.unmask("[NAME_1]") == "张伟"


def test_short_or_empty_names_are_ignored() -> None:
    assert mask("王 is king", Vault(), ["王", "", "  ", "Al"]) == "王 is king"


def test_name_only_masked_when_known() -> None:
    assert mask("我是张小明", Vault()) == "我是张小明"


# -- vault -----------------------------------------------------------------------------------


def test_same_value_same_placeholder_across_forms_and_turns() -> None:
    vault = Vault()
    assert mask("手机13800138000", vault) == "手机[PHONE_1]"
    assert mask("还是 +86 138-0013-8000", vault) == "还是 [PHONE_1]"
    assert mask("另一个 13900139000", vault) == "另一个 [PHONE_2]"
    assert mask("a@b.com 和 A@B.COM", vault) == "[EMAIL_1] 和 [EMAIL_1]"
    # The placeholder maps back to the value as first written.
    assert vault.unmask("[PHONE_1]") == "13800138000"
    assert len(vault) == 3


def test_unmask_tolerates_model_variations_and_keeps_unknown_tokens() -> None:
    vault = Vault()
    mask("13800138000", vault)
    assert vault.unmask("号码【PHONE_1】") == "号码13800138000"
    assert vault.unmask("[phone_1] / ［PHONE_1］") == "13800138000 / 13800138000"
    assert vault.unmask("[PHONE_2] [EMAIL_1]") == "[PHONE_2] [EMAIL_1]"


def test_placeholders_typed_by_a_customer_stay_as_they_are() -> None:
    vault = Vault()
    assert mask("what is [PHONE_1]?", vault) == "what is [PHONE_1]?"
    assert len(vault) == 0


def test_unmask_json_walks_nested_values() -> None:
    vault = Vault()
    mask("a@b.com 13800138000", vault)
    value = {"to": "[EMAIL_1]", "list": ["[PHONE_1]", 3, None], "[EMAIL_1]": True}
    assert vault.unmask_json(value) == {
        "to": "a@b.com",
        "list": ["13800138000", 3, None],
        "a@b.com": True,
    }


def test_vault_round_trips_through_a_dict() -> None:
    vault = Vault()
    mask("13800138000 a@b.com 13900139000", vault)
    again = Vault.from_dict(vault.to_dict())
    assert again.placeholders() == vault.placeholders()
    assert mask("13900139000 c@d.com", again) == "[PHONE_2] [EMAIL_2]"
    with pytest.raises(ValueError):
        Vault.from_dict(
            {"entries": [{"kind": "PHONE", "key": "x", "token": "[EMAIL_1]", "value": "v"}]}
        )


def test_many_values_in_one_message() -> None:
    text = (
        "张小明，手机13800138000，身份证11010519491231002X，卡号6222021234567890128，"
        "邮箱xm@qq.com，地址杭州市西湖区文三路478号5楼"
    )
    vault = Vault()
    masked = mask(text, vault, ["张小明"])
    assert masked == (
        "[NAME_1]，手机[PHONE_1]，身份证[ID_1]，卡号[CARD_1]，邮箱[EMAIL_1]，地址杭州市西湖区[ADDRESS_1]"
    )
    assert vault.unmask(masked) == text


def test_validators() -> None:
    assert is_valid_id18("11010519491231002X")
    assert not is_valid_id18("110105194912310021")
    assert not is_valid_id18("11010530001231002X")  # born in the future
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
