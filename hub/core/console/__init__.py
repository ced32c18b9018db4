"""The staff and ops console: server-rendered pages (Jinja2, plain forms, no script) served by
the hub under ``/console``, in German with English as a second language."""
