"""The tool registry: every tool declared once, with everything derived from that declaration
(the tools/list entry, the scope check, argument validation, annotations)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from ..auth.principal import Principal
from ..scopes import ALL_SCOPES


@dataclass
class ToolContext:
    """What a tool handler may use. The tenant is fixed here; tools never take it as an argument."""
    tenant: Any            # vectis.tenancy.Tenant
    principal: Principal
    storage: Any           # vectis.storage.Storage
    cursors: Any           # vectis.tools.pagination.CursorCodec
    now: datetime
    tool: str = ""
    request_id: str = ""
    writes: Any = None     # vectis.writes.dispatcher.WriteDispatcher, for write tools
    approvals: Any = None  # vectis.approvals.queue.Approvals: the human-approval gate of writes
    mrtr: Any = None       # vectis.approvals.queue.Mrtr of a 2026-07-28 call, else None


class ToolResult(dict):
    """A handler's structured output with protocol metadata for the result's `_meta`."""

    def __init__(self, structured: dict, meta: dict):
        super().__init__(structured)
        self.meta = meta


Handler = Callable[[ToolContext, dict], Awaitable[dict]]


class ToolError(Exception):
    """A tool-execution failure the model can act on: returned as an `isError` result."""


def not_found(kind: str, key: str, value: str, finder: str) -> ToolError:
    """The one not-found message. It never depends on whether the object exists in another
    tenant: queries only ever see this tenant's database, and the text must not tell either."""
    return ToolError(f"No {kind} with {key} {value} in this tenant. Use {finder} to find {kind}s.")


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    scopes: tuple[str, ...]
    input_schema: dict
    output_schema: dict
    handler: Handler
    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True
    open_world: bool = False
    requires_mfa: bool = False                 # the credential must be elevated (TOTP) to call it
    vendors: frozenset[str] | None = None      # listed only when one of these is connected
    self_audited: bool = False                 # the write dispatcher writes this tool's audit row
    # Acts on the whole tenant (rules): hidden from customer-scoped principals.
    tenant_wide: bool = False
    any_scope: bool = False                    # one of `scopes` is enough (default: all of them)
    _validator: Any = field(default=None, repr=False, compare=False)

    def missing_scopes(self, held: frozenset[str]) -> tuple[str, ...]:
        """What a credential lacks to call this tool (empty when it may)."""
        if self.any_scope:
            return () if held & set(self.scopes) else self.scopes
        return tuple(s for s in self.scopes if s not in held)

    @property
    def kind(self) -> str:
        return "read" if self.read_only else "write"

    def definition(self, customer_notice: str = "") -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description + f" [scopes: {', '.join(self.scopes)}]" + customer_notice,
            "inputSchema": self.input_schema,
            "outputSchema": self.output_schema,
            "annotations": {
                "title": self.title,
                "readOnlyHint": self.read_only,
                "destructiveHint": self.destructive,
                "idempotentHint": self.idempotent,
                "openWorldHint": self.open_world,
            },
        }

    def argument_errors(self, arguments: dict) -> list[str]:
        errors = sorted(self._validator.iter_errors(arguments), key=lambda e: list(e.path))
        return [_describe(e) for e in errors[:5]]


def _describe(error) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "arguments"
    # Never echo the offending value: it may be huge or crafted. Say what was expected instead.
    kind = error.validator
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{where}: unknown argument(s) {', '.join(repr(x[:40]) for x in extra[:5])}"
    if kind == "required":
        return f"{where}: {error.message}"
    if kind == "type":
        return f"{where}: must be of type {error.validator_value}"
    if kind == "enum":
        return f"{where}: must be one of {', '.join(map(str, error.validator_value))}"
    if kind in ("maxLength", "minLength", "maximum", "minimum", "pattern", "format"):
        return f"{where}: violates {kind} {error.validator_value}"
    return f"{where}: invalid ({kind})"


class ToolRegistry:
    def __init__(self, specs: Iterable[ToolSpec]):
        self._specs: dict[str, ToolSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"duplicate tool {spec.name}")
            unknown = set(spec.scopes) - set(ALL_SCOPES)
            if unknown or not spec.scopes:
                raise ValueError(f"{spec.name}: bad scopes {unknown or '(none)'}")
            Draft202012Validator.check_schema(spec.input_schema)
            Draft202012Validator.check_schema(spec.output_schema)
            validator = Draft202012Validator(spec.input_schema, format_checker=FormatChecker())
            object.__setattr__(spec, "_validator", validator)
            self._specs[spec.name] = spec

    def __iter__(self):
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def get(self, name: str) -> ToolSpec | None:
        return self._specs.get(name)

    def visible(self, scopes: frozenset[str], vendors: frozenset[str] = frozenset(), *,
                restricted: bool = False) -> list[ToolSpec]:
        """The tools a credential may call, in a deterministic (declaration) order: its scopes
        cover the tool's, a vendor tool needs one of its vendors connected (the matrix), and a
        customer-scoped credential sees no tenant-wide tool."""
        return [s for s in self._specs.values() if not s.missing_scopes(scopes)
                and (s.vendors is None or s.vendors & vendors) and not (restricted and s.tenant_wide)]
