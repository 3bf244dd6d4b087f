"""Which charge point identities a server accepts, before the upgrade (CONFORMANCE 2, 3, 38).

The rules, checked on the percent-decoded identity:

- No identity (an empty last path segment): **404**, there is nothing to look up.
- A character that is not printable: **400**, in every version. That is control characters (C0,
  DEL, C1: ``%0A`` would forge log lines, ``%1B`` drive terminals), line and paragraph
  separators, format characters such as bidirectional overrides, surrogates and unassigned code
  points. Spaces are allowed (``RDAM%20123`` is the spec's own example).
- Longer than the policy's ``max_length`` (default 48): **400**, in every version.
- OCPP 2.x (rule 3, the identity is the Basic-auth username): more than 48 characters, or a
  ``:``, is **400** whatever the policy says.

A site whose legacy 1.6 charge points have longer identities raises ``max_length``; 2.x keeps its
48. Pure: the server calls :func:`check_identity` and answers the refusal's status.
"""

from __future__ import annotations

import unicodedata
from typing import Final
from urllib.parse import unquote

import attrs

from .versions import OCPPVersion, is_2x

__all__ = [
    "MAX_IDENTITY_2X",
    "IdentityPolicy",
    "IdentityRefusal",
    "check_identity",
    "identity_from_path",
]

#: OCPP 2.x: an identity has at most 48 characters (2.0.1 and 2.1 part 4, CONFORMANCE 3).
MAX_IDENTITY_2X: Final = 48


@attrs.frozen
class IdentityPolicy:
    """What a server accepts beyond the rules every version has (module docstring)."""

    #: Longest identity accepted in any version; 2.x never accepts more than 48.
    max_length: int = attrs.field(default=MAX_IDENTITY_2X)

    @max_length.validator
    def _positive(self, attribute: object, value: int) -> None:
        if value < 1:
            raise ValueError(f"max_length must be at least 1, not {value}")


@attrs.frozen
class IdentityRefusal:
    """Why an identity is refused, and the HTTP status to refuse it with."""

    status: int
    reason: str


_DEFAULT_POLICY: Final = IdentityPolicy()


def check_identity(
    identity: str, version: OCPPVersion | None, policy: IdentityPolicy = _DEFAULT_POLICY
) -> IdentityRefusal | None:
    """The refusal of ``identity`` on a connection of ``version``, or None to accept it.

    ``version`` None (nothing negotiated yet) applies the rules of every version only.
    """
    if not identity:
        return IdentityRefusal(404, "no charge point identity in the path")
    limit = policy.max_length
    if version is not None and is_2x(version):
        limit = min(limit, MAX_IDENTITY_2X)
        if ":" in identity:
            return IdentityRefusal(400, "an OCPP 2.x identity has no ':'")
    if len(identity) > limit:
        return IdentityRefusal(400, f"identity of {len(identity)} characters, at most {limit}")
    if not identity.isprintable() and not all(
        char.isprintable() or unicodedata.category(char) == "Zs" for char in identity
    ):
        return IdentityRefusal(400, "identity with characters that are not printable")
    return None


def identity_from_path(path: str) -> str:
    """The charge point identity: the last path segment, percent-decoded (query ignored).

    ``path`` is a request target or a URL, as the peer sent it: split by hand, since a URL
    parser refuses some targets (``//[x/CP_1`` looks like a bad IPv6 literal to urllib)."""
    target = path.partition("?")[0].partition("#")[0]
    scheme, found, rest = target.partition("://")
    if found and "/" not in scheme:  # absolute form: drop the scheme and the authority
        target = rest.partition("/")[2]
    segments = [s for s in target.split("/") if s]
    return unquote(segments[-1]) if segments else ""
