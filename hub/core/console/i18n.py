"""The console's words, German first (the people who use it), English second."""

from __future__ import annotations

LANGUAGES = ("de", "en")

TEXTS: dict[str, dict[str, str]] = {
    "console": {"de": "Hub-Konsole", "en": "Hub console"},
    "skip": {"de": "Zum Inhalt springen", "en": "Skip to content"},
    "nav": {"de": "Hauptnavigation", "en": "Main navigation"},
    "overview": {"de": "Übersicht", "en": "Overview"},
    "records": {"de": "Vorgänge", "en": "Records"},
    "record": {"de": "Vorgang", "en": "Record"},
    "dead_letters": {"de": "Fehlgeschlagene Zustellungen", "en": "Dead letters"},
    "health": {"de": "Systemzustand", "en": "Health"},
    "audit": {"de": "Protokoll", "en": "Audit trail"},
    "sign_in": {"de": "Anmelden", "en": "Sign in"},
    "sign_out": {"de": "Abmelden", "en": "Sign out"},
    "username": {"de": "Benutzername", "en": "User name"},
    "password": {"de": "Passwort", "en": "Password"},
    "bad_login": {
        "de": "Benutzername oder Passwort ist falsch.",
        "en": "The user name or the password is wrong.",
    },
    "sso_failed": {"de": "Anmeldung nicht möglich", "en": "Sign-in failed"},
    "sso_no_account": {
        "de": "Für dieses Dienstkonto gibt es hier kein Konto. Bitte an die IT wenden.",
        "en": "There is no account here for this identity. Please ask your IT.",
    },
    "or": {"de": "oder", "en": "or"},
    "signed_in_as": {"de": "Angemeldet als", "en": "Signed in as"},
    "language": {"de": "Sprache", "en": "Language"},
    "status": {"de": "Status", "en": "Status"},
    "channel": {"de": "Kanal", "en": "Channel"},
    "adapter": {"de": "Adapter", "en": "Adapter"},
    "municipality": {"de": "Kommune (ARS)", "en": "Municipality (ARS)"},
    "service": {"de": "Leistung (LeiKa)", "en": "Service (LeiKa)"},
    "from": {"de": "Eingang ab", "en": "Received from"},
    "to": {"de": "Eingang bis", "en": "Received before"},
    "any": {"de": "alle", "en": "any"},
    "filter": {"de": "Filtern", "en": "Filter"},
    "received": {"de": "Eingang", "en": "Received"},
    "next_page": {"de": "Ältere Vorgänge", "en": "Older records"},
    "none_found": {"de": "Keine Einträge.", "en": "Nothing found."},
    "history": {"de": "Verlauf", "en": "History"},
    "deliveries": {"de": "Zustellungen", "en": "Deliveries"},
    "attempts": {"de": "Versuche", "en": "Attempts"},
    "last_error": {"de": "Letzter Fehler", "en": "Last error"},
    "steps": {"de": "Schritte der Adapter", "en": "Adapter steps"},
    "attachments": {"de": "Anlagen (ohne Inhalt)", "en": "Attachments (no content)"},
    "purpose": {"de": "Zweck", "en": "Purpose"},
    "size": {"de": "Größe", "en": "Size"},
    "media_type": {"de": "Medientyp", "en": "Media type"},
    "at": {"de": "Zeit", "en": "Time"},
    "detail": {"de": "Angabe", "en": "Detail"},
    "task": {"de": "Folgeaufgabe", "en": "Follow-up"},
    "retry": {"de": "Erneut zustellen", "en": "Retry"},
    "retry_selected": {"de": "Ausgewählte erneut zustellen", "en": "Retry the selected"},
    "select": {"de": "Auswählen", "en": "Select"},
    "retried": {"de": "Erneut eingereiht", "en": "Queued again"},
    "nothing_selected": {"de": "Nichts ausgewählt.", "en": "Nothing selected."},
    "failed_at": {"de": "Fehlgeschlagen", "en": "Failed"},
    "check": {"de": "Prüfung", "en": "Check"},
    "result": {"de": "Ergebnis", "en": "Result"},
    "ok": {"de": "in Ordnung", "en": "ok"},
    "failed": {"de": "FEHLER", "en": "FAILED"},
    "pollers": {"de": "Abrufe", "en": "Pollers"},
    "last_success": {"de": "Letzter Erfolg", "en": "Last success"},
    "interval": {"de": "Abstand (s)", "en": "Interval (s)"},
    "who": {"de": "Wer", "en": "Who"},
    "action": {"de": "Aktion", "en": "Action"},
    "target": {"de": "Gegenstand", "en": "Target"},
    "forbidden": {
        "de": "Diese Seite gehört nicht zu Ihren Rollen.",
        "en": "This page is not part of your roles.",
    },
    "not_found": {"de": "Nicht gefunden.", "en": "Not found."},
    "bad_request": {"de": "Eingabe nicht verwendbar", "en": "Input not usable"},
    "session_expired": {
        "de": "Das Formular ist abgelaufen. Bitte noch einmal absenden.",
        "en": "The form has expired. Please send it again.",
    },
    "counts": {"de": "Vorgänge nach Status", "en": "Records by status"},
    "roles": {"de": "Rollen", "en": "Roles"},
    "nothing_to_retry": {
        "de": "Keine fehlgeschlagene Zustellung mehr.",
        "en": "No dead-lettered delivery left.",
    },
}


def translate(key: str, lang: str) -> str:
    entry = TEXTS.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry["de"]


__all__ = ["LANGUAGES", "TEXTS", "translate"]
