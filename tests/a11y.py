"""Assertions through Qt's accessibility API: what a screen reader is given (role, name, text, relations, events).

Everything here reads ``QAccessible.queryAccessibleInterface`` — the data Qt hands to AT-SPI, UI Automation and
NSAccessibility — rather than widget properties, so a test fails when a screen reader would be let down.
``EventLog`` records the changes the app makes on purpose (``ui.a11y.events``; PySide6 has no
``QAccessible.installUpdateHandler``). ``scripts/a11y-tree.sh`` shows the same through the real AT-SPI bus.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAccessible, QAccessibleInterface, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QLabel, QMenuBar, QTabBar, QWidget

from ui.a11y import Sent, events
from ui.theme import contrast as contrast  # the WCAG ratio, for contrast tests

Role = QAccessible.Role
Text = QAccessible.Text

# Roles a user operates: each needs a name a screen reader can say.
INTERACTIVE = {
    Role.PushButton, Role.ButtonMenu, Role.ButtonDropDown, Role.CheckBox, Role.RadioButton, Role.ComboBox,
    Role.EditableText, Role.List, Role.Table, Role.Tree, Role.PageTab, Role.PageTabList, Role.MenuItem, Role.Link,
    Role.SpinBox, Role.Slider,
}


def iface(obj: QObject) -> QAccessibleInterface:
    found = QAccessible.queryAccessibleInterface(obj)
    assert found is not None and found.isValid(), f"no accessible interface for {obj}"
    return found


def name(obj: QObject) -> str:
    return iface(obj).text(Text.Name)


def description(obj: QObject) -> str:
    return iface(obj).text(Text.Description)


def role(obj: QObject) -> QAccessible.Role:
    return iface(obj).role()


def labelled_by(obj: QObject) -> list[str]:
    """Names of what labels ``obj`` (its label relations: a buddy label, for instance)."""
    return [other.text(Text.Name) for other, flag in iface(obj).relations(QAccessible.RelationFlag.Label)
            if flag & QAccessible.RelationFlag.Label]


def walk(root: QAccessibleInterface) -> Iterator[QAccessibleInterface]:
    """The accessibility tree under ``root`` (visible or not), depth first."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(c for i in range(node.childCount() - 1, -1, -1) if (c := node.child(i)) is not None)


def showing(node: QAccessibleInterface) -> bool:
    state = node.state()
    return not state.invisible and not state.offscreen


def unnamed_interactive(root: QObject) -> list[str]:
    """Interactive elements on screen under ``root`` that a screen reader could only call by their role.

    A label relation names an element too: on Linux Qt names a combo box after its current value and leaves
    what it chooses to the relation (Orca reads "Search in: combo box, Document No.")."""
    missing = []
    for node in walk(iface(root)):
        labelled = any(flag & QAccessible.RelationFlag.Label for _other, flag in node.relations())
        if node.role() in INTERACTIVE and showing(node) and not node.text(Text.Name).strip() and not labelled:
            obj = node.object()
            where = "" if obj is None else f"{obj.objectName() or type(obj).__name__} in {obj.parent().objectName()}"
            missing.append(f"{node.role().name} {where}".strip())
    return missing


def duplicate_names(root: QObject) -> list[str]:
    """Names that two interactive elements on screen share (a screen reader could not tell them apart)."""
    seen: dict[str, int] = {}
    for node in walk(iface(root)):
        spoken = node.text(Text.Name).strip()
        if spoken and node.role() in INTERACTIVE - {Role.PageTabList, Role.MenuItem} and showing(node):
            seen[spoken] = seen.get(spoken, 0) + 1
    return sorted(n for n, count in seen.items() if count > 1)


def visible_text(text: str) -> str:
    """A control's caption as seen: mnemonic ampersands, trailing colons and ellipses dropped."""
    return re.sub(r"&(.)", r"\1", text).rstrip(":…. ").strip()


def label_not_in_name(root: QWidget) -> list[str]:
    """Buttons whose spoken name does not contain their visible caption (WCAG 2.5.3 "label in name": a
    speech-control user says what they see)."""
    wrong = []
    for button in root.findChildren(QAbstractButton):
        caption = visible_text(button.text())
        if caption and button.isVisibleTo(root) and caption.lower() not in name(button).lower():
            wrong.append(f"{caption!r} spoken as {name(button)!r}")
    return wrong


def mnemonics(window: QWidget) -> dict[str, list[str]]:
    """Alt+letter → what it reaches, for everything on screen in ``window`` (labels with buddies, buttons, tabs,
    the menu bar). More than one entry for a letter is a clash."""
    found: dict[str, list[str]] = {}

    def add(text: str) -> None:
        key = QKeySequence.mnemonic(text)
        if not key.isEmpty():
            found.setdefault(key.toString(), []).append(visible_text(text))

    for label in window.findChildren(QLabel):
        if label.buddy() is not None and label.isVisibleTo(window):
            add(label.text())
    for button in window.findChildren(QAbstractButton):
        if button.isVisibleTo(window):
            add(button.text())
    for bar in window.findChildren(QTabBar):
        if bar.isVisibleTo(window):
            for i in range(bar.count()):
                add(bar.tabText(i))
    for menubar in window.findChildren(QMenuBar):
        for action in menubar.actions():
            add(action.text())
    return found


def clashes(window: QWidget) -> dict[str, list[str]]:
    return {key: names for key, names in mnemonics(window).items() if len(names) > 1}


def tab_walk(window: QWidget, start: QWidget, *, backwards: bool = False, limit: int = 200) -> list[QWidget]:
    """Press Tab (or Shift+Tab) from ``start`` until the focus comes back round; the widgets reached, in order.

    Reads ``window.focusWidget()``, which follows the focus chain whether or not the offscreen window is active."""
    start.setFocus(Qt.FocusReason.TabFocusReason)
    reached = [start]
    key = Qt.Key.Key_Backtab if backwards else Qt.Key.Key_Tab
    for _ in range(limit):
        current = window.focusWidget()
        assert current is not None
        QTest.keyClick(current, key, Qt.KeyboardModifier.ShiftModifier if backwards else Qt.KeyboardModifier.NoModifier)
        after = window.focusWidget()
        if after is None or after is reached[0] or after in reached:
            break
        reached.append(after)
    return reached


def spoken(widgets: list[QWidget]) -> list[str]:
    """What a screen reader says for each widget in a Tab walk: its role and name."""
    return [f"{role(w).name}: {name(w)}" for w in widgets]


@dataclass
class EventLog:
    """The accessibility changes the app makes while it is connected (names, descriptions, announcements)."""

    sent: list[Sent] = field(default_factory=list)

    def __post_init__(self) -> None:
        events.sent.connect(self.sent.append)

    def close(self) -> None:
        events.sent.disconnect(self.sent.append)

    def texts(self, kind: str, target: QObject | None = None) -> list[str]:
        return [e.text for e in self.sent if e.kind == kind and (target is None or e.target is target)]

    def announcements(self) -> list[str]:
        return self.texts("announcement")
