"""Code blocks of a Markdown page, with the ``<!-- docs-test: ... -->`` markers that steer their test.

* ```` ```python ```` and ```` ```bash ```` blocks run, in page order;
* ``<!-- docs-test: skip — reason -->`` just before a block: it does not run (the reason is required);
* ``<!-- docs-test: output -->`` just before a ```` ```text ```` block: each of its lines must appear in
  what the last runnable block printed — digits may differ, and ``...`` stands for anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(?P<lang>[A-Za-z0-9_+-]*)\s*$")
MARKER = re.compile(r"^<!--\s*docs-test:\s*(?P<kind>skip|output)\b(?P<rest>.*?)-->\s*$")
RUNNABLE = ("python", "bash")


@dataclass
class Block:
    lang: str
    code: str
    line: int  # 1-based line of the opening fence
    skip: str | None = None  # the reason, for blocks that do not run
    expected: str | None = None  # the ```text block checked against this block's output

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.lang}"


def parse(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    pending: tuple[str, str] | None = None  # the marker waiting for the next block
    i = 0
    while i < len(lines):
        text = lines[i]
        marker = MARKER.match(text.strip())
        fence = FENCE.match(text)
        if marker:
            pending = (marker.group("kind"), marker.group("rest").strip(" -—:"))
        elif fence:
            end = i + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            if end >= len(lines):
                raise ValueError(f"{path}:{i + 1}: unclosed code block")
            lang = fence.group("lang")
            code = "\n".join(lines[i + 1 : end]) + "\n"
            kind, rest = pending or ("", "")
            pending = None
            if kind == "output":
                runnable = [b for b in blocks if b.lang in RUNNABLE and not b.skip]
                if lang != "text" or not runnable:
                    raise ValueError(
                        f"{path}:{i + 1}: an output marker must precede a text block after a runnable block"
                    )
                runnable[-1].expected = code
            elif lang in RUNNABLE:
                if kind == "skip" and not rest:
                    raise ValueError(f"{path}:{i + 1}: a skip marker needs a reason")
                blocks.append(Block(lang, code, i + 1, skip=rest if kind == "skip" else None))
            elif kind:
                raise ValueError(f"{path}:{i + 1}: a docs-test marker before a {lang or 'plain'} block")
            i = end
        elif text.strip() and pending is not None:
            raise ValueError(f"{path}:{i + 1}: a docs-test marker must come right before a code block")
        i += 1
    return blocks


def output_pattern(line: str) -> re.Pattern:
    """A shown output line as a pattern: digit runs match any digits, ``...`` matches anything."""
    pattern = re.escape(line.strip())
    pattern = pattern.replace(re.escape("..."), ".*?")
    pattern = re.sub(r"\d+", lambda _: r"\d+", pattern)
    return re.compile(pattern)


def missing_lines(expected: str, output: str) -> list[str]:
    lines = [line for line in expected.splitlines() if line.strip()]
    return [line for line in lines if not output_pattern(line).search(output)]
