"""Light, dark and high-contrast palettes for when the desktop does not provide one (or the user overrides it).

On desktops with a platform theme Qt follows the system colour scheme (and its high-contrast setting) by itself;
on bare X servers (and for screenshots) ``BCPV_COLOR_SCHEME=dark|light`` picks one explicitly, drawn with the
Fusion style. Every pair of colours the app draws text with reaches WCAG AA (4.5:1), and the focus indicator
(the highlight colour) 3:1 against the backgrounds it sits on: tests/test_a11y.py computes the ratios.
When Qt reports a high-contrast preference (``QStyleHints.accessibility()``, Qt 6.10+), the forced scheme's
high-contrast variant is used, and it follows the setting while the app runs.
Windows 10 in dark mode gets the dark one too: its native style cannot draw dark (``platform_default``).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

_role = QPalette.ColorRole

# The palettes, role by role. Disabled text stays readable (4.5:1): the app greys out nothing the user must read,
# but a greyed-out control should still say what it is.
_COLORS: dict[tuple[str, bool], dict[QPalette.ColorRole, str]] = {
    ("light", False): {
        _role.Window: "#efefef", _role.WindowText: "#000000", _role.Base: "#ffffff", _role.AlternateBase: "#f4f4f4",
        _role.ToolTipBase: "#ffffdc", _role.ToolTipText: "#000000", _role.PlaceholderText: "#595959",
        _role.Text: "#000000", _role.Button: "#efefef", _role.ButtonText: "#000000", _role.BrightText: "#b3261e",
        _role.Link: "#0645ad", _role.LinkVisited: "#6b2fa0", _role.Highlight: "#1f5fa8",
        _role.HighlightedText: "#ffffff", _role.Accent: "#1f5fa8", _role.Light: "#ffffff", _role.Midlight: "#cacaca",
        _role.Mid: "#8c8c8c", _role.Dark: "#767676", _role.Shadow: "#4d4d4d",
    },
    ("dark", False): {
        _role.Window: "#202124", _role.WindowText: "#e8eaed", _role.Base: "#17181a", _role.AlternateBase: "#222427",
        _role.ToolTipBase: "#303134", _role.ToolTipText: "#e8eaed", _role.PlaceholderText: "#a8aeb4",
        _role.Text: "#e8eaed", _role.Button: "#2d2f33", _role.ButtonText: "#e8eaed", _role.BrightText: "#ff8a80",
        _role.Link: "#8ab4f8", _role.LinkVisited: "#c58af9", _role.Highlight: "#4274b8",
        _role.HighlightedText: "#ffffff", _role.Accent: "#8ab4f8", _role.Light: "#5f6368", _role.Midlight: "#4a4d51",
        _role.Mid: "#80868b", _role.Dark: "#111214", _role.Shadow: "#000000",
    },
    ("light", True): {
        _role.Window: "#ffffff", _role.WindowText: "#000000", _role.Base: "#ffffff", _role.AlternateBase: "#f0f0f0",
        _role.ToolTipBase: "#ffffff", _role.ToolTipText: "#000000", _role.PlaceholderText: "#333333",
        _role.Text: "#000000", _role.Button: "#ffffff", _role.ButtonText: "#000000", _role.BrightText: "#8b0000",
        _role.Link: "#0000c0", _role.LinkVisited: "#551a8b", _role.Highlight: "#00008b",
        _role.HighlightedText: "#ffffff", _role.Accent: "#00008b", _role.Light: "#ffffff", _role.Midlight: "#000000",
        _role.Mid: "#000000", _role.Dark: "#000000", _role.Shadow: "#000000",
    },
    ("dark", True): {
        _role.Window: "#000000", _role.WindowText: "#ffffff", _role.Base: "#000000", _role.AlternateBase: "#1a1a1a",
        _role.ToolTipBase: "#000000", _role.ToolTipText: "#ffffff", _role.PlaceholderText: "#d0d0d0",
        _role.Text: "#ffffff", _role.Button: "#000000", _role.ButtonText: "#ffffff", _role.BrightText: "#ff9e9e",
        _role.Link: "#9fd0ff", _role.LinkVisited: "#e0b0ff", _role.Highlight: "#ffff00",
        _role.HighlightedText: "#000000", _role.Accent: "#ffff00", _role.Light: "#ffffff", _role.Midlight: "#ffffff",
        _role.Mid: "#ffffff", _role.Dark: "#ffffff", _role.Shadow: "#ffffff",
    },
}
_DISABLED_TEXT = {("light", False): "#666666", ("dark", False): "#a8aeb4", ("light", True): "#4d4d4d",
                  ("dark", True): "#c8c8c8"}


def palette(scheme: str, *, high_contrast: bool = False) -> QPalette:
    """The palette of ``scheme`` ("light" or "dark"), in its high-contrast variant if asked."""
    key = ("dark" if scheme == "dark" else "light", high_contrast)
    result = QPalette()
    for r, value in _COLORS[key].items():
        result.setColor(r, QColor(value))  # all colour groups: a selection keeps its contrast when unfocused
    for r in (_role.WindowText, _role.Text, _role.ButtonText):
        result.setColor(QPalette.ColorGroup.Disabled, r, QColor(_DISABLED_TEXT[key]))
    return result


def high_contrast_preferred() -> bool:
    """What the system's accessibility settings say, where Qt reports it (6.10+); False elsewhere."""
    hints = QGuiApplication.styleHints()
    accessibility = getattr(hints, "accessibility", None)
    if accessibility is None:
        return False
    return bool(accessibility().contrastPreference() == Qt.ContrastPreference.HighContrast)


def platform_default(platform: str | None = None, build: int | None = None) -> str:
    """"dark" where the system is dark but the native style cannot follow it (Windows 10); else "" (native)."""
    import sys

    from ui.native import needs_fusion_dark, windows_build

    platform = sys.platform if platform is None else platform
    system_dark = QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    build = windows_build(platform) if build is None else build
    return "dark" if needs_fusion_dark(platform, build, system_dark) else ""


def apply(app: QApplication, scheme: str) -> None:
    """``scheme``: "dark", "light" or "" (follow the desktop, its high-contrast setting included)."""
    hints = QGuiApplication.styleHints()
    wanted = scheme.lower()
    if wanted in ("dark", "light"):
        hints.setColorScheme(Qt.ColorScheme.Dark if wanted == "dark" else Qt.ColorScheme.Light)
        app.setStyle("Fusion")
    elif app.style().name().lower() == "fusion" and app.palette() == app.style().standardPalette():
        # No desktop theme gives a palette (a bare X server, Xvfb): Qt's built-in Fusion colours fall short of AA
        # (white on its selection blue is 3.69:1), so ours, in the scheme the system reports.
        wanted = "dark" if hints.colorScheme() == Qt.ColorScheme.Dark else "light"
    else:
        return

    def follow(*_args: object) -> None:
        app.setPalette(palette(wanted, high_contrast=high_contrast_preferred()))

    follow()
    if (accessibility := getattr(hints, "accessibility", None)) is not None:
        accessibility().contrastPreferenceChanged.connect(follow)


def luminance(color: QColor) -> float:
    """WCAG 2 relative luminance."""

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG 2 contrast ratio, 1 to 21."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)
