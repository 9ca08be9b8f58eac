"""The ``template`` agent: deterministic, offline planning and coding.

It asks keyword-driven clarifying questions, reads the records, fields and
relations of the description, writes the four spec documents, and builds a
small but real Python standard-library JSON API (SQLite storage, CRUD for every
DATA.md entity with its rules and references, optional accounts) whose own
tests pass.

Modules, one job each: ``tokens``, ``phrases``, ``mentions``, ``attributes``,
``text_patterns`` and ``reader`` (records, fields and relations from the text,
with the word lists of ``lexicon``), ``vocabulary`` (default fields of known records),
``features`` and ``capabilities`` (what the description asks the app to do),
``questions``, ``entity_selection``, ``spec``, ``data_md`` and ``routes``
(documents), ``layout`` and ``decompose`` (the plan), ``app`` (the generated app's
sources) and ``coder``.
"""

from prazium_appgen.coder import CoderError, TemplateCoder
from prazium_appgen.data_md import parse_data_md, render_data_md
from prazium_appgen.entities import Entity, Field
from prazium_appgen.features import FEATURES, detect_features
from prazium_appgen.planner import TemplatePlanner
from prazium_appgen.routes import parse_routes_md

__all__ = [
    "FEATURES",
    "CoderError",
    "Entity",
    "Field",
    "TemplateCoder",
    "TemplatePlanner",
    "detect_features",
    "parse_data_md",
    "parse_routes_md",
    "render_data_md",
]
