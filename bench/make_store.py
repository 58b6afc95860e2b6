"""Write a synthetic claim store of N claims (the eleven real ones included).

    python bench/make_store.py 100000 /tmp/store-100k [--seed 7]

N counts every file written: the eleven real claims from ``claims/`` are copied
in unchanged and N - 11 claims are generated. Output is deterministic for a
given (N, seed): one ``random.Random(seed)`` drives everything and nothing
iterates over a set.

What the generated claims look like, and why:

* They talk about the same world as the real claims, with the same words at
  roughly the rates a real US-China AI-race store would have: China, US, AI,
  models, open source, video, chips, adoption; Nvidia, DeepSeek, Alibaba,
  ByteDance, OpenAI, Qwen, Huawei and friends as subjects and entities. So a
  query for "open source" or "deepseek" meets thousands of plausible
  competitors at 100,000 claims, as it would in production.
* Speakers are fictional people (first x last name pools) working for
  fictional funds, startups and institutes, never real people: a store of
  invented statements must not put words into a real person's mouth. For the
  same reason the distinctive subjects of the eleven real claims (the people
  they quote and their one-off products such as Seedance or Sora) are not
  reused as generated subjects.
* No generated title or alias equals a real claim's title or alias (checked
  after folding). Sources point at example.com/.org/.net and their publisher
  is "Synthetic Source N", so nobody mistakes them for real citations.
* Lengths vary like the real ones: titles 30-75 characters, summaries 1-3
  sentences, 3-15 aliases, 0-6 entities, 1-4 sources, 0-3 related links (to
  ids that exist), added/reviewed dates in 2024-01-01 .. 2026-11-24.

Files are written as YAML with JSON-quoted strings (a JSON string is a valid
YAML double-quoted scalar), which is an order of magnitude faster than
yaml.safe_dump and lets 100,000 files be written in well under a minute.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import sys
import time
from pathlib import Path
from random import Random

REPO = Path(__file__).resolve().parents[1]
REAL_CLAIMS = REPO / "claims"
LAST_DATE = dt.date(2026, 11, 24)
FIRST_DATE = dt.date(2024, 1, 1)
DATE_SPAN = (LAST_DATE - FIRST_DATE).days

# --------------------------------------------------------------------------- vocabulary
# (text, weight): weights approximate how often each turns up in AI-race coverage.
ORGS = [
    ("OpenAI", 10),
    ("DeepSeek", 9),
    ("Nvidia", 9),
    ("Alibaba", 7),
    ("ByteDance", 6),
    ("Huawei", 6),
    ("Google", 6),
    ("Baidu", 5),
    ("Tencent", 5),
    ("Meta", 5),
    ("Anthropic", 4),
    ("Microsoft", 4),
    ("Moonshot AI", 3),
    ("Zhipu AI", 3),
    ("MiniMax", 3),
    ("TSMC", 4),
    ("SMIC", 3),
    ("AMD", 3),
    ("Xiaomi", 2),
    ("Apple", 2),
    ("Kuaishou", 2),
    ("Mistral", 2),
    ("Hugging Face", 2),
    ("Google DeepMind", 2),
    ("iFlytek", 1),
    ("SenseTime", 1),
    ("Unitree", 2),
    ("BYD", 1),
    ("Cambricon", 2),
    ("Samsung", 2),
    ("xAI", 2),
    ("Amazon", 2),
    ("Intel", 2),
    ("ASML", 2),
    ("StepFun", 1),
    ("01.AI", 1),
    ("TikTok", 2),
    ("YouTube", 1),
    ("CATL", 1),
    ("Lenovo", 1),
]
CHINA_ORGS = {
    "DeepSeek",
    "Alibaba",
    "ByteDance",
    "Huawei",
    "Baidu",
    "Tencent",
    "Moonshot AI",
    "Zhipu AI",
    "MiniMax",
    "SMIC",
    "Xiaomi",
    "Kuaishou",
    "iFlytek",
    "SenseTime",
    "Unitree",
    "BYD",
    "Cambricon",
    "StepFun",
    "01.AI",
    "TikTok",
    "CATL",
    "Lenovo",
}
# (product, maker, kind)
PRODUCTS = [
    ("Qwen 3", "Alibaba", "model"),
    ("Qwen2.5-VL", "Alibaba", "model"),
    ("DeepSeek V3", "DeepSeek", "model"),
    ("DeepSeek R1", "DeepSeek", "model"),
    ("DeepSeek V4", "DeepSeek", "model"),
    ("Kimi K2", "Moonshot AI", "model"),
    ("Ernie 4.5", "Baidu", "model"),
    ("Ernie Bot", "Baidu", "assistant"),
    ("Hunyuan", "Tencent", "model"),
    ("Hunyuan Video", "Tencent", "video model"),
    ("Kling 2.1", "Kuaishou", "video model"),
    ("Doubao", "ByteDance", "assistant"),
    ("CapCut", "ByteDance", "app"),
    ("Hailuo 02", "MiniMax", "video model"),
    ("GLM-4.5", "Zhipu AI", "model"),
    ("Step-2", "StepFun", "model"),
    ("Ascend 910C", "Huawei", "chip"),
    ("Kirin 9010", "Huawei", "chip"),
    ("MindSpore", "Huawei", "framework"),
    ("H20", "Nvidia", "chip"),
    ("H100", "Nvidia", "chip"),
    ("Blackwell", "Nvidia", "chip"),
    ("CUDA", "Nvidia", "framework"),
    ("MI300X", "AMD", "chip"),
    ("GPT-5", "OpenAI", "model"),
    ("GPT-4o", "OpenAI", "model"),
    ("ChatGPT", "OpenAI", "assistant"),
    ("o3", "OpenAI", "model"),
    ("Gemini 2.5", "Google", "model"),
    ("Veo 3", "Google", "video model"),
    ("Llama 4", "Meta", "model"),
    ("Claude", "Anthropic", "model"),
    ("Copilot", "Microsoft", "assistant"),
    ("Grok", "xAI", "model"),
    ("Mistral Large", "Mistral", "model"),
    ("Siyuan 590", "Cambricon", "chip"),
    ("Unitree G1", "Unitree", "robot"),
    ("Yi-Lightning", "01.AI", "model"),
    ("Spark", "iFlytek", "model"),
    ("HyperOS", "Xiaomi", "operating system"),
    # fictional products, so not every story is about a household name
    ("Qilin-7", "Harbor Lake Labs", "model"),
    ("Nimbus Video 3", "Cloudfjord", "video model"),
    ("Pangolin-14B", "Redwood Delta AI", "model"),
    ("Lumen Agent", "Brightwater AI", "agent"),
    ("Tessera T2", "Greenline Semiconductor", "chip"),
    ("Kestrel 2", "Northgate Robotics", "robot"),
    ("Moriko Voice", "Tidal Signal", "audio model"),
    ("Atlas Reasoner", "Silverpine AI", "model"),
    ("Jade Pixel", "Eastbridge Media AI", "image model"),
    ("Orchid 70B", "Meridian Compute", "model"),
]
PRODUCT_WEIGHTS = [4 if maker in dict(ORGS) else 2 for _, maker, _ in PRODUCTS]
PLACES = [
    ("China", 30),
    ("the US", 22),
    ("Silicon Valley", 4),
    ("Beijing", 4),
    ("Washington", 4),
    ("Shenzhen", 2),
    ("Hangzhou", 2),
    ("Shanghai", 2),
    ("Taiwan", 3),
    ("Europe", 4),
    ("Japan", 2),
    ("South Korea", 2),
    ("India", 2),
    ("Singapore", 2),
    ("the Gulf", 2),
    ("the UK", 2),
    ("Southeast Asia", 2),
    ("Africa", 1),
    ("Latin America", 1),
    ("France", 1),
]
# (topic tag, noun phrase used in prose, weight)
TOPICS = [
    ("chips", "AI chips", 8),
    ("export controls", "chip export controls", 7),
    ("open source", "open-source models", 8),
    ("open weights", "open-weight models", 3),
    ("adoption", "AI adoption", 6),
    ("compute", "compute capacity", 5),
    ("data centers", "data centers", 4),
    ("energy", "power for AI", 3),
    ("regulation", "AI regulation", 5),
    ("policy", "industrial policy", 4),
    ("talent", "AI talent", 4),
    ("funding", "venture funding", 4),
    ("robotics", "humanoid robots", 4),
    ("agents", "AI agents", 5),
    ("benchmarks", "benchmark scores", 4),
    ("safety", "AI safety", 4),
    ("reasoning models", "reasoning models", 4),
    ("pricing", "token prices", 4),
    ("cloud", "cloud computing", 3),
    ("manufacturing", "AI in factories", 3),
    ("supply chain", "the chip supply chain", 3),
    ("education", "AI in schools", 2),
    ("healthcare", "medical AI", 2),
    ("autonomous driving", "self-driving cars", 2),
    ("military", "military AI", 2),
    ("inference", "inference costs", 3),
    ("training costs", "training costs", 3),
    ("smartphones", "AI phones", 2),
    ("consumer apps", "consumer AI apps", 3),
    ("enterprise", "enterprise AI", 3),
    ("investment", "AI investment", 3),
    ("standards", "technical standards", 2),
    ("copyright", "copyright and training data", 2),
    ("censorship", "content controls", 2),
    ("video", "AI video generation", 5),
    ("audio", "AI voice generation", 2),
    ("innovation", "original research", 3),
    ("catch-up", "the race to catch up", 3),
    ("strategy", "national AI strategy", 4),
    ("efficiency", "model efficiency", 3),
    ("small models", "small models", 3),
    ("distillation", "model distillation", 1),
    ("leaderboards", "model rankings", 2),
    ("commoditization", "falling model prices", 2),
    ("public opinion", "public trust in AI", 2),
    ("creators", "creator tools", 1),
    ("collaboration", "cross-border research", 2),
    ("semiconductors", "semiconductor tools", 4),
    ("multimodal", "multimodal models", 2),
    ("search", "AI search", 2),
]
FIRST_NAMES = (
    "Wei Lin Mei Jun Hao Yan Xiao Ming Ting Jie Rui Fang Bo Qing Sarah David Priya Marcus "
    "Elena Tom Rachel Omar Grace Daniel Aisha Kenji Sofia Lucas Nadia Ravi Hannah Felix Iris "
    "Victor Laura Ahmed Chloe Samuel Yuki Ingrid"
).split()
LAST_NAMES = (
    "Zhang Liu Chen Wang Zhou Xu Sun Ma Zhao Gao Lin Guo He Luo Song Miller Carter Okafor "
    "Novak Patel Schmidt Tanaka Rossi Kim Park Nguyen Fischer Brooks Hughes Moreau Silva "
    "Reyes Cohen Walsh Bianchi Larsen"
).split()
ROLES = [
    ("CEO", 5),
    ("founder", 4),
    ("chief scientist", 3),
    ("CTO", 2),
    ("analyst", 5),
    ("partner", 3),
    ("professor", 4),
    ("researcher", 4),
    ("investor", 3),
    ("policy adviser", 2),
    ("former official", 2),
    ("head of AI", 2),
    ("podcast host", 2),
    ("economist", 2),
    ("chairman", 1),
    ("engineer", 2),
]
SPEAKER_ORGS = (
    "Harbor Lake Labs|Cloudfjord|Redwood Delta AI|Brightwater AI|Greenline Semiconductor|"
    "Northgate Robotics|Tidal Signal|Silverpine AI|Eastbridge Media AI|Meridian Compute|"
    "Jade River Capital|Summit Arc Ventures|Pacific Ledger Partners|Lotus Gate Fund|"
    "Beacon Policy Institute|Center for Compute Studies|Institute for Tech Futures|"
    "Pearl Delta University|Lakeshore University|Westbrook College|Asia Tech Forum|"
    "Frontier Markets Research|Quarry Hill Analytics|Crossroads Podcast|Signal and Noise Podcast|"
    "Open Model Alliance|Keystone Strategy Group|Maple Circuit Capital|Yangtze Data Lab"
).split("|")

# Predicates: {o} org, {o2} second org, {p} product, {pl} place, {pl2} second place,
# {t} topic phrase, {t2} second topic phrase, {n} number.
TITLE_TEMPLATES = [
    "{pl} leads in {t} but trails {pl2} on {t2}",
    "{o} bets on {t} to win over developers",
    "{o}'s {p} narrows the gap with {o2}",
    "{p} tops open rankings on {t}",
    "{pl}'s edge in {t} may come from policy, not talent",
    "Why {o} is moving into {t}",
    "{t} is where {pl} can still catch up",
    "{o} cuts prices as {t} turns into a commodity",
    "{pl} restricts {t} to slow {pl2}'s AI labs",
    "{o} says {t} matters more than model size",
    "{p} shows {pl} can build frontier AI on less compute",
    "Open-source {p} spreads fast among {pl} startups",
    "{o} and {o2} race to ship {t} first",
    "{pl} chip makers struggle to replace {o} hardware",
    "{t} could decide the AI race more than {t2}",
    "{o} trains {p} on domestic chips",
    "Analysts doubt {o}'s claims about {t}",
    "{pl} firms adopt AI faster than {pl2} firms",
    "{o} opens {p} weights to attract global developers",
    "{p} beats {o2} models on {t}, at a fraction of the cost",
    "{t} in {pl} grows as {o} expands",
    "{pl} plans {n} new data centers for AI training",
    "{o}'s {t} push rattles {pl2} rivals",
    "The real bottleneck for {pl} is {t}, not chips",
    "{o} delays {p} after problems with {t}",
    "Is {pl} ahead in {t}?",
    "{pl} and {pl2} split over rules for {t}",
    "{o} wants {t} built into every phone",
    "{p} makes {t} cheap enough for small firms",
    "{n} percent of {pl} companies now use {t}",
]
CLAIM_SUBJECTS = [
    "An analyst",
    "A podcast guest",
    "A former official",
    "An investor",
    "A research note",
    "An industry report",
    "A newsletter",
    "A conference speaker",
    "A think-tank paper",
    "A survey of developers",
]
SENTENCE_ONE = [
    "{subj} argues that {pl} is pulling ahead in {t} while {pl2} still leads on {t2}.",
    "{subj} says {o} is using {p} to push {t} into mainstream products.",
    "{subj} contends that {t} will matter more to the AI race than raw model size.",
    "{o} has released {p}, which it says matches rival systems on {t} at lower cost.",
    "{subj} holds that {pl} labs win by spreading {t} quickly rather than by building "
    "the biggest model.",
    "According to {subj_l}, {o} and {o2} are competing hardest on {t}.",
    "{subj} reports that firms in {pl} adopted {t} faster than those in {pl2} last year.",
    "{subj} claims that limits on {t} have slowed {pl} labs less than {pl2} expected.",
    "{subj} describes {p} as evidence that open models from {pl} are catching up.",
    "{subj} thinks {t} is turning into a commodity, which favours {o}.",
]
SENTENCE_TWO = [
    "The figures come from company statements and have not been checked independently.",
    "Supporters point to {n} percent growth in {t} over a year.",
    "Critics reply that {t2} remains the harder problem and that {pl2} still leads there.",
    "The claim leans on {o}'s own benchmarks, which outsiders have only partly reproduced.",
    "It also notes that {o2} has answered with cheaper plans for {t2}.",
    "Others see the same data as a sign of a crowded market rather than a lead.",
    "Developers in {pl2} are said to use {p} more than local alternatives.",
    "The argument rests on a survey of about {n}00 firms.",
    "Export rules and energy costs are named as the main risks.",
    "Much of the gain is attributed to cheaper inference and smaller models.",
]
SENTENCE_THREE = [
    "Whether that lasts is disputed.",
    "Independent tests are still missing.",
    "The numbers for {pl2} are older and may understate its progress.",
    "No first-hand source confirms the larger conclusion.",
    "Both sides agree that {t2} will shape the next phase.",
]
NOTE_TEMPLATES = [
    "Company statements confirm the release; the wider conclusion about {t} is the author's view.",
    "Survey data back the trend in {pl}; the comparison with {pl2} rests on older figures.",
    "Benchmarks are self-reported by {o}; independent tests only partly agree.",
    "Only commentary repeats the claim; no primary source on {t} was found.",
    "Official figures support the numbers; the causal story is an interpretation.",
    "Several reports agree on the facts about {p}; the forecast is opinion.",
]
SOURCE_TITLES = [
    "{o} on {t}: what changed this year",
    "How {pl} is approaching {t}",
    "{p} review: strengths and gaps",
    "The state of {t} in {pl}",
    "Interview: the race for {t}",
    "{o} announces {p}",
    "Data: {t} adoption by country",
    "Why {t} matters for {o}",
    "{pl} versus {pl2} on {t}, in charts",
]
SUPPORTS = [
    "Gives the figures the claim relies on.",
    "States the main argument in the speaker's words.",
    "Counterpoint: questions the size of the lead.",
    "First-hand: the company's own announcement.",
    "Adds context on {t} and on rival products.",
    "Reports the release and early reactions.",
]
ALIAS_TEMPLATES = [
    "{p_l}",
    "{o_l} {tt}",
    "{tt} {pl_l}",
    "{pl_l} {tt}",
    "{o_l} {p_l}",
    "{p_l} {tt}",
    "{o_l} vs {o2_l}",
    "{pl_l} vs {pl2_l} {tt}",
    "why {o_l} {verb} {tt}",
    "{tt} race",
    "{o_l} {kind}",
    "{pl_l} ai {tt}",
    "is {pl_l} ahead in {tt}",
    "{tt} gap",
    "{speaker_l}",
    "{speaker_last} on {tt}",
    "{p_typo}",
    "cheap {tt}",
    "{tt} for startups",
    "{o_l} strategy",
    "{pl_l} {kind} push",
    "{p_l} benchmarks",
    "{pl_l} {tt} {n}",
]
VERBS = ["bets on", "invests in", "open sources", "cuts prices on", "leads in", "rethinks"]
DOMAINS = ["example.com", "example.org", "example.net", "news.example.com", "research.example.org"]
SECTIONS = ["tech", "ai", "business", "policy", "analysis", "world", "markets"]
LEVELS = ["strong"] * 3 + ["partial"] * 5 + ["opinion"] * 3
RELATIONS = ["context"] * 4 + ["supports"] * 2 + ["contrasts"]

_WORD = re.compile(r"[a-z0-9]+")


def _fold(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _real_phrases() -> set[str]:
    """Folded titles and aliases of the real claims: never to be reused verbatim."""
    import yaml  # only here: the generator itself writes YAML by hand

    phrases: set[str] = set()
    for path in sorted(REAL_CLAIMS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        phrases.add(_fold(data["title"]))
        phrases.update(_fold(a) for a in data.get("aliases", []))
    return phrases


class _Weighted:
    """Fast weighted choice with a shared Random."""

    def __init__(self, items: list, weights: list[float], rng: Random) -> None:
        self.items = items
        total, cum = 0.0, []
        for w in weights:
            total += w
            cum.append(total)
        self.cum, self.total, self.rng = cum, total, rng

    def __call__(self):
        import bisect

        return self.items[bisect.bisect(self.cum, self.rng.random() * self.total)]


def _slug(text: str) -> str:
    return "-".join(_WORD.findall(text.lower()))


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _typo(word: str, rng: Random) -> str:
    letters = [c for c in word]
    if len(letters) < 5:
        return word
    i = rng.randrange(1, len(letters) - 1)
    if rng.random() < 0.5:
        del letters[i]
    else:
        letters[i], letters[i + 1] = letters[i + 1], letters[i]
    return "".join(letters)


def _date(rng: Random, start: dt.date = FIRST_DATE) -> dt.date:
    span = (LAST_DATE - start).days
    return start + dt.timedelta(days=rng.randint(0, span))


class Generator:
    def __init__(self, seed: int) -> None:
        rng = self.rng = Random(seed)
        self.org = _Weighted([o for o, _ in ORGS], [w for _, w in ORGS], rng)
        self.product = _Weighted(PRODUCTS, PRODUCT_WEIGHTS, rng)
        self.place = _Weighted([p for p, _ in PLACES], [w for _, w in PLACES], rng)
        self.topic = _Weighted(TOPICS, [w for *_, w in TOPICS], rng)
        self.role = _Weighted([r for r, _ in ROLES], [w for _, w in ROLES], rng)
        self.level = LEVELS
        self.avoid = _real_phrases()

    def _slots(self) -> dict[str, str]:
        rng = self.rng
        product, maker, kind = self.product()
        # Most stories pair a product with its maker; some compare it with a rival.
        org = maker if rng.random() < 0.7 else self.org()
        org2 = self.org()
        while org2 == org:
            org2 = self.org()
        place = self.place()
        if org in CHINA_ORGS and rng.random() < 0.7:
            place = "China"
        place2 = self.place()
        while place2 == place:
            place2 = self.place()
        topic, tphrase, _ = self.topic()
        topic2, tphrase2, _ = self.topic()
        return {
            "o": org,
            "o2": org2,
            "p": product,
            "kind": kind,
            "pl": place,
            "pl2": place2,
            "t": tphrase,
            "t2": tphrase2,
            "tag": topic,
            "tag2": topic2,
            "n": str(rng.choice([3, 5, 8, 12, 15, 20, 25, 30, 40, 45, 60, 70, 80, 100])),
        }

    def claim(self, claim_id_hint: int) -> dict:
        rng = self.rng
        for _ in range(50):
            s = self._slots()
            title = rng.choice(TITLE_TEMPLATES).format(**s)
            title = title[0].upper() + title[1:]
            if 30 <= len(title) <= 75 and _fold(title) not in self.avoid:
                break
        speaker = None
        if rng.random() < 0.45:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            speaker = {"name": name, "role": self.role(), "org": rng.choice(SPEAKER_ORGS)}
            if rng.random() < 0.15:
                del speaker["role"]
        if speaker and rng.random() < 0.7:
            subj = subj_l = speaker["name"]
        else:
            subj = rng.choice(CLAIM_SUBJECTS)
            subj_l = subj[0].lower() + subj[1:]
        fill = dict(s, subj=subj, subj_l=subj_l)
        sentences = [rng.choice(SENTENCE_ONE).format(**fill)]
        if rng.random() < 0.8:
            sentences.append(rng.choice(SENTENCE_TWO).format(**fill))
        if rng.random() < 0.35:
            sentences.append(rng.choice(SENTENCE_THREE).format(**fill))
        sentences = [x[0].upper() + x[1:] for x in sentences]
        summary = " ".join(sentences)

        topics = [s["tag"]]
        if s["tag2"] != s["tag"] and rng.random() < 0.8:
            topics.append(s["tag2"])
        for _ in range(rng.randint(0, 2)):
            extra = self.topic()[0]
            if extra not in topics:
                topics.append(extra)
        if s["o"] in ("DeepSeek", "OpenAI", "ByteDance") and rng.random() < 0.3:
            topics.append(s["o"].lower())

        entities: list[str] = []
        want_entities = rng.choice([0, 1, 2, 2, 3, 3, 4, 5])
        for candidate in (s["p"], s["o"], s["o2"], self.org(), self.product()[0]):
            if candidate not in entities and len(entities) < want_entities:
                entities.append(candidate)
        if speaker and rng.random() < 0.5:
            entities.append(speaker["name"])

        speaker_l = speaker["name"].lower() if speaker else s["o"].lower()
        alias_fill = {
            "p_l": s["p"].lower(),
            "o_l": s["o"].lower(),
            "o2_l": s["o2"].lower(),
            "pl_l": s["pl"].lower().removeprefix("the "),
            "pl2_l": s["pl2"].lower().removeprefix("the "),
            "tt": s["tag"],
            "kind": s["kind"],
            "verb": rng.choice(VERBS),
            "n": s["n"],
            "speaker_l": speaker_l,
            "speaker_last": speaker_l.split()[-1],
            "p_typo": _typo(s["p"].lower(), rng),
        }
        aliases: list[str] = []
        want = rng.randint(3, 15)
        for _ in range(want * 3):
            alias = rng.choice(ALIAS_TEMPLATES).format(**alias_fill)
            if alias not in aliases and _fold(alias) not in self.avoid:
                aliases.append(alias)
            if len(aliases) >= want:
                break
        evidence = {
            "level": rng.choice(self.level),
            "note": rng.choice(NOTE_TEMPLATES).format(**s),
        }
        added = _date(rng)
        reviewed = added if rng.random() < 0.5 else _date(rng, added)
        sources = []
        slug = _slug(title)[:60].strip("-")
        for k in range(rng.choice([1, 1, 2, 2, 2, 3, 3, 4])):
            source = {
                "url": f"https://{rng.choice(DOMAINS)}/{rng.choice(SECTIONS)}/"
                f"{added.year}/{slug}-{claim_id_hint}-{k}",
                "title": rng.choice(SOURCE_TITLES).format(**s),
                "publisher": f"Synthetic Source {rng.randint(1, 250)}",
                "kind": "primary" if rng.random() < 0.3 else "commentary",
                "supports": rng.choice(SUPPORTS).format(**s),
            }
            if rng.random() < 0.5:
                source["date"] = _date(rng).isoformat()
            sources.append(source)
        return {
            "title": title,
            "summary": summary,
            "speaker": speaker,
            "topics": topics,
            "entities": entities,
            "aliases": aliases,
            "evidence": evidence,
            "sources": sources,
            "added": added.isoformat(),
            "reviewed": reviewed.isoformat(),
        }


def _yaml(claim_id: str, c: dict, related: list[tuple[str, str]]) -> str:
    out = [f"id: {claim_id}", f"title: {_q(c['title'])}", f"summary: {_q(c['summary'])}"]
    if c["speaker"]:
        out.append("speaker:")
        out += [f"  {k}: {_q(v)}" for k, v in c["speaker"].items()]
    out.append("topics: [" + ", ".join(_q(t) for t in c["topics"]) + "]")
    out.append("entities: [" + ", ".join(_q(e) for e in c["entities"]) + "]")
    out.append("aliases:")
    out += [f"  - {_q(a)}" for a in c["aliases"]]
    out += [
        "evidence:",
        f"  level: {c['evidence']['level']}",
        f"  note: {_q(c['evidence']['note'])}",
    ]
    out.append("sources:")
    for s in c["sources"]:
        out.append(f"  - url: {_q(s['url'])}")
        out.append(f"    title: {_q(s['title'])}")
        out.append(f"    publisher: {_q(s['publisher'])}")
        if "date" in s:
            out.append(f"    date: {s['date']}")
        out.append(f"    kind: {s['kind']}")
        out.append(f"    supports: {_q(s['supports'])}")
    if related:
        out.append("related:")
        for rid, relation in related:
            out += [f"  - id: {rid}", f"    relation: {relation}"]
    out += [f"added: {c['added']}", f"reviewed: {c['reviewed']}", ""]
    return "\n".join(out)


def make_store(n: int, directory: Path, seed: int = 7) -> int:
    """Write the store; return the number of claim files written."""
    real = sorted(REAL_CLAIMS.glob("*.yaml"))
    if n < len(real):
        raise SystemExit(f"N must be at least {len(real)} (the real claims)")
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    gen = Generator(seed)
    rng = gen.rng
    claims = [gen.claim(i) for i in range(n - len(real))]
    used = {p.stem for p in real}
    ids: list[str] = []
    for i, c in enumerate(claims):
        words = _slug(c["title"]).split("-")
        base = "-".join(words[: rng.randint(3, 6)])[:60].strip("-")
        cid = base if base not in used else f"{base}-{i}"
        used.add(cid)
        ids.append(cid)
    all_ids = ids + [p.stem for p in real]
    declared: dict[tuple[str, str], str] = {}
    for cid, c in zip(ids, claims, strict=True):
        related: list[tuple[str, str]] = []
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            target = rng.choice(all_ids)
            if target != cid and target not in (r for r, _ in related):
                relation = rng.choice(RELATIONS)
                # A link declared from both ends must name one relation (the
                # validator refuses two), so a back-link repeats the first one.
                relation = declared.get((target, cid), relation)
                declared[(cid, target)] = relation
                related.append((target, relation))
        (directory / f"{cid}.yaml").write_text(_yaml(cid, c, related), encoding="utf-8")
    for path in real:
        shutil.copyfile(path, directory / path.name)
    return len(ids) + len(real)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="claims to write in total, the 11 real ones included")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    written = make_store(args.n, args.directory, args.seed)
    took = time.perf_counter() - started
    print(f"wrote {written} claims to {args.directory} in {took:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
