"""UI text catalogues: every user-visible string, once per language, in portal/locales/{en,zh}/*.toml."""

from __future__ import annotations

import string
import threading
import tomllib
from functools import cache

from portal.config import PACKAGE_DIR

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"
LOCALES_DIR = PACKAGE_DIR / "locales"
_state = threading.local()


def _flatten(prefix: str, table: dict, out: dict[str, str], source: str) -> None:
    for key, value in table.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(full, value, out, source)
        else:
            if full in out:
                raise ValueError(f"UI string {full} is defined twice ({source})")
            out[full] = str(value)


@cache
def catalogue(lang: str) -> dict[str, str]:
    """All strings of one language, by dotted key, merged from every file of that language."""
    out: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / lang).glob("*.toml")):
        with path.open("rb") as fh:
            _flatten("", tomllib.load(fh), out, f"{lang}/{path.name}")
    return out


def set_language(lang: str) -> None:
    """Set the language for this thread (one Streamlit script run, or one CLI call)."""
    _state.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def language() -> str:
    """The language of this thread."""
    return getattr(_state, "lang", DEFAULT_LANGUAGE)


class _Formatter(string.Formatter):
    """str.format, plus plural words: "{n:,} {n:row|rows}" gives "1 row" and "2 rows"."""

    def format_field(self, value: object, format_spec: str) -> str:
        if "|" in format_spec:
            one, other = format_spec.split("|", 1)
            return one if value == 1 else other
        return super().format_field(value, format_spec)


_FORMATTER = _Formatter()


def t(key: str, lang: str | None = None, **values: object) -> str:
    """Look up a UI string by key in the current language and fill its {placeholders}
    ({n:one|other} picks a word by the count n, for languages that inflect it)."""
    text = catalogue(lang or language()).get(key)
    if text is None:
        text = catalogue(DEFAULT_LANGUAGE).get(key)
    if text is None:
        raise KeyError(f"missing UI string {key!r}")
    return _FORMATTER.format(text, **values) if values else text


def has(key: str) -> bool:
    """Whether a key exists in the English catalogue."""
    return key in catalogue(DEFAULT_LANGUAGE)


def label(kind: str, value: object, lang: str | None = None) -> str:
    """A display label for a coded value (channel, issue, bucket...); the code itself when unknown."""
    key = f"codes.{kind}.{value}"
    return t(key, lang) if has(key) else str(value)
