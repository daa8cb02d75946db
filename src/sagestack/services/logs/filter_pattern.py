"""CloudWatch Logs filter patterns (the text form FilterLogEvents takes), compiled into the log store's
``EventFilter``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...store.logs import EventFilter
from .errors import invalid


@dataclass(frozen=True)
class FilterPattern:
    """The text form of CloudWatch Logs filter patterns: ``ERROR``, ``"exact phrase"``, several
    terms (all must match), ``?a ?b`` (any), ``-term`` (must not match), ``%regex%``. Matching is
    case-sensitive, as in AWS."""

    required: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    regex: re.Pattern | None = None

    @classmethod
    def parse(cls, text: str | None) -> FilterPattern:
        text = (text or "").strip()
        if not text or text in ('""', "''"):
            return cls()
        if len(text) >= 2 and text[0] == "%" and text[-1] == "%":
            try:
                return cls(regex=re.compile(text[1:-1]))
            except re.error:
                raise invalid("Invalid filter pattern: the regular expression does not compile.") from None
        if text[0] in "{[":
            raise invalid(
                "Invalid filter pattern: JSON ({ $.field = … }) and space-delimited ([a, b]) "
                'patterns are not supported by sagestack; use terms, "quoted phrases", '
                "?optional, -excluded or %regex%."
            )
        required: list[str] = []
        any_of: list[str] = []
        excluded: list[str] = []
        for match in re.finditer(r'([?-]?)(?:"((?:[^"\\]|\\.)*)"|(\S+))', text):
            prefix, quoted, bare = match.groups()
            term = quoted.replace('\\"', '"') if quoted is not None else bare
            if not term:
                continue
            {"": required, "?": any_of, "-": excluded}[prefix].append(term)
        return cls(tuple(required), tuple(any_of), tuple(excluded))

    @property
    def empty(self) -> bool:
        return not (self.required or self.any_of or self.excluded or self.regex)

    def matches(self, message: str) -> bool:
        if self.regex is not None:
            return self.regex.search(message) is not None
        if any(term not in message for term in self.required):
            return False
        if self.any_of and not any(term in message for term in self.any_of):
            return False
        return not any(term in message for term in self.excluded)

    def compile(self) -> EventFilter:
        """The filter the log store applies while it scans: plain terms narrow the scan in SQL,
        ``matches`` decides."""
        if self.empty:
            return EventFilter()
        if self.regex is not None:
            return EventFilter(matches=self.matches)
        return EventFilter(self.required, self.any_of, self.matches)
