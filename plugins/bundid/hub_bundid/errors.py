"""SAML errors carry a stable reason code (shown to users with a readable message)."""

from __future__ import annotations

MESSAGES = {
    "request_denied": "BundID refused the login request.",
    "user_cancelled": "The login was cancelled.",
    "no_authn_context": "The chosen login method does not reach the trust level this service "
    "needs.",
    "required_attributes_missing": "BundID could not provide data this service requires.",
}


class SamlError(Exception):
    """A SAML message was refused. ``code`` is stable (tests, logs); the text explains."""

    def __init__(self, code: str, message: str, *, detail: object = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail
