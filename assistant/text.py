"""Text normalisation and tokens shared by lexical search, role resolution and composition."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be been being both but by can
    could did do does doing done for from had has have having he her hers him his how i if
    in into is it its itself just me more most my no nor not now of on once only or other
    our ours out over own same she should so some such than that the their theirs them then
    there these they this those through to too under until up very was we were what when
    where which while who whom why will with without would you your yours s t tell give show list
    please like look looks happen happens usually typically kind sort thing things get gets got
    make way ways go goes person someone somebody used using well know many much
    de del la el los las le les du des un une der die das und et y en que son cuales cual quels
    quelles quel welche welcher was wie est sont es ist hat haben sind der die das""".split()
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9“\"(])")
_TOKEN = re.compile(r"[a-z0-9]+(?:[.+#][a-z0-9]+)*")
_DASHES = dict.fromkeys(map(ord, "‐‑‒–—―−"), "-")
_QUOTES = {ord("‘"): "'", ord("’"): "'", ord("“"): '"', ord("”"): '"'}


def fold(text: str) -> str:
    """Lower case, unicode dashes and quotes made plain, `&` spelled out, accents dropped."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_DASHES).translate(_QUOTES)
    # ASCII (most text, once its dashes and quotes are plain) has no accents to drop: the
    # same result in a tenth of the time.
    if text.isascii():
        return text.replace("&", " and ").lower()
    text = text.replace("&", " and ")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def stem(token: str) -> str:
    """A light plural stem (`directors` -> `director`, `kpis` -> `kpi`)."""
    if len(token) > 3 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) >= 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def tokens(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Folded, stemmed word tokens; `7)` and `30-day` give `7`, `30`, `day`."""
    found = _TOKEN.findall(fold(text))
    # Stopwords go before stemming: `does` and `this` are not words once stemmed.
    return [stem(t) for t in found if keep_stopwords or t not in STOPWORDS]


_INFLECTIONS = ("ingly", "edly", "ing", "ed")
_UNDOUBLED = frozenset("bdgmnprt")


@lru_cache(maxsize=65536)
def term_key(token: str) -> str:
    """The comparison key of a word: the word without its inflections.

    Plurals, `-ed`, `-ing`, `-ly` and a final `e` go (`measured`, `measures`, `measuring`
    and `measure` are `measur`; `planned` is `plan`; `weekly` is `week`), derivations stay:
    `experience` and `experiment`, `product` and `production`, `custom` and `customer` are
    different words, as a full stemmer would not tell.
    """
    word = stem(token)
    for suffix in _INFLECTIONS:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] in _UNDOUBLED:
                word = word[:-1]  # planned, shipped, embedded
            break
    if word.endswith("ly") and len(word) > 5:
        word = word[:-2]
    if word.endswith("ue") and len(word) > 6:
        word = word[:-2]  # catalogue, dialogue
    elif word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def key_sequence(text: str) -> list[str]:
    """The keys of every word of a text, in order, stopwords included (for phrase matching)."""
    return [term_key(t) for t in _TOKEN.findall(fold(text))]


def spellings(text: str) -> dict[str, str]:
    """Each word key of a text, with the word the text spells it as (its first one)."""
    found: dict[str, str] = {}
    for token in _TOKEN.findall(fold(text)):
        found.setdefault(term_key(token), token)
    return found


def keys(text: str) -> set[str]:
    """The keys of a text's words, without stopwords and single characters."""
    return {k for t in _TOKEN.findall(fold(text)) if (k := _word_key(t)) is not None}


@lru_cache(maxsize=65536)
def _word_key(token: str) -> str | None:
    # `keys` of one folded word, remembered: a document's items are keyed as it is read, and
    # words repeat (a few thousand distinct ones make up a corpus's hundreds of thousands).
    if token in STOPWORDS:
        return None
    stemmed = stem(token)
    return term_key(stemmed) if len(stemmed) > 1 else None


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Edit distance counting a swap of neighbours as one edit (`platfrom` -> `platform`).

    Gives up, returning `limit + 1`, once the distance exceeds `limit`.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return previous[-1]


def sentences(text: str) -> list[str]:
    """A paragraph cut between sentences (a full stop followed by a capital or a digit)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]
