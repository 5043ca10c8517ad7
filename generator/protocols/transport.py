"""How a WebSocket workload authenticates and trusts its target: extra handshake headers and the
TLS context of `wss://` URLs, shared by the call clients and the connection workloads.

Headers are written as templates, `Name: value`, where `${VAR}` is replaced by the environment
variable VAR and nothing else is expanded (no `$VAR`, no defaults, no commands). A template is
what a scenario, run.json and a `--workers` child see; it is expanded only when a workload is
built to send traffic, from that process's own environment, so a token never travels through a
file, a report or a command line. `redact_headers` is the form a snapshot may hold: templates as
written, a literal value replaced by REDACTED (it may be a token typed on the command line).

`tls_context` builds the one `ssl.SSLContext` a workload shares across its connections: the
system's trust store, plus a private CA (`ca_file`), or no verification at all (`insecure`).
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from generator.errors import InvalidInput

HeaderPairs = tuple[tuple[str, str], ...]

REDACTED: Final = "<redacted>"
OPENAI_KEY_ENV: Final = "OPENAI_API_KEY"
# RFC 9110 token characters: what a header name may hold.
_NAME: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_REFERENCE: Final = re.compile(r"\$\{([^}]*)\}")
_VAR_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_header(text: str) -> tuple[str, str]:
    """`Name: value` as (name, value template); ValueError says what is wrong with it."""
    name, colon, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not colon:
        raise ValueError(f"{text!r} is not `Name: value`")
    check_header(name, value)
    return name, value


def check_header(name: str, value: str) -> None:
    """ValueError unless ``name`` is a valid header name and ``value`` a usable template."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid header name")
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name}: a value cannot span lines")
    for ref in _REFERENCE.findall(value):
        if not _VAR_NAME.fullmatch(ref):
            raise ValueError(f"header {name}: ${{{ref}}} is not an environment variable name")
    if "${" in _REFERENCE.sub("", value):
        raise ValueError(f"header {name}: an unclosed `${{` (write ${{VAR}})")


def header_pairs(value: object) -> HeaderPairs:
    """Headers as a scenario or the flags give them, as validated (name, template) pairs: a
    mapping `{Name: value}`, or a list of `Name: value` strings or [name, value] pairs (a list
    may repeat a name). ValueError names the first bad entry."""
    if value is None:
        return ()
    items: Iterable[object]
    if isinstance(value, Mapping):
        # YAML reads `X-Version: 2` as a number; a header value is text either way.
        items = [[k, _text(v)] for k, v in value.items()]
    elif isinstance(value, Sequence) and not isinstance(value, str):
        items = value
    else:
        raise ValueError("headers must be a mapping of Name: value or a list of 'Name: value'")
    pairs: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, str):
            pairs.append(parse_header(item))
            continue
        if (
            isinstance(item, Sequence)
            and not isinstance(item, str)
            and len(item) == 2
            and all(isinstance(part, str) for part in item)
        ):
            name, template = str(item[0]).strip(), str(item[1]).strip()
            check_header(name, template)
            pairs.append((name, template))
            continue
        raise ValueError(f"a header must be 'Name: value' (got {item!r})")
    return tuple(pairs)


def _text(value: object) -> object:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def expand_headers(
    pairs: HeaderPairs, where: str, env: Mapping[str, str] | None = None
) -> HeaderPairs:
    """The headers to send: each `${VAR}` replaced from ``env`` (default os.environ). Every
    missing variable is reported at once as InvalidInput at ``where`` (CLI exit 2)."""
    environ = os.environ if env is None else env
    missing: list[str] = []
    out: list[tuple[str, str]] = []
    for name, template in pairs:

        def substitute(match: re.Match[str], header: str = name) -> str:
            var = match.group(1)
            if var not in environ:
                missing.append(
                    f"header {header} needs ${{{var}}}, which is not set in the environment "
                    "(export it, or change the header)"
                )
                return ""
            return environ[var]

        out.append((name, _REFERENCE.sub(substitute, template)))
    if missing:
        raise InvalidInput(where, list(dict.fromkeys(missing)))
    return tuple(out)


def redact_headers(pairs: HeaderPairs) -> list[list[str]]:
    """What a snapshot may hold: templates that read the environment as written (they name a
    variable, not its value), any other value as REDACTED."""
    return [[name, value if _REFERENCE.search(value) else REDACTED] for name, value in pairs]


def has_header(pairs: HeaderPairs, name: str) -> bool:
    return any(key.lower() == name.lower() for key, _ in pairs)


def with_bearer_from_env(
    pairs: HeaderPairs, var: str = OPENAI_KEY_ENV, env: Mapping[str, str] | None = None
) -> HeaderPairs:
    """``pairs`` plus `Authorization: Bearer $var` when the variable is set and no
    Authorization header was given (an explicit one wins)."""
    environ = os.environ if env is None else env
    key = environ.get(var)
    if not key or has_header(pairs, "Authorization"):
        return pairs
    return (*pairs, ("Authorization", f"Bearer {key}"))


def tls_context(url: str, ca_file: str | None, insecure: bool, where: str) -> ssl.SSLContext | None:
    """The context all of a workload's `wss://` connections share (built once: loading a trust
    store costs milliseconds). None for `ws://`, where the options make no sense (InvalidInput)
    and for `wss://` without options (websockets then uses the system's default context)."""
    secure = url.startswith("wss://")
    if not secure:
        if ca_file is not None or insecure:
            flags = "ca_file" if ca_file is not None else "insecure"
            raise InvalidInput(where, [f"{flags} applies to wss:// URLs only (got {url!r})"])
        return None
    if ca_file is None and not insecure:
        return None
    if ca_file is not None and insecure:
        raise InvalidInput(where, ["ca_file and insecure cannot be combined: choose one"])
    if insecure:
        # Nothing is verified, so the system's trust store (tens of ms to load) is not needed.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=ca_file)
    except FileNotFoundError:
        raise InvalidInput(where, [f"ca_file {ca_file}: no such file"]) from None
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(
            where, [f"ca_file {ca_file}: not a PEM certificate bundle ({exc})"]
        ) from None
    return context


__all__ = [
    "OPENAI_KEY_ENV",
    "REDACTED",
    "HeaderPairs",
    "check_header",
    "expand_headers",
    "has_header",
    "header_pairs",
    "parse_header",
    "redact_headers",
    "tls_context",
    "with_bearer_from_env",
]
