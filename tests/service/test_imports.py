"""Importing a feed does not load the web stack (a receiver process stays light)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_hj212_feed_loads_no_web_framework() -> None:
    code = (
        "import sys, service.feeds.hj212; "
        "print(sorted(m for m in ('fastapi', 'starlette', 'jinja2', 'weasyprint') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)  # fmt: skip
    assert result.stdout.strip() == "[]", result.stdout


def test_the_package_still_offers_create_app_and_settings() -> None:
    import service

    assert callable(service.create_app) and service.Settings.__name__ == "Settings"
