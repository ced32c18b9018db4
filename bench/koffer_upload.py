"""Bürgerkoffer upload benchmark: 200 MB through tus in 5 MB chunks with the tuspy client.

A real ``hub serve`` process (SQLite, the bundesdruckerei plugin) on loopback receives the upload
(SHA-256 checksum on every PATCH, encryption as it arrives, the completion hash over the
decrypted file). Measured per run, medians over ``--runs`` whole runs:

- ours: bytes / seconds from the first POST to the last PATCH's answer;
- baselines in the same run, same bytes: a plain Python loop writing them to a file in 5 MB
  chunks (fsync at the end); AES-256-GCM encryption alone in 1 MiB segments; the
  encrypt-and-write baseline is the two together (their times added), the work the server
  cannot avoid; also shown, one loop that encrypts and writes (fsync at the end);
- the server's peak RSS growth during the upload (VmHWM reset before it, VmRSS before as base);
- for reference, the same tuspy upload against a bare streaming endpoint in its own process
  that only counts the bytes: the most any tus server could reach with this client here.

    python bench/koffer_upload.py [--mb 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tusclient import client as tus
from tusclient.uploader import Uploader

CHUNK = 5 * 1024 * 1024
SEGMENT = 1024 * 1024
PORT = 8097
HUB_URL = f"http://127.0.0.1:{PORT}/v1/koffer/uploads"


class Sha256Uploader(Uploader):
    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def baseline_write(data: bytes, path: Path) -> float:
    t = time.perf_counter()
    with path.open("wb") as out:
        for i in range(0, len(data), CHUNK):
            out.write(data[i : i + CHUNK])
        out.flush()
        os.fsync(out.fileno())
    return time.perf_counter() - t


def baseline_encrypt(data: bytes, path: Path | None) -> float:
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    t = time.perf_counter()
    out = path.open("wb") if path else None
    view = memoryview(data)
    for i in range(0, len(data), SEGMENT):
        sealed = aead.encrypt(os.urandom(12), bytes(view[i : i + SEGMENT]), None)
        if out:
            out.write(sealed)
    if out:
        out.flush()
        os.fsync(out.fileno())
        out.close()
    return time.perf_counter() - t


# tus creation and PATCH, counting bytes and nothing else; one offset per upload, so many
# clients can use it at once (bench/koffer_fleet.py).
SINK = """
import uuid
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
offsets = {}
async def create(request):
    upload = uuid.uuid4().hex
    offsets[upload] = 0
    return Response(status_code=201, headers={"Location": f"/u/{upload}", "Tus-Resumable": "1.0.0"})
async def patch(request):
    upload = request.path_params["upload"]
    async for chunk in request.stream():
        offsets[upload] += len(chunk)
    headers = {"Upload-Offset": str(offsets[upload]), "Tus-Resumable": "1.0.0"}
    return Response(status_code=204, headers=headers)
routes = [Route("/u", create, methods=["POST"]), Route("/u/{upload}", patch, methods=["PATCH"])]
app = Starlette(routes=routes)
"""
SINK_PORT = 8098
SINK_URL = f"http://127.0.0.1:{SINK_PORT}/u"


def wait_for(url: str, method: str = "GET") -> None:
    """Until ``url`` answers without a server error (at most a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.request(method, url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def start_sink(work: Path) -> subprocess.Popen:
    """The bare streaming endpoint in a uvicorn process of its own, ready at :data:`SINK_URL`."""
    (work / "sink_app.py").write_text(SINK)
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "sink_app:app", "--port", str(SINK_PORT)),
            *("--log-level", "warning", "--app-dir", str(work)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(SINK_URL, "POST")
    return proc


def sink_upload(work: Path, data: bytes) -> float:
    """tuspy against the bare streaming endpoint."""
    proc = start_sink(work)
    try:
        return timed_upload(SINK_URL, None, data)
    finally:
        proc.terminate()
        proc.wait(10)


def hub_config(work: Path) -> Path:
    """SQLite, the file adapter, the bundesdruckerei plugin (master key from the environment's
    ``BENCH_MASTER_KEY``), everything under ``work``."""
    path = work / "hub.toml"
    path.write_text(f"""
[server]
port = {PORT}
[store]
url = "sqlite:///{work / "hub.db"}"
[[routes]]
adapters = ["file"]
[adapters.file]
directory = "{work / "out"}"
[attachments]
directory = "{work / "attachments"}"
[plugins.bundesdruckerei]
master_key = "env:BENCH_MASTER_KEY"
data_dir = "{work / "koffer"}"
""")
    return path


def start_hub(work: Path) -> tuple[subprocess.Popen, str]:
    env = {
        **os.environ,
        "BENCH_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "HUB_DISABLE_PLUGINS": "xmeld,bundid,ozg_catalog",
    }
    hub = [sys.executable, "-m", "hub", "--config", str(hub_config(work))]
    proc = subprocess.Popen(
        [*hub, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for(f"http://127.0.0.1:{PORT}/readyz")
    token = subprocess.run(
        [*hub, "koffer", "register", "--name", "bench", "--municipality", "051110000000"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return proc, token


CHECKSUM = True


def timed_upload(url: str, token: str | None, data: bytes, case: str | None = None) -> float:
    """Seconds tuspy takes to upload ``data`` to ``url`` (CHUNK-sized PATCHes, each with its
    SHA-256 unless switched off); ``case`` names the application it belongs to (the hub's
    metadata), a device ``token`` authenticates it."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    uploader = Sha256Uploader(
        file_stream=io.BytesIO(data),
        client=tus.TusClient(url, headers=headers),
        chunk_size=CHUNK,
        metadata={"purpose": "document", "case": case} if case else {},
        upload_checksum=CHECKSUM,
    )
    t = time.perf_counter()
    uploader.upload()
    return time.perf_counter() - t


def upload(token: str, data: bytes, case: str) -> float:
    return timed_upload(HUB_URL, token, data, case)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-checksum", action="store_true", help="PATCH without Upload-Checksum")
    args = parser.parse_args()
    global CHECKSUM
    CHECKSUM = not args.no_checksum
    data = os.urandom(args.mb * 1024 * 1024)
    mb = len(data) / 1024 / 1024
    rows = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(
            dir=Path.cwd() / "var" if (Path.cwd() / "var").is_dir() else None
        ) as tmp:
            work = Path(tmp)
            write_s = baseline_write(data, work / "plain.bin")
            (work / "plain.bin").unlink()
            enc_s = baseline_encrypt(data, None)
            enc_write_s = baseline_encrypt(data, work / "enc.bin")
            (work / "enc.bin").unlink()
            sink_s = sink_upload(work, data)
            proc, token = start_hub(work)
            try:
                upload(token, os.urandom(1024 * 1024), f"warmup-{run:04d}")  # imports, pools
                base_kb = status_kb(proc.pid, "VmRSS")
                Path(f"/proc/{proc.pid}/clear_refs").write_text("5")  # reset the peak (VmHWM)
                ours_s = upload(token, data, f"bench-case-{run:04d}")
                peak_kb = status_kb(proc.pid, "VmHWM")
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        row = {
            "ours": mb / ours_s,
            "write": mb / write_s,
            "encrypt": mb / enc_s,
            "write_plus_encrypt": mb / (write_s + enc_s),
            "encrypt_write_loop": mb / enc_write_s,
            "rss_growth_mb": (peak_kb - base_kb) / 1024,
            "tus_sink": mb / sink_s,
        }
        rows.append(row)
        print(f"run {run + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in row.items()), flush=True)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(f"\n{mb:.0f} MB in {CHUNK // 2**20} MB chunks, medians of {args.runs} runs (MB/s):")
    print(f"  ours (tus + SHA-256 checks + AES-GCM at rest + completion hash)  {med['ours']:.1f}")
    print(f"  baseline plain write loop                                       {med['write']:.1f}")
    print(f"  baseline AES-256-GCM alone                                      {med['encrypt']:.1f}")
    print(
        f"  baseline encrypt-and-write (write + encrypt times)              "
        f"{med['write_plus_encrypt']:.1f}"
    )
    print(
        f"  one loop encrypting and writing                                 "
        f"{med['encrypt_write_loop']:.1f}"
    )
    ratios = sorted(r["ours"] / r["write_plus_encrypt"] for r in rows)
    print(
        f"  ours / encrypt-and-write = {statistics.median(ratios):.2f} "
        f"(runs {', '.join(f'{x:.2f}' for x in ratios)})"
    )
    print(f"  server peak RSS growth   = {med['rss_growth_mb']:.1f} MB")
    print(
        f"  for reference: tuspy to a bare streaming endpoint {med['tus_sink']:.1f} MB/s "
        f"(ours / that = {med['ours'] / med['tus_sink']:.2f})"
    )


if __name__ == "__main__":
    main()
