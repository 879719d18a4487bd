"""The options reference, ``docs/reference/options.md``, generated from the options' own definitions:
``python -m gameday.plugin.reference > docs/reference/options.md``. A unit test holds the file to it."""

from __future__ import annotations

from gameday.plugin.extensions import plugin_modules
from gameday.plugin.options import pytest_addoption


def reference() -> str:
    """The options reference (``docs/reference/options.md``), from the options' own definitions: gameday's
    and the targets' that ship with it, as ``pytest --help`` shows them under *game-day drills*."""
    from _pytest.config.argparsing import Parser

    parser = Parser(_ispytest=True)
    pytest_addoption(parser)
    for plugin in plugin_modules():  # the targets' own options (Compose's), as pytest registers them
        add = getattr(plugin, "pytest_addoption", None)
        if add is not None:
            add(parser)
    lines = ["# Options", "", "Generated from the options' definitions by `python -m gameday.plugin.reference`; "
             "`pytest --help` lists the same under *game-day drills*.", "", "| option | meaning |", "|---|---|"]
    for opt in parser.getgroup("gameday").options:
        attrs = opt.attrs()
        metavar = attrs.get("metavar") or ("|".join(attrs["choices"]) if attrs.get("choices") else "")
        name = " ".join(opt.names()) + (f" {metavar}" if metavar and attrs.get("action") != "store_true" else "")
        text = " ".join(str(attrs.get("help", "")).replace("%%", "%").split()).replace("|", "\\|")
        lines.append(f"| `{name}` | {text} |")
    lines += ["", "Ini values: `gameday_time_scale` (default for `--time-scale`), `gameday_target` (default for "
              "`--target`)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
