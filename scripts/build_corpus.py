"""Build ``data/corpus/python_docs.jsonl`` from Debian's ``python3.11-doc`` package.

This documents, and reproduces, how the shipped example corpus was made. It is never run by the tests.

Steps (as root on a Debian machine)::

    cd /tmp && apt-get update && apt-get download python3.11-doc
    dpkg-deb -x python3.11-doc_*.deb /tmp/pydoc
    python scripts/build_corpus.py --root /tmp/pydoc/usr/share/doc/python3.11/html/_sources

The package ships the reStructuredText sources of the documentation as ``_sources/**/*.rst.txt``. This script
reads a fixed list of them (tutorial, FAQ, a few HOWTOs, a few library modules), turns the markup into plain
prose with a small line-based converter (code samples, doctests, tables and index directives are dropped; API
signatures are kept), splits each section into passages of roughly 300 to 800 characters and writes one JSON
object per line::

    {"id": "tutorial/datastructures#0003", "title": "Data Structures > More on Lists",
     "source": "tutorial/datastructures.rst", "section": "More on Lists", "text": "..."}

It also writes ``data/corpus/LICENSE`` from the package's own ``copyright.rst.txt`` and ``license.rst.txt``
(the history and terms up to, not including, the licences of incorporated third-party software, which cover
code and not the documentation text).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

RELEASE = "3.11.2"
MIN_CHARS = 300
MAX_CHARS = 800
DROP_BELOW = 160

DOCUMENTS: tuple[str, ...] = (
    *(
        f"tutorial/{name}"
        for name in (
            "appetite",
            "interpreter",
            "introduction",
            "controlflow",
            "datastructures",
            "modules",
            "inputoutput",
            "errors",
            "classes",
            "stdlib",
            "stdlib2",
            "venv",
            "whatnow",
            "interactive",
            "floatingpoint",
            "appendix",
        )
    ),
    *(f"faq/{name}" for name in ("general", "programming", "design", "library", "extending", "installed")),
    *(
        f"howto/{name}"
        for name in (
            "sorting",
            "logging",
            "regex",
            "unicode",
            "functional",
            "descriptor",
            "enum",
            "argparse",
            "sockets",
            "annotations",
            "ipaddress",
        )
    ),
    *(
        f"library/{name}"
        for name in (
            "json",
            "csv",
            "sqlite3",
            "pathlib",
            "collections",
            "itertools",
            "functools",
            "dataclasses",
            "datetime",
            "secrets",
            "hashlib",
            "hmac",
            "tempfile",
            "shutil",
            "subprocess",
            "threading",
            "asyncio-task",
            "contextlib",
            "unittest",
            "venv",
            "zipfile",
            "heapq",
            "bisect",
            "statistics",
            "random",
        )
    ),
)

HEADING_CHARS = set("=-~^*#\"'+`:._")
DROP_DIRECTIVES = {
    "index",
    "toctree",
    "highlight",
    "module",
    "moduleauthor",
    "sectionauthor",
    "currentmodule",
    "testsetup",
    "testcleanup",
    "testcode",
    "testoutput",
    "doctest",
    "code-block",
    "sourcecode",
    "code",
    "literalinclude",
    "productionlist",
    "image",
    "figure",
    "raw",
    "only",
    "tabularcolumns",
    "csv-table",
    "table",
    "list-table",
    "include",
    "audit-event",
    "availability",
    "rubric",
    "parsed-literal",
    "cmdoption",
    "option",
    "program",
    "impl-detail",
    "opcode",
    "c:function",
    "c:macro",
    "c:type",
    "c:member",
    "c:var",
    "seealso",
    "footnote",
}
SIGNATURE_DIRECTIVES = {
    "function",
    "method",
    "class",
    "attribute",
    "data",
    "exception",
    "decorator",
    "classmethod",
    "staticmethod",
    "abstractmethod",
    "coroutinefunction",
    "coroutinemethod",
    "property",
}
VERSION_DIRECTIVES = {
    "versionadded": "New in version",
    "versionchanged": "Changed in version",
    "deprecated": "Deprecated since version",
}

_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+([\w:-]+)::\s*(.*)$")
_COMMENT_OR_TARGET = re.compile(r"^\s*\.\.(\s|$)")
_ROLE_WITH_TARGET = re.compile(r":[\w:-]+:`([^`<]*?)\s*<[^`>]*>`")
_ROLE = re.compile(r":[\w:-]+:`!?~?([^`]*)`")
_LINK = re.compile(r"`([^`<]+?)\s*<[^`>]+>`__?")
_REF = re.compile(r"`([^`]+)`__?")
_LITERAL = re.compile(r"``(.+?)``")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_EMPH = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_FOOTNOTE = re.compile(r"\s*\[#[\w-]*\]_")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


@dataclass
class Section:
    """A titled run of plain-text paragraphs from one document."""

    title: str
    paragraphs: list[str]


def inline(text: str) -> str:
    """Turn reST inline markup into plain text."""
    literals: list[str] = []  # ``code`` is verbatim (a backslash in it is real): set aside, restored last

    def keep(match: re.Match[str]) -> str:
        literals.append(match.group(1))
        return f"\x00{len(literals) - 1}\x00"

    text = _LITERAL.sub(keep, text)
    text = _ROLE_WITH_TARGET.sub(r"\1", text)
    text = _ROLE.sub(lambda m: m.group(1).split(".")[-1] if "`~" in m.group(0) else m.group(1).lstrip("."), text)
    text = _LINK.sub(r"\1", text)
    text = _REF.sub(r"\1", text)
    text = _STRONG.sub(r"\1", text)
    text = _EMPH.sub(r"\1", text)
    text = _FOOTNOTE.sub("", text)
    text = text.replace("|release|", RELEASE).replace("|version|", "3.11")
    text = re.sub(r"\\(.)", r"\1", text).replace("\\", "")  # a reST escape (backslash + char) means the char
    text = re.sub("\x00(\\d+)\x00", lambda m: literals[int(m.group(1))], text)
    return re.sub(r"\s+", " ", text).strip()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_underline(line: str) -> bool:
    s = line.rstrip()
    return len(s) >= 3 and s[0] in HEADING_CHARS and set(s) == {s[0]}


def _skip_block(lines: list[str], i: int, base: int) -> int:
    """Return the index after the indented block that follows line ``i - 1`` (deeper than ``base``)."""
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
        i += 1
    return i


def parse_sections(source: str) -> tuple[str, list[Section]]:
    """Split one .rst document into titled sections of plain paragraphs.

    Returns:
        The document title and its sections, in order.
    """
    lines = source.splitlines()
    doc_title = ""
    sections: list[Section] = [Section("", [])]
    para: list[str] = []

    def flush() -> None:
        if para:
            text = inline(" ".join(para))
            if text.endswith("::"):
                text = text[:-2].rstrip() + ":" if not text.endswith(" ::") else text[:-3].rstrip()
            if text and not _is_underline(text) and re.search(r"[A-Za-z]{3}", text):
                sections[-1].paragraphs.append(text)
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        # Heading with overline: ***\nTitle\n***
        if _is_underline(line) and i + 2 < len(lines) and _is_underline(lines[i + 2]) and lines[i + 1].strip():
            flush()
            title = inline(lines[i + 1])
            doc_title = doc_title or title
            sections.append(Section(title, []))
            i += 3
            continue
        # Heading with underline only.
        if stripped and _indent(line) == 0 and _is_underline(nxt) and len(nxt.rstrip()) >= len(stripped) - 1:
            flush()
            title = inline(stripped)
            doc_title = doc_title or title
            sections.append(Section(title, []))
            i += 2
            continue
        if not stripped:
            ends_literal = bool(para) and para[-1].rstrip().endswith("::")
            flush()
            i += 1
            if ends_literal:
                i = _skip_block(lines, i, _indent_of_last(lines, i))
            continue
        match = _DIRECTIVE.match(line)
        if match:
            flush()
            base, name, arg = len(match.group(1)), match.group(2), match.group(3)
            i += 1
            # Skip the directive's option lines (":noindex:" and friends).
            while i < len(lines) and lines[i].strip().startswith(":") and _indent(lines[i]) > base:
                i += 1
            if name in DROP_DIRECTIVES or (
                name not in SIGNATURE_DIRECTIVES
                and name not in VERSION_DIRECTIVES
                and name
                not in {
                    "note",
                    "warning",
                    "important",
                    "tip",
                    "attention",
                    "caution",
                    "hint",
                    "danger",
                    "admonition",
                    "describe",
                    "envvar",
                }
            ):
                i = _skip_block(lines, i, base)
                continue
            if name in SIGNATURE_DIRECTIVES or name in {"describe", "envvar"}:
                para.append(arg.strip())
                flush()
            elif name in VERSION_DIRECTIVES:
                version, _, rest = arg.partition(" ")
                para.append(f"{VERSION_DIRECTIVES[name]} {version}." + (f" {rest}" if rest else ""))
            continue
        if _COMMENT_OR_TARGET.match(line):
            flush()
            i = _skip_block(lines, i + 1, _indent(line))
            continue
        if stripped.startswith(">>>") or stripped.startswith("+--") or stripped.startswith("+=="):
            flush()
            while i < len(lines) and lines[i].strip():
                i += 1
            continue
        if stripped.startswith("|") or (set(stripped) <= {"=", " "} and "=" in stripped):
            flush()
            i += 1
            continue
        if stripped.startswith(("* ", "- ", "#. ")) or re.match(r"^\d+\.\s", stripped):
            flush()
        para.append(stripped)
        i += 1
    flush()
    return doc_title, [s for s in sections if s.paragraphs]


def _indent_of_last(lines: list[str], i: int) -> int:
    j = i - 2
    while j >= 0 and not lines[j].strip():
        j -= 1
    return _indent(lines[j]) if j >= 0 else 0


def split_long(paragraph: str) -> list[str]:
    """Split a paragraph longer than ``MAX_CHARS`` at sentence ends (or spaces, as a last resort)."""
    if len(paragraph) <= MAX_CHARS:
        return [paragraph]
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(paragraph):
        while len(sentence) > MAX_CHARS:
            cut = sentence.rfind(" ", 0, MAX_CHARS)
            cut = cut if cut > 0 else MAX_CHARS
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:cut])
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > MAX_CHARS:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return pieces


def chunk(paragraphs: list[str]) -> Iterator[str]:
    """Pack paragraphs into passages of ``MIN_CHARS``..``MAX_CHARS`` characters where the text allows."""
    pieces = [p for para in paragraphs for p in split_long(para)]
    out: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 1 + len(piece) > MAX_CHARS:
            out.append(current)
            current = piece
        else:
            current = f"{current} {piece}".strip()
    if current:
        if out and len(current) < MIN_CHARS and len(out[-1]) + 1 + len(current) <= MAX_CHARS + 200:
            out[-1] = f"{out[-1]} {current}"
        else:
            out.append(current)
    yield from (p for p in out if len(p) >= DROP_BELOW)


def build(root: Path) -> list[dict[str, str]]:
    """Read every document of ``DOCUMENTS`` under ``root`` and return the passages."""
    records: list[dict[str, str]] = []
    for doc in DOCUMENTS:
        source = (root / f"{doc}.rst.txt").read_text(encoding="utf-8")
        doc_title, sections = parse_sections(source)
        n = 0
        for section in sections:
            for text in chunk(section.paragraphs):
                title = doc_title if section.title in ("", doc_title) else f"{doc_title} > {section.title}"
                records.append(
                    {
                        "id": f"{doc}#{n:04d}",
                        "title": title,
                        "source": f"{doc}.rst",
                        "section": section.title or doc_title,
                        "text": text,
                    }
                )
                n += 1
    return records


def license_text(root: Path) -> str:
    """The documentation's copyright notice and licence terms, as shipped in the package."""
    copyright_text = (root / "copyright.rst.txt").read_text(encoding="utf-8")
    license_rst = (root / "license.rst.txt").read_text(encoding="utf-8")
    license_rst = license_rst.split(".. _OtherLicenses:")[0]
    header = (
        "The passages in python_docs.jsonl are extracted from the Python 3.11.2 documentation as shipped in\n"
        "Debian's python3.11-doc package. The documentation's own copyright notice and licence follow verbatim\n"
        f"(reStructuredText sources; |release| stands for {RELEASE}).\n\n"
    )
    return header + copyright_text.rstrip() + "\n\n" + license_rst.rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="the package's html/_sources directory")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "corpus")
    args = parser.parse_args(argv)
    records = build(args.root)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "python_docs.jsonl").open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    (args.out / "LICENSE").write_text(license_text(args.root), encoding="utf-8")
    lengths = sorted(len(r["text"]) for r in records)
    print(f"{len(records)} passages; chars min {lengths[0]} median {lengths[len(lengths) // 2]} max {lengths[-1]}")


if __name__ == "__main__":
    main()
