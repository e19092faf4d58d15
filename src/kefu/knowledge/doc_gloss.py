"""A small bilingual keyword gloss for cross-lingual lexical matching of document questions.

An English question about a Chinese policy ("can I return underwear") shares no word with the
document, and the multilingual embedder alone ranks such questions poorly. :func:`gloss` maps
the question's known English words to the Chinese terms the documents use (退货, 内衣, 内裤)
and a Chinese question's known terms to English words (假货 → counterfeit, genuine), and adds
colloquial Chinese synonyms (邮费 → 运费). The gloss is matched by BM25 as a separate signal
(``gloss``/``gloss_sentence`` in :mod:`kefu.knowledge.doc_index`); nothing is translated.

The lexicon covers customer-service vocabulary of shop policies (returns, refunds, shipping,
membership, privacy, care, warranty), written from the documents' own terms. A term on the
left is an English word or phrase (matched on stemmed words), on the right Chinese terms.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from kefu.understanding.tokenise import stem

# English words or phrases (|-separated) = Chinese terms (|-separated); a long entry is split
# over several lines with the same right-hand side.
_LEXICON = """
return|returns|send back|ship back|take back = 退货|寄回
refund|money back|reimburse = 退款|退还
exchange|swap|replace|replacement = 换货|换新|更换
size|bigger|smaller|fit = 尺码|尺寸
colour|color = 颜色|色差
no reason|changed my mind|change my mind|don't like|dont like|not like|don't want = 无理由|不想要
dont want = 无理由|不想要
seven day|7 day|7 days|seven days|week = 七天|7 天
underwear|panties|briefs|bra|lingerie = 内衣|内裤|贴身衣物
sock|socks = 袜子
swimsuit|swimwear|bikini = 泳衣
cosmetic|cosmetics|makeup|lipstick = 化妆品
toothbrush = 牙刷
custom|customised|customized|personalised|personalized|engraved|engraving = 定制|刻字|定做
made to measure = 定制|刻字|定做
gift card|prepaid card|top up card|top-up card|voucher card = 礼品卡|充值卡|虚拟商品
tag|tags|label = 吊牌
packaging|package box|original box = 包装
worn|wore|wear = 穿着|磨损
washed = 洗涤|下水
smell|smells|odor|odour = 异味|气味
sale|discount|discounted|clearance|promotion|on sale = 特价|清仓|活动|打折
quality|defect|defective|faulty|fault|broken|not working|stopped working = 质量问题|故障|非人为
doesn't work = 质量问题|故障|非人为
seam|stitching|thread = 开线|线头
button = 扣子
compensation|compensate|partial refund = 补偿
wrong item|wrong product|sent the wrong|wrong one = 发错货|不一致
photo|photos|picture|pictures|video = 照片|视频
crushed|smashed|squashed|dented|cracked|shattered = 压坏|摔碎|破损|变形
damaged|damage = 破损|损坏
missing|left out|incomplete = 漏发|少发
leak|leaking = 渗漏|泄露
courier|delivery man|delivery driver = 快递员|快递
parcel|package|packet = 包裹|快递
refuse|reject|decline|turn down = 拒收
shipping cost|shipping fee|delivery fee|delivery charge|postage|shipping charge = 运费
free shipping|free delivery|ship free|shipping free = 包邮
free shipping coupon|shipping voucher|free shipping voucher = 包邮券
return shipping|return postage = 退货运费|寄回运费
shipping insurance|return insurance = 运费险
process|procedure|steps|how to return = 流程|申请售后
pick up|pickup|collect from|collection = 上门取件|取件|自提
cash on delivery|freight collect|collect on delivery = 到付
withdraw|cancel request|cancel my request = 撤销申请|撤销
gift|freebie|free gift = 赠品
quality inspection|inspect|check = 质检|检查
how long|how many days|when = 多久|几天|时效
credit card = 信用卡
debit card = 借记卡
alipay = 支付宝
wechat|weixin = 微信
huabei|installment|instalment|installments = 花呗|分期
bank = 银行
yuan|rmb = 元
other account|another account|different account|cash = 其他账户|现金|原路退回
price drop|price dropped|cheaper|price protection|price match = 降价|价保|差价|价格保护
reduced price = 降价|价保|差价|价格保护
price went down = 降价|价保|差价|价格保护
flash sale = 秒杀
livestream|live stream|live-stream = 直播
warranty|guarantee = 保修|质保
repair|fix|fixed|mend = 维修|修
invoice|receipt|proof of purchase = 发票|凭证|保修凭证
water damage|water|wet = 进水|淋雨
drop|dropped|fell = 摔裂|摔
open it myself|took apart|disassemble = 私自拆修
appeal|dispute|disagree|complain|complaint|unfair = 申诉|复核|异议|投诉
supervisor|manager = 主管
electronics|electronic|accessory|accessories = 电子产品|电子配件
headphone|headphones|earphone|earphones|earbuds|earbud|headset = 耳机|蓝牙耳机
power bank|powerbank|portable charger = 充电宝
cable|charging cable|usb cable = 数据线
charger|charging head|plug = 充电头|充电器
fast charging|fast charge|quick charge = 快充
bluetooth = 蓝牙
pair|pairing|connect|connection = 连接|配对
reset|factory reset = 恢复出厂设置
waterproof|sweat|sweating = 防水|出汗
plane|flight|fly|flying|airline|airport|carry on|carry-on|check in luggage = 登机|托运|航空公司
member|membership|vip = 会员
level|tier|rank|grade|status = 等级
silver = 银卡
gold = 金卡
diamond = 钻石
upgrade = 升级
downgrade|drop a level|lose my level|demoted = 下调|降级
annual fee|membership fee|pay for membership|yearly fee = 年费|付费会员|免费
points|point|credits = 积分
earn|earning|collect points|get points = 获取|获得|积分
redeem|spend points|use points|use my points|deduct = 抵扣|兑换|使用
expire|expires|expiry|expiration|valid|validity|run out = 过期|有效期|到期
withdraw cash|cash out = 提现
transfer|merge|combine accounts|share points = 转让|合并|赠送
check in daily|daily check in|sign in daily = 签到
review|reviews|rate|rating = 评价
birthday = 生日|生日券|生日福利
coupon|coupons|voucher|vouchers = 优惠券|券
member day|members day = 会员日
double points = 双倍积分
delete account|close account|cancel account|close my account|delete my account = 注销
phone number|mobile number = 手机号
privacy|personal data|personal information|my data|my information = 个人信息|隐私
collect|collecting = 收集
share|shared|sell|sold = 共享|出售|提供
third party|third parties|partner|partners = 第三方|合作方
id card|identity card|id number|passport = 身份证
card number|bank card = 银行卡号|银行卡
password|pin = 密码|支付密码
abroad|overseas|outside china|foreign = 境外|海外|境内
breach|leaked|hacked = 安全事件|泄露
keep|retain|store|stored|storage = 保存|存储
chat history|chat log|chat record = 聊天记录
export|download my data|copy of my data = 导出|副本
delete|erase|remove = 删除
recommendation|recommendations|personalised|personalized = 个性化推荐|推荐
marketing|promotional|advert|ads|spam|text message|text messages|sms = 营销|短信|推广
unsubscribe|opt out|stop = 退订|关闭
permission|permissions|camera|location|album|gallery = 权限|相机|位置|相册
child|children|kid|kids|minor|minors|under 14|teenager = 儿童|未成年人|未满 14 周岁|监护人
scam|fraud|fraudster|verification code|screen sharing|screen share = 诈骗|验证码|屏幕共享
email|contact|question about privacy = 邮件|联系我们
wash|washing|clean|cleaning = 洗涤|洗|清洗|清洁
machine wash|washing machine = 洗衣机|机洗
hand wash = 手洗
dryer|tumble dry|tumble dryer = 烘干机|烘干
sun|sunlight = 暴晒|烈日
dark|black = 深色
jeans|denim = 牛仔
fade|fading|faded|bleed|bleeding|dye = 褪色|浮色|串色|掉色
cotton = 纯棉|棉
shrink|shrank|shrunk|shrinkage = 缩水
wool|woolen|woollen = 羊毛
cashmere = 羊绒
dry clean|dry cleaning = 干洗
sweater|jumper|knitwear|knit|cardigan = 毛衣|针织
pilling|pill|bobble|bobbles|fuzz|fuzzballs = 起球
new clothes|brand new clothes = 新衣服|新衣
wrinkle|wrinkles|wrinkled|crease|creased = 褶皱
iron|ironing|steam|steamer = 熨烫|蒸汽熨斗
sneaker|sneakers|trainers|running shoes|white shoes = 运动鞋|小白鞋
shoe|shoes = 鞋|鞋子
leather|leather shoes = 皮鞋|真皮
shoe polish|polish = 鞋油
rain = 淋雨
store|storing|fold|hang = 收纳|叠放|挂
bed|bedding|bed linen|sheet|sheets|duvet|duvet cover = 床上用品|床单|被套|枕套|床笠|四件套|床品
quilt cover = 床上用品|床单|被套|枕套|床笠|四件套|床品
pillowcase|fitted sheet = 床上用品|床单|被套|枕套|床笠|四件套|床品
clothes|clothing|garment|shirt|t-shirt|dress|trousers|pants|jacket = 衣服|衣物|服装
ship|shipped|dispatch|dispatched|send out|sent out = 发货|发出
pre-order|preorder|presale|pre-sale = 预售
in stock = 现货
weekend|weekends|saturday|sunday|holiday|holidays|public holiday = 周末|节假日
spring festival|chinese new year|lunar new year = 春节|除夕
618|double 11|singles day|11.11|big sale|big sales = 大促|双 11|618
hong kong = 香港
macau|macao = 澳门
taiwan = 台湾
international|overseas|abroad = 海外|境外
mainland = 大陆
deliver to|delivery area|where do you deliver|which areas = 配送范围|配送
remote|remote area|remote region = 偏远地区|偏远
xinjiang = 新疆
tibet = 西藏
qinghai = 青海
inner mongolia = 内蒙古
ningxia = 宁夏
gansu = 甘肃
sf|sf express|shunfeng = 顺丰|顺丰加急
zto = 中通
yto = 圆通
yunda = 韵达
courier company|which courier|express company = 快递公司
delivery time|delivery take|arrive|arrival|get here|next day = 配送时效|送达|次日
track|tracking|tracking number|where is my order|where is my parcel = 物流|查看物流|快递单号
not updated|no update|stuck = 没有更新
lost = 丢件|丢失
address = 地址|收货地址
change address|wrong address|change my address = 修改地址
reroute|redirect|intercept = 改派|拦截
split|two parcels|two boxes|several parcels|separate parcels = 拆单|多个包裹|分别发出
multiple parcels = 拆单|多个包裹|分别发出
doorstep|to my door|door|locker|parcel locker|pickup station = 送货上门|快递柜|驿站
note|remark|instructions = 备注|配送要求
waybill|shipping label = 面单|隐私面单
full name = 姓名
delivered but|never received|never got|not received|didn't receive = 签收|没有收到|未收到
did not receive = 签收|没有收到|未收到
warehouse|warehouses = 仓库|仓
hangzhou = 杭州
guangzhou = 广州
shanghai = 上海
jiangsu = 江苏
zhejiang = 浙江
guangdong = 广东
beijing = 北京
counterfeit|fake|genuine|authentic|real = 正品|假货|假冒
phone stand = 手机支架
after warranty|out of warranty|warranty expired|warranty has expired = 保修期|过保
"""

# Colloquial Chinese = the documents' terms (Chinese questions only).
_ZH_SYNONYMS = """
邮费|快递费|寄费 = 运费
退钱|钱退 = 退款
到账|回款 = 退款
掉级|降级|掉等级 = 等级|下调
升级 = 等级
保价 = 价保|价格保护
假货|假的|山寨 = 正品|假冒
发票|收据 = 凭证|发票
修一下|修好|送修 = 维修|保修
坏了|不能用|用不了|不响 = 故障|质量问题|保修
碎了|裂了|压扁|压坏 = 破损|压坏|摔碎
少了|缺了|没给 = 漏发|少发
换个码|换尺码|换大|换小 = 换货|尺码
不想要|不喜欢|不合适 = 无理由|退货
标签 = 吊牌
打折|折扣|促销 = 特价|活动
海外|国外 = 境外|海外
电话卖|卖给 = 出售|共享
小孩|孩子|未成年 = 儿童|未成年人
骗子|诈骗 = 诈骗|防范
掉色|褪色 = 浮色|褪色
起毛球|毛球 = 起球
被罩 = 被套
飞机|登机|坐飞机 = 登机|航空公司
快递单号|单号 = 物流
不动了|没更新 = 没有更新
顺丰 = 顺丰加急
"""

_SPLIT = re.compile(r"\s*\|\s*")
_WORD = re.compile(r"[a-z0-9]+(?:[.\-][a-z0-9]+)*")


def _parse(text: str) -> list[tuple[list[str], list[str]]]:
    pairs: list[tuple[list[str], list[str]]] = []
    for line in text.strip().splitlines():
        left, right = line.split(" = ")
        pairs.append((_SPLIT.split(left.strip()), _SPLIT.split(right.strip())))
    return pairs


def _stems(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in _WORD.findall(text.lower().replace("'", "")))


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[
    dict[tuple[str, ...], tuple[str, ...]],
    dict[str, tuple[str, ...]],
    dict[str, tuple[str, ...]],
]:
    en_zh: dict[tuple[str, ...], list[str]] = {}
    zh_en: dict[str, list[str]] = {}
    for english, chinese in _parse(_LEXICON):
        for phrase in english:
            en_zh.setdefault(_stems(phrase), []).extend(chinese)
        for term in chinese:
            zh_en.setdefault(term, []).extend(english)
    zh_zh: dict[str, list[str]] = {}
    for colloquial, terms in _parse(_ZH_SYNONYMS):
        for c in colloquial:
            zh_zh.setdefault(c, []).extend(terms)
    return (
        {k: tuple(dict.fromkeys(v)) for k, v in en_zh.items() if k},
        {k: tuple(dict.fromkeys(v)) for k, v in zh_en.items()},
        {k: tuple(dict.fromkeys(v)) for k, v in zh_zh.items()},
    )


@dataclass(frozen=True)
class Gloss:
    text: str  # the lexicon terms, space-separated ("" when none match)
    known: frozenset[str]  # the question's English stems and Chinese terms the lexicon knows


def gloss(text: str) -> Gloss:
    """Lexicon terms for a normalised question: Chinese terms for its English words and
    phrases, English words and Chinese synonyms for its Chinese terms. The text is meant for
    BM25 over the documents, not for display."""
    en_zh, zh_en, zh_zh = _tables()
    out: list[str] = []
    known: set[str] = set()
    words = _stems(text)
    longest = max((len(k) for k in en_zh), default=0)
    for i in range(len(words)):
        for n in range(1, min(longest, len(words) - i) + 1):
            terms = en_zh.get(words[i : i + n])
            if terms:
                out.extend(terms)
                known.update(words[i : i + n])
    for term, english in zh_en.items():
        if len(term) >= 2 and term in text:
            out.extend(english)
            known.add(term)
    for term, chinese in zh_zh.items():
        if term in text:
            out.extend(chinese)
            known.add(term)
    return Gloss(" ".join(dict.fromkeys(out)), frozenset(known))
