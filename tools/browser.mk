# The browser the dashboard's tests drive: Debian's headless Chromium and
# its WebDriver (/usr/bin/chromium, /usr/bin/chromedriver), so that no test
# tool downloads a browser of its own. Installed by `make deps-test`.
BROWSER_PACKAGES := chromium chromium-driver
