"""The book's chapters stay true: their code runs, and their quotes match minigan's source.

Every ```python block of a chapter runs, in order, in one namespace per chapter
(blocks marked ```python no-run and quotes of the source are skipped); a
traceback points at the chapter's own line numbers. The quotes are checked by
chapters/book.py, which can also rewrite them: python chapters/book.py sync.
"""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"


def _load_book():
    spec = importlib.util.spec_from_file_location("minigan_book", CHAPTERS / "book.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


book = _load_book()
CHAPTER_FILES = book.chapters()


def test_there_are_chapters():
    names = [c.name for c in CHAPTER_FILES]
    assert names[:3] == ["01-tensors-and-devices.md", "02-autograd.md", "03-gradient-checking.md"], names


@pytest.mark.parametrize("chapter", CHAPTER_FILES, ids=lambda p: p.stem)
def test_chapter_code_runs(chapter, monkeypatch):
    monkeypatch.chdir(CHAPTERS.parent)  # chapters may name files from the repository root
    blocks = book.code_blocks(chapter)
    assert blocks, f"{chapter.name} has no runnable ```python block"
    namespace = {"__name__": f"chapter_{chapter.stem.replace('-', '_')}"}
    for block in blocks:
        # Pad with blank lines so that a traceback gives the line number in the chapter.
        code = compile("\n" * (block.line - 1) + block.code, str(chapter), "exec")
        try:
            exec(code, namespace)
        except Exception as err:
            raise AssertionError(
                f"{chapter.name}: the python block at line {block.line} failed: {type(err).__name__}: {err}"
            ) from err


def test_quotes_match_the_source():
    problems = book.check()
    assert not problems, (
        "the chapters quote source that has changed; run `python chapters/book.py sync` "
        "and reread the prose around each quote:\n\n" + "\n\n".join(problems)
    )


def test_index_lists_every_chapter():
    index = (CHAPTERS / "README.md").read_text()
    for chapter in CHAPTER_FILES:
        assert f"({chapter.name})" in index, f"chapters/README.md does not link {chapter.name}"


def test_figures_exist():
    for chapter in CHAPTER_FILES:
        for figure in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", chapter.read_text()):
            assert (CHAPTERS / figure).is_file(), (
                f"{chapter.name} shows {figure}, which is missing; run python chapters/figures/make_figures.py"
            )


def test_book_tool_finds_drift(tmp_path):
    """check() reports a stale quote with the chapter, the marker and a diff; sync() repairs it."""
    chapter = tmp_path / "99-drift.md"
    stale = "def get_namespace(*arrays):\n    return 'an old version'"
    chapter.write_text(f"Text.\n\n<!-- quote: minigan/backend.py::get_namespace -->\n```python\n{stale}\n```\n")
    (problem,) = book.check([chapter])
    assert "99-drift.md:3" in problem and "get_namespace" in problem and "book.py sync" in problem
    assert "-    return 'an old version'" in problem
    assert book.sync([chapter]) == ["99-drift.md"]
    assert book.check([chapter]) == []
    assert book.source_of("minigan/backend.py", "get_namespace") in chapter.read_text()


def test_book_tool_reports_unknown_names(tmp_path):
    chapter = tmp_path / "98-typo.md"
    chapter.write_text("<!-- quote: minigan/autograd.py::Function.__cal__ -->\n```python\n```\n\n<!-- quote: minigan/nope.py:: -->\n\n```python\n```\n")
    problems = book.check([chapter])
    assert any("no 'Function.__cal__'" in p for p in problems), problems
    assert any("not followed by a ```python block" in p for p in problems), problems


def test_book_tool_keeps_included_tables_in_sync(tmp_path, monkeypatch):
    """An include marker holds a results file's first table: check() reports a stale or missing one, sync() fills it."""
    monkeypatch.setattr(book, "ROOT", tmp_path)
    results = tmp_path / "benchmarks" / "results" / "lab-tiny.md"
    results.parent.mkdir(parents=True)
    table = "| configuration | seeds | modes covered |\n|---|---|---|\n| vanilla | 3 | 6.00 ± 1.00 |"
    results.write_text(f"# A tiny experiment\n\nWhat it compares.\n\n{table}\n\nFailed cells:\n\n| not | this one |\n")
    chapter = tmp_path / "97-results.md"
    chapter.write_text("Text.\n\n<!-- include: benchmarks/results/lab-tiny.md -->\n```text\n```\n\nMore text.\n")

    (problem,) = book.check([chapter])
    assert "97-results.md:3" in problem and "lab-tiny.md" in problem and "book.py sync" in problem
    assert "+| vanilla | 3 | 6.00 ± 1.00 |" in problem
    assert book.code_blocks(chapter) == []                # an included table is not code
    assert book.sync([chapter]) == ["97-results.md"]
    assert book.check([chapter]) == []
    assert f"```text\n{table}\n```\n\nMore text." in chapter.read_text()   # the first table only

    results.write_text(results.read_text().replace("6.00 ± 1.00", "7.00 ± 0.50"))
    (problem,) = book.check([chapter])
    assert "-| vanilla | 3 | 6.00 ± 1.00 |" in problem and "+| vanilla | 3 | 7.00 ± 0.50 |" in problem

    results.unlink()
    (problem,) = book.check([chapter])
    assert "benchmarks/results/lab-tiny.md does not exist" in problem
    assert book.sync([chapter]) == []                     # left alone while the file is missing


def test_book_tool_reports_a_misplaced_include_marker(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "ROOT", tmp_path)
    (tmp_path / "r.md").write_text("| a |\n|---|\n")
    chapter = tmp_path / "96-misplaced.md"
    chapter.write_text("<!-- include: r.md -->\n\n```text\n```\n\n<!-- include: r.md -->\n```python\npass\n```\n")
    problems = book.check([chapter])
    assert any("include marker not followed by a ```text block" in p for p in problems), problems
    assert any("must be ```text" in p for p in problems), problems
