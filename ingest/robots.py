"""robots.txt as RFC 9309 reads it, for the one question a sync asks: may this path be fetched?

The standard library's `urllib.robotparser` predates the RFC: it applies the first matching
rule rather than the longest, and knows neither `*` nor `$` in paths, so a robots.txt such as
`Disallow: /` + `Allow: /wp-json/` would be misread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class _Rule:
    allow: bool
    pattern: str

    def matches(self, path: str) -> bool:
        regex = "".join(".*" if c == "*" else re.escape(c) for c in self.pattern.rstrip("$"))
        anchored = self.pattern.endswith("$")
        return re.match(regex + ("$" if anchored else ""), path) is not None


class RobotsRules:
    """The rules of one robots.txt that apply to one product token."""

    def __init__(self, rules: list[_Rule]) -> None:
        self._rules = rules

    @classmethod
    def allow_all(cls) -> RobotsRules:
        """What an absent robots.txt (any 4xx) means."""
        return cls([])

    @classmethod
    def parse(cls, text: str, product_token: str) -> RobotsRules:
        """The rules of the groups naming `product_token`, else of the `*` groups.

        Groups naming the same agent are merged, as RFC 9309 section 2.2.1 asks; lines this
        parser does not know (Sitemap, Crawl-delay, HTML from a misconfigured server) are
        skipped.
        """
        token = product_token.lower()
        groups: list[tuple[set[str], list[_Rule]]] = []
        in_agents = False
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            key, sep, value = line.partition(":")
            if not sep:
                continue
            key, value = key.strip().lower(), value.strip()
            if key == "user-agent":
                if not in_agents:
                    groups.append((set(), []))
                    in_agents = True
                groups[-1][0].add(value.lower())
            elif key in ("allow", "disallow") and groups:
                in_agents = False
                if value:  # an empty Disallow allows everything: no rule
                    groups[-1][1].append(_Rule(key == "allow", value))
        mine = [rules for agents, rules in groups if token in agents]
        if not mine:
            mine = [rules for agents, rules in groups if "*" in agents]
        return cls([rule for rules in mine for rule in rules])

    def allows(self, path: str) -> bool:
        """Whether `path` (with its query) may be fetched: the longest match wins, ties allow."""
        if path == "/robots.txt":
            return True
        matching = [rule for rule in self._rules if rule.matches(path)]
        if not matching:
            return True
        return max(matching, key=lambda rule: (len(rule.pattern), rule.allow)).allow
