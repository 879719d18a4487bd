"""Text from outside the harness, made safe to print on one terminal line."""

from __future__ import annotations

import unicodedata


def printable(text: object, limit: int = 300) -> str:
    """``text`` safe for a terminal line: control and format characters escaped, cut to ``limit`` characters."""
    out = []
    for ch in str(text):
        if ch == "\n":
            out.append("\\n")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    safe = "".join(out)
    if len(safe) > limit:
        safe = f"{safe[:limit]}… ({len(safe) - limit} more characters)"
    return safe
