"""Tooling for the book: code blocks that run, quotes of the source and tables of results that stay true.

A chapter quotes minigan with a marker line followed at once by a python block:

    <!-- quote: minigan/autograd.py::Function.__call__ -->
    <!-- quote: minigan/ops/elementwise.py::Exp -->
    <!-- quote: minigan/autograd.py::_run_backward from "with enable_grad()" to "node.release()" -->
    <!-- quote: minigan/__main__.py:: -->

The name after ``::`` is a qualified name (a function, a class, a method, or a
top-level assignment) looked up with ``ast``; nothing after it means the whole
file; ``from "A" to "B"`` keeps only the lines from the first one containing A
to the next one containing B. ``check`` verifies that every quoted block equals
the current source, ``sync`` rewrites the blocks from the source:

    python chapters/book.py check     # from the repository root; exit status 1 on drift
    python chapters/book.py sync

A chapter includes a table of measured results the same way, with a marker line
followed at once by a text block:

    <!-- include: benchmarks/results/lab-ring-techniques.md -->

The block holds the lines of the file's first Markdown table (its first run of
lines starting with '|'), so the numbers a chapter shows are the numbers that
were measured: ``check`` reports a block that differs from the file, and a file
that is missing or has no table; ``sync`` rewrites the block from the file (and
leaves it alone while the file is missing, so that quotes can still be synced).

The other python blocks are the chapter's runnable code: ``code_blocks`` lists
them (tests/test_chapters.py runs them), except those whose fence reads
```python no-run.
"""

from __future__ import annotations

import ast
import difflib
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

BOOK = Path(__file__).resolve().parent
ROOT = BOOK.parent

QUOTE = re.compile(
    r'^<!--\s*quote:\s*(?P<path>[^\s:]+)::(?P<name>[\w.]*)'
    r'(?:\s+from\s+"(?P<start>[^"]+)"\s+to\s+"(?P<end>[^"]+)")?\s*-->\s*$'
)
INCLUDE = re.compile(r'^<!--\s*include:\s*(?P<path>\S+)\s*-->\s*$')
FENCE = re.compile(r"^```(?P<info>.*)$")


def chapters() -> list[Path]:
    """The chapter files, in reading order (their names start with the chapter number)."""
    return sorted(BOOK.glob("[0-9][0-9]-*.md"))


# ---------------------------------------------------------------- reading a chapter

@dataclass
class Block:
    """A fenced code block: its info string, its lines (without fences) and where it sits."""

    info: str
    start: int  # index of the opening fence in the chapter's lines
    stop: int  # index of the closing fence
    code: str
    quote: re.Match | None  # the marker just above it, if any
    include: re.Match | None = None  # an include marker just above it, if any

    @property
    def line(self) -> int:
        """The 1-based line number of the first line of code."""
        return self.start + 2


def blocks(lines: list[str]) -> list[Block]:
    """Every fenced block of a chapter, each with the quote or include marker right above it (if any)."""
    found, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        if j == len(lines):
            raise ValueError(f"line {i + 1}: a code block that is never closed")
        above = lines[i - 1].strip() if i > 0 else ""
        code = "\n".join(lines[i + 1:j])
        found.append(Block(opening["info"].strip(), i, j, code, QUOTE.match(above), INCLUDE.match(above)))
        i = j + 1
    return found


def code_blocks(chapter: Path) -> list[Block]:
    """The runnable python blocks of a chapter, in order: not quotes, not marked no-run."""
    lines = chapter.read_text().splitlines()
    return [
        b for b in blocks(lines)
        if b.info.split()[:1] == ["python"] and "no-run" not in b.info.split() and b.quote is None
    ]


def stray_markers(chapter: Path) -> list[str]:
    """Quote and include markers not followed at once by a block of theirs (a typo would hide a quote)."""
    lines = chapter.read_text().splitlines()
    found = blocks(lines)
    quoted = {b.start - 1 for b in found if b.quote is not None}
    included = {b.start - 1 for b in found if b.include is not None}
    problems = []
    for n, line in enumerate(lines):
        if "<!-- quote:" in line and n not in quoted:
            problems.append(f"{chapter.name}:{n + 1}: quote marker not followed by a ```python block: {line.strip()}")
        if "<!-- include:" in line and n not in included:
            problems.append(f"{chapter.name}:{n + 1}: include marker not followed by a ```text block: {line.strip()}")
    return problems


# ---------------------------------------------------------------- the quoted source

def _named_node(tree: ast.Module, name: str, path: str):
    """The def/class/assignment called ``name`` ('Function.__call__', 'Exp', '_generators')."""
    scope = tree.body
    node = None
    for part in name.split("."):
        node = None
        for candidate in scope:
            if isinstance(candidate, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and candidate.name == part:
                node = candidate
            elif isinstance(candidate, (ast.Assign, ast.AnnAssign)):
                targets = candidate.targets if isinstance(candidate, ast.Assign) else [candidate.target]
                if any(isinstance(t, ast.Name) and t.id == part for t in targets):
                    node = candidate
        if node is None:
            raise LookupError(f"{path} has no {name!r} (no {part!r} there)")
        scope = getattr(node, "body", [])
    return node


def source_of(path: str, name: str = "", start: str | None = None, end: str | None = None) -> str:
    """The current source of ``name`` in ``path`` (repository-relative), dedented."""
    file = ROOT / path
    if not file.is_file():
        raise LookupError(f"no file {path}")
    text = file.read_text()
    if not name:
        lines = text.rstrip("\n").splitlines()
    else:
        node = _named_node(ast.parse(text), name, path)
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        lines = text.splitlines()[first - 1:node.end_lineno]
    if start is not None:
        lines = _excerpt(lines, start, end, f"{path}::{name}")
    return textwrap.dedent("\n".join(lines))


def _excerpt(lines, start, end, where):
    begin = next((i for i, line in enumerate(lines) if start in line), None)
    if begin is None:
        raise LookupError(f'{where} has no line containing "{start}"')
    finish = next((i for i in range(begin, len(lines)) if end in lines[i]), None)
    if finish is None:
        raise LookupError(f'{where} has no line containing "{end}" after the one containing "{start}"')
    return lines[begin:finish + 1]


def _wanted(marker: re.Match) -> str:
    return source_of(marker["path"], marker["name"], marker["start"], marker["end"])


# ---------------------------------------------------------------- the included tables

def table_of(path: str) -> str:
    """The first Markdown table of ``path`` (repository-relative): its first run of lines starting with '|'."""
    file = ROOT / path
    if not file.is_file():
        raise LookupError(f"{path} does not exist (yet): measure it, or remove the include marker")
    table = []
    for line in file.read_text().splitlines():
        if line.startswith("|"):
            table.append(line.rstrip())
        elif table:
            break
    if not table:
        raise LookupError(f"{path} has no Markdown table (no line starting with '|')")
    return "\n".join(table)


def _differs(where, have, wanted, label, what):
    """A problem message: ``what`` differs, with a short diff from the chapter's block to ``label``."""
    diff = list(difflib.unified_diff(have.splitlines(), wanted.splitlines(), "chapter", label, n=1, lineterm=""))
    shown = diff[:24] + ([f"... ({len(diff) - 24} more diff lines)"] if len(diff) > 24 else [])
    return f"{where}\n  {what} (run `python chapters/book.py sync` to update it):\n    " + "\n    ".join(shown)


# ---------------------------------------------------------------- check and sync

def check(paths=None) -> list[str]:
    """Problems with the quotes and the included tables, one message each (chapter, marker, a short diff).

    Empty when all is well.
    """
    problems = []
    for chapter in paths or chapters():
        chapter = Path(chapter)
        problems += stray_markers(chapter)
        for block in blocks(chapter.read_text().splitlines()):
            if block.include is not None:
                problems += _check_include(chapter, block)
            if block.quote is None:
                continue
            marker = block.quote.group(0)
            where = f"{chapter.name}:{block.start}: {marker}"
            if block.info.split()[:1] != ["python"]:
                problems.append(f"{where}\n  the block under a quote marker must be ```python")
                continue
            try:
                wanted = _wanted(block.quote)
            except (LookupError, SyntaxError) as err:
                problems.append(f"{where}\n  {err}")
                continue
            if block.code != wanted:
                what = "the quoted block differs from the source"
                problems.append(_differs(where, block.code, wanted, "source", what))
    return problems


def _check_include(chapter, block) -> list[str]:
    where = f"{chapter.name}:{block.start}: {block.include.group(0)}"
    if block.info.split()[:1] != ["text"]:
        return [f"{where}\n  the block under an include marker must be ```text"]
    try:
        wanted = table_of(block.include["path"])
    except LookupError as err:
        return [f"{where}\n  {err}"]
    if block.code == wanted:
        return []
    path = block.include["path"]
    return [_differs(where, block.code, wanted, path, f"the included table differs from the table in {path}")]


def sync(paths=None) -> list[str]:
    """Rewrite every quoted block from the source, and every included table from its file
    (while that file exists); return the chapters that changed."""
    changed = []
    for chapter in paths or chapters():
        chapter = Path(chapter)
        lines = chapter.read_text().splitlines()
        # From the last block up, so that earlier line numbers stay valid.
        for block in reversed(blocks(lines)):
            if block.quote is not None and block.info.split()[:1] == ["python"]:
                lines[block.start + 1:block.stop] = _wanted(block.quote).splitlines()
            elif block.include is not None and block.info.split()[:1] == ["text"]:
                try:
                    lines[block.start + 1:block.stop] = table_of(block.include["path"]).splitlines()
                except LookupError:
                    pass  # a missing file, or one without a table: check reports it, the quotes still sync
        text = "\n".join(lines) + "\n"
        if text != chapter.read_text():
            chapter.write_text(text)
            changed.append(chapter.name)
    return changed


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv not in (["check"], ["sync"]):
        print("usage: python chapters/book.py check|sync", file=sys.stderr)
        return 2
    if argv == ["sync"]:
        changed = sync()
        print(f"updated {', '.join(changed)}" if changed else "every quote and table already matches its source")
    problems = check()
    for problem in problems:
        print(problem + "\n")
    if argv == ["check"]:
        print(f"{len(problems)} problem(s)" if problems else "every quote matches the source, every table its file")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
