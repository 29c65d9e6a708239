"""The playground as a newcomer sees it: `python -m bot --playground` in a real headless Chromium."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import free_port, jpeg_bytes

pytestmark = pytest.mark.slow  # whole processes end to end: `-m "not slow"` leaves them to CI

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def playground():
    """The main job exactly as the README starts it: the shipped model, no token."""
    port = free_port()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for name in ("TELEGRAM_BOT_TOKEN", "MODEL_DIR", "MODELS_ROOT"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--playground", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("the playground did not come up: " + proc.stdout.read()[-2000:])
    yield url
    proc.terminate()
    proc.wait(30)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1100,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def bot_texts(browser):
    # one script call reads every bubble at once, so a re-render between reads cannot leave stale elements
    return browser.execute_script("return [...document.querySelectorAll('.bot-msg .text')].map((e) => e.innerText)")


def wait_for(predicate, timeout=60):
    """``predicate()`` until truthy; an element the page re-drew meanwhile (stale) means try again."""
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except StaleElementReferenceException:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def click_first(browser, css: str) -> None:
    """Click the first element matching ``css``, found again if the page re-drew it before the click."""
    from selenium.webdriver.common.by import By

    def attempt():
        found = browser.find_elements(By.CSS_SELECTOR, css)
        if found:
            found[0].click()
            return True
        return False

    wait_for(attempt)


def upload_sample(browser, playground, tmp_path, name: str):
    """Open the chat page and send one of scikit-image's sample photos, as a user picks a file."""
    import skimage.data
    from selenium.webdriver.common.by import By

    photo = tmp_path / f"{name}.jpg"
    photo.write_bytes(jpeg_bytes(Image.fromarray(getattr(skimage.data, name)())))
    browser.get(playground)
    browser.find_element(By.ID, "photo").send_keys(str(photo))


def test_upload_a_photo_and_see_the_answer(playground, browser, tmp_path):
    from selenium.webdriver.common.by import By

    upload_sample(browser, playground, tmp_path, "astronaut")
    answer = wait_for(lambda: [t for t in bot_texts(browser) if "you are" in t])
    first_line = answer[0].splitlines()[0]
    percents = [int(p) for p in re.findall(r"(\d+)% (?:puppy|kitty)", first_line)]
    assert len(percents) == 2 and sum(percents) == 100
    cards = browser.find_elements(By.CSS_SELECTOR, ".bot-msg img")
    assert cards and wait_for(lambda: cards[-1].get_property("naturalWidth")) >= 360  # the result card loaded
    browser.save_screenshot(str(tmp_path / "playground.png"))

    # the "why?" button brings the heat map
    browser.find_element(By.CSS_SELECTOR, ".bot-msg .buttons button").click()
    wait_for(lambda: [t for t in bot_texts(browser) if "Orange" in t])


def test_group_tab_plays_with_mirror_caption(playground, browser, tmp_path):
    import skimage.data
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    photo = tmp_path / "bob.png"
    Image.fromarray(skimage.data.astronaut()).resize((256, 256)).save(photo)
    browser.get(playground)
    browser.find_element(By.ID, "tab-group").click()
    Select(browser.find_element(By.ID, "member")).select_by_visible_text("Bob")
    browser.find_element(By.ID, "photo").send_keys(str(photo))
    answer = wait_for(lambda: [t for t in bot_texts(browser) if t.startswith("Bob, you are")])
    assert "%" in answer[0]
    text_box = browser.find_element(By.ID, "text")
    text_box.send_keys("/top\n")
    board = wait_for(lambda: [t for t in bot_texts(browser) if "Leaderboard" in t])
    assert "Bob" in board[0]


def test_a_photo_without_face_or_pet_gets_a_friendly_answer(playground, browser, tmp_path):
    upload_sample(browser, playground, tmp_path, "coffee")
    answer = wait_for(lambda: [t for t in bot_texts(browser) if "can't find a face or a pet" in t])
    assert "%" not in answer[0]


@pytest.mark.parametrize("name,fmt", [("me.mp4", "mp4"), ("me.gif", "gif")])
def test_a_video_message_and_a_gif(playground, browser, tmp_path, name, fmt):
    from selenium.webdriver.common.by import By

    from tests.conftest import face_clip

    clip = tmp_path / name
    clip.write_bytes(face_clip(fmt))
    browser.get(playground)
    before = len([t for t in bot_texts(browser) if t.startswith("🎞 over")]) if bot_texts(browser) else 0
    browser.find_element(By.ID, "photo").send_keys(str(clip))
    answers = wait_for(lambda: [t for t in bot_texts(browser) if t.startswith("🎞 over")][before:])
    assert " frames: you are " in answers[0] and "single frames: " in answers[0]


@pytest.mark.parametrize(
    "language,play_too,friend,group_button,welcome",
    [
        ("en", "Play too: t.me/", "Your friend is ", "Play in a group 👥", "Mirror, mirror"),
        ("ko", "같이 해 보세요: t.me/", "친구는 ", "그룹에서 하기 👥", "거울아, 거울아"),
    ],
)
def test_share_link_group_button_and_inline_mode(
    playground, browser, tmp_path, language, play_too, friend, group_button, welcome
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(playground)
    Select(browser.find_element(By.ID, "language")).select_by_value(language)
    photo = tmp_path / "me.png"
    import skimage.data

    Image.fromarray(skimage.data.astronaut()).save(photo)
    browser.find_element(By.ID, "photo").send_keys(str(photo))
    wait_for(lambda: [t for t in bot_texts(browser) if play_too in t])

    # a friend taps the link on the card: the bot opens with the answer they were sent
    browser.find_elements(By.CSS_SELECTOR, ".bot-msg a.link")[-1].click()
    greeting = wait_for(lambda: [t for t in bot_texts(browser) if t.startswith(friend)])
    assert "%" in greeting[0]

    # "play in a group" adds the bot to the group, which greets it there
    browser.get(playground)
    Select(browser.find_element(By.ID, "language")).select_by_value(language)
    buttons = wait_for(
        lambda: [
            b for b in browser.find_elements(By.CSS_SELECTOR, ".bot-msg .buttons button") if b.text == group_button
        ]
    )
    buttons[-1].click()
    assert "active" in browser.find_element(By.ID, "tab-group").get_attribute("class")
    wait_for(lambda: [t for t in bot_texts(browser) if t.startswith(welcome)])

    # inline mode: typing the bot's name offers this user's last card; picking it posts it "via" the bot
    browser.find_element(By.ID, "tab-private").click()
    browser.find_element(By.ID, "text").send_keys("@mirror_mirror_test_bot\n")
    click_first(browser, "#inline .result img")  # the results re-draw as each inline answer arrives
    posted = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".me .via"))
    assert posted and browser.find_elements(By.CSS_SELECTOR, ".me img")


def test_only_its_own_page_on_this_machine_is_answered(playground):
    """Another website's form posting into the playground, or a rebound DNS name, is refused."""
    port = playground.rsplit(":", 1)[1].strip("/")

    def status(path: str, data: bytes | None = None, **headers) -> int:
        request = urllib.request.Request(playground.rstrip("/") + path, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code

    form = b"chat=private&member=Ann&text=hello"
    assert status("/play/send", form, Origin="https://evil.example") == 403
    assert status("/", Host=f"evil.example:{port}") == 403
    assert status("/play/send", form, Origin=f"http://127.0.0.1:{port}") == 200
    assert status("/", Host=f"localhost:{port}") == 200
