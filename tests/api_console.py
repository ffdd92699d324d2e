#!/usr/bin/env python3
"""Drives brine-api's web console in headless Chromium (through chromedriver and Selenium).

It logs in, waits for the live event stream, fires an event with brine-run and sees it in the
events pane (also through the tag filter and the pause button), runs test.ping and sees the
minion's true return, sees the minion among the accepted keys, and saves a screenshot. Exit 0
when all of that was seen; otherwise exit 1 with one line saying what was not seen.

Run by tests/api_console.rs; by hand:
  python3 tests/api_console.py --url http://127.0.0.1:PORT/app --user ops --password SECRET \
      --brine-run target/release/brine-run --config CONF_DIR --minion m1 --screenshot out.png
"""

import argparse
import json
import subprocess
import sys
import time

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
except ImportError:
    print("api_console.py: the Python package selenium is missing (pip install selenium)")
    sys.exit(3)


class NotSeen(Exception):
    """What the page did not show in time."""


def wait(what, check, timeout):
    """Polls `check` until it returns a true value; NotSeen(what) after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except WebDriverException:
            value = None
        if value:
            return value
        if time.monotonic() >= end:
            raise NotSeen(what)
        time.sleep(0.1)


def wait_quietly(check, timeout):
    """As `wait`, but None instead of NotSeen."""
    try:
        return wait("", check, timeout)
    except NotSeen:
        return None


def visible(driver, css):
    """The first displayed element matching `css`, or None."""
    for e in driver.find_elements(By.CSS_SELECTOR, css):
        if e.is_displayed():
            return e
    return None


def page_errors(driver):
    """The error lines the page shows, for the failure message."""
    seen = []
    for id_ in ("login-error", "job-error", "keys-error"):
        try:
            e = driver.find_element(By.ID, id_)
            if e.is_displayed() and e.text:
                seen.append(f"#{id_}: {e.text}")
        except WebDriverException:
            pass
    return "; ".join(seen)


def send_event(args, tag, data):
    """Fires `tag` on the master bus with brine-run's event.send runner."""
    cmd = [args.brine_run, "-c", args.config, "event.send", tag, json.dumps(data)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise NotSeen(f"brine-run event.send {tag} finishing ({e})") from e
    if out.returncode != 0:
        detail = (out.stderr or out.stdout).strip().replace("\n", " ")
        raise NotSeen(f"brine-run event.send {tag} succeeding (exit {out.returncode}: {detail})")


def event_row(driver, tag):
    """The events pane's row for `tag`, or None."""
    for e in driver.find_elements(By.CSS_SELECTOR, "#events .ev"):
        if e.get_attribute("data-tag") == tag:
            return e
    return None


def set_filter(driver, text):
    box = driver.find_element(By.ID, "event-filter")
    box.clear()
    box.send_keys(text)


def drive(driver, args):
    t = args.timeout
    driver.get(args.url)

    # No session yet: GET /keys answers 401 and the page asks to log in.
    wait("the login form (#login-user) after loading the page", lambda: visible(driver, "#login-user"), t)
    driver.find_element(By.ID, "login-user").send_keys(args.user)
    driver.find_element(By.ID, "login-pass").send_keys(args.password)
    Select(driver.find_element(By.ID, "login-eauth")).select_by_value(args.eauth)
    driver.find_element(By.ID, "login-submit").click()
    wait(
        f"the logged-in user {args.user!r} in #session-user",
        lambda: visible(driver, "#session-user") and driver.find_element(By.ID, "session-user").text == args.user,
        t,
    )
    perms = driver.find_element(By.ID, "session-perms").text
    if ".*" not in perms:
        raise NotSeen(f"the permissions '.*' in #session-perms (it shows {perms!r})")

    # The stream must be open before the event is fired, or the event is not sent to it.
    wait("the events stream opening (#conn live)", lambda: driver.find_element(By.ID, "conn").get_attribute("data-state") == "open", t)
    # Open (headers seen) need not mean subscribed yet: fire a marker until one shows, so
    # the events that count are fired to a stream known to be on the bus.
    ready = "brine/console/ready"

    def marker_shown():
        send_event(args, ready, {})
        return wait_quietly(lambda: event_row(driver, ready), 0.5)

    wait(f"any {ready} event in #events (fired every half second)", marker_shown, t)
    tag = "brine/console/test"
    send_event(args, tag, {"x": 1})
    row = wait(f"the event {tag} in #events", lambda: event_row(driver, tag), t)
    row.find_element(By.CSS_SELECTOR, ".ev-head").click()
    detail = wait(f"the expanded JSON of {tag}", lambda: visible(driver, "#events .ev.open pre"), t)
    if '"x": 1' not in detail.text:
        raise NotSeen(f'"x": 1 in the expanded data of {tag} (it shows {detail.text!r})')
    row.find_element(By.CSS_SELECTOR, ".ev-head").click()

    # Paused, a new event is held (counted) instead of shown; Resume shows it.
    driver.find_element(By.ID, "event-pause").click()
    held_tag = "brine/console/held"
    send_event(args, held_tag, {"y": 2})
    wait(
        f"the event {held_tag} counted as held while paused",
        lambda: int(driver.find_element(By.ID, "event-count").get_attribute("data-held") or 0) >= 1,
        t,
    )
    if event_row(driver, held_tag) is not None:
        raise NotSeen(f"the pane standing still while paused ({held_tag} was shown)")
    driver.find_element(By.ID, "event-pause").click()
    wait(f"the held event {held_tag} after Resume", lambda: event_row(driver, held_tag), t)

    # A job: one row per expected minion, filled by salt/job/<jid>/ret/<minion>.
    tgt = driver.find_element(By.ID, "job-tgt")
    tgt.clear()
    tgt.send_keys("*")
    fun = driver.find_element(By.ID, "job-fun")
    fun.clear()
    fun.send_keys("test.ping")
    driver.find_element(By.ID, "job-arg").clear()
    driver.find_element(By.ID, "job-run").click()
    minion = args.minion

    def returned():
        for tr in driver.find_elements(By.CSS_SELECTOR, "#job-returns tr[data-minion]"):
            if minion and tr.get_attribute("data-minion") != minion:
                continue
            if tr.find_element(By.CSS_SELECTOR, ".ret").text.strip() == "true":
                return tr
        return None

    who = minion or "a minion"
    wait(f"{who}'s true return of test.ping in #job-returns", returned, t)

    # The tag filter is an fnmatch glob over the rows already there.
    set_filter(driver, "brine/console/t*")
    wait("the filter brine/console/t* hiding salt/job events", lambda: not visible(driver, '#events .ev[data-tag^="salt/job/"]'), t)
    if not event_row(driver, tag).is_displayed():
        raise NotSeen(f"{tag} still shown under the filter brine/console/t*")
    if event_row(driver, held_tag).is_displayed():
        raise NotSeen(f"{held_tag} hidden by the filter brine/console/t*")
    set_filter(driver, "*")
    wait("salt/job events shown again under the filter *", lambda: visible(driver, '#events .ev[data-tag^="salt/job/"]'), t)

    def accepted():
        for tr in driver.find_elements(By.CSS_SELECTOR, "#keys tr[data-minion]"):
            if tr.get_attribute("data-state") == "accepted" and (not minion or tr.get_attribute("data-minion") == minion):
                return tr
        return None

    wait(f"{who} among the accepted keys in #keys", accepted, t)

    if args.screenshot:
        # No focus ring on the filter box in the picture.
        driver.execute_script("document.activeElement && document.activeElement.blur()")
        if not driver.save_screenshot(args.screenshot):
            raise NotSeen(f"the screenshot written to {args.screenshot}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="the console's URL (http://HOST:PORT/app)")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--eauth", default="sharedsecret")
    ap.add_argument("--brine-run", required=True, help="path of brine-run")
    ap.add_argument("--config", required=True, help="the master's configuration directory")
    ap.add_argument("--minion", default="", help="the id expected to answer and to be accepted")
    ap.add_argument("--screenshot", default="", help="where to save a PNG of the page at the end")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for each step")
    args = ap.parse_args()

    opts = webdriver.ChromeOptions()
    opts.binary_location = args.chromium
    for flag in (
        "--headless=new",
        # Root in a container has no user namespace for Chromium's sandbox.
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1440,900",
        "--force-device-scale-factor=1",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--force-prefers-reduced-motion",
        "--lang=en-US",
    ):
        opts.add_argument(flag)
    try:
        # An explicit driver path keeps Selenium Manager from looking for one online.
        driver = webdriver.Chrome(service=Service(executable_path=args.chromedriver), options=opts)
    except WebDriverException as e:
        first = (e.msg or str(e)).strip().splitlines()[0] if (e.msg or str(e)).strip() else type(e).__name__
        print(f"not seen: a Chromium session from {args.chromedriver} ({first})")
        return 1
    try:
        drive(driver, args)
    except NotSeen as e:
        errors = page_errors(driver)
        print(f"not seen: {e}" + (f" (the page shows {errors})" if errors else ""))
        return 1
    except WebDriverException as e:
        first = (e.msg or type(e).__name__).strip().splitlines()[0]
        print(f"not seen: the page answering the browser driver ({first})")
        return 1
    finally:
        driver.quit()
    print("api_console.py: logged in, saw the event, the held event, the test.ping return and the key")
    return 0


if __name__ == "__main__":
    sys.exit(main())
