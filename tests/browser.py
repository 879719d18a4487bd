"""Open a page in headless Chromium (Debian's, driven by Playwright) and say what a reader would see broken."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
"""Without the background-networking flags Chromium keeps trying to reach the internet, which these machines
refuse; without --no-sandbox it will not start as root."""


@dataclass
class Opened:
    title: str
    load_seconds: float
    images: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)
    text: str = ""


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no Chromium on this machine: ./run tests installs Debian's chromium as root")
    return path


def open_page(url: str, screenshot: Path) -> Opened:
    """Load ``url``, wait until its images are in, follow each link once, and take a full-page screenshot."""
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            began = time.monotonic()
            page.goto(url, wait_until="load")
            opened = Opened(title=page.title(), load_seconds=time.monotonic() - began,
                            text=page.inner_text("body"))
            for img in page.query_selector_all("img"):
                src = img.evaluate("i => i.currentSrc || i.src")
                opened.images.append(src)
                if img.evaluate("i => !i.complete || i.naturalWidth === 0"):
                    opened.broken_images.append(src)
            opened.links = [h for h in page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
                            if "#" not in h]
            page.screenshot(path=str(screenshot), full_page=True)
            for href in opened.links:  # a page each: one left on an error page would cut the next short
                follower = browser.new_page()
                try:
                    answer = follower.goto(href)
                    if answer is not None and not answer.ok:
                        opened.broken_links.append(f"{href} ({answer.status})")
                except Error as exc:
                    opened.broken_links.append(f"{href} ({str(exc).splitlines()[0]})")
                finally:
                    follower.close()
            return opened
        finally:
            browser.close()
