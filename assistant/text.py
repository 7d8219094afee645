"""Text normalisation and tokens shared by lexical search, role resolution and composition."""

from __future__ import annotations

import re
import unicodedata

STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be been being both but by can
    could did do does doing done for from had has have having he her hers him his how i if
    in into is it its itself just me more most my no nor not now of on once only or other
    our ours out over own same she should so some such than that the their theirs them then
    there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours s t tell give show list
    please""".split()
)
_TOKEN = re.compile(r"[a-z0-9]+(?:[.+#][a-z0-9]+)*")
_DASHES = dict.fromkeys(map(ord, "‐‑‒–—―−"), "-")
_QUOTES = {ord("‘"): "'", ord("’"): "'", ord("“"): '"', ord("”"): '"'}


def fold(text: str) -> str:
    """Lower case, unicode dashes and quotes made plain, `&` spelled out, accents dropped."""
    text = unicodedata.normalize("NFKC", text).translate(_DASHES).translate(_QUOTES)
    text = text.replace("&", " and ")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def stem(token: str) -> str:
    """A light plural stem (`directors` -> `director`, `kpis` -> `kpi`)."""
    if len(token) > 3 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def tokens(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Folded, stemmed word tokens; `7)` and `30-day` give `7`, `30`, `day`."""
    found = [stem(t) for t in _TOKEN.findall(fold(text))]
    if keep_stopwords:
        return found
    return [t for t in found if t not in STOPWORDS]


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Levenshtein distance, giving up (returning limit + 1) once it exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]
