"""The user's settings file: TOML under the platform's config directory (on Linux
``$XDG_CONFIG_HOME/kvmtui/config.toml``, else ``~/.config/kvmtui/config.toml``), or the file named by
``--config`` / ``$KVMTUI_CONFIG``.

    theme = "high-contrast"        # any Textual theme name, or kvmtui's high-contrast one
    plain_words = true             # the plain-language sentences under the chain
    [keymap]                       # binding id = keys (Textual's set_keymap); ids are listed by the help screen
    step = "n,space,j"
    back = "b,p,u"

Parsing checks syntax and types only (no Textual import); the app checks theme names and binding ids
before it takes over the terminal. Errors are one line: FILE:LINE:COL: what is wrong.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .scenario.errors import ScenarioError
from .scenario.inputfile import read_bytes

KEYS = ("theme", "plain_words", "keymap")


@dataclass(frozen=True)
class Config:
    path: Path | None = None  # the file read, if any
    theme: str | None = None
    plain_words: bool = True
    keymap: dict[str, str] = field(default_factory=dict)


def default_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("kvmtui")) / "config.toml"


def load_config(explicit: str | None = None) -> Config:
    """The settings in force: the file given (which must exist), else $KVMTUI_CONFIG, else the default path if
    it exists, else the defaults."""
    given = explicit or os.environ.get("KVMTUI_CONFIG")
    path = Path(given) if given else default_path()
    if not path.exists():
        if given:
            raise ScenarioError(str(path), None, None, "config file not found")
        return Config()
    try:
        raw = read_bytes(path, what="a config file", limit=1 << 20)  # bounded, regular files only, never blocks
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ScenarioError(str(path), None, None, "config file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        raise ScenarioError(str(path), int(m.group(1)) if m else None, int(m.group(2)) if m else None, f"not valid TOML: {msg}") from None
    except OSError as e:
        raise ScenarioError(str(path), None, None, e.strerror or str(e)) from None
    return _from_table(path, data)


def _from_table(path: Path, data: dict) -> Config:
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        raise ScenarioError(str(path), _line_of(path, unknown[0]), None, f"unknown setting {unknown[0]!r} (known: {', '.join(KEYS)})")
    theme = data.get("theme")
    if theme is not None and not isinstance(theme, str):
        raise ScenarioError(str(path), _line_of(path, "theme"), None, "theme must be a string (a theme name)")
    plain = data.get("plain_words", True)
    if not isinstance(plain, bool):
        raise ScenarioError(str(path), _line_of(path, "plain_words"), None, "plain_words must be true or false")
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict) or not all(isinstance(v, str) and v.strip() for v in keymap.values()):
        raise ScenarioError(str(path), _line_of(path, "keymap"), None, 'keymap must be a table of binding id = "keys" (e.g. step = "n,space,j")')
    return Config(path, theme, plain, {str(k): v.replace(" ", "") for k, v in keymap.items()})


def _line_of(path: Path, key: str) -> int | None:
    """The first line that sets KEY (TOML's parser gives no positions for values it accepted)."""
    try:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.match(rf"\s*\[?\s*{re.escape(key)}\s*[=\]]", line):
                return n
    except OSError:
        pass
    return None
