"""The image's HEALTHCHECK: GET /healthz on this container's uvicorn, as a proxy would ask.

/healthz is answered before the host check and the HTTPS redirect (apps.core.middleware); the
request still names an allowed host and HTTPS, as a proxy would, so that it also works against an
older image. Exit 0 when the answer is 200, 1 otherwise.
Standard library only: the slim image has no curl.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def allowed_host() -> str:
    for entry in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = entry.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def main() -> int:
    port = os.environ.get("HEALTHCHECK_PORT", "8000")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz",
        headers={"Host": allowed_host(), "X-Forwarded-Proto": "https"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:  # refused, timed out, or an HTTP error status
        print(f"healthz: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
