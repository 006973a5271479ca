"""The shared table of filter cases: a dozen small documents and the ids each filter must return.

Plain data, no vecvault import. Every adapter test (LangChain and LlamaIndex, sync and async) and the core
tests run the same table, so one filter means one thing everywhere::

    from tests.filter_cases import DOCUMENTS, FILTER_CASES, LLAMA_FILTER_CASES

    @pytest.mark.parametrize("case", FILTER_CASES, ids=lambda c: c.name)
    def test_filter(store, case):
        store.add_texts([d.text for d in DOCUMENTS], metadatas=[d.metadata for d in DOCUMENTS],
                        ids=[d.id for d in DOCUMENTS])
        hits = store.similarity_search("anything", k=len(DOCUMENTS), filter=case.mongo)
        assert {doc.id for doc in hits} == case.expected_ids

- ``case.mongo`` is the LangChain/Chroma/Mongo-style dict (``vecvault.filters.parse_filter`` syntax).
- ``case.llama`` (set on the cases LlamaIndex can express, collected in ``LLAMA_FILTER_CASES``) is a
  plain dict for ``MetadataFilters.model_validate(case.llama)``; it must give the same ``expected_ids``
  through the LlamaIndex adapter (and through ``build_metadata_filter_fn``).
- Import it as ``tests.filter_cases`` (``tests/`` is a namespace package under ``python -m pytest``).
- Search with ``k = len(DOCUMENTS)`` so that every match is returned; a filter that matches nothing must
  return an empty list, not an error.

The expected ids were written by hand from the table below (not computed by vecvault's evaluator), and the
documents deliberately mix ints and floats, bools and 0/1, ``None`` and missing keys, lists and strings.

====  ========  ======  ======  ===================  =========  ================
id    genre     year    rating  tags                 published  author
====  ========  ======  ======  ===================  =========  ================
d01   sf        1999    8.5     space, ai            True       Asimov
d02   sf        2005    7.0     ai                   False      Banks
d03   fantasy   2011    9.1     dragons, magic       True       Martin
d04   fantasy   1954    9.5     (empty list)         True       Tolkien
d05   mystery   2020    None    detective            False      christie
d06   sf        2015.0  6       space                (missing)  Le Guin
d07   history   "1990s" 7.5     (missing)            1          "" (empty)
d08   Mystery   1990    (miss.) detective, ai        None       Doyle
d09   (every key above missing; only ``note``)
d10   poetry    1855    0       classic              0          Whitman
d11   sf        2023    8.0     ai, space, robots    True       Chiang
d12   None      None    (miss.) None                 (missing)  Anonymous 100%
====  ========  ======  ======  ===================  =========  ================

Extra keys: d01 ``meta={"lang": "en"}``; d03 ``meta={"lang": "en", "ed": 2}``; d10 ``isbn=None``;
d11 ``series="Exhalation"`` and the literal dotted key ``"a.b": 1``.

Semantics the table pins (``vecvault.filters`` documents them): ``$exists`` is about the key, so a key
holding ``None`` exists (Mongo, PGVector) while every other operator treats ``None`` like a missing key;
``"meta.lang"`` is a path into the nested dict ``meta``, while the literal key ``"a.b"`` matches itself;
``{"$not": [a, b]}`` (PGVector's list form) means none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FilterDocument:
    """One document of the table."""

    id: str
    text: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class FilterCase:
    """One filter and the ids of the documents it must match."""

    name: str
    mongo: dict[str, Any]
    expected_ids: set[str]
    llama: dict[str, Any] | None = field(default=None)
    llama_reference_differs: str | None = field(default=None)
    """Why llama-index-core's ``build_metadata_filter_fn`` gives another answer (vecvault's is ``expected_ids``)."""


_NO_PATHS = "build_metadata_filter_fn reads keys literally; vecvault follows dotted paths into nested dicts"


DOCUMENTS: list[FilterDocument] = [
    FilterDocument(
        "d01",
        "I, Robot: stories of positronic minds.",
        {
            "genre": "sf",
            "year": 1999,
            "rating": 8.5,
            "tags": ["space", "ai"],
            "published": True,
            "author": "Asimov",
            "meta": {"lang": "en"},
        },
    ),
    FilterDocument(
        "d02",
        "A Culture ship mind plays games.",
        {"genre": "sf", "year": 2005, "rating": 7.0, "tags": ["ai"], "published": False, "author": "Banks"},
    ),
    FilterDocument(
        "d03",
        "Dragons return to a divided realm.",
        {
            "genre": "fantasy",
            "year": 2011,
            "rating": 9.1,
            "tags": ["dragons", "magic"],
            "published": True,
            "author": "Martin",
            "meta": {"lang": "en", "ed": 2},
        },
    ),
    FilterDocument(
        "d04",
        "A ring must be destroyed.",
        {"genre": "fantasy", "year": 1954, "rating": 9.5, "tags": [], "published": True, "author": "Tolkien"},
    ),
    FilterDocument(
        "d05",
        "A detective gathers the suspects in the library.",
        {
            "genre": "mystery",
            "year": 2020,
            "rating": None,
            "tags": ["detective"],
            "published": False,
            "author": "christie",
        },
    ),
    FilterDocument(
        "d06",
        "An envoy crosses a frozen planet.",
        {"genre": "sf", "year": 2015.0, "rating": 6, "tags": ["space"], "author": "Le Guin"},
    ),
    FilterDocument(
        "d07",
        "A chronicle of a decade of change.",
        {"genre": "history", "year": "1990s", "rating": 7.5, "published": 1, "author": ""},
    ),
    FilterDocument(
        "d08",
        "A consulting detective and a hound on the moor.",
        {"genre": "Mystery", "year": 1990, "tags": ["detective", "ai"], "published": None, "author": "Doyle"},
    ),
    FilterDocument("d09", "A note with no other metadata.", {"note": "only a note"}),
    FilterDocument(
        "d10",
        "Leaves of grass, a song of myself.",
        {
            "genre": "poetry",
            "year": 1855,
            "rating": 0,
            "tags": ["classic"],
            "published": 0,
            "author": "Whitman",
            "isbn": None,
        },
    ),
    FilterDocument(
        "d11",
        "Stories of time travel, robots and breathing.",
        {
            "genre": "sf",
            "year": 2023,
            "rating": 8.0,
            "tags": ["ai", "space", "robots"],
            "published": True,
            "author": "Chiang",
            "series": "Exhalation",
            "a.b": 1,
        },
    ),
    FilterDocument(
        "d12",
        "An anonymous pamphlet.",
        {"genre": None, "year": None, "tags": None, "author": "Anonymous 100%"},
    ),
]

ALL_IDS: set[str] = {f"d{i:02d}" for i in range(1, 13)}


def _llama(*filters: dict[str, Any], condition: str = "and") -> dict[str, Any]:
    return {"filters": list(filters), "condition": condition}


def _f(key: str, operator: str, value: Any) -> dict[str, Any]:
    return {"key": key, "operator": operator, "value": value}


FILTER_CASES: list[FilterCase] = [
    # --- no filter
    FilterCase("empty_filter", {}, ALL_IDS),
    # --- eq: shorthand, explicit, case-sensitive, int/float by value, bool distinct from 0/1
    FilterCase(
        "eq_shorthand_str",
        {"genre": "sf"},
        {"d01", "d02", "d06", "d11"},
        _llama(_f("genre", "==", "sf")),
    ),
    FilterCase("eq_explicit", {"genre": {"$eq": "fantasy"}}, {"d03", "d04"}, _llama(_f("genre", "==", "fantasy"))),
    FilterCase("eq_case_sensitive", {"genre": "mystery"}, {"d05"}, _llama(_f("genre", "==", "mystery"))),
    FilterCase("eq_int_matches_float", {"year": 2015}, {"d06"}, _llama(_f("year", "==", 2015))),
    FilterCase("eq_float_matches_int", {"rating": 6.0}, {"d06"}, _llama(_f("rating", "==", 6.0))),
    FilterCase("eq_float_zero", {"rating": 0.0}, {"d10"}, _llama(_f("rating", "==", 0.0))),
    FilterCase("eq_bool_true", {"published": True}, {"d01", "d03", "d04", "d11"}),
    FilterCase("eq_bool_false", {"published": False}, {"d02", "d05"}),
    FilterCase("eq_int_one_is_not_true", {"published": 1}, {"d07"}),
    FilterCase("eq_int_zero_is_not_false", {"published": 0}, {"d10"}),
    FilterCase("eq_whole_list", {"tags": {"$eq": ["ai"]}}, {"d02"}),
    FilterCase("eq_dict_value", {"meta": {"$eq": {"lang": "en"}}}, {"d01"}),
    FilterCase("eq_dotted_key_is_literal", {"a.b": 1}, {"d11"}, _llama(_f("a.b", "==", 1))),
    # --- dotted paths reach into nested dicts (a literal dotted key, above, still matches itself)
    FilterCase("dotted_path_eq", {"meta.lang": "en"}, {"d01", "d03"}, _llama(_f("meta.lang", "==", "en")), _NO_PATHS),
    FilterCase("dotted_path_gt", {"meta.ed": {"$gt": 1}}, {"d03"}, _llama(_f("meta.ed", ">", 1)), _NO_PATHS),
    FilterCase("dotted_path_exists", {"meta.ed": {"$exists": True}}, {"d03"}),
    FilterCase(
        "dotted_path_ne_matches_missing",
        {"meta.lang": {"$ne": "en"}},
        ALL_IDS - {"d01", "d03"},
        _llama(_f("meta.lang", "!=", "en")),
        _NO_PATHS,
    ),
    FilterCase("dotted_path_through_non_dict", {"genre.x": "sf"}, set()),
    FilterCase("eq_no_match", {"genre": "western"}, set(), _llama(_f("genre", "==", "western"))),
    # --- ne: missing keys and None count as "not equal"
    FilterCase(
        "ne_str",
        {"genre": {"$ne": "sf"}},
        {"d03", "d04", "d05", "d07", "d08", "d09", "d10", "d12"},
        _llama(_f("genre", "!=", "sf")),
    ),
    FilterCase(
        "ne_bool",
        {"published": {"$ne": True}},
        {"d02", "d05", "d06", "d07", "d08", "d09", "d10", "d12"},
    ),
    FilterCase(
        "ne_number_mixed_types",
        {"year": {"$ne": 1999}},
        ALL_IDS - {"d01"},
        _llama(_f("year", "!=", 1999)),
    ),
    FilterCase(
        "ne_missing_key",
        {"series": {"$ne": "Exhalation"}},
        ALL_IDS - {"d11"},
        _llama(_f("series", "!=", "Exhalation")),
    ),
    # --- ordering: numbers with numbers, strings with strings, nothing else
    FilterCase("gt_int", {"year": {"$gt": 2011}}, {"d05", "d06", "d11"}),
    FilterCase("gte_int", {"year": {"$gte": 2011}}, {"d03", "d05", "d06", "d11"}),
    FilterCase("lt_float", {"rating": {"$lt": 7.5}}, {"d02", "d06", "d10"}, _llama(_f("rating", "<", 7.5))),
    FilterCase(
        "lte_float",
        {"rating": {"$lte": 7.5}},
        {"d02", "d06", "d07", "d10"},
        _llama(_f("rating", "<=", 7.5)),
    ),
    FilterCase("range_same_field_is_and", {"year": {"$gte": 1990, "$lt": 2011}}, {"d01", "d02", "d08"}),
    FilterCase("between_inclusive", {"year": {"$between": [1990, 2011]}}, {"d01", "d02", "d03", "d08"}),
    FilterCase("gt_str_compares_only_strings", {"year": {"$gt": "1000"}}, {"d07"}),
    FilterCase("gt_number_on_str_field", {"author": {"$gt": 5}}, set()),
    FilterCase("gte_str_on_number_field", {"rating": {"$gte": "5"}}, set()),
    FilterCase("lt_str_code_point_order", {"author": {"$lt": "C"}}, {"d01", "d02", "d07", "d12"}),
    # --- in / nin: equality against each listed value
    FilterCase(
        "in_str",
        {"genre": {"$in": ["fantasy", "poetry"]}},
        {"d03", "d04", "d10"},
        _llama(_f("genre", "in", ["fantasy", "poetry"])),
    ),
    FilterCase("in_mixed_types", {"year": {"$in": [1999, 2015, "1990s"]}}, {"d01", "d06", "d07"}),
    FilterCase("in_bool_not_int", {"published": {"$in": [True]}}, {"d01", "d03", "d04", "d11"}),
    FilterCase("in_compares_whole_list", {"tags": {"$in": ["ai"]}}, set()),
    FilterCase("in_empty_list", {"genre": {"$in": []}}, set()),
    FilterCase(
        "nin_str",
        {"genre": {"$nin": ["sf", "fantasy"]}},
        {"d05", "d07", "d08", "d09", "d10", "d12"},
        _llama(_f("genre", "nin", ["sf", "fantasy"])),
    ),
    FilterCase("nin_none_value_is_absent", {"isbn": {"$nin": ["x"]}}, ALL_IDS),
    # --- contains: list membership on lists, substring on strings
    FilterCase(
        "contains_list_member",
        {"tags": {"$contains": "ai"}},
        {"d01", "d02", "d08", "d11"},
        _llama(_f("tags", "contains", "ai")),
    ),
    FilterCase("contains_substring", {"author": {"$contains": "in"}}, {"d03", "d06"}),
    FilterCase("contains_on_number_field", {"year": {"$contains": 19}}, set()),
    FilterCase(
        "not_contains",
        {"tags": {"$not_contains": "ai"}},
        {"d03", "d04", "d05", "d06", "d07", "d09", "d10", "d12"},
    ),
    # --- any / all over list fields
    FilterCase(
        "any_of_list",
        {"tags": {"$any": ["magic", "robots"]}},
        {"d03", "d11"},
        _llama(_f("tags", "any", ["magic", "robots"])),
    ),
    FilterCase(
        "all_of_list",
        {"tags": {"$all": ["ai", "space"]}},
        {"d01", "d11"},
        _llama(_f("tags", "all", ["ai", "space"])),
    ),
    # --- text match and LIKE
    FilterCase(
        "text_match",
        {"author": {"$text_match": "an"}},
        {"d02", "d10", "d11"},
        _llama(_f("author", "text_match", "an")),
    ),
    FilterCase(
        "text_match_insensitive",
        {"author": {"$text_match_insensitive": "an"}},
        {"d02", "d10", "d11", "d12"},
        _llama(_f("author", "text_match_insensitive", "an")),
    ),
    FilterCase("like_suffix", {"author": {"$like": "%in"}}, {"d03", "d06"}),
    FilterCase("like_underscore", {"genre": {"$like": "_f"}}, {"d01", "d02", "d06", "d11"}),
    FilterCase("like_escaped_percent", {"author": {"$like": "%100\\%"}}, {"d12"}),
    FilterCase("like_case_sensitive", {"genre": {"$like": "myst%"}}, {"d05"}),
    FilterCase("ilike", {"genre": {"$ilike": "MYST%"}}, {"d05", "d08"}),
    # --- exists / is_empty
    # $exists asks whether the key is there: a key holding None exists (Mongo's and PGVector's rule)
    FilterCase(
        "exists_true_counts_null",
        {"rating": {"$exists": True}},
        {"d01", "d02", "d03", "d04", "d05", "d06", "d07", "d10", "d11"},
    ),
    FilterCase("exists_false_only_missing", {"rating": {"$exists": False}}, {"d08", "d09", "d12"}),
    FilterCase(
        "exists_true_null_everywhere",
        {"genre": {"$exists": True}},
        ALL_IDS - {"d09"},
    ),
    FilterCase("exists_none_valued_key", {"isbn": {"$exists": True}}, {"d10"}),
    FilterCase(
        "missing_or_null_is_is_empty",
        {"rating": {"$is_empty": True}},
        {"d05", "d08", "d09", "d12"},
    ),
    FilterCase(
        "is_empty_list",
        {"tags": {"$is_empty": True}},
        {"d04", "d07", "d09", "d12"},
        _llama(_f("tags", "is_empty", None)),
    ),
    FilterCase(
        "is_empty_str",
        {"author": {"$is_empty": True}},
        {"d07", "d09"},
        _llama(_f("author", "is_empty", None)),
    ),
    FilterCase(
        "is_empty_false",
        {"tags": {"$is_empty": False}},
        {"d01", "d02", "d03", "d05", "d06", "d08", "d10", "d11"},
    ),
    # --- logic
    FilterCase("several_keys_are_and", {"genre": "sf", "published": True}, {"d01", "d11"}),
    FilterCase(
        "and_explicit",
        {"$and": [{"genre": "sf"}, {"rating": {"$gte": 7}}]},
        {"d01", "d02", "d11"},
        _llama(_f("genre", "==", "sf"), _f("rating", ">=", 7)),
    ),
    FilterCase(
        "or_explicit",
        {"$or": [{"genre": "fantasy"}, {"rating": {"$lt": 1}}]},
        {"d03", "d04", "d10"},
        _llama(_f("genre", "==", "fantasy"), _f("rating", "<", 1), condition="or"),
    ),
    FilterCase(
        "not_top_level",
        {"$not": {"genre": "sf"}},
        {"d03", "d04", "d05", "d07", "d08", "d09", "d10", "d12"},
        _llama(_f("genre", "==", "sf"), condition="not"),
    ),
    FilterCase(
        "not_list_form_is_none_of",
        {"$not": [{"genre": "sf"}, {"genre": "fantasy"}]},
        {"d05", "d07", "d08", "d09", "d10", "d12"},
        _llama(_f("genre", "==", "sf"), _f("genre", "==", "fantasy"), condition="not"),
    ),
    FilterCase("not_list_form_one_filter", {"$not": [{"published": True}]}, ALL_IDS - {"d01", "d03", "d04", "d11"}),
    FilterCase(
        "not_field_level_matches_missing",
        {"year": {"$not": {"$gt": 2000}}},
        {"d01", "d04", "d07", "d08", "d09", "d10", "d12"},
    ),
    FilterCase(
        "nested_or_of_ands_with_not",
        {
            "$or": [
                {"$and": [{"genre": "sf"}, {"tags": {"$contains": "space"}}]},
                {"$and": [{"genre": {"$in": ["mystery", "Mystery"]}}, {"$not": {"published": False}}]},
            ]
        },
        {"d01", "d06", "d08", "d11"},
    ),
    FilterCase(
        "nested_llama_groups",
        {"$and": [{"$or": [{"genre": "sf"}, {"genre": "fantasy"}]}, {"rating": {"$gt": 8.0}}]},
        {"d01", "d03", "d04"},
        _llama(
            _llama(_f("genre", "==", "sf"), _f("genre", "==", "fantasy"), condition="or"),
            _f("rating", ">", 8.0),
        ),
    ),
]

LLAMA_FILTER_CASES: list[FilterCase] = [case for case in FILTER_CASES if case.llama is not None]
"""The cases LlamaIndex's ``MetadataFilters`` can express (no bool values, no LIKE, no $exists)."""
