"""Build the shipped medical-keyword vocabulary (himed_rewards/data/keywords/).

Usage:
    python scripts/build_keywords.py [--vocab ../shared/data/vocab]
                                     [--out himed_rewards/data/keywords] [--sample 50]

Sources (all under ``--vocab``), in priority order (the first source to name a keyword gives
its canonical spelling):

1. ``scripts/keyword_sources/board_radiology.txt``: the curated board-relevant list.
2. ``chexpert/phrases/mention/*.txt``: the CheXpert labeler's mention phrases; its prefix
   stems ("atelecta", "opaci") become the words reports use, generic phrases are dropped
   (tables below, each with its reason).
3. ``radiology_semantic_dict/imaging_signs.json``: imaging signs rated HIGH or MEDIUM board
   relevance (the LOW ones and the descriptions are not used).
4. ``radlex/Radlex.csv``: the RadLex terms under the clinically meaningful subtrees of the
   hierarchy (``SELECT_SUBTREES``), minus descriptor-like subtrees (``EXCLUDE_SUBTREES``),
   filtered by the sanity rules of :func:`radlex_keep`.

Every non-curated candidate then passes the generic stop list
(``scripts/keyword_sources/generic_stoplist.txt``). Surface variants (hyphen as space, plural
of the last word) are added so that "pleural effusions" is the same keyword as "pleural
effusion". The output is ``keywords.tsv`` (keyword, variants, sources) and ``NOTICE``.
The script is deterministic: the same inputs give a byte-identical output.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from himed_rewards.text.tokenizers import get_tokenizer  # noqa: E402

SOURCES_DIR = ROOT / "scripts" / "keyword_sources"
MAX_WORDS = 5  # longer RadLex names are ontology paraphrases that reports never write

# RadLex subtrees that hold findings, diseases, signs, anatomy and devices.
SELECT_SUBTREES = {
    "RID34785": "clinical finding (pathophysiologic findings and diseases)",
    "RID5": "imaging observation (signs, opacities)",
    "RID13390": "anatomical structure",
    "RID29109": "portion of body substance (blood, bile, fluid)",
    "RID13217": "anatomical space (mediastinum-like spaces, recesses)",
    "RID29033": "medical device",
    "RID5425": "foreign body",
}
# Branches inside the selected ones that are descriptors or scores, not findings.
EXCLUDE_SUBTREES = {
    "RID39050": "symptom (history, not an imaging finding)",
    "RID36026": "assessment (BI-RADS / LI-RADS categories)",
    "RID5972": "margin (morphology descriptors)",
    "RID43356": "lesion characteristic (descriptors)",
    "RID6058": "enhancement pattern (descriptors)",
    "RID34300": "enhancement (descriptors)",
    "RID34346": "echotexture (descriptors)",
    "RID49701": "signal-related observation (descriptors)",
    "RID38774": "perfusion imaging observation (descriptors)",
    "RID15849": "obsolete RadLex terms",
}
LATERALITY = {"left", "right", "bilateral", "unilateral"}
# Names built from ontology scaffolding ("set of ...", "surface of ...") are not report words.
SCAFFOLD_PREFIX = re.compile(
    r"^(set|portion|region|subdivision|surface|neural network|lumen|cavity|zone|part|segment"
    r"|wall|skin|tributary|branch|trunk|root|group|cluster|layer|compartment|space|tissue"
    r"|organ|bony part|substance|content|interior|border|margin|boundary)s? of "
)
CATEGORY_LAST_WORD = {
    "entity", "entities", "structure", "structures", "finding", "observation", "descriptor",
    "disorder", "set", "subdivision", "cluster", "part", "portion", "region", "zone", "surface",
    "group", "component", "feature", "process", "dysfunction",
}  # fmt: skip
ALLOWED_CHARS = re.compile(r"^[a-z0-9 '\-]+$")

# CheXpert mention stems (the labeler matches them as prefixes) -> the words reports use.
CHEXPERT_EXPAND = {
    "atelecta": ["atelectasis | atelectases | atelectatic"],
    "consolidat": ["consolidation | consolidations | consolidative"],
    "opaci": ["opacity | opacities", "opacification | opacified"],
    "degenera": ["degenerative changes | degenerative change", "degeneration"],
    "calcifi": ["calcification | calcifications | calcified"],
    "hyperinflat": ["hyperinflation | hyperinflated"],
    "atherosclero": ["atherosclerosis | atherosclerotic"],
    "inflam": ["inflammation | inflammatory"],
    "reticula": ["reticulation"],
    "arthroplast": ["arthroplasty | arthroplasties"],
    "defib": ["defibrillator | defibrillators"],
    "_mediastinum": ["mediastinum"],
    "drain_": ["drain | drains"],
}
# CheXpert mention phrases dropped, with the reason.
CHEXPERT_DROP = {
    "the heart": "an article plus an organ name: 'heart' alone would then pay twice",
    "_line_": "'line' names lines of any kind; specific lines (picc line) are kept",
    "prominen": "'prominent' is a degree word",
    "heart size": "the attribute 'size' of the heart: 'heart size is normal' is boilerplate",
    "cardiac size": "the attribute 'size' of the heart, as 'heart size'",
}


def words_of(text: str) -> list[str]:
    """Tokens of the reward tokenizer that are words (punctuation does not count)."""
    return [t for t in get_tokenizer("default")(text) if any(c.isalnum() for c in t)]


def normalise(text: str) -> str:
    return " ".join(text.lower().replace("\u2019", "'").split())


def plural(word: str) -> str | None:
    """A regular English plural of a noun, or None where guessing would be wrong."""
    if not word.isalpha() or len(word) < 4:
        return None
    if word.endswith("sis"):
        return word[:-2] + "es"  # atelectasis -> atelectases
    if word.endswith(("s", "x", "um", "us", "a", "ae", "ic", "al", "ed", "ing", "ous")):
        return None  # adjectives, Latin and already-plural forms: leave them alone
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"  # opacity -> opacities
    if word.endswith(("ch", "sh")):
        return word + "es"
    return word + "s"


def variants(form: str) -> list[str]:
    """The form itself, its hyphen-as-space spelling and the plural of its last word."""
    out = [form]
    if "-" in form:
        out.append(form.replace("-", " "))
    for base in list(out):
        head, _, last = base.rpartition(" ")
        many = plural(last)
        if many:
            out.append(f"{head} {many}".strip())
    return list(dict.fromkeys(out))


def read_list(path: Path) -> list[list[str]]:
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            entries.append([normalise(f) for f in line.split("|") if f.strip()])
    return entries


def read_stoplist(path: Path) -> set[str]:
    words: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip().startswith("#"):
            words.update(line.split())
    return words


def is_generic(forms: list[str], stop: set[str]) -> bool:
    """A single-word keyword whose first spelling (or its plural) is on the stop list."""
    tokens = words_of(forms[0])
    return len(tokens) == 1 and (tokens[0] in stop or tokens[0].isdigit())


def chexpert_entries(folder: Path) -> tuple[list[list[str]], dict[str, str]]:
    entries, dropped = [], {}
    for path in sorted(folder.glob("*.txt")):
        for raw in path.read_text(encoding="utf-8").splitlines():
            phrase = normalise(raw)
            if not phrase:
                continue
            if phrase in CHEXPERT_DROP:
                dropped[phrase] = CHEXPERT_DROP[phrase]
            elif phrase in CHEXPERT_EXPAND:
                entries.extend(read_line(line) for line in CHEXPERT_EXPAND[phrase])
            else:
                entries.append(variants(phrase))
    return entries, dropped


def read_line(line: str) -> list[str]:
    return [normalise(f) for f in line.split("|")]


def semantic_dict_entries(path: Path) -> list[list[str]]:
    signs = json.loads(path.read_text(encoding="utf-8"))
    entries = []
    for sign in signs.values():
        relevance = str(sign.get("board_relevance", "")).upper()
        if not relevance.startswith(("HIGH", "MEDIUM")):
            continue
        name = normalise(sign["name"])
        # "Dot Sign (Spot Sign)": the parenthesis holds a synonym or a qualifier.
        main = normalise(re.sub(r"\(.*?\)", " ", name))
        inner = [normalise(x) for x in re.findall(r"\((.*?)\)", name)]
        forms = [main] + [x for x in inner if "sign" in x or "pattern" in x]
        forms = [f for f in forms if ALLOWED_CHARS.match(f)]
        if forms:
            entries.append([v for f in forms for v in variants(f)])
    return entries


def radlex_keep(name: str) -> str | None:
    """The reason a RadLex name is rejected, or None to keep it."""
    if not ALLOWED_CHARS.match(name):
        return "punctuation (inverted or compound ontology name)"
    tokens = words_of(name)
    if not tokens or len(tokens) > MAX_WORDS:
        return f"more than {MAX_WORDS} words"
    if LATERALITY & set(tokens):
        return "lateralised copy (the unlateralised term is matched inside it)"
    if SCAFFOLD_PREFIX.match(name):
        return "ontology scaffolding ('set of', 'surface of' ...)"
    if name.count(" of ") >= 2 or tokens[0] == "organ":
        return "ontology paraphrase ('serosa of zone of ...', 'organ component ...')"
    if tokens[-1] in CATEGORY_LAST_WORD:
        return "category name ('... disorder', '... entity')"
    if len(tokens) == 1 and len(tokens[0]) < 3:
        return "one or two letters"
    return None


def radlex_entries(path: Path) -> tuple[list[list[str]], Counter]:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        rows = [r for r in csv.reader(handle) if len(r) == 3]
    children: dict[str, list[str]] = defaultdict(list)
    name_of = {}
    for name, rid, parent in rows:
        children[parent].append(rid)
        name_of[rid] = name
    selected: set[str] = set()
    for root in SELECT_SUBTREES:
        stack = [root]
        while stack:
            rid = stack.pop()
            if rid in EXCLUDE_SUBTREES or rid in selected:
                continue
            selected.add(rid)
            stack.extend(children[rid])
    entries, rejected = [], Counter()
    for rid in sorted(selected, key=lambda r: int(r[3:])):
        name = normalise(re.sub(r"\s*\(.*?\)", "", name_of[rid]))
        reason = radlex_keep(name)
        if reason:
            rejected[reason] += 1
        else:
            entries.append(variants(name))
    rejected["selected subtree nodes"] = len(selected)
    return entries, rejected


class Merger:
    """Groups surface forms into keywords; the first source to name a keyword wins."""

    def __init__(self) -> None:
        self.group_of: dict[str, int] = {}
        self.groups: list[list[str]] = []
        self.sources: list[list[str]] = []

    def add(self, forms: list[str], source: str) -> None:
        forms = [f for f in dict.fromkeys(forms) if words_of(f)]
        hit = sorted({self.group_of[f] for f in forms if f in self.group_of})
        if not hit:
            self.groups.append([])
            self.sources.append([])
            hit = [len(self.groups) - 1]
        target = hit[0]
        for other in hit[1:]:  # a form shared by two keywords joins them
            for form in self.groups[other]:
                self.group_of[form] = target
            self.groups[target].extend(self.groups[other])
            self.sources[target].extend(self.sources[other])
            self.groups[other], self.sources[other] = [], []
        for form in forms:
            if form not in self.group_of:
                self.group_of[form] = target
                self.groups[target].append(form)
        if source not in self.sources[target]:
            self.sources[target].append(source)

    def keywords(self) -> list[tuple[str, list[str], list[str]]]:
        out = [(g[0], g[1:], s) for g, s in zip(self.groups, self.sources, strict=True) if g]
        return sorted(out, key=lambda k: k[0])


def build(vocab: Path, out: Path, sample: int) -> None:
    stop = read_stoplist(SOURCES_DIR / "generic_stoplist.txt")
    stop |= {many for word in stop if (many := plural(word))}
    board = read_list(SOURCES_DIR / "board_radiology.txt")
    chexpert, chexpert_dropped = chexpert_entries(vocab / "chexpert" / "phrases" / "mention")
    signs = semantic_dict_entries(vocab / "radiology_semantic_dict" / "imaging_signs.json")
    radlex, radlex_rejected = radlex_entries(vocab / "radlex" / "Radlex.csv")

    merger = Merger()
    per_source: Counter = Counter()
    generic_dropped: dict[str, list[str]] = defaultdict(list)
    for source, entries, curated in (
        ("board", board, True),
        ("chexpert", chexpert, False),
        ("radiology_semantic_dict", signs, False),
        ("radlex", radlex, False),
    ):
        for forms in entries:
            if not curated and is_generic(forms, stop):
                generic_dropped[source].append(forms[0])
                continue
            merger.add(forms, source)
            per_source[source] += 1
    keywords = merger.keywords()

    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# himed-rewards medical keyword vocabulary, built by scripts/build_keywords.py.",
        "# Columns: keyword, surface variants ('|'-separated), sources. Licences: NOTICE.",
        "keyword\tvariants\tsources",
    ]
    lines += [f"{k}\t{'|'.join(v)}\t{','.join(s)}" for k, v, s in keywords]
    (out / "keywords.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    by_source = Counter(src for _, _, s in keywords for src in s)
    (out / "NOTICE").write_text(notice(vocab, by_source, len(keywords)), encoding="utf-8")

    print(f"wrote {out / 'keywords.tsv'}: {len(keywords)} keywords, "
          f"{sum(1 + len(v) for _, v, _ in keywords)} surface forms")
    print("entries accepted per source (before merging):", dict(per_source))
    print("keywords naming each source (after merging):", dict(by_source))
    print("generic entries dropped per source:", {k: len(v) for k, v in generic_dropped.items()})
    for source, names in generic_dropped.items():
        print(f"  {source}: {', '.join(sorted(names)[:60])}")
    print("chexpert phrases dropped:", chexpert_dropped)
    print("radlex rejections:", dict(radlex_rejected))
    if sample:
        rng = random.Random(0)
        picks = rng.sample([k for k, _, _ in keywords], min(sample, len(keywords)))
        print(f"{len(picks)} random keywords:", " | ".join(picks))


def notice(vocab: Path, by_source: Counter, total: int) -> str:
    radlex_notice = (vocab / "radlex" / "NOTICE.txt").read_text(encoding="utf-8").strip()
    chexpert_licence = (vocab / "chexpert" / "LICENSE").read_text(encoding="utf-8").strip()
    rsd_licence = (vocab / "radiology_semantic_dict" / "LICENSE").read_text(encoding="utf-8")
    return f"""himed-rewards medical keyword vocabulary (keywords.tsv)
=======================================================

{total} keywords, built by scripts/build_keywords.py from the sources below. A keyword can
come from several sources; keywords per source: board {by_source['board']}, chexpert
{by_source['chexpert']}, radiology_semantic_dict {by_source['radiology_semantic_dict']},
radlex {by_source['radlex']}.

1. RadLex (radlex)
------------------
Contains terms from RadLex(R), the radiology lexicon of the Radiological Society of North
America. RadLex(R) (c) RSNA, used under the RadLex License (v2.0), which permits commercial
and non-commercial use with this attribution. Selected term names only (no definitions).

{radlex_notice}

2. CheXpert labeler mention phrases (chexpert)
----------------------------------------------
From stanfordmlgroup/chexpert-labeler @44ddeb36, phrases/mention/*.txt (prefix stems
expanded to whole words, a few generic phrases dropped).

{chexpert_licence}

3. radiology-semantic-dict 1.4.0 (radiology_semantic_dict)
---------------------------------------------------------
Names of the imaging signs rated HIGH or MEDIUM board relevance in imaging_signs.json.

{rsd_licence.strip()}

4. Curated board-relevant radiology list (board)
------------------------------------------------
scripts/keyword_sources/board_radiology.txt, written by the himed-rewards contributors;
Apache-2.0, like the rest of the project.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=Path, default=ROOT.parent / "shared" / "data" / "vocab")
    parser.add_argument("--out", type=Path, default=ROOT / "himed_rewards" / "data" / "keywords")
    parser.add_argument("--sample", type=int, default=50, help="random keywords to print")
    args = parser.parse_args()
    build(args.vocab, args.out, args.sample)


if __name__ == "__main__":
    main()
