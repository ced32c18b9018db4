"""The ``koffer`` attachment backend: a koffer application's uploads stay encrypted in the
plugin's store (segments under the case's data key), and the hub's one attachment store lists,
opens and deletes them through this backend.

API clients see the attachments listed but never get their bytes (``client_readable`` is
False): biometric data goes to the passport software only. Deleting an attachment shreds its
case (the data key and the files), which is what happens after confirmed delivery anyway.
"""

from __future__ import annotations

from typing import Any

from hub_bundesdruckerei.crypto import DecryptingReader

NAME = "koffer"


class KofferBackend:
    client_readable = False

    def __init__(self, h: Any, state: Any):
        self.hub = h
        self.state = state  # the plugin's KofferStore for this hub (None: not configured)

    def _upload(self, ref: str) -> Any:
        store = self.state(self.hub)
        upload = store.get(ref) if store is not None else None
        return store, upload

    def open(self, ref: str) -> DecryptingReader:
        store, upload = self._upload(ref)
        if upload is None or not upload.complete:
            raise LookupError(f"upload {ref}: not available")
        return store.reader(upload)  # LookupError once the case was destroyed

    def delete(self, ref: str) -> None:
        store, upload = self._upload(ref)
        if upload is not None:
            store.destroy_case(upload.case_id, actor="hub", why="attachment deleted")


__all__ = ["NAME", "KofferBackend"]
