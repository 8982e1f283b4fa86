"""The shell commands README.md shows, found the way a reader finds them.

A command is each logical line (backslash continuations, open quotes and here-documents
joined) of an indented code block, or of a fenced block labelled `sh`, `bash`, `shell`
or `console` or unlabelled with a line that starts like a command; and every inline code
span that starts like one: `make `, `curl `, `livebridge `, `.venv/bin/`, optionally
after `NAME=value` settings, with more than the program's name. A line of settings alone
(`NAME=value ...`) is no command.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[3] / "README.md"
SHELL_LABELS = ("sh", "bash", "shell", "console")
_SETTINGS = r"(?:[A-Z_][A-Z0-9_]*=\S*\s+)*"
COMMAND_START = re.compile(_SETTINGS + r"(?:make|curl|livebridge|\.venv/bin/\S+)(?:\s|$)")
_ONLY_SETTINGS = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*=\S*[;\s]*)+$")
_HEREDOC = re.compile(r"<<-?\s*'?\"?(\w+)")


@dataclass(frozen=True)
class Shown:
    """One command as the README shows it."""

    command: str
    """Whitespace collapsed, comment removed: the key it is known by."""
    line: int
    """Its first line in README.md."""
    text: str
    """As written (continuation lines and a here-document's body included)."""
    block: int | None = None
    """The first line of its code block; None for an inline span."""
    comment: str = ""

    def __str__(self) -> str:
        return f"`{self.command}` (README.md line {self.line})"


def shown(readme: str | None = None) -> list[Shown]:
    """Every command in `readme` (default: the repository's README.md), in order."""
    lines = (README.read_text() if readme is None else readme).splitlines()
    found: list[Shown] = []
    prose: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            label = line[3:].strip()
            end = i + 1
            while end < len(lines) and not lines[end].startswith("```"):
                end += 1
            body = lines[i + 1 : end]
            if label in SHELL_LABELS or (not label and any(COMMAND_START.match(b) for b in body)):
                found += _commands(body, i + 2, block=i + 1)
            prose += [""] * (end + 1 - i)
            i = end + 1
            continue
        if line.startswith("    ") and (i == 0 or not lines[i - 1].strip()):
            end = i
            while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
                end += 1
            found += _commands([b[4:] for b in lines[i:end]], i + 1, block=i + 1)
            prose += [""] * (end - i)
            i = end
            continue
        prose.append(line)
        i += 1
    text = "\n".join(prose)
    for span in re.finditer(r"`([^`]+)`", text):
        # A program's name alone (`make`, a `livebridge` database) names it; no command.
        if COMMAND_START.match(span.group(1)) and len(span.group(1).split()) > 1:
            number = text.count("\n", 0, span.start()) + 1
            found.append(Shown(" ".join(span.group(1).split()), number, span.group(1)))
    return sorted(found, key=lambda s: s.line)


def _commands(body: list[str], first: int, block: int) -> list[Shown]:
    found: list[Shown] = []
    k = 0
    while k < len(body):
        if not body[k].strip():
            k += 1
            continue
        start = k
        text = body[k]
        heredoc = _HEREDOC.search(text)
        if heredoc:
            while k + 1 < len(body) and body[k].strip() != heredoc.group(1):
                k += 1
            text = "\n".join(body[start : k + 1])
            head, comment = _uncommented(body[start])
        else:
            while not _complete(text) and k + 1 < len(body):
                k += 1
                text += "\n" + body[k]
            head, comment = _uncommented(text)
        k += 1
        command = " ".join(head.replace("\\\n", " ").split())
        if command and not _ONLY_SETTINGS.match(command):
            found.append(Shown(command, first + start, text, block, comment))
    return found


def _complete(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
    except ValueError:  # an open quote, or a backslash before the line's end
        return False
    return not text.endswith("\\")


def _uncommented(text: str) -> tuple[str, str]:
    """`text` without a trailing `# comment` outside quotes, and the comment."""
    for match in re.finditer(r"(?:^|\s)#\s", text):
        try:
            shlex.split(text[: match.start()])
        except ValueError:
            continue  # inside quotes
        return text[: match.start()], text[match.end() :].strip()
    return text, ""
