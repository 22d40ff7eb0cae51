"""Render ``icons/bc-payment-viewer.svg`` to the PNG sizes desktops ask for, and pack them into the Windows
``.ico`` (shortcuts and the .exe need one); run after editing the SVG.

``QT_QPA_PLATFORM=offscreen .venv/bin/python resources/make_icons.py`` — the PNGs are committed, so
neither the app nor an installed package needs the SVG renderer at run time.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parent / "icons"
SVG = ICONS / "bc-payment-viewer.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256)


def render(size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    QSvgRenderer(str(SVG)).render(painter)
    painter.end()
    return image


def main() -> int:
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    for size in SIZES:
        out = ICONS / f"bc-payment-viewer-{size}.png"
        if not render(size).save(str(out)):
            print(f"cannot write {out}", file=sys.stderr)
            return 1
        print(out)
    ico = ICONS / "bc-payment-viewer.ico"
    ico.write_bytes(ico_bytes([(size, (ICONS / f"bc-payment-viewer-{size}.png").read_bytes()) for size in SIZES]))
    print(ico)
    return 0


def ico_bytes(pngs: list[tuple[int, bytes]]) -> bytes:
    """An .ico holding PNG images (Windows Vista and later read these): a 6-byte header, one 16-byte entry
    per image (width and height 0 mean 256), then the PNG files themselves."""
    import struct

    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = len(header) + 16 * len(pngs)
    entries, blobs = b"", b""
    for size, png in pngs:
        side = 0 if size >= 256 else size
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset + len(blobs))
        blobs += png
    return header + entries + blobs


if __name__ == "__main__":
    sys.exit(main())
