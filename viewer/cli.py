"""``python main.py show <url-or-ref>``: print one payment in the terminal.

Exit codes: 0 ok, 2 bad input, 3 sign-in needed or failed, 4 not found, 5 any other service or network
error. A failure prints exactly one line on stderr (with Business Central's code and correlation id where
there is one), never a traceback. Whatever a server sends, the terminal only ever receives text:
control characters, ESC, bidi overrides and lone surrogates in values and messages are shown escaped
(backslash-x-1b, backslash-u-202e), and characters the terminal's encoding lacks become backslash-u
escapes. Secrets come from the keyring or BCPV_PASSWORD / BCPV_CLIENT_SECRET, never from the command
line (where other users could read them in the process list).
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from viewer import jsondata, odata, refs
from viewer.errors import ApiError, NotFound, SignInRequired, ViewerError

if TYPE_CHECKING:
    from viewer.checks import Check
    from viewer.client import BcClient

EXIT_OK, EXIT_INPUT, EXIT_SIGN_IN, EXIT_NOT_FOUND, EXIT_SERVICE = 0, 2, 3, 4, 5

# What a terminal would act on rather than show: C0/C1 controls and DEL (ESC starts escape sequences; CR, LF,
# VT, FF, FS-RS, NEL fake extra lines), bidi embeddings/overrides/isolates (reorder what follows), line and
# paragraph separators, and lone surrogates (not encodable at all).
_UNSAFE = re.compile(f"[\x00-\x1f{jsondata.UNSAFE_CLASS}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPE_ERRORS = "bcpv-u-escape"


def _escape_char(char: str) -> str:
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal would interpret shown as an escape instead."""
    return _UNSAFE.sub(lambda m: _escape_char(m.group()), text)


def _u_escape(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: characters the output encoding lacks become JSON-compatible ``\\uXXXX`` escapes."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for char in exc.object[exc.start:exc.end]:
        code = ord(char)
        if code > 0xFFFF:  # a surrogate pair, as JSON spells characters beyond the BMP
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out), exc.end


codecs.register_error(_ESCAPE_ERRORS, _u_escape)


def _write(stream: TextIO, text: str) -> None:
    """Write without ever raising UnicodeEncodeError: a C/ASCII terminal gets escapes, not a traceback."""
    encoding = getattr(stream, "encoding", None)
    if encoding:
        text = text.encode(encoding, _ESCAPE_ERRORS).decode(encoding, "replace")
    stream.write(text)
    stream.flush()


def _error_line(err: TextIO, message: str) -> None:
    """The one stderr line of a failure: whitespace runs folded, everything else escaped."""
    _write(err, f"error: {terminal_safe(' '.join(message.split()))}\n")


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bc-payment-viewer show",
        description="Print one Business Central customer payment.",
        epilog="exit codes: 0 ok, 2 bad input, 3 sign-in needed or failed, 4 not found, 5 other service or "
        "network error\nsecrets: BCPV_PASSWORD (on-prem); BCPV_CLIENT_SECRET or BCPV_CLIENT_CERTIFICATE (a PEM path) "
        "for a service principal; otherwise the keyring",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("ref", help="an API URL, a web-client URL, or GUIDs (company [journal] payment) with --profile")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="table (default) or json")
    parser.add_argument("--profile", help="a saved profile (default: the last one used, for cloud URLs)")
    parser.add_argument("--user", help="on-prem user name (no saved profile needed); password from BCPV_PASSWORD")
    parser.add_argument("--ca-file", help="trust this CA certificate (PEM), e.g. a private on-prem CA")
    parser.add_argument("--checks", action="store_true",
                        help="also check the payment (will it post, what it settles); the exit code stays the load's")
    return parser


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so bad arguments get our one-line message and code 2."""

    def error(self, message: str) -> Any:
        raise CliError(message, EXIT_INPUT)


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None,
         stdin: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if argv is not None and list(argv[:1]) == ["profile"]:  # `profile add|list|remove`: viewer/cli_profiles.py
        from viewer.cli_profiles import main as profile_main

        return profile_main(list(argv[1:]), out=out, err=err, stdin=stdin or sys.stdin)
    parser = build_parser()
    parser.__class__ = _Parser
    try:
        words = list(sys.argv[1:] if argv is None else argv)
        if words[:1] == ["show"]:  # main.py hands over everything after "show"; tolerate it either way
            words = words[1:]
        args = parser.parse_args(words)
        text = asyncio.run(_show(args, err))
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except CliError as exc:
        _error_line(err, str(exc))
        return exc.code
    except KeyboardInterrupt:
        _error_line(err, "interrupted")
        return EXIT_SERVICE
    except Exception as exc:  # a bug, not the server: still one line and an exit code, never a traceback
        _error_line(err, f"unexpected problem ({type(exc).__name__}); please report it with the command you ran")
        return EXIT_SERVICE
    _write(out, text)
    return EXIT_OK


def _profile_for(args: argparse.Namespace, ref: refs.PaymentRef | None) -> Any:
    from viewer.profiles import OnPremProfile
    from viewer.settings import LAST_PROFILE, Settings

    settings = Settings()
    if args.profile:
        profile = settings.profile(args.profile)
        if profile is None:
            names = ", ".join(p.name for p in settings.profiles()) or "none saved yet"
            raise CliError(f"no profile named {args.profile!r} (profiles: {names})", EXIT_INPUT)
        if args.ca_file and hasattr(profile, "ca_file"):
            profile = replace(profile, ca_file=args.ca_file)
        return profile
    if ref is not None and ref.endpoint.kind == "onprem":
        if not args.user:
            raise CliError("an on-prem URL needs --user (or --profile); the password comes from BCPV_PASSWORD "
                           "or the keyring", EXIT_INPUT)
        base = f"{ref.endpoint.base}/{ref.endpoint.instance}"
        return OnPremProfile(name=f"{args.user}@{urlsplit(base).netloc}", base_url=base, user=args.user,
                             tenant=ref.endpoint.tenant, ca_file=args.ca_file)
    last = settings.get(LAST_PROFILE)
    profile = settings.profile(last) if last else None
    if profile is None:
        raise CliError("no profile to sign in with: pass --profile NAME (create one with `bc-payment-viewer-cli "
                       "profile add`, or in the app)", EXIT_SIGN_IN)
    return profile


async def _show(args: argparse.Namespace, err: TextIO) -> str:
    from viewer.connection import Connection
    from viewer.opener import endpoint_of, require_same_server
    from viewer.profiles import SandboxProfile
    from viewer.settings import Settings

    # Bare GUIDs need the profile's endpoint; URLs carry their own.
    try:
        ref: refs.PaymentRef | None = refs.parse(args.ref)
    except refs.RefError as exc:
        if not args.profile:
            raise CliError(_guid_help(args.ref, None) or str(exc), EXIT_INPUT) from None
        ref = None
    profile = _profile_for(args, ref)
    if isinstance(profile, SandboxProfile):
        raise CliError("the sandbox profile lives inside the app; for the terminal start `python -m viewer.sandbox` "
                       "and use its service principal or on-prem user", EXIT_INPUT)
    try:
        connection = Connection.open(profile)
    except SignInRequired as exc:
        raise CliError(str(exc), EXIT_SIGN_IN) from None
    connection.client.limits = Settings().limits()  # network/* in settings.ini (README "Security")
    try:
        here = endpoint_of(connection.api_root)
        if ref is None:
            try:
                ref = refs.parse(args.ref, default=here)
            except refs.RefError as exc:
                raise CliError(_guid_help(args.ref, profile.name) or str(exc), EXIT_INPUT) from None
        if not ref.is_payment:
            raise CliError("this names a company or journal but no payment", EXIT_INPUT)
        try:
            require_same_server(ref.endpoint, here)
        except refs.RefError as exc:
            raise CliError(f"{exc} (profile {profile.name!r})", EXIT_INPUT) from None
        await _sign_in(connection, err)
        url = refs.build_url(ref)
        response = await connection.client.get_json(url)
        values = odata.strip(response.data)
        found = await _checks(connection.client, ref, values) if args.checks else None
    except NotFound as exc:
        raise CliError(_one_line(exc), EXIT_NOT_FOUND) from None
    except SignInRequired as exc:
        raise CliError(_one_line(exc), EXIT_SIGN_IN) from None
    except ViewerError as exc:
        raise CliError(_one_line(exc), EXIT_SERVICE) from None
    finally:
        await connection.aclose()
    if args.format == "json":
        shown: dict[str, Any] = dict(values)
        if found is not None:
            shown["checks"] = [c.as_json() for c in found]
        # jsondata: the server's exact digits, and risky characters escaped inside strings (still valid JSON).
        return jsondata.dumps(shown, indent=2) + "\n"
    table = _table(response.data, ref.endpoint.api_version)
    return table if found is None else table + "\n" + _checks_block(found)


async def _checks(client: BcClient, ref: refs.PaymentRef, values: dict[str, Any]) -> list[Check]:
    """The payment's checks; a related record that fails to load makes its checks ``unknown``, never an exit code."""
    from PySide6.QtCore import QLocale

    from viewer.checking import gather
    from viewer.checks import run_checks

    return run_checks(await gather(client, ref, values), QLocale.system())


def _checks_block(found: list[Check]) -> str:
    from viewer.checks import TITLES, headline

    width = max((len(TITLES[c.id]) for c in found), default=0)
    lines = [f"Checks  {headline(found)}"]
    for check in found:
        # Messages quote the server's texts (names, numbers): escaped like the table's values.
        lines.append(f"  {check.severity.glyph} {check.severity.word.ljust(7)}  {TITLES[check.id].ljust(width)}  "
                     f"{terminal_safe(check.message)}")
    return "\n".join(lines) + "\n"


async def _sign_in(connection: Any, err: TextIO) -> None:
    """Cloud users: silent from the cache, else a device code printed on stderr (stdout stays clean for pipes)."""
    user = connection.user
    if user is None:
        return
    if await user.try_silent() is not None:
        return

    def show_code(code: Any) -> None:
        text = code.message or f"To sign in, open {code.verification_uri} and enter the code {code.user_code}"
        _write(err, terminal_safe(" ".join(str(text).split())) + "\n")  # the identity server's text: escaped

    from viewer.auth import AuthFailed

    try:
        await user.sign_in_device_code(show_code)
    except AuthFailed as exc:
        raise SignInRequired(str(exc)) from None


def _guid_help(text: str, profile: str | None) -> str | None:
    from viewer.cli_profiles import guid_help

    return guid_help(text, profile)


def _one_line(exc: ViewerError) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, ApiError):
        extras = [f"code {exc.code}" if exc.code else "", f"HTTP {exc.status}" if exc.status else "",
                  f"correlation id {exc.correlation_id}" if exc.correlation_id else ""]
        extra = ", ".join(e for e in extras if e)
        if extra and extra not in text:
            text = f"{text} ({extra})"
    return text


def _table(record: dict[str, Any], api_version: str) -> str:
    from PySide6.QtCore import QLocale

    from viewer.schema import describe

    fields = describe("customerPayment", api_version, record, QLocale.system())
    width = max((len(terminal_safe(f.spec.label)) for f in fields), default=0)
    lines: list[str] = []
    group = None
    for item in fields:
        if item.spec.group != group:
            group = item.spec.group
            lines.append(f"{'' if not lines else chr(10)}{group}")
        value = item.display if not item.blank else "(blank)"
        if item.utc and not item.blank:
            value = f"{value}  [UTC {item.utc}]"
        # Labels of unknown fields and every value come from the server: escaped, so they cannot drive the terminal.
        lines.append(f"  {terminal_safe(item.spec.label).ljust(width)}  {terminal_safe(value)}")
    return "\n".join(lines) + "\n"
