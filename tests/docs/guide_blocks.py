"""Code blocks of a Markdown page, with the ``<!-- docs-test: ... -->`` markers that steer their test.

* ```` ```python ```` and ```` ```bash ```` blocks run, in page order;
* ``<!-- docs-test: skip — reason -->`` just before a block: it does not run (the reason is required);
* ``<!-- docs-test: output -->`` just before a ```` ```text ```` block: each of its lines must appear in
  what the last runnable block printed — digits may differ, and ``...`` stands for anything.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
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


# The runner every executable page's test shares (user guide, services, remote functions, clarify,
# pipelines): one process per block, in a working directory the page's blocks share, with the
# environment ``sagestack env`` prints for the test server.

#: Variables of the developer's own AWS setup that would steer the blocks away from the test server.
OWN_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)


def page_env(server, **extra: str) -> dict[str, str]:
    """This process's environment pointed at ``server`` (``sagestack env``'s variables), with ``sagestack``
    and ``aws`` resolving to this interpreter's, plus ``extra``."""
    env = dict(os.environ)
    for key in OWN_AWS_VARIABLES:
        env.pop(key, None)
    client = server.client_env()
    client["PYTHONPATH"] = os.pathsep.join(p for p in (client["PYTHONPATH"], env.get("PYTHONPATH")) if p)
    env.update(client)
    env.update(
        SAGEMAKER_SUPPRESS_V2_WARNING="1",
        PYTHONUNBUFFERED="1",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    env.update(extra)
    return env


def run_block(
    block: Block, env: dict[str, str], cwd: Path, python: tuple[str, ...] = (), timeout: int = 300
) -> subprocess.CompletedProcess:
    """Run one block in its own process: a python block as a script (behind ``python``, a wrapper script
    that runs the block's path, where given), a bash block with ``bash -e``."""
    if block.lang == "python":
        script = cwd / f"block_{block.line}.py"
        script.write_text(block.code)
        cmd = [sys.executable, *python, str(script)]
    else:
        cmd = ["bash", "-e", "-c", block.code]
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def check_block(
    page: Path, block: Block, env: dict[str, str], cwd: Path, python: tuple[str, ...] = ()
) -> None:
    """Run ``block`` (:func:`run_block`) and assert it exits 0 and prints the output the page shows."""
    result = run_block(block, env, cwd, python)
    output = result.stdout + result.stderr
    assert result.returncode == 0, (
        f"{page.name}:{block.line} ({block.lang}) exited {result.returncode}:\n{output[-4000:]}"
    )
    if block.expected:
        missing = missing_lines(block.expected, output)
        assert not missing, (
            f"{page.name}:{block.line}: the output shown on the page does not match; "
            f"missing {missing}\n--- printed:\n{output[-4000:]}"
        )
