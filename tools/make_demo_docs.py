"""Generate the demo shop's DOCX and PDF documents, deterministically.

    .venv/bin/python tools/make_demo_docs.py

Writes ``privacy.docx`` (zh), ``shipping-guide.docx`` (en) and ``warranty-policy.pdf`` (en) into
``src/kefu/demo/data/docs/``. The same input always gives the same bytes (fixed dates, fixed zip
timestamps), so the committed files only change when this script does. The PDF is the English
document because the PDF core fonts cover Latin-1 only and no CJK font is assumed to be
installed. Needs ``python-docx`` and ``fpdf2`` (the ``test`` extra).
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "kefu" / "demo" / "data" / "docs"
FIXED = datetime(2026, 1, 1, tzinfo=UTC)

# A document is a list of blocks: ("title" | "h1" | "h2" | "p" | "li", text) or
# ("table", rows) with the header row first.
Block = tuple[str, object]

PRIVACY: list[Block] = [
    ("title", "小铺优选隐私政策"),
    (
        "p",
        "小铺优选（以下简称“我们”）非常重视您的个人信息和隐私保护。本政策说明我们在您使用"
        " App、小程序和官方店铺时如何收集、使用、共享和保护您的个人信息，以及您享有的权利。"
        "本政策自 2026 年 1 月 1 日起生效。",
    ),
    ("h1", "我们收集的信息"),
    ("p", "我们只收集提供服务所必需的信息："),
    ("li", "注册与登录：手机号码，以及您选择使用的微信、支付宝或 Apple ID 授权信息；"),
    ("li", "下单与配送：收货人姓名、收货地址、联系电话和订单记录；"),
    ("li", "售后服务：您上传的商品照片、视频以及与客服的沟通记录；"),
    ("li", "安全保障：设备型号、操作系统版本和登录日志，用于识别异常登录和防范欺诈。"),
    ("p", "我们不会收集您的身份证号码，除非法律法规要求（例如跨境商品清关）并事先征得您的同意。"),
    ("h1", "信息的使用"),
    (
        "p",
        "我们将收集的信息用于注册登录、处理订单、安排配送、提供售后服务和保障账号安全。"
        "在征得您同意后，我们还会用您的浏览和购买记录为您推荐可能感兴趣的商品。"
        "如果要将信息用于本政策未载明的其他用途，我们会事先再次征求您的同意。",
    ),
    ("h1", "信息的共享与披露"),
    (
        "p",
        "我们绝不出售您的个人信息。只有在完成服务所必需时，我们才会向合作方提供最少必要的信息："
        "向快递公司提供收货人姓名、地址和电话用于配送；向支付机构提供订单金额和订单号用于完成支付。",
    ),
    (
        "p",
        "合作方必须签署数据保护协议，只能将信息用于约定的目的。"
        "除法律法规要求或司法机关依法调取外，我们不会向其他第三方披露您的个人信息。",
    ),
    ("h1", "支付信息"),
    (
        "p",
        "支付由支付宝、微信支付、银联等持牌支付机构完成。"
        "我们不会保存您的完整银行卡号、卡片有效期和支付密码，也不会通过任何渠道向您索要这些信息。",
    ),
    ("h1", "信息的存储与保护"),
    (
        "p",
        "您的个人信息存储在中华人民共和国境内的服务器上，不会传输到境外。"
        "我们采用加密存储、访问权限管控和操作审计等措施保护数据安全，只有经过授权的员工才能在处理您的问题时查阅。",
    ),
    (
        "p",
        "快递单默认使用隐私面单，姓名和手机号会部分隐藏（例如张*、138****1234），"
        "快递员通过虚拟号码与您联系。",
    ),
    (
        "p",
        "如果不幸发生个人信息安全事件，我们会在 72 小时内通过 App 消息或短信告知您事件情况、"
        "可能的影响和我们采取的补救措施。",
    ),
    ("h1", "保存期限"),
    (
        "p",
        "我们只在实现本政策所述目的所需的最短期限内保存您的个人信息。"
        "交易记录和客服聊天记录依据《电子商务法》自交易完成之日起保存不少于 3 年，"
        "期满后删除或匿名化处理。"
        "账号注销后，除法律要求保存的信息外，其他个人信息将在 15 个工作日内删除。",
    ),
    ("h1", "您的权利"),
    (
        "p",
        "您可以在“设置-隐私-个人信息管理”中查看和更正您的个人信息，也可以点击“申请导出”，"
        "我们会在 15 个工作日内把个人数据副本发送到您指定的邮箱。",
    ),
    (
        "p",
        "您可以在同一页面提交删除个人信息的申请，我们将在 15 个工作日内处理；"
        "法律法规要求保存的交易记录会依法保存至期满后再删除。"
        "您也可以随时撤回已经给予的授权，撤回不影响撤回前基于授权进行的处理。",
    ),
    ("h1", "个性化推荐与营销信息"),
    (
        "p",
        "在“设置-隐私-个性化推荐”中关闭个性化推荐后，首页将展示通用内容，"
        "不再基于您的浏览和购买记录进行推荐。",
    ),
    (
        "p",
        "回复短信“TD”即可退订营销短信，也可以在“设置-隐私-营销信息”中关闭短信和电话推广。"
        "订单、物流和售后类通知不受影响。",
    ),
    ("h1", "设备权限"),
    (
        "p",
        "相机权限用于扫码和拍摄售后照片，位置权限用于推荐收货地址，相册权限用于上传图片。"
        "这些权限都只在您使用相关功能时才会请求，您可以随时在手机系统设置中关闭，不影响基本的购物功能。",
    ),
    ("h1", "未成年人保护"),
    (
        "p",
        "未满 14 周岁的儿童需要在监护人同意和指导下使用我们的服务；14 至 18 周岁的未成年人，"
        "建议在监护人陪同下阅读本政策后使用。"
        "如果发现在未获监护人同意的情况下收集了儿童的个人信息，我们会尽快删除。",
    ),
    ("h1", "防范诈骗提醒"),
    (
        "p",
        "小铺优选的退款都会原路退回，我们的工作人员绝不会以退款、理赔为由要求您提供验证码、"
        "下载会议软件、开启屏幕共享或向任何账户转账。"
        "接到此类电话或短信请直接挂断，并通过 App 内的官方客服核实。",
    ),
    ("h1", "联系我们与政策更新"),
    (
        "p",
        "如对本政策或个人信息处理有任何疑问、意见或投诉，可以发送邮件至 privacy@xiaopu.example，"
        "我们会在 15 个工作日内回复。",
    ),
    (
        "p",
        "本政策更新时，我们会在 App 内以弹窗或公告的形式通知您；"
        "历史版本可以在“我的-设置-关于小铺优选”中查看。",
    ),
]

SHIPPING_GUIDE: list[Block] = [
    ("title", "Shipping Guide"),
    (
        "p",
        "This guide explains where Xiaopu Select delivers, what shipping costs, how fast orders "
        "leave our warehouses and what to do when a parcel is late, damaged or refused. It "
        "applies to every order placed in our app, mini program or official store.",
    ),
    ("h1", "Where We Deliver"),
    (
        "p",
        "We currently deliver to addresses in mainland China only. We do not ship to Hong Kong, "
        "Macau, Taiwan or any address outside China yet; we will announce it on the home page "
        "as soon as international delivery opens.",
    ),
    ("h1", "Shipping Fees"),
    (
        "p",
        "Orders of 99 yuan or more (after coupons) ship free. Below that, a flat fee of 8 yuan "
        "is charged, and the exact amount is shown at checkout. A free-shipping voucher covers "
        "the 8 yuan standard fee; one voucher can be used per order.",
    ),
    (
        "table",
        [
            ["Destination", "Free shipping from", "Fee below threshold", "Typical time"],
            ["Jiangsu, Zhejiang, Shanghai, Guangdong", "99 yuan", "8 yuan", "next day"],
            ["Most other provinces", "99 yuan", "8 yuan", "2-4 days"],
            ["Remote regions", "199 yuan", "20 yuan", "5-7 days"],
        ],
    ),
    ("h1", "Remote Regions"),
    (
        "p",
        "Xinjiang, Tibet, Qinghai, Inner Mongolia, Ningxia and Gansu are remote regions. Orders "
        "there ship free from 199 yuan; below that the fee is 20 yuan. Free-shipping vouchers "
        "cannot be used for the remote-region fee. Delivery usually takes 5 to 7 days and can "
        "take longer in winter.",
    ),
    ("h1", "Dispatch Times"),
    (
        "p",
        "In-stock items leave the warehouse within 48 hours of payment, and orders paid before "
        "4 pm usually go out the same day. Pre-sale items ship on the date shown on the product "
        "page. During big sales such as 618 and Double 11, dispatch may take up to 72 hours.",
    ),
    ("h1", "Couriers"),
    (
        "p",
        "Parcels are sent with ZTO, YTO or Yunda, assigned automatically by destination; you "
        "cannot choose among them. If you need SF Express, select SF Express Priority at "
        "checkout and pay a 12 yuan surcharge.",
    ),
    ("h1", "Delivery Times"),
    (
        "p",
        "We ship from our Hangzhou and Guangzhou warehouses. Jiangsu, Zhejiang, Shanghai and "
        "Guangdong usually receive parcels the next day, most other provinces in 2 to 4 days and "
        "remote regions in 5 to 7 days. Weather, traffic controls and big sales can add delays.",
    ),
    ("h1", "Tracking Your Parcel"),
    (
        "p",
        "Open the order under Me > My Orders and tap View Tracking to see the tracking number "
        "and live updates. If tracking has not changed for more than 72 hours, contact us from "
        "the order page with your order number; we will chase the courier and resend or refund "
        "the order if the parcel is lost.",
    ),
    ("h1", "Changing Your Address"),
    (
        "p",
        "Before the order ships you can change the address yourself in the order details. Once "
        "it has shipped, customer service can ask the courier to reroute the parcel, but this "
        "may cost extra and is not guaranteed to work.",
    ),
    ("h1", "Split Shipments"),
    (
        "p",
        "Items in one order may be stored in different warehouses and arrive in several "
        "parcels. There is no extra charge for this, and each parcel can be tracked separately "
        "in the order details.",
    ),
    ("h1", "Receiving and Refusing Parcels"),
    (
        "p",
        "Check the outer box in front of the courier. If it is visibly crushed, deformed or "
        "leaking you may refuse it and we will send a replacement. You may also refuse a parcel "
        "you no longer want: we refund within 1 to 2 working days after it returns to the "
        "warehouse, minus the round-trip shipping of 16 yuan when the refusal is not due to a "
        "quality problem.",
    ),
    (
        "p",
        "If tracking says delivered but you have nothing, check with your building reception, "
        "parcel lockers, pickup stations and family members first, then contact us within 48 "
        "hours of the delivery scan.",
    ),
    ("h1", "Holidays"),
    (
        "p",
        "Warehouses ship on weekends and public holidays. During the Spring Festival (usually "
        "from five days before New Year's Eve to the sixth day of the new year) dispatch "
        "pauses; the exact dates are announced on the home page in advance.",
    ),
]

WARRANTY: list[Block] = [
    ("title", "Xiaopu Select Warranty Policy"),
    (
        "p",
        "This policy describes the warranty on electronic accessories sold by Xiaopu Select and "
        "how to use it. It takes effect on 1 January 2026 and applies to orders placed from "
        "that date.",
    ),
    ("h1", "1. Scope"),
    (
        "p",
        "The warranty covers electronic accessories such as earphones, headphones, power "
        "banks, charging cables, chargers and phone stands. Clothing, shoes and home textiles "
        "are not covered by this warranty; quality problems with them are handled under our "
        "return policy within 15 days of delivery.",
    ),
    ("h1", "2. Warranty Period"),
    (
        "p",
        "Electronic accessories carry a one-year warranty starting on the day of delivery. "
        "Within the first 15 days a faulty item is replaced with a new one. From day 16 until "
        "the end of the first year, faults that are not caused by misuse are repaired free of "
        "charge, or the item is replaced with the same model if it cannot be repaired.",
    ),
    ("h1", "3. What Is Not Covered"),
    (
        "p",
        "The warranty does not cover damage caused by the user, such as drops, cracks, water "
        "damage or attempts to open or repair the item yourself. Normal wear, such as worn "
        "ear tips or scratches on the casing, and items whose warranty has expired are not "
        "covered either.",
    ),
    ("h1", "4. How to Make a Claim"),
    (
        "p",
        "Open the order in Me > My Orders, choose After-sales > Repair, describe the fault and "
        "upload photos or a short video. Once the claim is approved, send the item to the "
        "address shown in the claim. Your order record is your proof of purchase, so you do "
        "not need a paper invoice or receipt.",
    ),
    ("h1", "5. Repair Times"),
    (
        "p",
        "Our after-sales centre inspects and repairs items within 5 to 7 working days of "
        "receiving them and ships them back free of charge. You can follow each step in the "
        "after-sales order. If an item cannot be repaired we replace it or refund it.",
    ),
    ("h1", "6. Shipping Costs for Claims"),
    (
        "p",
        "For valid warranty claims we pay the shipping both ways. Please pay the postage when "
        "sending the item (do not send it cash on delivery) and enter the amount in the "
        "after-sales order; we reimburse up to 20 yuan for standard courier services.",
    ),
    ("h1", "7. After the Warranty Expires"),
    (
        "p",
        "After the one-year warranty you can have the item repaired by the brand's official "
        "service centre at your own cost. We will provide proof of purchase, and for some "
        "brands we can send the item for repair on your behalf.",
    ),
    ("h1", "8. Genuine Products"),
    (
        "p",
        "All branded products are sourced from the brand owner or its authorised distributors "
        "and are guaranteed genuine. If an authoritative testing body confirms that an item is "
        "counterfeit, we pay you three times the price you paid.",
    ),
]


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed member timestamps (python-docx stamps the current time)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def make_docx(blocks: list[Block], path: Path, language: str) -> None:
    from docx import Document

    doc = Document()
    props = doc.core_properties
    props.author = "小铺优选"
    props.created = props.modified = FIXED.replace(tzinfo=None)
    props.last_modified_by = "小铺优选"
    props.revision = 1
    props.language = language
    for kind, value in blocks:
        if kind == "title":
            props.title = str(value)
            doc.add_heading(str(value), level=0)
        elif kind == "h1":
            doc.add_heading(str(value), level=1)
        elif kind == "h2":
            doc.add_heading(str(value), level=2)
        elif kind == "p":
            doc.add_paragraph(str(value))
        elif kind == "li":
            doc.add_paragraph(str(value), style="List Bullet")
        elif kind == "table":
            rows = [list(map(str, r)) for r in value]  # type: ignore[attr-defined]
            table = doc.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, text in enumerate(row):
                    table.cell(r, c).text = text
    buf = io.BytesIO()
    doc.save(buf)
    path.write_bytes(_fixed_zip(buf.getvalue()))


def make_pdf(blocks: list[Block], path: Path) -> None:
    from fpdf import FPDF

    class _Pdf(FPDF):
        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", size=8)
            self.cell(0, 10, f"Page {self.page_no()}", align="C")

    pdf = _Pdf(format="A4")
    pdf.set_creation_date(FIXED)
    pdf.set_title("Xiaopu Select Warranty Policy")
    pdf.set_author("Xiaopu Select")
    pdf.set_producer("tools/make_demo_docs.py")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    for kind, value in blocks:
        text = str(value)
        if kind == "title":
            pdf.set_font("Helvetica", style="B", size=18)
            pdf.multi_cell(0, 10, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
        elif kind in ("h1", "h2"):
            pdf.ln(3)
            pdf.set_font("Helvetica", style="B", size=13 if kind == "h1" else 11.5)
            pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font("Helvetica", size=10.5)
            prefix = "- " if kind == "li" else ""
            pdf.multi_cell(0, 5.5, prefix + text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    pdf.output(str(path))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    make_docx(PRIVACY, OUT / "privacy.docx", "zh-CN")
    make_docx(SHIPPING_GUIDE, OUT / "shipping-guide.docx", "en-US")
    make_pdf(WARRANTY, OUT / "warranty-policy.pdf")
    for name in ("privacy.docx", "shipping-guide.docx", "warranty-policy.pdf"):
        print(f"wrote {OUT / name} ({(OUT / name).stat().st_size} bytes)")


if __name__ == "__main__":
    main()
