"""Water-quality classes: parsing every written form, and their presentation."""

from __future__ import annotations

import pytest

from sections.classes import WaterClass, parse_class
from sections.errors import UnknownClassError


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Ⅰ", 1), ("I", 1), ("Ⅱ", 2), ("ii", 2), ("Ⅲ", 3), ("III", 3), ("Ⅲ类", 3), ("Ⅳ", 4),
     ("IV", 4), ("Ⅴ", 5), ("V", 5), ("劣Ⅴ", 6), ("劣V", 6), ("劣v", 6), ("6", 6), (4, 4),
     (WaterClass.II, 2)],
)  # fmt: skip
def test_parse_class_accepts_documents_ascii_and_numbers(text: str | int, expected: int) -> None:
    assert parse_class(text) == WaterClass(expected)


@pytest.mark.parametrize("text", ["VI", "0", 7, "", "Ⅵ", True, "劣IV"])
def test_parse_class_refuses_anything_else(text: str | int) -> None:
    with pytest.raises(UnknownClassError, match="unknown water class"):
        parse_class(text)


def test_labels_quality_words_and_colours() -> None:
    assert [c.label for c in WaterClass] == ["Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ", "Ⅴ", "劣Ⅴ"]
    assert [c.quality for c in WaterClass] == ["优", "优", "良好", "轻度污染", "中度污染",
                                               "重度污染"]  # fmt: skip
    assert WaterClass.WORSE_THAN_V.colour == "#e53935"
    assert WaterClass.I.colour == WaterClass.II.colour
