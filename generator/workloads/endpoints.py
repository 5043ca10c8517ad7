"""The endpoints file of the HTTP mix: a YAML list of requests, each with a weight, validated as a
whole so that every mistake in the file is reported at once, with the file's name.

```yaml
- name: dashboard            # unique; the `endpoint` tag of every metric
  method: GET                # default GET
  path: /api/calls-dashboard # relative to the base URL; must start with "/"
  headers: {Accept: application/json}
  bearer: true               # send `Authorization: Bearer $API_TOKEN`
  body: {json: {...}}        # or {form: {key: value}}; absent = no body
  weight: 3                  # relative share of the mix; default 1
  expect_status: 200         # or a list; absent = any 2xx
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from generator.errors import InvalidInput

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class EndpointBody(BaseModel):
    """A request body: exactly one of a JSON document or form fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    json_doc: Any = Field(default=None, alias="json")
    form: dict[str, str] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> EndpointBody:
        if (self.json_doc is None) == (self.form is None):
            raise ValueError("give exactly one of `json` or `form`")
        return self


class Endpoint(BaseModel):
    """One request of the mix."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    method: Method = "GET"
    path: str
    headers: dict[str, str] = Field(default_factory=dict)
    bearer: bool = False
    body: EndpointBody | None = None
    weight: float = Field(default=1.0, gt=0)
    expect_status: int | list[int] | None = None

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"must start with '/' (got {value!r})")
        return value

    @field_validator("headers")
    @classmethod
    def _no_auth_header(cls, value: dict[str, str]) -> dict[str, str]:
        # A literal token in the file would end up in version control; `bearer: true` reads it
        # from the environment instead.
        if any(key.lower() == "authorization" for key in value):
            raise ValueError("do not put Authorization in the file; use `bearer: true`")
        return value

    @field_validator("expect_status")
    @classmethod
    def _statuses(cls, value: int | list[int] | None) -> int | list[int] | None:
        codes = [value] if isinstance(value, int) else (value or [])
        bad = [code for code in codes if not 100 <= code <= 599]
        if bad:
            raise ValueError(f"HTTP status codes are 100-599 (got {bad})")
        if isinstance(value, list) and not value:
            raise ValueError("give at least one status, or leave it out for any 2xx")
        return value

    def expects(self, status: int) -> bool:
        """Whether ``status`` is an answer this endpoint should give."""
        if self.expect_status is None:
            return 200 <= status < 300
        if isinstance(self.expect_status, int):
            return status == self.expect_status
        return status in self.expect_status


def _where_in_file(index: int, item: object, loc: tuple[int | str, ...]) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    label = f"endpoint {index + 1}" + (f" ({name})" if isinstance(name, str) else "")
    field = ".".join(str(part) for part in loc)
    return f"{label}: {field}" if field else label


def parse_endpoints(data: object, where: str) -> tuple[Endpoint, ...]:
    """Validate the file's parsed YAML; raise InvalidInput listing every problem."""
    if isinstance(data, dict) and set(data) == {"endpoints"}:
        data = data["endpoints"]
    if not isinstance(data, list) or not data:
        raise InvalidInput(where, ["expected a non-empty list of endpoints"])
    problems: list[str] = []
    endpoints: list[Endpoint] = []
    for index, item in enumerate(data):
        try:
            endpoints.append(Endpoint.model_validate(item))
        except ValidationError as exc:
            for error in exc.errors():
                where_in_file = _where_in_file(index, item, tuple(error["loc"]))
                problems.append(f"{where_in_file}: {error['msg']}")
    seen: set[str] = set()
    for endpoint in endpoints:
        if endpoint.name in seen:
            problems.append(f"endpoint name {endpoint.name!r} is used twice")
        seen.add(endpoint.name)
    if problems:
        raise InvalidInput(where, problems)
    return tuple(endpoints)


def load_endpoints(path: str | Path) -> tuple[Endpoint, ...]:
    """Read and validate an endpoints file."""
    where = f"endpoints file {path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(where, [f"cannot read it: {exc.strerror or exc}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(where, [f"not valid YAML: {exc}"]) from None
    return parse_endpoints(data, where)
