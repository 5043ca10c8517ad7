"""The options every WebSocket workload (calls, connections, call_burst) shares for reaching a
real deployment: handshake `headers` (templates: `${VAR}` reads the environment), and for
`wss://` a private CA bundle (`ca_file`) or no verification (`insecure`).

The config keeps the templates as written; `WsOptions.transport` expands them and loads the CA
when the workload is built, in the process that sends the traffic, and that is the only place the
values exist (generator/protocols/transport.py says why).
"""

from __future__ import annotations

from ssl import SSLContext

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from generator.protocols.transport import HeaderPairs, expand_headers, header_pairs, tls_context

WS_OPTION_KEYS = ("headers", "ca_file", "insecure")


class WsOptions(BaseModel):
    """Headers and TLS options; a subclass supplies ``url``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    headers: HeaderPairs = ()
    ca_file: str | None = None
    insecure: bool = False

    @field_validator("headers", mode="before")
    @classmethod
    def _headers(cls, value: object) -> HeaderPairs:
        return header_pairs(value)

    @model_validator(mode="after")
    def _tls_needs_wss(self) -> WsOptions:
        url = str(getattr(self, "url", ""))
        if (self.ca_file is not None or self.insecure) and not url.startswith("wss://"):
            raise ValueError(f"ca_file and insecure apply to wss:// URLs only (got {url!r})")
        if self.ca_file is not None and self.insecure:
            raise ValueError("ca_file and insecure cannot be combined: choose one")
        return self

    def transport(self, where: str) -> tuple[HeaderPairs, SSLContext | None]:
        """The expanded headers and the shared TLS context; InvalidInput (at ``where``) for a
        variable that is not set or a CA file that cannot be read."""
        url = str(getattr(self, "url", ""))
        headers = expand_headers(self.headers, f"{where}.headers")
        return headers, tls_context(url, self.ca_file, self.insecure, f"{where}.ca_file")


__all__ = ["WS_OPTION_KEYS", "WsOptions"]
