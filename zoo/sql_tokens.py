"""A small SQL tokenizer for PostgreSQL and SQLite text, used for friendly messages only.

It knows the quoting rules an attacker would play with: standard strings with ``''``, PostgreSQL
``E'...'`` strings with backslash escapes, ``U&'...'``, dollar quotes (``$$...$$``, ``$tag$...$tag$``)
that cannot start inside an identifier (``a$$`` is one identifier), nested ``/* */`` comments on
PostgreSQL, and SQLite's ``[...]`` and backquoted identifiers. It is *never* the security boundary:
the database itself refuses a second statement and any write (see :mod:`zoo.sql`); this module only
lets ``zoo sql`` say "one statement at a time" or "not DELETE" before asking the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# A dollar-quote tag, or a PostgreSQL identifier continuing with '$' (identifiers may contain '$').
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_\u0080-\U0010ffff][\w\u0080-\U0010ffff]*)?\$")
_WORD = re.compile(r"[A-Za-z_\u0080-\U0010ffff][\w$\u0080-\U0010ffff]*")
_NUMBER_OR_PARAM = re.compile(r"\$?\d+|\d*\.\d+(?:[eE][+-]?\d+)?|\d+\.?\d*(?:[eE][+-]?\d+)?")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Token:
    kind: str  # "space", "comment", "string", "ident", "word", "semi", "other"
    text: str


def tokenize(sql: str, dialect: str = "postgresql") -> Iterator[Token]:
    """Split ``sql`` into tokens; an unterminated string or comment runs to the end of the text."""
    postgres = dialect != "sqlite"
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if (m := _SPACE.match(sql, i)) is not None:
            end, kind = m.end(), "space"
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            end, kind = (n if newline < 0 else newline), "comment"
        elif sql.startswith("/*", i):
            end, kind = _block_comment_end(sql, i, nested=postgres), "comment"
        elif c == "'":
            end, kind = _quoted_end(sql, i, "'", backslash=False), "string"
        elif c == '"':
            end, kind = _quoted_end(sql, i, '"', backslash=False), "ident"
        elif not postgres and c == "[":
            close = sql.find("]", i + 1)
            end, kind = (n if close < 0 else close + 1), "ident"
        elif not postgres and c == "`":
            end, kind = _quoted_end(sql, i, "`", backslash=False), "ident"
        elif postgres and c == "$" and (m := _DOLLAR_TAG.match(sql, i)) is not None:
            close = sql.find(m.group(), m.end())
            end, kind = (n if close < 0 else close + len(m.group())), "string"
        elif (m := _WORD.match(sql, i)) is not None:
            end, kind = m.end(), "word"
            prefix = m.group().upper()
            if postgres and end < n and sql[end] == "'" and prefix in ("E", "B", "X", "N"):
                end, kind = _quoted_end(sql, end, "'", backslash=prefix == "E"), "string"
            elif postgres and prefix == "U" and sql.startswith("&'", end):
                end, kind = _quoted_end(sql, end + 1, "'", backslash=False), "string"
            elif postgres and prefix == "U" and sql.startswith('&"', end):
                end, kind = _quoted_end(sql, end + 1, '"', backslash=False), "ident"
            elif not postgres and end < n and sql[end] == "'" and prefix in ("X",):
                end, kind = _quoted_end(sql, end, "'", backslash=False), "string"
        elif (m := _NUMBER_OR_PARAM.match(sql, i)) is not None and m.end() > i:
            end, kind = m.end(), "other"
        elif c == ";":
            end, kind = i + 1, "semi"
        else:
            end, kind = i + 1, "other"
        yield Token(kind, sql[i:end])
        i = end


def _quoted_end(sql: str, start: int, quote: str, *, backslash: bool) -> int:
    """Index just past the quote that closes the quoted text opening at ``start`` (doubled quotes escape)."""
    i, n = start + 1, len(sql)
    while i < n:
        c = sql[i]
        if backslash and c == "\\":
            i += 2
        elif c == quote:
            if i + 1 < n and sql[i + 1] == quote:
                i += 2
            else:
                return i + 1
        else:
            i += 1
    return n


def _block_comment_end(sql: str, start: int, *, nested: bool) -> int:
    depth, i, n = 1, start + 2, len(sql)
    while i < n:
        if sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        elif nested and sql.startswith("/*", i):
            depth += 1
            i += 2
        else:
            i += 1
    return n


def statements(sql: str, dialect: str = "postgresql") -> list[str]:
    """The non-empty statements in ``sql``, each without comments and surrounding space."""
    found: list[str] = []
    parts: list[str] = []
    for token in tokenize(sql, dialect):
        if token.kind == "semi":
            found.append("".join(parts).strip())
            parts = []
        else:
            parts.append(" " if token.kind == "comment" else token.text)
    found.append("".join(parts).strip())
    return [text for text in found if text]


def first_word(statement: str, dialect: str = "postgresql") -> str | None:
    """The statement's first keyword (upper case), skipping opening parentheses; None if there is none."""
    for token in tokenize(statement, dialect):
        if token.kind in ("space", "comment") or token.text == "(":
            continue
        return token.text.upper() if token.kind == "word" else None
    return None
