"""The ``notify`` adapter: one message per record and event, on the first channel of the
citizen's choice that works — e-mail (SMTP, STARTTLS), else a letter in the office's print
queue. The BundID mailbox is where the office's answers go (FIT-Connect's reply channel, set
by the fitconnect sender); the hub cannot post there itself, so for its own messages it takes
the citizen's next channel.

Never twice: the message's row is written ``sending`` just before the mail server gets the
text (after it accepted sender and recipient); a crash or a cut connection from then on leaves
it so, and the next attempt reports ``notify:uncertain`` instead of sending again. Before that
point every failure is retried; a refused address (5xx) is a bounce, and the next channel."""

from __future__ import annotations

import hashlib
import secrets
import smtplib
import ssl
import time
import uuid
from typing import Any

import httpx
import structlog
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

import hub
from hub import utcnow
from hub_notify import messages, tables
from hub_notify.settings import SETTINGS, NotifyAdapterSettings, NotifySettings

log = structlog.get_logger("hub.notify")
M, L, SUB = tables.messages, tables.letters, tables.subscriptions
PLUGIN = "notify"


def plugin_settings(h: Any) -> NotifySettings:
    if PLUGIN not in h.config.plugins:
        raise hub.ConfigurationError("the notify adapter needs [plugins.notify]")
    return SETTINGS(h)


class NotifyAdapter:
    def __init__(self, settings: NotifyAdapterSettings, h: Any):
        self.settings = settings
        self.hub = h
        self._client: httpx.Client | None = None
        self._token_cache: tuple[str, float] | None = None

    # --- what the dispatcher calls ----------------------------------------------------------

    def deliver(self, record: hub.Record, ctx: hub.DeliveryContext) -> dict[str, Any]:
        """Routed to it, a record gets the confirmation that it arrived (``received``)."""
        return self.send(record, "received", {})

    def follow_up(self, record: hub.Record, ctx: hub.DeliveryContext) -> dict[str, Any]:
        payload = ctx.payload or {}
        return self.send(record, ctx.task, payload)

    def check(self) -> None:
        """``hub doctor``: the mail server answers and offers STARTTLS where required."""
        if self.settings.smtp_host:
            with self._connect():
                pass

    # --- one message ------------------------------------------------------------------------

    def send(self, record: hub.Record, task: str, payload: dict[str, Any]) -> dict[str, Any]:
        rid = str(record.id)
        event = payload.get("event", task)
        known = self._state(rid, task)
        if known == "sending":  # a crash or cut connection while the server had the text
            self._finish(rid, task, "uncertain")
            self._tell(rid, task, "uncertain", f"{event}: may have been sent; not sent again")
            return {"state": "uncertain"}
        if known is not None:
            return {"state": known}  # told before: a retry changes nothing
        wish = record.notifications
        why = self._no_go(record, rid)
        if why is not None:
            self._record(rid, task, "none", "skipped")
            self._tell(rid, task, "skipped", f"{event}: {why}")
            return {"state": "skipped", "why": why}
        assert wish is not None
        plugin = plugin_settings(self.hub)
        values = self._values(record, plugin, payload)
        text = messages.render(
            event, wish.language, values, leika=record.service.leika_key, own=plugin.templates_dir
        )
        applicant = record.applicant
        for channel in wish.channels:
            if channel == "email" and self.settings.smtp_host and applicant and applicant.email:
                quiet = plugin.quiet_until(utcnow().astimezone(messages.BERLIN))
                if quiet is not None:
                    wait = (quiet - utcnow()).total_seconds()
                    raise hub.TransientError("quiet hours", retry_after=max(60.0, wait))
                if self._email(record, task, event, text, payload, values, plugin) == "sent":
                    return {"state": "sent", "channel": "email"}
            elif channel == "postfach" and self._mailbox(record):
                if self._postfach(record, task, event, text, values, plugin) == "sent":
                    return {"state": "sent", "channel": "postfach"}
            elif channel == "letter" and self.settings.letters and _address(record):
                self._letter(record, task, event, text, plugin)
                return {"state": "letter_queued", "channel": "letter"}
        self._record(rid, task, "none", "skipped", replace=True)
        self._tell(
            rid, task, "skipped", f"{event}: no channel of the citizen's choice reaches them"
        )
        return {"state": "skipped", "why": "unreachable"}

    def _no_go(self, record: hub.Record, rid: str) -> str | None:
        wish = record.notifications
        if wish is None:
            return "the citizen chose no way to be told"
        if not wish.consent:
            return "no consent"
        with self.hub.store.reading() as conn:
            gone = conn.execute(
                select(SUB.c.unsubscribed_at).where(SUB.c.record_id == rid)
            ).scalar()
        return "unsubscribed" if gone is not None else None

    def _values(self, record: hub.Record, plugin: NotifySettings, payload: dict[str, Any]):
        words = plugin.services.get(record.service.leika_key)
        applicant = record.applicant
        name = (
            " ".join(p for p in (applicant.given_names, applicant.family_name) if p)
            if (applicant)
            else ""
        )
        english = record.notifications is not None and record.notifications.language == "en"
        hello = ("Hello" if english else "Guten Tag") + (f" {name}" if name else "")
        return {
            "greeting": hello,
            "service": (words.name if words and words.name else None)
            or record.service.name
            or record.service.leika_key,
            "bring": words.bring if words else None,
            "fee": words.fee if words else None,
            "reference": str(record.id)[:8].upper(),
            "detail": payload.get("detail"),
            "appointment": messages.appointment_values(payload),
            "sender_name": plugin.sender_name,
            "unsubscribe_url": f"{plugin.public_url.rstrip('/')}/v1/notify/unsubscribe/"
            f"{self._token(str(record.id))}",
        }

    # --- e-mail -----------------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise hub.TransientError(f"mail server unreachable: {type(exc).__name__}") from exc
        try:
            smtp.ehlo()
            if s.starttls:
                if not smtp.has_extn("starttls"):
                    raise hub.TransientError("the mail server offers no STARTTLS")
                context = s.ssl_context() if s.tls_configured else ssl.create_default_context()
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username and s.password is not None:
                smtp.login(s.username, s.password.reveal("password"))
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise hub.PermanentError("the mail server refused our login") from exc
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            if isinstance(exc, hub.TransientError):
                raise
            raise hub.TransientError(f"mail server: {type(exc).__name__}") from exc
        return smtp

    def _email(self, record, task, event, text, payload, values, plugin) -> str:
        rid = str(record.id)
        domain = self.settings.sender.rsplit("@", 1)[1]
        digest = hashlib.sha256(f"{rid}:{task}".encode()).hexdigest()[:24]
        message_id = f"<{digest}.{rid[:8]}@{domain}>"
        appointment = payload.get("appointment")
        cancelled = event == "appointment_cancelled"
        ics = (
            messages.calendar(payload, text.subject, cancelled, moved=event == "appointment_moved")
            if appointment
            and event in ("appointment_booked", "appointment_cancelled", "appointment_moved")
            else None
        )
        mail = messages.email(
            text,
            sender=self.settings.sender,
            sender_name=plugin.sender_name,
            to=record.applicant.email,
            message_id=message_id,
            unsubscribe_url=values["unsubscribe_url"],
            when=utcnow(),
            ics=ics,
            cancelled=cancelled,
        )
        smtp = self._connect()
        try:
            code, _ = smtp.mail(self.settings.sender)
            if code != 250:
                raise hub.TransientError(f"the mail server refused our sender ({code})")
            code, _ = smtp.rcpt(record.applicant.email)
            if code >= 500:
                return self._bounced(rid, task, event, message_id, code)
            if code not in (250, 251):
                raise hub.TransientError(f"the mail server deferred the recipient ({code})")
            # From here the server may have the text: a crash or a cut line means "uncertain".
            self._record(rid, task, "email", "sending", message_id=message_id)
            try:
                code, _ = smtp.data(mail.as_bytes())
            except smtplib.SMTPDataError as exc:  # refused before it had the text
                self._forget(rid, task)
                if exc.smtp_code >= 500:
                    return self._bounced(rid, task, event, message_id, exc.smtp_code)
                raise hub.TransientError(f"the mail server deferred ({exc.smtp_code})") from exc
            if code == 250:
                self._finish(rid, task, "sent")
                self._tell(rid, task, "sent", f"{event} by e-mail")
                log.info("notification_sent", record_id=rid, message=event, channel="email")
                return "sent"
            if code >= 500:
                return self._bounced(rid, task, event, message_id, code)
            self._forget(rid, task)
            raise hub.TransientError(f"the mail server deferred the message ({code})")
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    def _bounced(self, rid: str, task: str, event: str, message_id: str, code: int) -> str:
        self._record(rid, task, "email", "bounced", message_id=message_id, replace=True)
        self._tell(rid, task, "bounced", f"{event}: the mail server refused the address ({code})")
        log.info("notification_bounced", record_id=rid, message=event, code=code)
        return "bounced"

    # --- the BundID mailbox -----------------------------------------------------------------

    def _mailbox(self, record: hub.Record) -> str | None:
        identity = record.applicant.identity if record.applicant else None
        if self.settings.postfach_url and identity is not None:
            return identity.mailbox_uuid
        return None

    def _postfach(self, record, task, event, text, values, plugin) -> str:
        """Into the citizen's BundID mailbox through FIT-Connect's ZBP adapter."""
        rid = str(record.id)
        body = {
            "mailboxUuid": self._mailbox(record),
            "title": text.subject[:255],
            "content": text.body,
            "sender": plugin.sender_name[:255],
            "service": str(values["service"])[:255],
            "reference": rid,
        }
        headers = {
            "Authorization": f"Bearer {self._postfach_token()}",
            "Idempotency-Key": hashlib.sha256(f"{rid}:{task}".encode()).hexdigest(),
        }
        self._record(rid, task, "postfach", "sending")
        try:
            answer = self._http().post(self.settings.postfach_url, json=body, headers=headers)
        except httpx.ConnectError as exc:  # never reached the mailbox: try again
            self._forget(rid, task)
            raise hub.TransientError("the BundID mailbox is unreachable") from exc
        except httpx.HTTPError as exc:  # it may have arrived: the next attempt says so
            raise hub.TransientError(f"BundID mailbox: {type(exc).__name__}") from exc
        if answer.status_code in (200, 201):
            self._finish(rid, task, "sent")
            self._tell(rid, task, "sent", f"{event} into the BundID mailbox")
            log.info("notification_sent", record_id=rid, message=event, channel="postfach")
            return "sent"
        self._forget(rid, task)
        if answer.status_code in (408, 429) or answer.status_code >= 500:
            raise hub.TransientError(
                f"BundID mailbox answered {answer.status_code}", retry_after=hub.retry_after(answer)
            )
        self._record(rid, task, "postfach", "bounced", replace=True)
        self._tell(
            rid, task, "bounced", f"{event}: the BundID mailbox refused it ({answer.status_code})"
        )
        return "bounced"

    def _http(self) -> httpx.Client:
        if self._client is None:
            s = self.settings
            verify: Any = s.ssl_context() if s.tls_configured else True
            self._client = httpx.Client(verify=verify, timeout=s.timeout)
        return self._client

    def _postfach_token(self) -> str:
        """An OAuth access token (client credentials), kept until shortly before it ends."""
        now = time.monotonic()
        if self._token_cache is not None and self._token_cache[1] > now:
            return self._token_cache[0]
        s = self.settings
        assert s.postfach_token_url and s.postfach_client_secret is not None
        try:
            answer = self._http().post(
                s.postfach_token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": s.postfach_client_id,
                    "client_secret": s.postfach_client_secret.reveal("postfach_client_secret"),
                },
            )
        except httpx.HTTPError as exc:
            raise hub.TransientError(f"token: {type(exc).__name__}") from exc
        if answer.status_code != 200:
            if answer.status_code in (400, 401, 403):
                raise hub.PermanentError("the BundID mailbox refused our client credentials")
            raise hub.TransientError(f"token: {answer.status_code}")
        found = answer.json()
        lifetime = float(found.get("expires_in", 300))
        self._token_cache = (found["access_token"], now + max(30.0, lifetime - 60))
        return self._token_cache[0]

    # --- letters ----------------------------------------------------------------------------

    def _letter(self, record, task: str, event: str, text, plugin: NotifySettings) -> None:
        rid = str(record.id)
        pdf = messages.letter(
            text, sender_name=plugin.sender_name, address=_address(record), when=utcnow()
        )
        now = utcnow()
        with self.hub.store.transaction() as conn:
            conn.execute(
                insert(L).values(
                    id=str(uuid.uuid4()), record_id=rid, event=event,
                    ars=record.municipality.ars, pdf=pdf, created_at=now,
                )
            )  # fmt: skip
        self._record(rid, task, "letter", "letter_queued", replace=True)
        self._tell(rid, task, "letter_queued", f"{event}: a letter waits in the print queue")
        log.info("notification_letter_queued", record_id=rid, message=event)

    # --- bookkeeping ------------------------------------------------------------------------

    def _state(self, rid: str, task: str) -> str | None:
        with self.hub.store.reading() as conn:
            return conn.execute(
                select(M.c.state).where(M.c.record_id == rid, M.c.event == task)
            ).scalar()

    def _record(self, rid, task, channel, state, *, message_id=None, replace=False) -> None:
        values = {"channel": channel, "state": state, "message_id": message_id,
                  "updated_at": utcnow()}  # fmt: skip
        with self.hub.store.transaction() as conn:
            if replace:
                conn.execute(delete(M).where(M.c.record_id == rid, M.c.event == task))
            try:
                conn.execute(insert(M).values(record_id=rid, event=task, **values))
            except IntegrityError:
                raise hub.TransientError("another worker is sending this message") from None

    def _finish(self, rid: str, task: str, state: str) -> None:
        with self.hub.store.transaction() as conn:
            conn.execute(
                update(M)
                .where(M.c.record_id == rid, M.c.event == task)
                .values(state=state, updated_at=utcnow())
            )

    def _forget(self, rid: str, task: str) -> None:
        with self.hub.store.transaction() as conn:
            conn.execute(delete(M).where(M.c.record_id == rid, M.c.event == task))

    def _tell(self, rid: str, task: str, state: str, detail: str) -> None:
        self.hub.report_status(rid, f"notify:{state}", detail, key=f"notify:{task}:{state}")

    def _token(self, rid: str) -> str:
        """The record's unsubscribe token (made on first use)."""
        with self.hub.store.reading() as conn:
            found = conn.execute(select(SUB.c.token).where(SUB.c.record_id == rid)).scalar()
        if found:
            return found
        token = secrets.token_urlsafe(24)
        try:
            with self.hub.store.transaction() as conn:
                conn.execute(insert(SUB).values(record_id=rid, token=token))
        except IntegrityError:
            with self.hub.store.reading() as conn:
                return conn.execute(select(SUB.c.token).where(SUB.c.record_id == rid)).scalar()
        return token


def _address(record: hub.Record) -> list[str]:
    """The letter's address field, or [] when the record has no postal address."""
    a = record.applicant
    if a is None or a.address is None or not (a.address.street and a.address.city):
        return []
    name = " ".join(p for p in (a.given_names, a.family_name) if p)
    city = " ".join(p for p in (a.address.postal_code, a.address.city) if p)
    return [name, a.address.street, city]


__all__ = ["NotifyAdapter", "plugin_settings"]
