"""Debian's Chromium, the browser the web client is driven in by Playwright (its
`executable_path`: no browser download)."""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("WSC_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
