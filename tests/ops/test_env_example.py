"""docker/.env.example is a configuration the settings accept: a deployment that copies it gets a
product that starts (it once set CONN_MAX_AGE=60, which the settings refuse beside the pool)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .launcher import BASE_DIR

PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], "
    "'pool': s.DATABASES['default']['OPTIONS'].get('pool'), "
    "'prefix': s.CHANNEL_LAYERS['default']['CONFIG']['prefix'], 'debug': s.DEBUG}))"
)


def _example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (BASE_DIR / "docker" / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_the_settings_load_from_the_example_environment() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "HELPDESK_"))},
        **_example(),
        "DJANGO_ENV": "production",  # as docker/Dockerfile sets it
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("DATABASE_URL_TEST", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["engine"] == "apps.core.postgres"
    assert loaded["pool"]["max_size"] == 16
    assert loaded["prefix"] == "helpdesk:0:asgi"
    assert loaded["debug"] is False
