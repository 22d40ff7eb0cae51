"""Light and dark palettes for when the desktop does not provide one (or the user overrides it).

On desktops with a platform theme Qt follows the system colour scheme by itself; on bare X servers (and for
screenshots) ``BCPV_COLOR_SCHEME=dark|light`` picks one explicitly, drawn with the Fusion style.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication


def dark_palette() -> QPalette:
    palette = QPalette()
    role = QPalette.ColorRole
    group = QPalette.ColorGroup
    colors = {
        role.Window: "#202124",
        role.WindowText: "#e8eaed",
        role.Base: "#17181a",
        role.AlternateBase: "#26282b",
        role.ToolTipBase: "#303134",
        role.ToolTipText: "#e8eaed",
        role.PlaceholderText: "#9aa0a6",
        role.Text: "#e8eaed",
        role.Button: "#2d2f33",
        role.ButtonText: "#e8eaed",
        role.BrightText: "#ff6b6b",
        role.Link: "#8ab4f8",
        role.LinkVisited: "#c58af9",
        role.Highlight: "#3d6fb4",
        role.HighlightedText: "#ffffff",
        role.Light: "#3c4043",
        role.Midlight: "#34373b",
        role.Mid: "#2a2c30",
        role.Dark: "#111214",
        role.Shadow: "#000000",
    }
    for r, value in colors.items():
        palette.setColor(r, QColor(value))
    for r in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(group.Disabled, r, QColor("#80868b"))
    return palette


def apply(app: QApplication, scheme: str) -> None:
    """``scheme``: "dark", "light" or "" (follow the desktop)."""
    wanted = scheme.lower()
    if wanted not in ("dark", "light"):
        return
    hints = QGuiApplication.styleHints()
    hints.setColorScheme(Qt.ColorScheme.Dark if wanted == "dark" else Qt.ColorScheme.Light)
    app.setStyle("Fusion")
    app.setPalette(dark_palette() if wanted == "dark" else app.style().standardPalette())
