"""Generate the demo shop (小铺优选) in the tau-bench retail format, deterministically.

    .venv/bin/python tools/make_demo_shop.py

Writes ``users.json``, ``orders.json`` and ``products.json`` into ``src/kefu/demo/data/shop/``
(``kefu shop import --tenant demo src/kefu/demo/data/shop``). A fixed seed and a fixed reference
time (2026-11-10 12:00 Asia/Shanghai: every event lies before it) make the output the same on
every run, so tests can rely on it.

Beyond tau's schema (see docs/shop.md): users have ``phone`` and ``address.district``; products
``name_en``, ``category`` and, for intimate and customised goods, ``returnable: false``; orders
``created_at``, ``delivered_at`` (delivered ones) and fulfillments ``carrier`` and ``events``.
Prices are consistent: the payments minus refunds of every order that is not cancelled equal
the sum of its item prices. The policy the data follows is the demo FAQ's: shipped from the
Hangzhou or Guangzhou warehouse within 48 hours, by 中通/圆通/韵达 (顺丰 on request).
"""

from __future__ import annotations

import itertools
import json
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from pypinyin import lazy_pinyin

OUT = Path(__file__).resolve().parent.parent / "src" / "kefu" / "demo" / "data" / "shop"
SEED = 20261110
CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 10, 12, 0, tzinfo=CST)
FIRST_DAY = datetime(2026, 8, 1, 9, 0, tzinfo=CST)
N_CUSTOMERS = 80
N_ORDERS = 240

# One product per two lines: "category | name | English name | base price [| 不退]" (不退: not
# returnable), then its options "option: value, value; option: value, ...".
CATALOGUE = """
服装 | 纯棉圆领T恤 | Cotton Crew-neck T-shirt | 59
    颜色: 黑色, 白色, 灰色, 藏青色, 米白色; 尺码: S, M, L, XL, XXL
服装 | 重磅连帽卫衣 | Heavyweight Hoodie | 169
    颜色: 黑色, 白色, 灰色, 藏青色; 尺码: S, M, L, XL, XXL
服装 | 直筒牛仔裤 | Straight-leg Jeans | 199
    颜色: 浅蓝, 深蓝, 黑色; 尺码: 28, 29, 30, 31, 32, 33
服装 | 轻薄白鸭绒羽绒服 | Lightweight Down Jacket | 399
    颜色: 黑色, 藏青色, 米白色, 雾霾蓝; 尺码: S, M, L, XL, XXL
服装 | 长绒棉牛津纺衬衫 | Oxford Shirt | 149
    颜色: 白色, 浅蓝, 粉色; 尺码: S, M, L, XL, XXL
服装 | 法式碎花连衣裙 | Floral Midi Dress | 239
    颜色: 碎花蓝, 碎花黄; 尺码: S, M, L, XL
服装 | 羊毛混纺针织开衫 | Wool-blend Cardigan | 259
    颜色: 燕麦色, 焦糖色, 黑色; 尺码: S, M, L, XL; 材质: 30%羊毛, 50%羊毛
服装 | 速干运动裤 | Quick-dry Track Pants | 129
    颜色: 黑色, 灰色, 藏青色; 尺码: S, M, L, XL, XXL
服装 | 三合一冲锋衣 | 3-in-1 Hardshell Jacket | 599
    颜色: 黑色, 军绿色, 橙色; 尺码: S, M, L, XL, XXL
服装 | 纯羊毛围巾 | Merino Wool Scarf | 189
    颜色: 驼色, 灰色, 酒红色, 格纹
服装 | 加绒保暖打底裤 | Fleece-lined Leggings | 69
    颜色: 黑色, 肤色; 尺码: M, L, XL
服装 | 棒球帽 | Baseball Cap | 79
    颜色: 黑色, 白色, 卡其色, 藏青色
内衣 | 无钢圈文胸 | Wire-free Bra | 129 | 不退
    颜色: 肤色, 黑色, 雾粉; 尺码: 70B, 75B, 75C, 80B, 80C
内衣 | 莫代尔内裤三条装 | Modal Briefs (3-pack) | 79 | 不退
    颜色: 混色, 黑色; 尺码: M, L, XL, XXL
内衣 | 精梳棉中筒袜五双装 | Combed Cotton Socks (5 pairs) | 39.9 | 不退
    颜色: 黑白灰, 彩色; 尺码: 均码
内衣 | 分体泳衣 | Two-piece Swimsuit | 159 | 不退
    颜色: 藏青色, 墨绿色; 尺码: S, M, L, XL
鞋靴 | 缓震跑步鞋 | Cushioned Running Shoes | 369
    颜色: 黑白, 灰蓝, 全黑; 鞋码: 36, 37, 38, 39, 40, 41, 42, 43, 44
鞋靴 | 百搭小白鞋 | Classic White Sneakers | 239
    颜色: 纯白, 白绿, 白黑; 鞋码: 36, 37, 38, 39, 40, 41, 42, 43, 44
鞋靴 | 高帮帆布鞋 | High-top Canvas Shoes | 129
    颜色: 黑色, 米白色, 红色; 鞋码: 36, 37, 38, 39, 40, 41, 42, 43, 44
鞋靴 | 真皮马丁靴 | Leather Chelsea Boots | 459
    颜色: 黑色, 棕色; 鞋码: 38, 39, 40, 41, 42, 43, 44
鞋靴 | 居家棉拖鞋 | Cosy House Slippers | 49
    颜色: 灰色, 粉色, 藏青色; 鞋码: 36-37, 38-39, 40-41, 42-43
鞋靴 | 防滑雨靴 | Non-slip Rain Boots | 139
    颜色: 黑色, 雾霾蓝, 奶白; 鞋码: 36, 37, 38, 39, 40, 41, 42
箱包 | 通勤双肩包 | Commuter Backpack | 229
    颜色: 黑色, 灰色, 藏青色; 容量: 20L, 28L
箱包 | 帆布托特包 | Canvas Tote Bag | 89
    颜色: 米白色, 黑色, 卡其色
箱包 | 真皮斜挎包 | Leather Crossbody Bag | 329
    颜色: 黑色, 焦糖色, 酒红色; 款式: 小号, 中号
箱包 | 铝框拉杆箱 | Aluminium-frame Suitcase | 699
    颜色: 银色, 黑色, 香槟金; 尺寸: 20寸, 24寸, 28寸
箱包 | 牛皮短款钱包 | Leather Bifold Wallet | 159
    颜色: 黑色, 棕色
箱包 | 防水收纳腰包 | Waterproof Waist Bag | 69
    颜色: 黑色, 军绿色
家居 | 全棉床品四件套 | Cotton Bedding Set (4 pieces) | 299
    颜色: 月白, 灰蓝, 豆绿, 藕粉; 规格: 1.5米床, 1.8米床
家居 | 记忆棉护颈枕 | Memory Foam Pillow | 159
    款式: 波浪型, 平面型; 高度: 低枕, 中枕
家居 | 长绒棉毛巾两条装 | Long-staple Cotton Towels (2) | 59
    颜色: 白色, 灰色, 浅蓝
家居 | 加厚浴巾 | Thick Bath Towel | 79
    颜色: 白色, 米色, 灰色
家居 | 香薰蜡烛礼盒 | Scented Candle Gift Box | 129
    香型: 白茶, 无花果, 雪松, 橙花
家居 | 可折叠收纳箱 | Foldable Storage Box | 49.9
    颜色: 米白色, 灰色; 容量: 30L, 55L, 80L
家居 | 棉麻抱枕 | Linen Cushion | 69
    颜色: 燕麦色, 墨绿色, 焦糖色; 尺寸: 45x45cm, 50x50cm
家居 | 客厅短绒地毯 | Living-room Rug | 259
    颜色: 灰色, 米白色; 尺寸: 120x160cm, 160x230cm
家居 | 护眼LED台灯 | Eye-care LED Desk Lamp | 199
    颜色: 白色, 黑色; 款式: 插电款, 充电款
家居 | 定制刻字木质相框 | Personalised Engraved Photo Frame | 99 | 不退
    尺寸: 6寸, 7寸, 10寸; 颜色: 原木色, 胡桃色
数码配件 | 20000mAh快充充电宝 | 20000mAh Fast-charging Power Bank | 169
    颜色: 白色, 黑色; 功率: 22.5W, 65W
数码配件 | 编织快充数据线 | Braided Fast-charging Cable | 39
    接口: USB-C to C, USB-A to C, USB-C to Lightning; 长度: 1米, 2米
数码配件 | 氮化镓快充充电头 | GaN Fast Charger | 99
    功率: 35W, 65W, 100W; 颜色: 白色, 黑色
数码配件 | 降噪蓝牙耳机（入耳式） | Noise-cancelling In-ear Earbuds | 399 | 不退
    颜色: 白色, 黑色, 薄荷绿
数码配件 | 头戴式蓝牙耳机 | Over-ear Bluetooth Headphones | 599
    颜色: 黑色, 银色
数码配件 | 磁吸手机壳 | Magnetic Phone Case | 69
    适配型号: iPhone 16, iPhone 16 Pro, iPhone 17, iPhone 17 Pro; 颜色: 透明, 黑色, 深蓝
数码配件 | 静音无线鼠标 | Silent Wireless Mouse | 89
    颜色: 白色, 黑色, 粉色; 连接: 蓝牙, 蓝牙+2.4G
数码配件 | 机械键盘 | Mechanical Keyboard | 349
    轴体: 红轴, 茶轴, 青轴; 配列: 87键, 104键
数码配件 | 便携蓝牙音箱 | Portable Bluetooth Speaker | 259
    颜色: 黑色, 蓝色, 红色
数码配件 | 智能运动手环 | Smart Fitness Band | 229
    颜色: 黑色, 粉色, 绿色; 版本: 标准版, NFC版
数码配件 | 铝合金平板支架 | Aluminium Tablet Stand | 79
    颜色: 银色, 深空灰
杯具 | 316不锈钢保温杯 | 316 Stainless Steel Thermos | 129
    颜色: 奶白, 雾蓝, 墨黑, 樱粉; 容量: 350ml, 500ml, 750ml
杯具 | 双层玻璃杯 | Double-wall Glass Cup | 59
    容量: 250ml, 350ml; 款式: 带盖, 无盖
杯具 | 陶瓷马克杯 | Ceramic Mug | 49
    颜色: 白色, 哑光黑, 雾绿; 容量: 350ml, 450ml
杯具 | 手冲咖啡杯套装 | Pour-over Coffee Set | 189
    材质: 玻璃, 陶瓷; 款式: 单人套装, 双人套装
杯具 | Tritan运动水壶 | Tritan Sports Bottle | 79
    颜色: 透明, 蓝色, 粉色, 黑色; 容量: 600ml, 1000ml
杯具 | 定制刻字保温杯 | Personalised Engraved Thermos | 159 | 不退
    颜色: 奶白, 墨黑, 雾蓝; 容量: 350ml, 500ml
杯具 | 儿童吸管杯 | Kids' Straw Cup | 89
    颜色: 小熊黄, 恐龙绿, 兔子粉; 容量: 300ml, 450ml
配饰 | 偏光太阳镜 | Polarised Sunglasses | 199
    镜框: 黑框, 玳瑁框; 镜片: 灰色, 茶色
配饰 | 全自动晴雨伞 | Automatic Umbrella | 89
    颜色: 黑色, 藏青色, 墨绿色, 格纹
配饰 | 定制姓名钥匙扣 | Personalised Name Keychain | 39 | 不退
    材质: 黄铜, 不锈钢
"""


def catalogue() -> list[tuple[str, str, str, float, dict[str, list[str]], bool]]:
    lines = [line for line in CATALOGUE.splitlines() if line.strip()]
    products = []
    for head, options in zip(lines[::2], lines[1::2], strict=True):
        category, name, name_en, base, *flag = (part.strip() for part in head.split("|"))
        parsed = {
            key.strip(): [v.strip() for v in values.split(",")]
            for key, values in (part.split(":") for part in options.split(";"))
        }
        products.append((category, name, name_en, float(base), parsed, flag != ["不退"]))
    return products


SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔汤"
)
GIVEN = (
    "子涵 欣怡 梓萱 浩然 宇轩 思远 晓明 丽娟 建国 秀英 志强 静怡 雨桐 俊杰 佳琪 "
    "文博 慧敏 海燕 晨曦 一鸣 嘉怡 天佑 若曦 明轩 可馨 子豪 婉婷 振华 春梅 国栋 "
    "诗涵 博文 雅琴 立新 玉兰 鹏 磊 静 洋 婷 子墨 梦瑶 宏伟 丹丹 家豪 晓燕 凯 倩 "
    "新宇 琳 昊天 雪 思琪 宁 亚男 瑞 欣然 泽宇 梓涵 雨欣"
).split()

# (province, city, district, zip, [streets]); the city is repeated for municipalities.
PLACES = [
    ("浙江省", "杭州市", "西湖区", "310012", ["文三路", "教工路", "古墩路", "天目山路"]),
    ("浙江省", "杭州市", "余杭区", "311121", ["文一西路", "五常大道", "良睦路"]),
    ("浙江省", "宁波市", "鄞州区", "315100", ["天童南路", "四明中路", "钱湖北路"]),
    ("上海市", "上海市", "浦东新区", "200120", ["世纪大道", "张杨路", "东方路", "锦绣路"]),
    ("上海市", "上海市", "徐汇区", "200030", ["漕溪北路", "肇嘉浜路", "宜山路"]),
    ("北京市", "北京市", "朝阳区", "100020", ["建国路", "朝阳北路", "望京街", "光华路"]),
    ("北京市", "北京市", "海淀区", "100080", ["中关村大街", "学院路", "知春路"]),
    ("广东省", "广州市", "天河区", "510630", ["天河路", "体育西路", "珠江新城华夏路"]),
    ("广东省", "深圳市", "南山区", "518057", ["科技南十二路", "南海大道", "后海大道"]),
    ("广东省", "东莞市", "南城街道", "523073", ["鸿福路", "莞太路"]),
    ("江苏省", "南京市", "鼓楼区", "210008", ["中山北路", "湖南路", "广州路"]),
    ("江苏省", "苏州市", "姑苏区", "215008", ["人民路", "干将西路", "三香路"]),
    ("四川省", "成都市", "武侯区", "610041", ["天府大道北段", "科华北路", "人民南路四段"]),
    ("湖北省", "武汉市", "洪山区", "430074", ["珞喻路", "关山大道", "雄楚大道"]),
    ("陕西省", "西安市", "雁塔区", "710061", ["小寨东路", "长安南路", "科技路"]),
    ("福建省", "厦门市", "思明区", "361001", ["中山路", "湖滨南路", "莲前西路"]),
    ("山东省", "青岛市", "市南区", "266001", ["香港中路", "山东路", "闽江路"]),
    ("湖南省", "长沙市", "岳麓区", "410006", ["麓山南路", "金星中路", "枫林三路"]),
    ("重庆市", "重庆市", "渝中区", "400010", ["解放碑民权路", "中山三路", "大坪正街"]),
    ("天津市", "天津市", "南开区", "300100", ["南京路", "鞍山西道", "白堤路"]),
    ("河南省", "郑州市", "金水区", "450003", ["花园路", "农业路", "经三路"]),
    ("安徽省", "合肥市", "蜀山区", "230031", ["长江西路", "望江西路", "潜山路"]),
    ("辽宁省", "沈阳市", "和平区", "110001", ["太原北街", "南京南街", "三好街"]),
    ("云南省", "昆明市", "五华区", "650031", ["东风西路", "翠湖南路", "人民中路"]),
    ("新疆维吾尔自治区", "乌鲁木齐市", "天山区", "830002", ["解放北路", "新华南路"]),
]
COMPOUNDS = (
    "阳光花园 锦绣家园 翠苑小区 金色港湾 万科城 绿城桂花园 保利花园 中海国际社区 世纪新城 星河湾"
).split()
OFFICES = ["大厦", "国际中心", "科技园", "创意园", "广场"]
MAIL_DOMAINS = "qq.com 163.com 126.com foxmail.com outlook.com gmail.com sina.com".split()
MOBILE_PREFIXES = (
    "130 131 132 133 135 136 137 138 139 150 151 152 155 157 158 159 166 176 177 180 181 182 185 "
    "186 187 188 189 191 198 199"
).split()

# Carriers: the FAQ's defaults, 顺丰 on request. (name, tracking number prefix, digits)
CARRIERS = [
    ("中通快递", "7", 14),
    ("圆通速递", "YT", 13),
    ("韵达快递", "43", 13),
    ("顺丰速运", "SF", 13),
]
CARRIER_WEIGHTS = [35, 30, 22, 13]
SOUTH = {"广东省", "福建省", "湖南省", "重庆市", "四川省", "云南省"}
WAREHOUSES = {"杭州": ("浙江省杭州市", "杭州余杭仓"), "广州": ("广东省广州市", "广州白云仓")}
RECEIVERS = ["本人签收", "家门口", "丰巢快递柜", "菜鸟驿站", "小区门卫", "公司前台"]
COURIERS = ["王师傅", "李师傅", "张师傅", "刘师傅", "陈师傅", "赵师傅"]

# Order statuses and how many orders get each (240 in all).
STATUS_PLAN = [
    ("delivered", 110),
    ("pending", 28),
    ("pending (item modified)", 6),
    ("processed", 40),
    ("cancelled", 26),
    ("return requested", 18),
    ("exchange requested", 12),
]
CANCEL_REASONS = ["no longer needed", "ordered by mistake"]


def when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def price(value: float | Decimal) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.01")))


def total(prices: list[float]) -> float:
    return float(sum((Decimal(str(p)) for p in prices), Decimal(0)))


class Maker:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.used: set[str] = set()

    def digits(self, n: int, prefix: str = "") -> str:
        while True:
            value = prefix + "".join(self.rng.choice("0123456789") for _ in range(n))
            if value not in self.used and not value[len(prefix) :].startswith("0"):
                self.used.add(value)
                return value

    # -- products ------------------------------------------------------------------------------
    def products(self) -> dict[str, Any]:
        products: dict[str, Any] = {}
        for category, name, name_en, base, options, returnable in catalogue():
            product_id = self.digits(10)
            combos = list(itertools.product(*options.values()))
            picked = self.rng.sample(combos, min(len(combos), self.rng.randint(4, 9)))
            keep = sorted(picked, key=combos.index)
            variants: dict[str, Any] = {}
            for combo in keep:
                item_id = self.digits(10)
                step = self.rng.choice([0, 0, 0, 10, 20, -10]) if base >= 100 else 0
                value = price(base + step)
                variants[item_id] = {
                    "item_id": item_id,
                    "options": dict(zip(options, combo, strict=True)),
                    "available": self.rng.random() > 0.18,
                    "price": value,
                }
            for variant in list(variants.values())[:2]:
                variant["available"] = True  # two in stock: every item has an exchange option
            doc: dict[str, Any] = {"name": name, "product_id": product_id, "variants": variants}
            doc["name_en"] = name_en
            doc["category"] = category
            if not returnable:
                doc["returnable"] = False
            products[product_id] = doc
        return products

    # -- customers -----------------------------------------------------------------------------
    def customers(self) -> dict[str, Any]:
        users: dict[str, Any] = {}
        emails: set[str] = set()
        names: set[tuple[str, str]] = set()
        while len(users) < N_CUSTOMERS:
            last, first = self.rng.choice(SURNAMES), self.rng.choice(GIVEN)
            if (last, first) in names:
                continue
            names.add((last, first))
            py_last, py_first = lazy_pinyin(last)[0], "".join(lazy_pinyin(first))
            user_id = f"{py_first}_{py_last}_{self.digits(4)}"
            email = (
                f"{py_first}.{py_last}{self.rng.randint(1, 999)}@{self.rng.choice(MAIL_DOMAINS)}"
            )
            if email in emails:
                continue
            emails.add(email)
            province, city, district, zip_code, streets = self.rng.choice(PLACES)
            address1, address2 = self.street(streets, city)
            users[user_id] = {
                "name": {"first_name": first, "last_name": last},
                "address": {
                    "address1": address1,
                    "address2": address2,
                    "district": district,
                    "city": city,
                    "country": "中国",
                    "state": province,
                    "zip": zip_code,
                },
                "email": email,
                "phone": self.digits(8, self.rng.choice(MOBILE_PREFIXES)),
                "payment_methods": self.payment_methods(),
                "orders": [],
            }
        return users

    def street(self, streets: list[str], city: str) -> tuple[str, str]:
        """(address1, address2): a home in a residential compound, or an office."""
        r = self.rng
        road = f"{r.choice(streets)}{r.randint(1, 999)}号"
        if r.random() < 0.75:
            flat = f"{r.randint(1, 33)}{r.randint(1, 4):02d}室"
            return road + r.choice(COMPOUNDS), f"{r.randint(1, 30)}幢{r.randint(1, 4)}单元{flat}"
        office = f"{r.choice('ABC')}座{r.randint(2, 30)}{r.randint(1, 20):02d}室"
        return f"{road}{city.removesuffix('市')}{r.choice(OFFICES)}", office

    def payment_methods(self) -> dict[str, Any]:
        methods: dict[str, Any] = {}
        kinds = ["alipay", "wechat_pay", "credit_card", "gift_card"]
        chosen = self.rng.sample(kinds, self.rng.choice([1, 2, 2, 3]))
        for source in sorted(chosen, key=kinds.index):
            method_id = f"{source}_{self.digits(7)}"
            method: dict[str, Any] = {"source": source}
            if source == "credit_card":
                method["brand"] = self.rng.choice(["unionpay", "visa", "mastercard"])
                method["last_four"] = "".join(self.rng.choice("0123456789") for _ in range(4))
            elif source == "gift_card":
                method["balance"] = float(self.rng.choice([0, 50, 100, 200, 500]))
            method["id"] = method_id
            methods[method_id] = method
        return methods

    # -- orders --------------------------------------------------------------------------------
    def items(self, products: dict[str, Any], n: int) -> list[dict[str, Any]]:
        chosen = self.rng.sample(list(products.values()), n)
        items = []
        for product in chosen:
            variant = self.rng.choice(list(product["variants"].values()))
            items.append(
                {
                    "name": product["name"],
                    "product_id": product["product_id"],
                    "item_id": variant["item_id"],
                    "price": variant["price"],
                    "options": dict(variant["options"]),
                }
            )
        return items

    def tracking_number(self, carrier: int) -> str:
        _, prefix, n = CARRIERS[carrier]
        return self.digits(n, prefix)

    def events(
        self,
        shipped: datetime,
        address: dict[str, str],
        carrier: str,
        stop: datetime,
        other_warehouse: bool = False,
    ) -> list[dict[str, str]]:
        """A realistic timeline from pick-up to signature, cut off at ``stop``."""
        province, city, district = address["state"], address["city"], address["district"]
        hub = "广州" if (province in SOUTH) != other_warehouse else "杭州"
        origin, depot = WAREHOUSES[hub]
        here = city if city == province else province + city
        dest = city.removesuffix("市")
        local = province in ("浙江省", "广东省") and origin.startswith(province)
        t = shipped
        timeline = [
            (t, origin, "已揽收", f"【{origin}】{carrier} {depot} 已揽收"),
        ]
        t += timedelta(hours=self.rng.randint(2, 5), minutes=self.rng.randint(0, 59))
        timeline.append((t, origin, "运输中", f"快件已到达【{hub}转运中心】"))
        t += timedelta(hours=self.rng.randint(1, 3), minutes=self.rng.randint(0, 59))
        if not local:
            timeline.append(
                (t, origin, "运输中", f"快件已从【{hub}转运中心】发出，下一站【{dest}转运中心】")
            )
            far = province in ("新疆维吾尔自治区", "云南省", "辽宁省", "四川省", "重庆市")
            t += timedelta(hours=self.rng.randint(30, 60) if far else self.rng.randint(10, 28))
            timeline.append((t, here, "运输中", f"快件已到达【{dest}转运中心】"))
            t += timedelta(hours=self.rng.randint(2, 6), minutes=self.rng.randint(0, 59))
        else:
            t += timedelta(hours=self.rng.randint(4, 10))
        # Deliveries go out in the morning.
        if not 7 <= t.hour < 15:
            t = (t + timedelta(days=1 if t.hour >= 15 else 0)).replace(
                hour=self.rng.randint(7, 9), minute=self.rng.randint(0, 59)
            )
        courier = self.rng.choice(COURIERS)
        phone = (
            f"1{self.rng.choice('3589')}{self.rng.randint(0, 9)}****{self.rng.randint(1000, 9999)}"
        )
        timeline.append(
            (
                t,
                here + district,
                "派送中",
                f"【{dest}{district}营业部】快递员{courier}（{phone}）正在为您派送，请保持电话畅通",
            )
        )
        t += timedelta(hours=self.rng.randint(1, 5), minutes=self.rng.randint(0, 59))
        receiver = self.rng.choice(RECEIVERS)
        timeline.append(
            (
                t,
                here + district,
                "已签收",
                f"您的快件已签收，签收方式：{receiver}。感谢使用{carrier}，期待再次为您服务",
            )
        )
        return [
            {"time": when(at), "location": where, "status": status, "description": text}
            for at, where, status, text in timeline
            if at <= stop
        ]

    def fulfillments(
        self,
        items: list[dict[str, Any]],
        address: dict[str, str],
        created: datetime,
        stop: datetime,
    ) -> list[dict[str, Any]]:
        ids = [i["item_id"] for i in items]
        parcels = [ids]
        if len(ids) >= 3 and self.rng.random() < 0.25:  # split between two warehouses
            cut = self.rng.randint(1, len(ids) - 1)
            parcels = [ids[:cut], ids[cut:]]
        carrier = self.rng.choices(range(len(CARRIERS)), CARRIER_WEIGHTS)[0]
        shipped = created + timedelta(hours=self.rng.randint(1, 30))
        if shipped.hour >= 20:  # the warehouses hand parcels over between 14:00 and 20:00
            shipped += timedelta(days=1)
        if not 14 <= shipped.hour < 20:
            shipped = shipped.replace(hour=self.rng.randint(14, 19), minute=self.rng.randint(0, 59))
        result = []
        for k, parcel in enumerate(parcels):
            start = shipped + timedelta(minutes=40 * k)
            result.append(
                {
                    "tracking_id": [self.tracking_number(carrier)],
                    "item_ids": parcel,
                    "carrier": CARRIERS[carrier][0],
                    "events": self.events(start, address, CARRIERS[carrier][0], stop, k == 1),
                }
            )
        return result

    def orders(self, users: dict[str, Any], products: dict[str, Any]) -> dict[str, Any]:
        plan = [status for status, n in STATUS_PLAN for _ in range(n)]
        assert len(plan) == N_ORDERS
        self.rng.shuffle(plan)
        owners = list(users)
        owner_of = owners + [self.rng.choice(owners) for _ in range(N_ORDERS - len(owners))]
        self.rng.shuffle(owner_of)
        drafts = []
        for n, status in enumerate(plan):
            drafts.append(self.order(n, status, users[owner_of[n]], owner_of[n], products))
        drafts.sort(key=lambda doc: doc["created_at"])
        orders: dict[str, Any] = {}
        for doc in drafts:
            orders[doc["order_id"]] = doc
            users[doc["user_id"]]["orders"].append(doc["order_id"])
        return orders

    def created(self, status: str, n: int) -> datetime:
        """When an order of this status was placed (before NOW)."""
        if status.startswith("pending"):
            created = NOW - timedelta(
                hours=self.rng.randint(1, 40), minutes=self.rng.randint(0, 59)
            )
        elif status == "processed":
            created = NOW - timedelta(
                hours=self.rng.randint(8, 72), minutes=self.rng.randint(0, 59)
            )
        elif status in ("return requested", "exchange requested"):
            created = NOW - timedelta(days=self.rng.randint(5, 9), hours=self.rng.randint(0, 12))
        elif status == "delivered" and n % 4 == 0:  # a quarter within the 7-day window
            created = NOW - timedelta(days=self.rng.randint(5, 10), hours=self.rng.randint(0, 12))
        else:
            span = (NOW - timedelta(days=14) - FIRST_DAY).total_seconds()
            created = FIRST_DAY + timedelta(seconds=int(self.rng.random() * span))
        return created.replace(second=self.rng.randint(0, 59))

    def shipped(
        self, status: str, n: int, items: list[dict[str, Any]], address: dict[str, str]
    ) -> tuple[datetime, list[dict[str, Any]]]:
        """A placing time and parcels whose timelines fit the status at NOW: every parcel
        signed for when delivered, at least one still on its way when processed."""
        while True:
            created = self.created(status, n)
            parcels = self.fulfillments(items, address, created, NOW)
            if any(not p["events"] for p in parcels):
                continue  # not picked up yet: would still be "pending"
            signed = [p["events"][-1] for p in parcels if p["events"][-1]["status"] == "已签收"]
            if status == "processed":
                if len(signed) < len(parcels):
                    return created, parcels
                continue
            if len(signed) < len(parcels):
                continue
            delivered = max(datetime.fromisoformat(e["time"]) for e in signed)
            if "requested" not in status or NOW - delivered <= timedelta(days=7):
                return created, parcels  # requests were made inside the 7-day window

    def order(
        self,
        n: int,
        status: str,
        user: dict[str, Any],
        user_id: str,
        products: dict[str, Any],
    ) -> dict[str, Any]:
        items = self.items(products, self.rng.choices([1, 2, 3, 4], [40, 32, 18, 10])[0])
        created = self.created(status, n)
        method = self.rng.choice(
            [m for m in user["payment_methods"] if not m.startswith("gift_card")]
            or list(user["payment_methods"])
        )
        paid = total([i["price"] for i in items])
        history: list[dict[str, Any]] = [
            {"transaction_type": "payment", "amount": paid, "payment_method_id": method}
        ]
        fulfillments: list[dict[str, Any]] = []
        extra: dict[str, Any] = {}
        if status == "pending (item modified)":
            self.modify(items, products, history, method)
        elif status == "cancelled":
            history.append(
                {"transaction_type": "refund", "amount": paid, "payment_method_id": method}
            )
            extra["cancel_reason"] = self.rng.choice(CANCEL_REASONS)
        elif status != "pending":
            created, fulfillments = self.shipped(status, n, items, user["address"])
            if status != "processed":
                extra["delivered_at"] = max(f["events"][-1]["time"] for f in fulfillments)
            if status == "return requested":
                chosen = self.rng.sample(items, self.rng.randint(1, len(items)))
                extra["return_items"] = sorted(i["item_id"] for i in chosen)
                extra["return_payment_method_id"] = method
            elif status == "exchange requested":
                self.exchange(items, products, method, extra)
        doc: dict[str, Any] = {
            "order_id": "#D" + self.digits(7),
            "user_id": user_id,
            "address": dict(user["address"]),
            "items": items,
            "fulfillments": fulfillments,
            "status": status,
            "payment_history": history,
            "created_at": when(created),
        }
        doc.update(extra)
        return doc

    def modify(
        self,
        items: list[dict[str, Any]],
        products: dict[str, Any],
        history: list[dict[str, Any]],
        method: str,
    ) -> None:
        """tau's modify_pending_order_items: swap one item for another variant of its product,
        paying or refunding the difference."""
        item = self.rng.choice(items)
        others = [
            v
            for v in products[item["product_id"]]["variants"].values()
            if v["item_id"] != item["item_id"] and v["available"]
        ]
        if not others:
            return
        new = self.rng.choice(others)
        diff = price(Decimal(str(new["price"])) - Decimal(str(item["price"])))
        item.update(item_id=new["item_id"], price=new["price"], options=dict(new["options"]))
        if diff:
            kind = "payment" if diff > 0 else "refund"
            history.append(
                {"transaction_type": kind, "amount": abs(diff), "payment_method_id": method}
            )

    def exchange(
        self,
        items: list[dict[str, Any]],
        products: dict[str, Any],
        method: str,
        extra: dict[str, Any],
    ) -> None:
        """tau's exchange_delivered_order_items: same product, another available variant."""
        old: list[str] = []
        new: list[str] = []
        diff = Decimal(0)
        for item in items:
            others = [
                v
                for v in products[item["product_id"]]["variants"].values()
                if v["item_id"] != item["item_id"] and v["available"]
            ]
            if others and (not old or self.rng.random() < 0.3):
                variant = self.rng.choice(others)
                old.append(item["item_id"])
                new.append(variant["item_id"])
                diff += Decimal(str(variant["price"])) - Decimal(str(item["price"]))
        extra["exchange_items"] = sorted(old)
        extra["exchange_new_items"] = sorted(new)
        extra["exchange_payment_method_id"] = method
        extra["exchange_price_difference"] = price(diff)


# Shipping weights in kg (docs/shop-extensions.md): a product's ``weight_kg``, and a variant's
# where the option changes it. Added after everything else is drawn: no random numbers used.
WEIGHTS: dict[str, float] = {
    "纯棉圆领T恤": 0.25,
    "重磅连帽卫衣": 0.7,
    "直筒牛仔裤": 0.7,
    "轻薄白鸭绒羽绒服": 0.6,
    "长绒棉牛津纺衬衫": 0.35,
    "法式碎花连衣裙": 0.4,
    "羊毛混纺针织开衫": 0.6,
    "速干运动裤": 0.4,
    "三合一冲锋衣": 1.3,
    "纯羊毛围巾": 0.3,
    "加绒保暖打底裤": 0.35,
    "棒球帽": 0.2,
    "无钢圈文胸": 0.15,
    "莫代尔内裤三条装": 0.2,
    "精梳棉中筒袜五双装": 0.3,
    "分体泳衣": 0.25,
    "缓震跑步鞋": 1.0,
    "百搭小白鞋": 1.1,
    "高帮帆布鞋": 0.9,
    "真皮马丁靴": 1.6,
    "居家棉拖鞋": 0.5,
    "防滑雨靴": 1.4,
    "通勤双肩包": 0.9,
    "帆布托特包": 0.4,
    "真皮斜挎包": 0.7,
    "铝框拉杆箱": 4.5,
    "牛皮短款钱包": 0.25,
    "防水收纳腰包": 0.3,
    "全棉床品四件套": 2.4,
    "记忆棉护颈枕": 1.3,
    "长绒棉毛巾两条装": 0.5,
    "加厚浴巾": 0.7,
    "香薰蜡烛礼盒": 1.2,
    "可折叠收纳箱": 1.4,
    "棉麻抱枕": 0.8,
    "客厅短绒地毯": 2.8,
    "护眼LED台灯": 1.5,
    "定制刻字木质相框": 0.6,
    "20000mAh快充充电宝": 0.5,
    "编织快充数据线": 0.1,
    "氮化镓快充充电头": 0.15,
    "降噪蓝牙耳机（入耳式）": 0.2,
    "头戴式蓝牙耳机": 0.5,
    "磁吸手机壳": 0.1,
    "静音无线鼠标": 0.2,
    "机械键盘": 1.2,
    "便携蓝牙音箱": 0.7,
    "智能运动手环": 0.15,
    "铝合金平板支架": 0.6,
    "316不锈钢保温杯": 0.45,
    "双层玻璃杯": 0.4,
    "陶瓷马克杯": 0.5,
    "手冲咖啡杯套装": 1.0,
    "Tritan运动水壶": 0.3,
    "定制刻字保温杯": 0.45,
    "儿童吸管杯": 0.3,
    "偏光太阳镜": 0.2,
    "全自动晴雨伞": 0.5,
    "定制姓名钥匙扣": 0.05,
}
VARIANT_WEIGHTS: dict[str, float] = {
    "20L": 0.8,
    "28L": 1.1,
    "20寸": 3.6,
    "24寸": 4.5,
    "28寸": 5.6,
    "1.5米床": 2.2,
    "1.8米床": 2.6,
    "30L": 0.9,
    "55L": 1.4,
    "80L": 1.9,
    "120x160cm": 2.0,
    "160x230cm": 3.8,
    "350ml": 0.35,
    "500ml": 0.45,
    "750ml": 0.6,
}
VARIANT_WEIGHTED = {
    "通勤双肩包",
    "铝框拉杆箱",
    "全棉床品四件套",
    "可折叠收纳箱",
    "客厅短绒地毯",
    "316不锈钢保温杯",
}


def add_freight(orders: dict[str, Any], products: dict[str, Any]) -> None:
    """Weights on products (and variants whose option changes them), and on every order the
    freight the shop rules' table (``shop_rules.json``) charges for its items and address."""
    from kefu.connectors.embedded_extras_rules import ShopRules, freight_of, validate_rules

    rules = ShopRules.from_doc(validate_rules(json.loads((OUT / "shop_rules.json").read_text())))
    assert rules is not None and rules.freight is not None
    for product in products.values():
        product["weight_kg"] = WEIGHTS[product["name"]]
        if product["name"] in VARIANT_WEIGHTED:
            for variant in product["variants"].values():
                size = next(v for v in variant["options"].values() if v in VARIANT_WEIGHTS)
                variant["weight_kg"] = VARIANT_WEIGHTS[size]
    for order in orders.values():
        found = freight_of(rules.freight, order["address"]["state"], order["items"], products)
        assert found is not None
        order["freight"] = float(found.amount)


def build() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    maker = Maker()
    products = maker.products()
    users = maker.customers()
    orders = maker.orders(users, products)
    add_freight(orders, products)
    return users, orders, products


def main() -> None:
    users, orders, products = build()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in (("users", users), ("orders", orders), ("products", products)):
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        (OUT / f"{name}.json").write_text(text, encoding="utf-8")
    print(f"wrote {len(users)} users, {len(orders)} orders, {len(products)} products to {OUT}")


if __name__ == "__main__":
    main()
