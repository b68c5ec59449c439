"""Water-quality classes of GB 3838-2002 and their conventional presentation.

References
----------
.. [1] GB 3838-2002 地表水环境质量标准, §4 (five classes) [V].
.. [2] 环办〔2011〕22号 地表水环境质量评价办法（试行）, 表2 (qualitative labels) [V].
"""

from __future__ import annotations

from enum import IntEnum

from sections.errors import UnknownClassError

__all__ = ["WaterClass", "parse_class"]


class WaterClass(IntEnum):
    """A GB 3838-2002 water-quality class, 1 (Ⅰ) to 6 (劣Ⅴ).

    Each member carries its document label (``label``), the qualitative word of the evaluation
    method (``quality``) and the conventional display colour (``colour``; [A] except red).
    """

    I = 1  # noqa: E741 - the class is called Ⅰ
    II = 2
    III = 3
    IV = 4
    V = 5
    WORSE_THAN_V = 6

    @property
    def label(self) -> str:
        """The class as written in documents: Ⅰ Ⅱ Ⅲ Ⅳ Ⅴ 劣Ⅴ."""
        return _LABELS[self.value]

    @property
    def quality(self) -> str:
        """The qualitative label: 优, 良好, 轻度污染, 中度污染, 重度污染 [V]."""
        return _QUALITY[self.value]

    @property
    def colour(self) -> str:
        """Conventional display colour as a CSS hex string [A except red for 劣Ⅴ]."""
        return _COLOURS[self.value]


_LABELS = {1: "Ⅰ", 2: "Ⅱ", 3: "Ⅲ", 4: "Ⅳ", 5: "Ⅴ", 6: "劣Ⅴ"}
_QUALITY = {1: "优", 2: "优", 3: "良好", 4: "轻度污染", 5: "中度污染", 6: "重度污染"}
_COLOURS = {
    1: "#1e88e5",  # blue
    2: "#1e88e5",  # blue
    3: "#43a047",  # green
    4: "#fdd835",  # yellow
    5: "#fb8c00",  # orange
    6: "#e53935",  # red
}

_ALIASES: dict[str, int] = {
    "I": 1, "Ⅰ": 1, "1": 1,
    "II": 2, "Ⅱ": 2, "2": 2,
    "III": 3, "Ⅲ": 3, "3": 3,
    "IV": 4, "Ⅳ": 4, "4": 4,
    "V": 5, "Ⅴ": 5, "5": 5,
    "劣V": 6, "劣Ⅴ": 6, "6": 6, "WORSE_THAN_V": 6,
}  # fmt: skip


def parse_class(value: str | int | WaterClass) -> WaterClass:
    """Parse a water-quality class from the forms used in documents and data.

    Accepts the Roman-numeral characters (``"Ⅲ"``, ``"劣Ⅴ"``), ASCII (``"III"``, ``"劣V"``),
    the numbers 1–6 (6 = 劣Ⅴ), as int or text, and a :class:`WaterClass`.

    Raises
    ------
    UnknownClassError
        When the value is none of these.

    Examples
    --------
    >>> parse_class("Ⅲ"), parse_class("劣V"), parse_class(4)
    (<WaterClass.III: 3>, <WaterClass.WORSE_THAN_V: 6>, <WaterClass.IV: 4>)
    """
    if isinstance(value, WaterClass):
        return value
    if isinstance(value, bool):
        raise UnknownClassError(f"无法识别的水质类别 / unknown water class: {value!r}")
    if isinstance(value, int):
        if 1 <= value <= 6:
            return WaterClass(value)
        raise UnknownClassError(f"无法识别的水质类别 / unknown water class: {value!r} (1–6)")
    key = str(value).strip().removesuffix("类")
    number = _ALIASES.get(key, _ALIASES.get(key.upper()))
    if number is None:
        valid = "Ⅰ Ⅱ Ⅲ Ⅳ Ⅴ 劣Ⅴ, I II III IV V 劣V, 1–6"
        raise UnknownClassError(
            f"无法识别的水质类别 / unknown water class: {value!r} (valid: {valid})"
        )
    return WaterClass(number)
