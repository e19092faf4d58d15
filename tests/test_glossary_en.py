"""English renderings of Chinese shop values (carriers, options, places, tracking events)."""

from __future__ import annotations

import pytest

from kefu.dialogue.glossary_en import option_value, place, to_english


@pytest.mark.parametrize(
    ("zh", "en"),
    [
        ("顺丰速运", "SF Express"),
        ("中通快递", "ZTO Express"),
        ("黑色", "black"),
        ("藏青色", "navy"),
        ("24寸", '24"'),
        ("1.5米床", "1.5 m bed"),
        ("104键", "104 keys"),
        ("运输中", "in transit"),
        ("快件已到达【杭州转运中心】", "Arrived at Hangzhou transit centre"),
        (
            "快件已从【杭州转运中心】发出，下一站【乌鲁木齐转运中心】",
            "Left Hangzhou transit centre, next stop Urumqi transit centre",
        ),
        (
            "【浙江省杭州市】圆通速递 杭州余杭仓 已揽收",
            "Picked up by YTO Express at Hangzhou Yuhang warehouse",
        ),
        (
            "【天津南开区营业部】快递员张师傅（156****7052）正在为您派送，请保持电话畅通",
            "Out for delivery from Tianjin Nankai District depot: courier 张师傅 (156****7052)",
        ),
        (
            "您的快件已签收，签收方式：丰巢快递柜。感谢使用中通快递，期待再次为您服务",
            "Delivered: Hive Box locker",
        ),
        ("新疆维吾尔自治区乌鲁木齐市天山区", "Tianshan District, Urumqi, Xinjiang"),
        ("北京市海淀区", "Haidian District, Beijing"),
        ("山东省青岛市市南区", "Shinan District, Qingdao, Shandong"),
    ],
)
def test_known_values_are_translated(zh: str, en: str) -> None:
    assert to_english(zh) == en


@pytest.mark.parametrize("value", ["XXL", "42", "350ml", "iPhone 17 Pro", "", "神秘色", "火星基地"])
def test_unknown_or_latin_values_are_kept(value: str) -> None:
    # a value the glossary does not know is still the shop's real value
    assert to_english(value) == value


def test_place_with_an_unknown_part_is_kept_whole() -> None:
    assert place("浙江省神仙市") == "浙江省神仙市"
    assert option_value("黑色") == "black"
