"""Loaded by the offline test's hub process (through PYTHONPATH): every socket connect and
name lookup the process makes is written to ``$HUB_TEST_CONNECT_LOG`` via an audit hook."""

import os
import sys

_LOG = os.environ.get("HUB_TEST_CONNECT_LOG")

if _LOG:

    def _audit(event: str, args: tuple) -> None:
        if event == "socket.connect":
            line = f"connect\t{args[1]!r}\n"
        elif event == "socket.getaddrinfo":
            line = f"lookup\t{args[0]!r}\n"
        else:
            return
        with open(_LOG, "a", encoding="utf-8") as out:
            out.write(line)

    sys.addaudithook(_audit)
