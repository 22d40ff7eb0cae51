"""``bc-payment-viewer-cli profile add|list|remove``: set up connection profiles without the window (a headless build
machine, a script), stored exactly where and how the app's profile editor stores them.

The profile's plain fields go to the settings file (``viewer.settings``); its secret goes to the system keyring under
the same names the editor uses (``viewer.profiles.secret_kind``, ``viewer.auth.store_secret``). A secret never comes
from the command line, where other users could read it in the process list: it is read from stdin
(``--secret-stdin`` / ``--password-stdin``), from the environment (``BCPV_CLIENT_SECRET`` / ``BCPV_PASSWORD``), or,
for a certificate, from a PEM file whose content (not its path) is kept.

Exit codes as for ``show`` (``viewer.cli``): 0 ok, 2 bad input, 5 no keyring to keep a secret in.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from typing import Any, TextIO

from viewer.cli import EXIT_INPUT, EXIT_OK, EXIT_SERVICE, CliError
from viewer.errors import ViewerError
from viewer.profiles import (
    MICROSOFT_API,
    MICROSOFT_LOGIN,
    SANDBOX_NAME,
    CloudUserProfile,
    OnPremProfile,
    Profile,
    ProfileError,
    SandboxProfile,
    ServicePrincipalProfile,
    check_saveable,
    read_certificate,
    secret_kind,
)

# Names shared with viewer.connection, which reads these variables at sign-in; repeated here (not imported) so that
# `profile list` does not load msal and httpx. tests/test_cli_profiles.py checks they agree.
ENV_CLIENT_SECRET = "BCPV_CLIENT_SECRET"
ENV_PASSWORD = "BCPV_PASSWORD"

KIND_WORDS = {
    "cloud": "Microsoft account (cloud)",
    "service-principal": "service principal",
    "onprem": "on-premises server",
}

EPILOG = """examples:
  bc-payment-viewer-cli profile add cloud Contoso --tenant contoso.com --client-id <app id> --environment production
  printf %s "$SECRET" | bc-payment-viewer-cli profile add service-principal Robot --tenant contoso.com \\
      --client-id <app id> --secret-stdin
  bc-payment-viewer-cli profile add service-principal Robot --tenant contoso.com --client-id <app id> \\
      --certificate robot.pem
  BCPV_PASSWORD=… bc-payment-viewer-cli profile add onprem Server --server https://bc.contoso.local:7048/BC --user ADMIN
  bc-payment-viewer-cli profile list
  bc-payment-viewer-cli profile remove Robot

The built-in sandbox needs no profile: it is listed in the app as "Sandbox"."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bc-payment-viewer-cli profile",
        description="Add, list or remove connection profiles (the same ones the app's Profiles… editor shows).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{add,list,remove}")

    add = commands.add_parser("add", help="add (or with --replace, change) a profile")
    kinds = add.add_subparsers(dest="kind", required=True, metavar="{cloud,service-principal,onprem}")
    cloud = kinds.add_parser("cloud", help="a person signing in with a Microsoft account (browser or device code)")
    service = kinds.add_parser("service-principal", help="an app registration with a client secret or a certificate")
    onprem = kinds.add_parser("onprem", help="a Business Central server with user name and password or access key")
    for sub in (cloud, service):
        sub.add_argument("name", help="the profile's name, e.g. Contoso")
        sub.add_argument("--tenant", required=True, help="tenant id (GUID) or domain, e.g. contoso.com")
        sub.add_argument("--client-id", required=True, help="the app registration's application (client) id")
        sub.add_argument("--environment", default="production", help="environment name (default production)")
        sub.add_argument("--authority", default=MICROSOFT_LOGIN, help=f"sign-in address (default {MICROSOFT_LOGIN})")
        sub.add_argument("--api-base", default=MICROSOFT_API, help=f"API address (default {MICROSOFT_API})")
    secret = service.add_mutually_exclusive_group()
    secret.add_argument("--secret-stdin", action="store_true",
                        help=f"read the client secret from stdin (else from {ENV_CLIENT_SECRET} when set)")
    secret.add_argument("--certificate", metavar="PEM",
                        help="a PEM file with the private key and the certificate; its content goes to the keyring")
    onprem.add_argument("name", help="the profile's name, e.g. Server")
    onprem.add_argument("--server", required=True,
                        help="server address with the instance, e.g. https://bc.contoso.local:7048/BC")
    onprem.add_argument("--user", required=True, help="the Business Central user name")
    onprem.add_argument("--tenant", help="the server tenant (multitenant servers only)")
    onprem.add_argument("--password-stdin", action="store_true",
                        help=f"read the password or web service access key from stdin (else from {ENV_PASSWORD})")
    for sub in (cloud, service, onprem):
        sub.add_argument("--ca-file", help="trust this CA certificate (PEM), e.g. a private CA or a TLS proxy")
        sub.add_argument("--replace", action="store_true", help="replace a profile of the same name")

    listing = commands.add_parser("list", help="list the saved profiles (never a secret)")
    listing.add_argument("--format", choices=("table", "json"), default="table", help="table (default) or json")

    remove = commands.add_parser("remove", help="remove a profile and its secrets in the keyring")
    remove.add_argument("name", help="the profile's name")
    return parser


def main(argv: Sequence[str], *, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Runs one profile command; ``viewer.cli.main`` hands over everything after ``profile``."""
    from viewer.cli import _Parser

    parser = build_parser()
    for action in [parser, *_subparsers(parser)]:
        action.__class__ = _Parser  # bad arguments: our one-line message and exit code 2, not argparse's exit
    try:
        args = parser.parse_args(list(argv))
        if args.command == "add":
            text = add(args, stdin)
        elif args.command == "list":
            text = list_profiles(args.format)
        else:
            text = remove(args.name)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except CliError as exc:
        print(f"error: {exc}", file=err)
        return exc.code
    out.write(text)
    out.flush()
    return EXIT_OK


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += [sub, *_subparsers(sub)]
    return found


def _profile(args: argparse.Namespace) -> Profile:
    ca_file = args.ca_file or None
    if args.kind == "onprem":
        return OnPremProfile(name=args.name, base_url=args.server.rstrip("/"), user=args.user,
                             tenant=args.tenant or None, ca_file=ca_file)
    common: dict[str, Any] = {
        "name": args.name, "tenant": args.tenant, "client_id": args.client_id, "environment": args.environment,
        "authority_host": args.authority, "api_base": args.api_base, "ca_file": ca_file,
    }
    if args.kind == "cloud":
        return CloudUserProfile(**common)
    return ServicePrincipalProfile(**common, credential="certificate" if args.certificate else "secret")


def _secret(args: argparse.Namespace, profile: Profile, stdin: TextIO) -> str:
    """The profile's secret from stdin, the environment or the certificate file; "" when none was given."""
    kind = secret_kind(profile)
    if kind == "certificate":
        return read_certificate(args.certificate)
    from_stdin = getattr(args, "secret_stdin", False) or getattr(args, "password_stdin", False)
    if from_stdin:
        # One line, as `printf %s "$SECRET" |` or a password manager's pipe gives it; the newline is not part of it.
        value = stdin.readline().rstrip("\r\n")
        if not value:
            raise CliError("nothing was read from stdin: pipe the secret in, e.g. printf %s \"$SECRET\" | …",
                           EXIT_INPUT)
        return value
    if kind == "client_secret":
        return os.environ.get(ENV_CLIENT_SECRET, "")
    if kind == "password":
        return os.environ.get(ENV_PASSWORD, "")
    return ""


def add(args: argparse.Namespace, stdin: TextIO) -> str:
    from viewer.settings import Settings

    settings = Settings()
    try:
        profile = _profile(args)
        check_saveable(profile)
        secret = _secret(args, profile, stdin)
    except ProfileError as exc:
        raise CliError(str(exc), EXIT_INPUT) from None
    if settings.profile(profile.name) is not None and not args.replace:
        raise CliError(f"a profile named {profile.name!r} exists already: pass --replace to change it, or "
                       f"remove it first", EXIT_INPUT)
    kind = secret_kind(profile)
    if secret:
        from viewer.auth import store_secret

        # The secret first: when there is no keyring, nothing is saved and the message says what to do instead.
        try:
            store_secret(profile.name, kind, secret)
        except ViewerError as exc:
            variable = ENV_CLIENT_SECRET if kind == "client_secret" else ENV_PASSWORD
            instead = (f" Nothing was saved. Without a keyring, add the profile without the secret and set {variable} "
                       "when you run `show`." if kind != "certificate" else
                       " Nothing was saved. Without a keyring, add the profile without --certificate and set "
                       "BCPV_CLIENT_CERTIFICATE to the PEM file's path when you run `show`.")
            raise CliError(f"{exc}{instead}", EXIT_SERVICE) from None
    settings.save_profile(profile)
    settings.sync()
    lines = [f"saved profile {profile.name!r} ({KIND_WORDS[args.kind]})"]
    if secret:
        lines.append(f"its {_secret_words(kind)} is in the system keyring")
    elif kind:
        variable = ENV_CLIENT_SECRET if kind == "client_secret" else ENV_PASSWORD
        lines.append(f"no {_secret_words(kind)} stored: `show` reads {variable} (or the keyring)")
    return "\n".join(lines) + "\n"


def _secret_words(kind: str) -> str:
    return {"client_secret": "client secret", "certificate": "certificate", "password": "password"}.get(kind, kind)


def _where(profile: Profile) -> str:
    if isinstance(profile, OnPremProfile):
        return profile.base_url + (f" (tenant {profile.tenant})" if profile.tenant else "")
    if isinstance(profile, CloudUserProfile | ServicePrincipalProfile):
        return f"{profile.tenant}/{profile.environment}"
    return "built in"


def _kind_word(profile: Profile) -> str:
    if isinstance(profile, ServicePrincipalProfile):
        return f"service-principal ({'certificate' if profile.credential == 'certificate' else 'secret'})"
    if isinstance(profile, OnPremProfile):
        return "onprem"
    if isinstance(profile, SandboxProfile):
        return "sandbox"
    return "cloud"


def list_profiles(fmt: str) -> str:
    from viewer.profiles import profile_to_dict
    from viewer.settings import Settings

    profiles = [p for p in Settings().profiles() if not isinstance(p, SandboxProfile)]
    if fmt == "json":
        return json.dumps([profile_to_dict(p) for p in profiles], ensure_ascii=False, indent=2) + "\n"
    if not profiles:
        return ("no saved profiles (add one with `bc-payment-viewer-cli profile add`; the app also has the "
                f"built-in {SANDBOX_NAME!r})\n")
    rows = [("NAME", "KIND", "WHERE")] + [(p.name, _kind_word(p), _where(p)) for p in profiles]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "".join(f"{r[0].ljust(widths[0])}  {r[1].ljust(widths[1])}  {r[2]}\n" for r in rows)


def remove(name: str) -> str:
    from viewer.auth import delete_secret
    from viewer.settings import Settings

    settings = Settings()
    profile = settings.profile(name)
    if profile is None:
        names = ", ".join(p.name for p in settings.profiles()) or "none saved"
        raise CliError(f"no profile named {name!r} (profiles: {names})", EXIT_INPUT)
    settings.delete_profile(name)
    settings.sync()
    # Every kind, not only the current one: a service principal may have switched from a secret to a certificate.
    removed = [kind for kind in ("client_secret", "certificate", "password", "proxy_password")
               if delete_secret(name, kind)]
    return f"removed profile {name!r}" + (" and its secret in the keyring" if removed else "") + "\n"


def guid_help(text: str, profile: str | None) -> str | None:
    """What bare GUIDs need in the terminal, in plain words (None when ``text`` is not bare GUIDs): a profile, for
    which Business Central and environment; and, for a single GUID, the company, which the terminal has not chosen."""
    from viewer.refs import guid_count
    from viewer.settings import Settings

    count = guid_count(text)
    if not count:
        return None
    company = ("a single GUID is a payment id, and the terminal has no chosen company: give the company's GUID "
               "first, as 'COMPANY-GUID PAYMENT-GUID' (or COMPANY JOURNAL PAYMENT), or paste the payment's API URL")
    if profile is None:
        names = ", ".join(repr(p.name) for p in Settings().profiles()) or "none saved yet"
        need = (f"bare GUIDs name no server: pass --profile NAME for the Business Central and environment to read "
                f"them in (profiles: {names}; `bc-payment-viewer-cli profile add` makes one)")
        return f"{need}; and {company}" if count == 1 else need
    return f"{company} (with --profile {profile!r})" if count == 1 else None
