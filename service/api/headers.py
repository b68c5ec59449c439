"""The security headers of every answer (set by :class:`service.api.middleware.SecurityHeaders`
and by the error answers, which Starlette may send from outside the middleware)."""

from __future__ import annotations

from typing import Final

__all__ = ["CONTENT_SECURITY_POLICY", "DOCUMENT_CSP", "SECURITY_HEADERS"]

CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""The policy of every page: scripts and styles from this site only, never inline."""

SECURITY_HEADERS: Final[dict[str, str]] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
"""Headers on every answer; a ``Content-Security-Policy`` the route set itself is kept."""

DOCUMENT_CSP: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
)
"""The policy of a downloaded HTML document (statement, bulletin): a self-contained file whose
styles are inline by design (it is printed and archived on its own); no scripts at all."""
