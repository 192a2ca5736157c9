"""Open an HTML file in a real headless Debian Chromium (Playwright) and report what a reader sees."""

import shutil

from playwright.sync_api import sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def render(path, screenshot) -> tuple[list[str], list]:
    """(console errors, natural width of every image, or False when it did not load); writes a screenshot."""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth)")
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return errors, widths
