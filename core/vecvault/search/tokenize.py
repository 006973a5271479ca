"""How text becomes search terms: one analyzer for the documents and the queries of the text index.

The analyzer runs inside tantivy (Rust), so a collection of 100k texts is tokenized in well under a
second:

1. split on every character that is not a letter or a digit (Unicode-aware): ``os.path.join`` gives
   ``os``, ``path``, ``join``; ``PyArg_ParseTuple`` gives ``PyArg``, ``ParseTuple``; ``snake_case`` gives
   ``snake``, ``case``; ``E1234`` and ``CamelCase`` stay whole;
2. drop tokens longer than :data:`MAX_TOKEN_CHARS` (base64 blobs, minified lines);
3. lowercase, then fold accents to ASCII (``café`` matches ``cafe``).

Every word is indexed as written, stop words included, so quoted phrases such as ``"to be or not to
be"`` match. Stemming happens on the vocabulary, not on the text: a plain query word matches every
indexed word with the same Snowball English stem (``running`` finds ``run``, ``runs``, ``running``),
scored as the best of them; the index never stems its millions of tokens (stemming them would double
the build time), only the few words a query looks up. A query is split on whitespace into chunks:

- a chunk that looks like code (anything but letters and apostrophes inside it, or a capital after its
  first letter, or a call's ``()``: ``os.path.join``, ``is_file``, ``E1234``, ``CamelCase``, ``utf-8``,
  ``any()``) keeps every token, matched exactly (no stemming), and
  is also searched as a phrase (its tokens adjacent, in order), so ``os.path.join`` ranks the passages
  with exactly ``os.path.join`` above those that only mention ``os``, ``path`` and ``join`` apart, and
  ``is_file`` keeps its ``is``;
- a plain word that is an English stop word (:data:`STOP_WORDS`, the Snowball list) is dropped: it would
  match nearly everything;
- a part of the query in double quotes must appear as an exact phrase, stop words and all (no
  stemming).

A query left with nothing to search for (only stop words or punctuation) matches nothing. Nothing here
is stored anywhere: terms live only in the in-memory index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from vecvault.errors import ConfigurationError

__all__ = [
    "ANALYZER_NAME",
    "INSTALL_HINT",
    "MAX_TOKEN_CHARS",
    "STOP_WORDS",
    "ParsedQuery",
    "analyzer",
    "parse_query",
    "stemmer",
    "tantivy_module",
]

ANALYZER_NAME = "vecvault_text"
MAX_TOKEN_CHARS = 80
INSTALL_HINT = "Text and hybrid search need tantivy: pip install 'vecvault[text]' (or pip install tantivy)."
MAX_QUERY_CHARS = 10_000
_QUOTED = re.compile(r'"([^"]*)"')
_EDGE_PUNCTUATION = "\"'`.,;:!?()[]{}<>"

_STOP_TEXT = """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her
    hers herself it its itself they them their theirs themselves what which who whom this that these
    those am is are was were be been being have has had having do does did doing would should could
    ought a an the and but if or because as until while of at by for with about against between into
    through during before after above below to from up down in out on off over under again further then
    once here there when where why how all any both each few more most other some such no nor not only
    own same so than too very s t can will just don now d ll m o re ve y
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
"""English stop words dropped from plain query words (Snowball's list, with NLTK's contraction parts)."""


def tantivy_module() -> Any:
    """The ``tantivy`` module, or a :class:`ConfigurationError` naming the extra to install."""
    try:
        import tantivy
    except ImportError:
        raise ConfigurationError(INSTALL_HINT) from None
    return tantivy


def _builder() -> Any:
    tantivy = tantivy_module()
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_CHARS))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
    )


def analyzer() -> Any:
    """The tantivy analyzer of the indexed text (steps 1 to 3 of this module's docstring; a new one per call)."""
    return _builder().build()


def stemmer() -> Any:
    """The same analyzer followed by the Snowball English stemmer: the stems query words are matched by."""
    return _builder().filter(tantivy_module().Filter.stemmer("english")).build()


@dataclass(frozen=True)
class ParsedQuery:
    """A query string analyzed into what the index searches for.

    Attributes:
        terms: the exact terms of code chunks and quoted phrases (each adds its BM25 score).
        words: the plain words as ``(term, stem)``: each adds the BM25 score of the best indexed word of
            that stem.
        phrases: identifiers that split into several terms, as ``(offset, term)`` lists: a match adds a
            phrase score on top.
        required: the quoted phrases, as ``(offset, term)`` lists: every hit contains each of them.
    """

    terms: tuple[str, ...]
    words: tuple[tuple[str, str], ...] = field(default=())
    phrases: tuple[tuple[tuple[int, str], ...], ...] = field(default=())
    required: tuple[tuple[tuple[int, str], ...], ...] = field(default=())

    @property
    def empty(self) -> bool:
        """Nothing left to search for (the query held only stop words or punctuation)."""
        return not self.terms and not self.words and not self.required


def check_query_text(query: Any) -> str:
    """A text query as given, checked: a non-empty ``str`` of at most :data:`MAX_QUERY_CHARS` characters."""
    if not isinstance(query, str):
        raise ConfigurationError(f"The text query must be a str, not {type(query).__name__}.")
    if not query.strip():
        raise ConfigurationError("The text query is empty; pass the words or identifiers to search for.")
    if len(query) > MAX_QUERY_CHARS:
        raise ConfigurationError(
            f"The text query has {len(query)} characters; at most {MAX_QUERY_CHARS} are searched. Shorten it."
        )
    return query


def is_code(chunk: str) -> bool:
    """Whether a whitespace-free query chunk looks like code rather than a plain word (see the module doc)."""
    if "()" in chunk:
        return True  # a call: any(), list.sort()
    word = chunk.strip(_EDGE_PUNCTUATION)
    if not word:
        return False
    inner_capital = any(ch.isupper() for ch in word[1:]) and not word.isupper()
    return inner_capital or any(not (ch.isalpha() or ch in "'\u2019") for ch in word)


def parse_query(query: str, text_analyzer: Any, stem_analyzer: Any = None) -> ParsedQuery:
    """Analyze ``query`` (already checked by :func:`check_query_text`) with the index's analyzer.

    Double-quoted parts become required phrases; an unmatched quote is an ordinary character. Plain
    words are stemmed with ``stem_analyzer`` (:func:`stemmer`; without one a word is its own stem).
    """
    required: list[tuple[tuple[int, str], ...]] = []
    terms: dict[str, None] = {}
    words: dict[str, str] = {}  # stem -> the first word of that stem
    phrases: dict[tuple[tuple[int, str], ...], None] = {}

    def positioned(text: str) -> tuple[tuple[int, str], ...]:
        tokens = text_analyzer.pre_tokenize(text).tokens
        if not tokens:
            return ()
        first = tokens[0].position
        return tuple((t.position - first, t.text) for t in tokens)

    def loose(text: str) -> None:
        for chunk in text.split():
            if not is_code(chunk):
                for token in text_analyzer.pre_tokenize(chunk).tokens:
                    if chunk[token.char_offset_from : token.char_offset_to].lower() not in STOP_WORDS:
                        stems = stem_analyzer.analyze(token.text) if stem_analyzer is not None else [token.text]
                        words.setdefault(stems[0] if stems else token.text, token.text)
                continue
            found = positioned(chunk)
            for _, term in found:
                terms[term] = None
            if len(found) > 1:
                phrases[found] = None

    last = 0
    for match in _QUOTED.finditer(query):
        loose(query[last : match.start()])
        found = positioned(match.group(1))
        if found:
            required.append(found)
            for _, term in found:
                terms[term] = None
        last = match.end()
    loose(query[last:])
    return ParsedQuery(
        tuple(terms),
        tuple((word, stem) for stem, word in words.items()),
        tuple(phrases),
        tuple(dict.fromkeys(required)),
    )
