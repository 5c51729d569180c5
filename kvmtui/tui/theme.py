"""kvmtui's high-contrast theme, for projectors and bright rooms: pure black and white, saturated accents,
no translucent greys. Registered by the app; `--theme high-contrast` or `theme = "high-contrast"`."""

from __future__ import annotations

from textual.theme import BUILTIN_THEMES, Theme

HIGH_CONTRAST = Theme(
    name="high-contrast",
    primary="#00e5ff",
    secondary="#ffff00",
    accent="#ff66ff",
    warning="#ffd000",
    error="#ff4040",
    success="#00ff66",
    foreground="#ffffff",
    background="#000000",
    surface="#000000",
    panel="#202020",
    boost="#303030",
    dark=True,
    text_alpha=1.0,
    variables={
        "text-muted": "#ffffff",
        "text-disabled": "#e0e0e0",
        "footer-key-foreground": "#ffff00",
        "footer-description-foreground": "#ffffff",
        "border": "#ffffff",
    },
)

DEFAULT_THEME = "textual-dark"


def theme_names() -> list[str]:
    return [*BUILTIN_THEMES, HIGH_CONTRAST.name]
