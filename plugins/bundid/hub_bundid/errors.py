"""SAML errors carry a stable reason code (shown to users with a readable message)."""

from __future__ import annotations

MESSAGES = {
    "request_denied": "BundID refused the login request.",
    "user_cancelled": "The login was cancelled.",
    "no_authn_context": "The chosen login method does not reach the trust level this service "
    "needs.",
    "required_attributes_missing": "BundID could not provide data this service requires.",
    "login_not_started": "This browser did not start the login, or it is too old.",
}


# What people read on the error page (German first; the code is shown for the support desk).
MESSAGES_DE = {
    "default": "Die Anmeldung mit der BundID hat nicht geklappt. Bitte versuchen Sie es erneut.",
    "request_denied": "Die BundID hat die Anmeldung abgelehnt.",
    "user_cancelled": "Die Anmeldung wurde abgebrochen.",
    "no_authn_context": "Das gewählte Anmeldeverfahren reicht für diese Leistung nicht aus. "
    "Bitte melden Sie sich mit dem Online-Ausweis an.",
    "trust_level_too_low": "Das gewählte Anmeldeverfahren reicht für diese Leistung nicht aus. "
    "Bitte melden Sie sich mit dem Online-Ausweis an.",
    "required_attributes_missing": "Die BundID konnte nicht alle Angaben übermitteln, die "
    "diese Leistung braucht.",
    "login_not_started": "Diese Anmeldung wurde nicht in diesem Browser begonnen oder ist "
    "abgelaufen. Bitte starten Sie die Anmeldung neu.",
    "request_expired": "Die Anmeldung hat zu lange gedauert. Bitte starten Sie sie neu.",
    "metadata_unavailable": "Die BundID ist gerade nicht erreichbar. Bitte versuchen Sie es "
    "später erneut.",
    "metadata_invalid": "Die Anmeldung mit der BundID ist gerade gestört. Bitte versuchen Sie "
    "es später erneut.",
}


class SamlError(Exception):
    """A SAML message was refused. ``code`` is stable (tests, logs); the text explains."""

    def __init__(self, code: str, message: str, *, detail: object = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail
