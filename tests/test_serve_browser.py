"""The page of rnnseq serve in a real headless browser (Chromium through Selenium): type a
sentence, click Predict and Explain, read the rendered tags, probabilities and L_j back
and compare them with rnnseq predict --output jsonl and rnnseq explain --json.

Needs the `selenium` package (requirements.txt, development) and a Chromium with its
matching chromedriver on PATH (Debian/Ubuntu: apt-get install chromium chromium-driver);
without them every test here skips, saying which is missing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rnnseq.cli import main
from serve_helpers import start_server, train_tiny_models

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed (pip install -r requirements.txt)"
    if not any(shutil.which(b) for b in BROWSERS):
        return (f"no browser: none of {', '.join(BROWSERS)} is on PATH (Debian/Ubuntu: "
                "apt-get install chromium chromium-driver)")  # fmt: skip
    if not shutil.which("chromedriver"):
        return ("no chromedriver on PATH (Debian/Ubuntu: apt-get install chromium-driver; "
                "it must match the browser's version)")  # fmt: skip
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(shutil.which(b) for b in BROWSERS if shutil.which(b))
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1100,900"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folders = train_tiny_models(tmp_path_factory.mktemp("browser"))
    servers = {name: start_server(folders[name]) for name in ("ner", "classify", "lm")}
    yield {name: (folders[name], s.url) for name, s in servers.items()}
    for s in servers.values():
        s.close()


def _open(browser, url: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url + "/")
    WebDriverWait(browser, 30).until(lambda d: d.find_element("tag name", "body")
                                     .get_attribute("data-state") == "ready")  # fmt: skip


def _type(browser, element_id: str, text: str) -> None:
    box = browser.find_element("id", element_id)
    box.clear()
    box.send_keys(text)


def _click_and_wait(browser, button: str, card: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script(f"document.getElementById('{card}').hidden = true")
    browser.find_element("id", button).click()

    def done(d):
        state = d.find_element("tag name", "body").get_attribute("data-state")
        if state == "error":
            raise AssertionError(d.find_element("id", "error").text)
        return state == "ready" and d.find_element("id", card).is_displayed()

    WebDriverWait(browser, 30).until(done)


def _cli_json(capsys, *argv) -> list:
    assert main([str(a) for a in argv]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _steps(browser) -> list[dict]:
    rows = browser.find_elements("css selector", "#steps tr.step")
    return [{k: r.get_attribute(f"data-{k}") for k in ("input", "label", "p", "loss")}
            for r in rows]  # fmt: skip


def _check_explain(browser, expected: dict) -> None:
    shown = _steps(browser)
    assert [s["input"] for s in shown] == [s["input"] for s in expected["steps"]]
    assert [s["label"] for s in shown] == [s["label"] for s in expected["steps"]]
    for got, want in zip(shown, expected["steps"], strict=True):
        assert float(got["p"]) == pytest.approx(want["probability"], abs=1e-12)
        assert float(got["loss"]) == pytest.approx(want["loss"], abs=1e-12)
    for key in ("sum", "mean"):
        value = browser.find_element("id", key).get_attribute("data-value")
        assert float(value) == pytest.approx(expected[key], abs=1e-12)
        assert browser.find_element("id", key).text == f"{expected[key]:.4f}"


def test_tagger_page_shows_tags_entities_and_the_explain_losses(browser, served, tmp_path,
                                                                capsys):  # fmt: skip
    folder, url = served["ner"]
    text, labels = "Peter Blackburn said EU rejects German call", "B-PER I-PER O B-ORG O B-MISC O"
    _open(browser, url)
    _type(browser, "text", text)
    _type(browser, "labels", labels)

    _click_and_wait(browser, "predict", "predict-card")
    (path := tmp_path / "in.txt").write_text(text + "\n")
    (want,) = _cli_json(capsys, "predict", "--model", folder, path, "--output", "jsonl")
    tokens = browser.find_elements("css selector", "#tokens .token")
    assert [t.get_attribute("data-text") for t in tokens] == [t["text"] for t in want["tokens"]]
    assert [t.get_attribute("data-tag") for t in tokens] == [t["tag"] for t in want["tokens"]]
    assert [float(t.get_attribute("data-p")) for t in tokens] == [
        t["probability"] for t in want["tokens"]
    ]
    marks = browser.find_elements("css selector", "#entities mark.entity")
    assert [(m.get_attribute("data-label"), int(m.get_attribute("data-start")),
             int(m.get_attribute("data-end"))) for m in marks] == [
        (e["label"], e["start"], e["end"]) for e in want["entities"]
    ]  # fmt: skip

    _click_and_wait(browser, "explain", "explain-card")
    (expected,) = _cli_json(capsys, "explain", "--model", folder, "--text", text, "--labels",
                            labels, "--json")  # fmt: skip
    _check_explain(browser, expected)


def test_classifier_page_shows_the_label_distribution(browser, served, capsys):
    folder, url = served["classify"]
    _open(browser, url)
    _type(browser, "text", "not bad at all")
    _click_and_wait(browser, "predict", "predict-card")
    rows = browser.find_elements("css selector", "#distribution .dist-row")
    dist = {r.get_attribute("data-label"): float(r.get_attribute("data-p")) for r in rows}
    assert set(dist) == {"positive", "negative"}
    assert sum(dist.values()) == pytest.approx(1.0, abs=1e-5)
    chosen = browser.find_element("css selector", ".classified").get_attribute("data-label")
    assert chosen == max(dist, key=dist.get)

    _click_and_wait(browser, "explain", "explain-card")
    (expected,) = _cli_json(capsys, "explain", "--model", folder, "--text", "not bad at all",
                            "--json")  # fmt: skip
    _check_explain(browser, expected)


def test_language_model_page_continues_and_explains_each_next_unit(browser, served, capsys):
    folder, url = served["lm"]
    _open(browser, url)
    _type(browser, "text", "the dog")
    _click_and_wait(browser, "predict", "predict-card")
    shown = browser.find_element("id", "continuation").get_attribute("data-text")
    (path := Path(folder).parent / "prompt.txt").write_text("the dog\n")
    (want,) = _cli_json(capsys, "predict", "--model", folder, path, "--output", "jsonl")
    assert shown == want["continuation"]

    _click_and_wait(browser, "explain", "explain-card")
    (expected,) = _cli_json(capsys, "explain", "--model", folder, "--text", "the dog", "--json")
    _check_explain(browser, expected)
    shown = [
        c.text for c in browser.find_elements("css selector", "#steps tr.step td:nth-child(2)")
    ]
    assert shown[0] == "'\\n'" and shown[4] == "' '"  # the line start, the space: as the CLI


def test_a_refused_request_shows_its_error_on_the_page(browser, served):
    from selenium.webdriver.support.ui import WebDriverWait

    _, url = served["ner"]
    _open(browser, url)
    _type(browser, "text", "EU rejects")
    _type(browser, "labels", "B-ORG")  # one label for two tokens
    browser.find_element("id", "explain").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_element("id", "error").text)
    assert "one tag per token" in browser.find_element("id", "error").text
