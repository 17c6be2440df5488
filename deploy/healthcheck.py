"""The image's HEALTHCHECK: exit 0 when this container's gunicorn answers /health/ with 200, 1 otherwise.

Standard library only, no Django start-up: it runs every 30 seconds. It asks over plain HTTP from inside the
container (settings exempt /health/ from the HTTPS redirect) with a Host header that ALLOWED_HOSTS accepts.
"""

import os
import sys
import urllib.error
import urllib.request


def allowed_host() -> str:
    for host in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")
        if host and "*" not in host:
            return host
    return "localhost"


def main() -> int:
    url = os.environ.get("HEALTHCHECK_URL", "http://127.0.0.1:8000/health/")
    request = urllib.request.Request(url, headers={"Host": allowed_host(), "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(response.status, response.read().decode(errors="replace"))
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as error:
        print(error.code, error.read().decode(errors="replace"))
    except OSError as error:  # refused, timed out: gunicorn is not (yet) serving
        print(f"{url}: {error}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
