"""Fields from the words a description uses for a record's attributes.

``due dates`` becomes a date field ``due_date``, ``fees`` a non-negative number
``fee``, ``capacity`` a non-negative integer, ``priority`` a closed set. The
catalogue maps an attribute's head noun to the kind of value it holds; the
words before the head are kept in the field name (``check-in dates`` ->
``check_in_date``).
"""

from __future__ import annotations

from prazium_appgen.entities import Field
from prazium_appgen.naming import singularize, snake_case, words_of

DATE, DATETIME, MONEY, COUNT, MEASURE, DURATION, TEXT, EMAIL = (
    "date",
    "datetime",
    "money",
    "count",
    "measure",
    "duration",
    "text",
    "email",
)
ENUM_DEFAULTS = {
    "priority": ("low", "medium", "high"),
    "severity": ("low", "medium", "high", "critical"),
}
"""Closed sets whose usual values are clear even when the text does not list them."""
ENUM_WORDS = frozenset({"status", "priority", "severity", "stage", "state"})


def _keys(text: str) -> list[str]:
    return text.split()


# fmt: off
ATTRIBUTE_KINDS: dict[str, str] = {
    **dict.fromkeys(
        _keys("date deadline birthday birthdate dob anniversary expiry expiration"), DATE),
    **dict.fromkeys(_keys("time timestamp check-in check-out checkin arrival departure"),
                    DATETIME),
    **dict.fromkeys(
        _keys("price cost fee amount total tax salary wage balance deposit rent discount fine "
              "tip payout revenue rate value budget"), MONEY),
    **dict.fromkeys(
        _keys("quantity capacity stock count mileage seat serving age year calorie page rating "
              "score grade floor point step rep odometer"), COUNT),
    **dict.fromkeys(
        _keys("weight height length width depth distance spacing volume area dose dosage "
              "temperature percentage hour"), MEASURE),
    "duration": DURATION,
    **dict.fromkeys(
        _keys("name title description note address color colour breed species brand isbn sku "
              "url website phone gender type kind genre currency reason code instruction "
              "level number"), TEXT),
    **dict.fromkeys(ENUM_WORDS, TEXT),
    "email": EMAIL,
}
# fmt: on
PLURAL_NAMES = frozenset(
    {"seat", "serving", "calorie", "page", "point", "step", "rep", "note", "instruction", "hour"}
)
"""Counts and texts named in the plural (``servings``, ``notes``)."""
SIGNED_MEASURES = frozenset({"temperature"})
OPENING_HOURS = ("opening", "hour")
"""``opening hours`` is a text like ``Mon-Fri 9-17``, not a number of hours."""


def attribute_head(word: str, modified: bool = False) -> str | None:
    """The catalogue key a (possibly plural) word names, if it names an attribute.

    ``number`` is one only after another word (``phone number``, ``serial number``).
    """
    singular = singularize(word)
    if singular == "number":
        return "number" if modified else None
    if singular in ATTRIBUTE_KINDS:
        return singular
    return word if word in ATTRIBUTE_KINDS else None


def is_attribute(words: list[str]) -> bool:
    return bool(words) and attribute_head(words[-1], len(words) > 1) is not None


def attribute_field(words: list[str], choices: tuple[str, ...] = ()) -> Field | None:
    """The field an attribute phrase describes, or None if its head is no attribute."""
    if not words:
        return None
    head = attribute_head(words[-1], len(words) > 1)
    if head is None:
        return None
    modifiers = [part for word in words[:-1] for part in words_of(word)]
    kind = ATTRIBUTE_KINDS[head]
    name_head = words[-1] if head in PLURAL_NAMES else head
    if (*modifiers[-1:], head) == OPENING_HOURS:
        return Field(snake_case([*modifiers[:-1], "opening", "hours"]), "string")
    if kind == DURATION:
        return Field(snake_case([*modifiers, "duration", "minutes"]), "integer", minimum=0)
    name = snake_case([*modifiers, *words_of(name_head)])
    if choices or head in ENUM_DEFAULTS:
        return Field(name, "string", choices=choices or ENUM_DEFAULTS[head])
    if kind == DATE:
        return Field(name, "string", format="date")
    if kind == DATETIME:
        return Field(name, "string", format="datetime")
    if kind == MONEY:
        return Field(name, "number", minimum=0)
    if kind == COUNT:
        return Field(name, "integer", minimum=0)
    if kind == MEASURE:
        return Field(name, "number", minimum=None if head in SIGNED_MEASURES else 0)
    if kind == EMAIL:
        return Field(name if modifiers else "email", "string", format="email")
    return Field(name, "string")
