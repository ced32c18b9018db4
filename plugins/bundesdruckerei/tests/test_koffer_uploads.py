"""tus 1.0 uploads from a device, with the independent tuspy client and raw HTTP."""

from __future__ import annotations

import base64
import hashlib
import io
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from tusclient import client as tus_client
from tusclient.exceptions import TusCommunicationError

from hub import utcnow
from hub_bundesdruckerei import crypto, tables

CASE = "case-0001-abcdef"
DATA = hashlib.shake_256(b"koffer").digest(3 * 1024 * 1024 + 12345)


def meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(c: httpx.Client, length: int, purpose: str = "document", case: str = CASE) -> str:
    r = c.post(
        "/v1/koffer/uploads",
        headers={"Upload-Length": str(length), "Upload-Metadata": meta(purpose=purpose, case=case)},
    )
    assert r.status_code == 201, r.text
    return r.headers["location"]


def patch(c: httpx.Client, url: str, offset: int, body, **headers: str) -> httpx.Response:
    return c.patch(
        url,
        content=body,
        headers={
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(offset),
            **headers,
        },
    )


def test_options_announce_the_extensions(koffer) -> None:
    with koffer.http() as c:
        r = c.options("/v1/koffer/uploads")
    assert r.status_code == 204
    assert r.headers["tus-version"] == "1.0.0"
    assert set(r.headers["tus-extension"].split(",")) == {
        "creation",
        "checksum",
        "termination",
        "expiration",
    }
    assert "sha256" in r.headers["tus-checksum-algorithm"].split(",")


def test_tuspy_unchanged_uploads_in_chunks_with_checksums(koffer) -> None:
    upload_id = koffer.upload(DATA, "document", CASE, chunk_size=1024 * 1024)
    upload = koffer.store.get(upload_id)
    assert upload.complete and upload.offset == len(DATA)
    assert (upload.device, upload.location) == ("koffer-07", "Seniorenheim Am Park")
    assert upload.sha256 == hashlib.sha256(DATA).hexdigest()
    with koffer.store.reader(upload) as r:
        assert b"".join(r.chunks()) == DATA


def test_sha256_checksums_as_the_issue_asks(koffer) -> None:
    from tusclient.uploader import Uploader

    class Sha256Uploader(Uploader):  # tuspy's own extension point for the algorithm
        CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)

    uploader = Sha256Uploader(
        file_stream=io.BytesIO(DATA),
        client=koffer.tus(),
        chunk_size=512 * 1024,
        metadata={"purpose": "document", "case": CASE},
        upload_checksum=True,
    )
    uploader.upload()
    upload = koffer.store.get(uploader.url.rsplit("/", 1)[-1])
    assert upload.complete and upload.sha256 == hashlib.sha256(DATA).hexdigest()


def test_the_completion_hash_when_the_first_patch_is_checked_with_sha256(koffer) -> None:
    """The first PATCH's checksum and the upload's running hash cover the same bytes and are
    computed once: a refused first PATCH must not leave its bytes in the completion hash, and
    a whole upload in one PATCH gets the hash of exactly its bytes."""
    with koffer.http() as c:
        url = create(c, len(DATA))
        wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
        refused = patch(c, url, 0, DATA, **{"Upload-Checksum": f"sha256 {wrong}"})
        assert refused.status_code == 460
        good = base64.b64encode(hashlib.sha256(DATA).digest()).decode()
        assert patch(c, url, 0, DATA, **{"Upload-Checksum": f"sha256 {good}"}).status_code == 204
        one = koffer.store.get(url.rsplit("/", 1)[-1])
        # Two PATCHes, the first checked with SHA-256, the second with SHA-1.
        url = create(c, len(DATA), case="case-0002-abcdef")
        half = len(DATA) // 2
        first = base64.b64encode(hashlib.sha256(DATA[:half]).digest()).decode()
        second = base64.b64encode(hashlib.sha1(DATA[half:]).digest()).decode()
        assert patch(c, url, 0, DATA[:half], **{"Upload-Checksum": f"sha256 {first}"}).is_success
        assert patch(c, url, half, DATA[half:], **{"Upload-Checksum": f"sha1 {second}"}).is_success
        two = koffer.store.get(url.rsplit("/", 1)[-1])
    assert one.complete and one.sha256 == hashlib.sha256(DATA).hexdigest()
    assert two.complete and two.sha256 == hashlib.sha256(DATA).hexdigest()


def test_an_interrupted_upload_resumes_from_the_stored_offset(koffer) -> None:
    with koffer.http() as c:
        url = create(c, len(DATA))

        def cut_off():  # the LTE link drops after 1.5 MB of a 3 MB request
            yield DATA[: 1024 * 1024]
            yield DATA[1024 * 1024 : 1536 * 1024]
            raise ConnectionError("link lost")

        with pytest.raises((ConnectionError, httpx.HTTPError)):
            patch(c, url, 0, cut_off())
        assert wait_for(lambda: int(c.head(url).headers["upload-offset"]) == 1536 * 1024)
    # tuspy, given the URL, asks for the offset and sends only the rest.
    uploader = koffer.tus().uploader(
        file_stream=io.BytesIO(DATA), url=f"{koffer.live.url}{url}", chunk_size=1024 * 1024
    )
    assert uploader.offset == 1536 * 1024
    uploader.upload()
    upload = koffer.store.get(url.rsplit("/", 1)[-1])
    assert upload.complete and upload.sha256 == hashlib.sha256(DATA).hexdigest()


def wait_for(predicate, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_a_checksum_mismatch_is_refused_with_460_and_not_stored(koffer) -> None:
    with koffer.http() as c:
        url = create(c, len(DATA))
        first = DATA[: 1024 * 1024]
        good = base64.b64encode(hashlib.sha256(first).digest()).decode()
        assert patch(c, url, 0, first, **{"Upload-Checksum": f"sha256 {good}"}).status_code == 204
        upload = koffer.store.get(url.rsplit("/", 1)[-1])
        stored = koffer.store.path(upload).stat().st_size
        wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
        r = patch(
            c,
            url,
            len(first),
            DATA[len(first) : 2 * len(first)],
            **{"Upload-Checksum": f"sha256 {wrong}"},
        )
        assert r.status_code == 460
        assert c.head(url).headers["upload-offset"] == str(len(first))
        assert koffer.store.path(upload).stat().st_size == stored
        bad_alg = patch(c, url, len(first), b"x", **{"Upload-Checksum": "md5 AAAA"})
        assert bad_alg.status_code == 400


def test_protocol_errors(koffer) -> None:
    with koffer.http() as c:
        url = create(c, 100)
        assert patch(c, url, 5, b"x").status_code == 409  # wrong offset
        r = c.patch(url, content=b"x", headers={"Upload-Offset": "0"})
        assert r.status_code == 415  # wrong content type
        old = c.head(url, headers={"Tus-Resumable": "0.2.2"})
        assert old.status_code == 412 and old.headers["tus-version"] == "1.0.0"
        assert patch(c, url, 0, b"x" * 101).status_code == 413  # beyond Upload-Length
        assert c.head(url).headers["upload-offset"] == "0"
        for headers, status in [
            ({"Upload-Metadata": meta(purpose="photo", case=CASE)}, 400),  # no length
            ({"Upload-Length": "10", "Upload-Metadata": meta(purpose="x", case=CASE)}, 400),
            ({"Upload-Length": "10", "Upload-Metadata": meta(purpose="photo", case="a b")}, 400),
            (
                {
                    "Upload-Length": str(21 * 2**20),
                    "Upload-Metadata": meta(purpose="photo", case=CASE),
                },
                413,
            ),  # photo limit
            ({"Upload-Length": "10", "Upload-Metadata": "purpose !!!"}, 400),
        ]:
            assert c.post("/v1/koffer/uploads", headers=headers).status_code == status, headers


def test_every_request_needs_an_active_device(koffer) -> None:
    with koffer.http() as c:
        url = create(c, 100)
    with httpx.Client(base_url=koffer.live.url, headers={"Tus-Resumable": "1.0.0"}) as anon:
        assert anon.head(url).status_code == 401
    other = koffer.store.register("koffer-08", "051110000000")
    with koffer.http(other) as c:
        assert c.head(url).status_code == 404  # another device's upload does not exist for it
        # and its case cannot be borrowed either
        r = c.post(
            "/v1/koffer/uploads",
            headers={"Upload-Length": "10", "Upload-Metadata": meta(purpose="photo", case=CASE)},
        )
        assert r.status_code == 403
    koffer.store.revoke("koffer-07")
    with koffer.http() as c:
        assert c.head(url).status_code == 401


def test_revoking_a_device_stops_its_upload_in_progress(koffer) -> None:
    with koffer.http() as c:
        url = create(c, len(DATA))
        revoked = threading.Event()

        def slow():
            for i in range(0, len(DATA), 256 * 1024):
                if i == 1024 * 1024:
                    koffer.store.revoke("koffer-07")
                    revoked.set()
                    time.sleep(0.4)  # past the revocation cache
                yield DATA[i : i + 256 * 1024]
                time.sleep(0.02)

        try:
            r = patch(c, url, 0, slow())
            assert r.status_code == 403, r.text
        except httpx.HTTPError:
            pass  # the server may close the connection while we still send
    assert revoked.is_set()
    upload = koffer.store.get(url.rsplit("/", 1)[-1])
    assert upload.offset == 0  # nothing of the refused request counts
    trail = koffer.store.audit_trail(f"upload:{upload.id}")
    assert [e["action"] for e in trail] == ["upload_created", "upload_refused"]


def test_termination_and_expiration(koffer) -> None:
    with koffer.http() as c:
        url = create(c, 1000)
        assert patch(c, url, 0, b"a" * 100).status_code == 204
        upload = koffer.store.get(url.rsplit("/", 1)[-1])
        assert c.head(url).headers["upload-expires"].endswith("GMT")
        assert c.delete(url).status_code == 204
        assert c.head(url).status_code == 404
        assert not koffer.store.path(upload).exists()

        url = create(c, 1000)
        upload_id = url.rsplit("/", 1)[-1]
        with koffer.hub.store.transaction() as conn:
            conn.execute(
                update(tables.uploads)
                .where(tables.uploads.c.id == upload_id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        assert c.head(url).status_code == 410
        assert patch(c, url, 0, b"x").status_code == 410
    from hub_bundesdruckerei.delivery import purge

    assert purge(koffer.hub, koffer.store)["expired_uploads"] == 1
    assert koffer.store.get(upload_id) is None


def test_bytes_are_encrypted_at_rest_and_tampering_is_detected(koffer, master_key) -> None:
    marker = b"PLAINTEXT-MARKER-" * 4096
    upload_id = koffer.upload(marker, "document", CASE)
    upload = koffer.store.get(upload_id)
    stored = koffer.store.path(upload).read_bytes()
    assert b"PLAINTEXT-MARKER" not in stored
    # per segment: length header, nonce, GCM tag
    assert len(stored) == len(marker) + crypto.OVERHEAD * upload.segments
    files = [p for p in Path(koffer.store.data_dir).rglob("*") if p.is_file()]
    assert {p.suffix for p in files} == {".enc"}
    # the data key is kept only wrapped by the master key
    from sqlalchemy import select

    with koffer.hub.store.reading() as conn:
        wrapped = conn.execute(select(tables.cases.c.wrapped_key)).scalar_one()
    key = crypto.unwrap(master_key, wrapped)
    with pytest.raises(crypto.CorruptData):
        crypto.unwrap(b"\x00" * 32, wrapped)
    flipped = bytearray(stored)
    flipped[100] ^= 1
    koffer.store.path(upload).write_bytes(bytes(flipped))
    reader = crypto.DecryptingReader(koffer.store.path(upload), key, upload.id, upload.offset)
    with reader, pytest.raises(crypto.CorruptData):
        reader.read()


def test_tuspy_reports_a_refusal(koffer) -> None:
    client = tus_client.TusClient(
        f"{koffer.live.url}/v1/koffer/uploads", headers={"Authorization": "Bearer nope"}
    )
    uploader = client.uploader(
        file_stream=io.BytesIO(b"x" * 10), metadata={"purpose": "photo", "case": CASE}
    )
    with pytest.raises(TusCommunicationError):
        uploader.upload()


def test_an_upload_resumed_after_a_restart_is_hashed_from_the_stored_file(koffer) -> None:
    with koffer.http() as c:
        url = create(c, len(DATA))
        half = len(DATA) // 2
        assert patch(c, url, 0, DATA[:half]).status_code == 204
        koffer.store._hashes.clear()  # what a restarted process would not have
        assert patch(c, url, half, DATA[half:]).status_code == 204
    upload = koffer.store.get(url.rsplit("/", 1)[-1])
    assert upload.complete and upload.sha256 == hashlib.sha256(DATA).hexdigest()


def test_one_writer_at_a_time(koffer) -> None:
    with koffer.http() as c:
        url = create(c, len(DATA))
        started = threading.Event()
        first: dict = {}

        def slow():
            yield DATA[:65536]
            started.set()
            time.sleep(0.8)
            yield DATA[65536 : 2 * 65536]

        def run() -> None:
            with koffer.http() as c2:
                first["status"] = patch(c2, url, 0, slow()).status_code

        writer = threading.Thread(target=run)
        writer.start()
        assert started.wait(5)
        time.sleep(0.2)
        second = patch(c, url, 0, b"x" * 10)
        writer.join(10)
    assert second.status_code == 423
    assert first["status"] == 204
    assert koffer.store.get(url.rsplit("/", 1)[-1]).offset == 2 * 65536
