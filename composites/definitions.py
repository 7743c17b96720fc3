"""The read-only structures a loaded registry is made of."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from composites.templating import CompiledTemplate

# A value of an authentication config: a template, or an object of them
# (``claims``, ``additional_claims``, ``jwt_headers``).
ConfigValue = CompiledTemplate | Mapping[str, "ConfigValue"]

ID_TEXT = re.compile(r"0|[1-9][0-9]{0,19}")


@dataclass(frozen=True, slots=True)
class KeyValue:
    """A header or query parameter: a literal key and a templated value."""

    key: str
    value: CompiledTemplate
    overridable: bool = False


@dataclass(frozen=True, slots=True)
class Authentication:
    """A step's authentication strategy and its templated config."""

    type: str
    config: Mapping[str, ConfigValue] = field(
        default_factory=lambda: MappingProxyType({})
    )


@dataclass(frozen=True, slots=True)
class Step:
    """One HTTP call of a composite."""

    name: str
    url: CompiledTemplate
    method: str = "GET"
    headers: tuple[KeyValue, ...] = ()
    query_parameters: tuple[KeyValue, ...] = ()
    authentication: Authentication | None = None
    request_body: CompiledTemplate | None = None
    response_body: CompiledTemplate | None = None
    response_content_type: str = ""


@dataclass(frozen=True, slots=True)
class Composite:
    """A named, ordered chain of steps, reachable by permalink or id."""

    id: int
    name: str
    permalink: str
    steps: tuple[Step, ...]
    requires_user: bool = False


@dataclass(frozen=True, slots=True)
class Registry:
    """Every composite of one registry file, indexed by permalink and id."""

    composites: tuple[Composite, ...] = ()
    by_permalink: Mapping[str, Composite] = field(
        default_factory=lambda: MappingProxyType({})
    )
    by_id: Mapping[int, Composite] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, composites: tuple[Composite, ...]) -> Registry:
        return cls(
            composites,
            MappingProxyType({c.permalink: c for c in composites}),
            MappingProxyType({c.id: c for c in composites}),
        )

    def find(self, identifier: str) -> Composite | None:
        """Return the composite with this permalink, else with this id.

        An id is written in ASCII digits without leading zeros, as
        ``check_composites`` prints it.
        """
        composite = self.by_permalink.get(identifier)
        if composite is None and ID_TEXT.fullmatch(identifier):
            composite = self.by_id.get(int(identifier))
        return composite


def composite_id(permalink: str) -> int:
    """Return the stable numeric id of a composite, derived from its permalink.

    The first six bytes of the BLAKE2b digest of the permalink's UTF-8, read
    as a big-endian integer: below 2**48, so safe as a JavaScript number,
    and the same on every process, machine and restart (no hash seed is
    involved).  Renaming a permalink changes the id.
    """
    digest = hashlib.blake2b(permalink.encode(), digest_size=6).digest()
    return int.from_bytes(digest, "big")
