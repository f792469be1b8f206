"""Name keys for the name comparison levels: nickname groups and Double Metaphone codes.

Both are computed once per record (they become list columns of the comparison row), so that the
settings compare them with a plain "lists share a value" level, identically in Python and in SQL.
Nicknames come from the curated table of the ``nicknames`` package (Old Dominion University's
list of English given names and their diminutives); phonetic codes are Lawrence Philips' Double
Metaphone (``metaphone`` package), primary and alternate code.
"""

from __future__ import annotations

from functools import lru_cache

from metaphone import doublemetaphone
from nicknames import NickNamer


@lru_cache(maxsize=1)
def _namer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=65536)
def nickname_keys(given: str) -> tuple[str, ...]:
    """``given`` and every canonical name it is a nickname of, sorted (``"bill"`` -> ``william``...).

    Two given names are nickname-equivalent when their keys intersect (``bill``/``william``,
    ``liz``/``beth`` through ``elizabeth``).
    """
    canonicals = {name.replace(" ", "") for name in _namer().canonicals_of(given)}
    return tuple(sorted({given} | canonicals))


@lru_cache(maxsize=65536)
def phonetic_codes(name: str) -> tuple[str, ...]:
    """The Double Metaphone codes of ``name`` (primary, then alternate when it differs)."""
    primary, alternate = doublemetaphone(name)
    codes = [code for code in (primary, alternate) if code]
    return tuple(dict.fromkeys(codes))
