"""The dashboard page in a real browser (headless Chromium driven by
Selenium): two pages of the same device stay in step whatever changes the
state, count each other, show live readings, and come back by themselves
when the device restarts."""
import os
import struct
import zlib

import pytest
from websockets.sync.client import connect as ws_connect

from conftest import ROOT
from test_dashboard import DASHBOARD

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = ROOT / "build" / "artifacts"
WAIT = 10  # seconds for a change to show in a page
RECONNECT_WAIT = 30  # the page's backoff tops out at 8 s between attempts

# `make test` installs both (tools/browser.mk): a missing one is a failure,
# not a reason to skip.
if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
    raise RuntimeError("needs Debian's chromium and chromium-driver (make test installs them)")


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    # Debian's binaries, so that Selenium Manager fetches nothing.
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--window-size=1000,900", "--user-data-dir=%s" % (tmp_path / "chromium")):
        options.add_argument(flag)
    service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()


def png_pixels(path):
    """(width, height, rows of (r, g, b)) of an 8-bit RGB or RGBA PNG
    without interlacing, as Chromium writes them (PNG spec §9 filters)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack("!I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack("!IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, bpp)])
        prev = line
    return width, height, rows


def colour(hex_rgb):
    return tuple(bytes.fromhex(hex_rgb.lstrip("#")))


def near(pixel, rgb, tolerance=24):
    return all(abs(p - q) <= tolerance for p, q in zip(pixel, rgb))


def pixels_in(rows, rect, scale):
    """The pixels of an element's rect (CSS px, scaled to the image's)."""
    x0, y0 = int(rect["x"] * scale), int(rect["y"] * scale)
    x1, y1 = int((rect["x"] + rect["width"]) * scale), int((rect["y"] + rect["height"]) * scale)
    return [px for row in rows[y0:y1] for px in row[x0:x1]]


# The page's colours (dashboard.html :root): background, text, accent.
BG_LIGHT, BG_DARK, TEXT, ACCENT = colour("#f2f4f7"), colour("#0f141b"), colour("#17202c"), colour("#f5a524")
RECTS_JS = ("const r = id => { const b = document.getElementById(id).getBoundingClientRect();"
            " return {x: b.x, y: b.y, width: b.width, height: b.height}; };"
            "return {trend: r('trend'), temperature: r('temperature'), light: r('light'),"
            " clients: r('clients')};")


class Page:
    """One window of the browser, showing the dashboard."""

    def __init__(self, driver, handle):
        self.driver = driver
        self.handle = handle

    def focus(self):
        self.driver.switch_to.window(self.handle)
        return self.driver

    def text(self, element_id):
        return self.focus().find_element(By.ID, element_id).text

    def attribute(self, element_id, name):
        return self.focus().find_element(By.ID, element_id).get_attribute(name)

    def wait_until(self, condition, timeout=WAIT, what=""):
        """Wait until condition(page) is true in this window."""
        self.focus()
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(
            lambda _: condition(self), what)

    def wait_connected(self, timeout=WAIT):
        self.wait_until(lambda p: p.attribute("status", "data-state") == "connected", timeout,
                        "the page to be connected")

    def light(self):
        return self.attribute("light", "aria-checked"), self.text("light-text")

    def set_brightness(self, value):
        # What a drag does: the value moves, 'input' events, then 'change'.
        self.focus().execute_script(
            "const s = document.getElementById('brightness'); s.value = arguments[0];"
            "s.dispatchEvent(new Event('input', {bubbles: true}));"
            "s.dispatchEvent(new Event('change', {bubbles: true}));", value)


def open_pages(driver, url, n):
    pages = []
    for i in range(n):
        if i:
            driver.switch_to.new_window("window")
        driver.get(url)
        pages.append(Page(driver, driver.current_window_handle))
    for page in pages:
        page.wait_connected()
    for page in pages:
        page.wait_until(lambda p: p.text("clients") == str(n), what="%d clients" % n)
    return pages


@pytest.fixture
def dashboard(mp_server):
    srv = mp_server(DASHBOARD)
    srv.url = "http://%s:%d/" % (srv.host, srv.port)
    return srv


def test_switch_and_slider_in_one_page_show_in_the_other(browser, dashboard):
    a, b = open_pages(browser, dashboard.url, 2)
    assert a.light() == b.light() == ("false", "Off")

    a.focus().find_element(By.ID, "light").click()
    b.wait_until(lambda p: p.light() == ("true", "On"), what="the light on in the other page")
    a.wait_until(lambda p: p.light() == ("true", "On"), what="the light on in the page clicked")

    b.focus().find_element(By.ID, "light").click()
    a.wait_until(lambda p: p.light() == ("false", "Off"), what="the light off again")

    a.set_brightness(30)
    b.wait_until(lambda p: p.attribute("brightness", "value") == "30" and p.text("brightness-value") == "30 %",
                 what="brightness 30 in the other page")
    b.set_brightness(85)
    a.wait_until(lambda p: p.attribute("brightness", "value") == "85", what="brightness 85")


def test_readings_change_over_time(browser, dashboard):
    (page,) = open_pages(browser, dashboard.url, 1)
    page.wait_until(lambda p: p.text("uptime") != "–", what="a first reading")
    first = page.text("uptime"), page.text("temperature")
    assert first[1].replace(".", "", 1).isdigit(), first
    page.wait_until(lambda p: p.text("uptime") != first[0], what="the uptime to move on")
    assert page.text("free").endswith("iB")


def test_chromium_negotiates_compression(browser, dashboard):
    """Chromium offers permessage-deflate with client_max_window_bits: the
    device takes it with its 2^11 windows, and the page lives on
    compressed readings."""
    (page,) = open_pages(browser, dashboard.url, 1)
    extensions = page.focus().execute_script("return ws.extensions")
    assert extensions == "permessage-deflate; server_max_window_bits=11; client_max_window_bits=11"
    page.wait_until(lambda p: p.text("uptime") != "–", what="a first reading")
    first = page.text("uptime")
    page.wait_until(lambda p: p.text("uptime") != first, what="the next reading")


def test_closing_a_page_lowers_the_count_on_the_other(browser, dashboard):
    a, b = open_pages(browser, dashboard.url, 2)
    b.focus().close()
    a.wait_until(lambda p: p.text("clients") == "1", what="the count back to 1")


def test_a_script_client_drives_both_pages(browser, dashboard):
    a, b = open_pages(browser, dashboard.url, 2)
    with ws_connect("ws://%s:%d/ws" % (dashboard.host, dashboard.port)) as script:
        for page in (a, b):
            page.wait_until(lambda p: p.text("clients") == "3", what="the script counted")
        script.send('{"light": true, "brightness": 60}')
        for page in (a, b):
            page.wait_until(lambda p: p.light() == ("true", "On") and p.text("brightness-value") == "60 %",
                            what="the script's change")
        script.send('{"brightness": 900}')
        a.wait_until(lambda p: p.text("clients") == "3")
    for page in (a, b):
        page.wait_until(lambda p: p.text("clients") == "2", what="the script gone")


def test_pages_show_a_restart_and_reconnect_by_themselves(browser, dashboard, mp_server):
    a, b = open_pages(browser, dashboard.url, 2)
    a.focus().find_element(By.ID, "light").click()
    b.wait_until(lambda p: p.light() == ("true", "On"))

    dashboard.stop()
    for page in (a, b):
        page.wait_until(lambda p: p.attribute("status", "data-state") == "disconnected"
                        and "reconnecting" in p.text("status-text"), what="the disconnected state")
        assert page.attribute("light", "disabled") == "true"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    a.focus().save_screenshot(str(ARTIFACTS / "dashboard-disconnected.png"))

    mp_server(DASHBOARD, port=dashboard.port)
    for page in (a, b):
        page.wait_connected(RECONNECT_WAIT)
    # The restarted device starts with the light off: the pages show its
    # state, not the one they had.
    for page in (a, b):
        page.wait_until(lambda p: p.light() == ("false", "Off") and p.text("clients") == "2",
                        what="the restarted device's state")
    assert a.attribute("light", "disabled") is None


def test_page_fits_a_phone_and_screenshots(browser, dashboard):
    (page,) = open_pages(browser, dashboard.url, 1)
    driver = page.focus()
    driver.find_element(By.ID, "light").click()
    page.set_brightness(70)
    page.wait_until(lambda p: p.light() == ("true", "On"))
    # A few readings, so the trend line has a shape.
    page.wait_until(lambda p: len((p.attribute("trend", "points") or "").split()) >= 6,
                    timeout=15, what="six readings")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "dashboard-wide.png"))

    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": True})
    try:
        # Nothing wider than the phone's screen: no sideways scrolling.
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth") is True
        switch = driver.find_element(By.ID, "light").rect
        assert switch["x"] + switch["width"] <= 360
        # Cut to the page's own height, for the README.
        height = driver.execute_script(
            "return Math.ceil(document.querySelector('main').getBoundingClientRect().bottom)")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 360, "height": height, "deviceScaleFactor": 2, "mobile": True})
        driver.save_screenshot(str(ARTIFACTS / "dashboard.png"))
        rects = driver.execute_script(RECTS_JS)
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                               {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        driver.save_screenshot(str(ARTIFACTS / "dashboard-dark.png"))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    # What the screenshots show, pixel by pixel (device scale 2).
    width, height, rows = png_pixels(ARTIFACTS / "dashboard.png")
    assert width == 720, width
    assert near(rows[2][2], BG_LIGHT, 2), rows[2][2]
    # The trend line is drawn in the accent colour across its box.
    trend = pixels_in(rows, rects["trend"], 2)
    drawn = [px for px in trend if near(px, ACCENT, 40)]
    assert len(drawn) > 100, len(drawn)
    # The switch is on: accent; the temperature and client count are text.
    switch = pixels_in(rows, rects["light"], 2)
    assert sum(near(px, ACCENT, 40) for px in switch) > len(switch) // 3
    for element in ("temperature", "clients"):
        assert sum(near(px, TEXT, 40) for px in pixels_in(rows, rects[element], 2)) > 20, element
    _, _, dark = png_pixels(ARTIFACTS / "dashboard-dark.png")
    assert near(dark[2][2], BG_DARK, 2), dark[2][2]
    assert sum(near(px, ACCENT, 40) for px in pixels_in(dark, rects["trend"], 2)) > 100
