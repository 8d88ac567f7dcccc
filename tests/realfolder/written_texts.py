"""Short Chinese and German texts for the real-folder evaluation.

Chinese words sit inside longer runs of characters (保险 in 医疗保险制度), and German words
inside compounds (Versicherung in Krankenversicherung), which is what a lexical index that
splits on spaces misses. Each text is about one thing, so each query has one right answer."""

from __future__ import annotations

CHINESE: dict[str, str] = {
    "中文/医疗保险制度说明.txt": (
        "城镇职工基本医疗保险制度说明\n\n"
        "我国的医疗保险制度由单位和个人共同缴费。单位缴费的一部分划入个人账户，"
        "其余进入统筹基金。门诊费用一般从个人账户支付，住院费用超过起付线以后由统筹基金按比例报销。"
        "异地就医需要提前在参保地办理备案手续，否则报销比例会降低。"
    ),
    "中文/养老金领取办法.txt": (
        "关于养老金领取的几点说明\n\n"
        "参加基本养老保险的职工，累计缴费满十五年，达到法定退休年龄后可以按月领取养老金。"
        "养老金由基础养老金和个人账户养老金两部分组成。缴费年限越长，缴费基数越高，退休后领取的金额也越多。"
    ),
    "中文/高速铁路出行指南.txt": (
        "高速铁路出行指南\n\n"
        "乘坐高铁需要携带购票时使用的有效身份证件。车站一般在开车前五分钟停止检票，"
        "建议旅客提前半小时到达候车室。二等座车厢设有行李架，大件行李可以放在车厢两端的大件行李存放处。"
        "如果需要改签，可以在开车前通过网站或者车站窗口办理。"
    ),
    "中文/家常红烧肉做法.txt": (
        "家常红烧肉做法\n\n"
        "五花肉切成麻将大小的块，冷水下锅焯水，撇去浮沫后捞出。锅里放少许油，小火把冰糖炒出焦糖色，"
        "放入肉块翻炒上色，再加入生抽、老抽、料酒、葱姜和八角，倒入没过肉的热水，小火炖一个小时，最后大火收汁。"
    ),
    "中文/垃圾分类须知.txt": (
        "小区垃圾分类须知\n\n"
        "生活垃圾分为可回收物、有害垃圾、厨余垃圾和其他垃圾四类。废电池、过期药品和废灯管属于有害垃圾，"
        "请投放到红色垃圾桶。厨余垃圾需要先沥干水分再投放。大件家具请联系物业预约清运。"
    ),
    "中文/太阳能电池板安装.txt": (
        "屋顶太阳能电池板安装记录\n\n"
        "今年春天在屋顶安装了十二块光伏组件，总装机容量约五千瓦。逆变器装在车库墙上，"
        "白天发的电优先自用，多余的电量并入电网。晴天每天大约发电二十度，阴雨天只有几度。"
    ),
    "中文/人工智能课程笔记.txt": (
        "机器学习课程笔记\n\n"
        "监督学习需要带标签的训练数据，常见的任务有分类和回归。为了防止过拟合，"
        "可以使用正则化、提前停止或者增加训练样本。神经网络通过反向传播算法计算梯度，再用梯度下降更新参数。"
    ),
}

GERMAN: dict[str, str] = {
    "deutsch/Krankenversicherung_Wechsel.txt": (
        "Wechsel der Krankenversicherung\n\n"
        "Gesetzlich Versicherte können ihre Krankenkasse nach zwölf Monaten Mitgliedschaft wechseln. "
        "Die Kündigung wird zum Ende des übernächsten Monats wirksam. Erhebt die Kasse einen höheren "
        "Zusatzbeitrag, besteht ein Sonderkündigungsrecht. Die neue Kasse meldet den Wechsel beim "
        "Arbeitgeber; eine Gesundheitsprüfung findet nicht statt."
    ),
    "deutsch/Haftpflicht_Schadensmeldung.txt": (
        "Schadensmeldung an die Privathaftpflicht\n\n"
        "Beim Umzug ist mir der Fernseher der Nachbarin heruntergefallen. Ich habe den Schaden "
        "innerhalb einer Woche bei meiner Haftpflichtversicherung gemeldet und Fotos sowie den "
        "Kaufbeleg des Geräts beigelegt. Die Selbstbeteiligung beträgt 150 Euro."
    ),
    "deutsch/Mietvertrag_Kuendigung.txt": (
        "Kündigung des Mietvertrags\n\n"
        "Für Mieter gilt eine Kündigungsfrist von drei Monaten, unabhängig davon, wie lange das "
        "Mietverhältnis bestanden hat. Die Kündigung muss schriftlich erfolgen und eigenhändig "
        "unterschrieben sein; eine E-Mail genügt nicht. Die Mietkaution ist nach Auszug zurückzuzahlen, "
        "sobald feststeht, dass keine Forderungen mehr offen sind."
    ),
    "deutsch/Steuererklaerung_Tipps.txt": (
        "Hinweise zur Einkommensteuererklärung\n\n"
        "Fahrten zur Arbeitsstätte werden mit der Entfernungspauschale berücksichtigt. "
        "Arbeitsmittel wie ein Schreibtisch oder Fachbücher sind Werbungskosten. Wer zu Hause arbeitet, "
        "kann die Homeoffice-Pauschale ansetzen. Die Abgabefrist verlängert sich, wenn ein "
        "Steuerberater die Erklärung anfertigt."
    ),
    "deutsch/Bahn_Fahrgastrechte.txt": (
        "Fahrgastrechte bei Zugverspätung\n\n"
        "Kommt der Zug mit mehr als sechzig Minuten Verspätung am Ziel an, erstattet die Bahn ein "
        "Viertel des Fahrpreises, ab zwei Stunden die Hälfte. Das Fahrgastrechteformular kann online "
        "oder im Reisezentrum eingereicht werden. Bei Zeitkarten gelten feste Pauschalbeträge."
    ),
    "deutsch/Waermepumpe_Foerderung.txt": (
        "Förderung für die Wärmepumpe\n\n"
        "Für den Austausch einer alten Ölheizung gegen eine Wärmepumpe gibt es einen staatlichen "
        "Zuschuss. Der Antrag muss vor Beginn der Arbeiten gestellt werden. Eine "
        "Energieeffizienzexpertin prüft vorher, ob die Heizkörper für niedrige Vorlauftemperaturen "
        "geeignet sind."
    ),
    "deutsch/Kindergeld_Antrag.txt": (
        "Antrag auf Kindergeld\n\n"
        "Das Kindergeld wird bei der Familienkasse beantragt. Neben dem Antrag braucht man die "
        "Steuer-Identifikationsnummer des Kindes und des Elternteils. Rückwirkend wird höchstens für "
        "sechs Monate gezahlt, daher sollte man den Antrag bald nach der Geburt stellen."
    ),
}
