"""Page contexts are typed dataclasses with help on every field (the templates' contract)."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from service.web import account_views, alert_views, contexts

CONTEXTS = [
    obj
    for module in (contexts, account_views, alert_views)
    for _, obj in inspect.getmembers(module, inspect.isclass)
    if dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__
]


def test_there_are_page_contexts() -> None:
    names = {c.__name__ for c in CONTEXTS}
    assert {"SectionsPageContext", "SectionPageContext", "SectionRow"} <= names


@pytest.mark.parametrize("context", CONTEXTS, ids=lambda c: c.__name__)
def test_every_context_field_has_help(context: type) -> None:
    for field in dataclasses.fields(context):
        assert field.metadata.get("help"), f"{context.__name__}.{field.name} has no help"
