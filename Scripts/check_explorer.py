"""End-to-end check of `convlens explore` in headless Chromium (Scripts/explorer-check.sh).

Starts the explorer on port 0, loads the page, walks to a layer and a unit with the keyboard,
switches the back mode, waits for the back pane, takes a screenshot of it and compares its pixels
with the PNG `convlens project` writes for the same unit. Then: the signal at a lower layer
(`d`, `u`, `a`), the help (`h`), saving a view (`s`), an upload through the file input, and the
webcam with Chromium's fake camera (frames per second reported). Exits non-zero on any mismatch.

    python check_explorer.py path/to/convlens WORKDIR
    EXPLORER_SCREENSHOT=Docs/images/explorer.png python check_explorer.py …   (the README's picture)
"""
import io
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request

import numpy as np
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BIN, WORK = sys.argv[1], sys.argv[2]
SCREENSHOT = os.environ.get("EXPLORER_SCREENSHOT")  # a path: the page after the keyboard walk (Docs/images)
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


server = subprocess.Popen([BIN, "explore", "--port", "0", "--out", f"{WORK}/saves"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
line = server.stdout.readline()
if "http://" not in line:
    print("explorer-check: FAILED — the server printed no URL:", line, server.stderr.read())
    sys.exit(1)
url = line.split()[2]

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
            "--force-device-scale-factor=1", "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream", "--force-color-profile=srgb"]:
    options.add_argument(arg)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, 120)


def state(expr):
    return driver.execute_script(f"return {expr};")


def loaded(img_id, *needles):
    """The image has finished loading a request that contains every needle."""
    return driver.execute_script(
        "const i = document.getElementById(arguments[0]);"
        "return !!i.dataset.request && arguments[1].every(n => i.dataset.request.includes(n))"
        " && i.complete && i.naturalWidth > 0;", img_id, list(needles))


try:
    driver.get(url)
    wait.until(lambda d: state("window.convlens && window.convlens.model !== null") and loaded("back", "projection.png"))
    body = driver.find_element(By.TAG_NAME, "body")

    # Keyboard: three layers down, five units right, back mode to guided.
    start = state("window.convlens.layer")
    body.send_keys("ooo" + "lllll" + "b")
    wait.until(lambda d: state("window.convlens.unit") == 5 and state("window.convlens.rule") == "guided")
    layer = state("window.convlens.model.layers[window.convlens.layer].name")
    check(state("window.convlens.layer") == start + 3, f"o moved three layers down ({start} -> {start + 3})")
    wait.until(lambda d: loaded("back", "unit=5", "rule=guided", "layer=" + urllib.parse.quote(layer, safe="")))
    if SCREENSHOT:
        time.sleep(1)
        driver.save_screenshot(SCREENSHOT)
    shot = np.asarray(Image.open(io.BytesIO(driver.find_element(By.ID, "back").screenshot_as_png)).convert("RGB")).astype(int)

    out = f"{WORK}/project"
    subprocess.run([BIN, "project", "--layer", layer, "--channel", "5", "--rule", "guided", "--display", "norm", "--out", out],
                   check=True, stdout=subprocess.DEVNULL)
    manifest = json.load(open(f"{out}/manifest.json"))
    png = next(o["png"] for o in manifest["outputs"] if o["kind"] == "projection")
    ref = np.asarray(Image.open(f"{out}/{png}").convert("RGB")).astype(int)
    check(shot.shape == ref.shape, f"back pane screenshot {shot.shape} has the projection's size {ref.shape}")
    if shot.shape == ref.shape:
        diff = np.abs(shot - ref).max()
        check(diff <= 2, f"back pane pixels equal `convlens project` {layer} channel 5 guided (max difference {diff})")

    # The frozen seed's signal at a lower layer.
    body.send_keys("d" + "uu" + "a")
    wait.until(lambda d: loaded("grid", "signal.png", "from="))
    check(state("document.getElementById('status').className") != "error", "signal at a lower layer shows without error")
    body.send_keys("a" + "d")

    # Help.
    body.send_keys("h")
    check(driver.find_element(By.ID, "help").is_displayed(), "h shows the help")
    body.send_keys("h")

    # Save the view.
    body.send_keys("s")
    wait.until(lambda d: "manifest.json" in d.find_element(By.ID, "command").text)
    text = driver.find_element(By.ID, "command").text.splitlines()
    folder, command = text[0], text[-1]
    check(json.load(open(f"{folder}/manifest.json"))["command"] == "project", f"s saved a projection with its manifest in {folder}")
    # The printed command writes the same arrays.
    argv = shlex.split(command)
    check(argv[0] == "convlens" and argv[argv.index("--out") + 1] == folder, f"the command names the saved folder: {command}")
    argv[0], argv[argv.index("--out") + 1] = BIN, f"{WORK}/rerun"
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    arrays = sorted(f for f in os.listdir(folder) if f.endswith(".npy"))
    same = bool(arrays) and all(open(f"{folder}/{a}", "rb").read() == open(f"{WORK}/rerun/{a}", "rb").read() for a in arrays)
    check(same, f"the command rewrites the saved arrays bit for bit ({', '.join(arrays)})")

    # Upload through the file input.
    driver.execute_script("document.getElementById('upload').hidden = false;")
    driver.find_element(By.ID, "upload").send_keys(f"{WORK}/upload.png")
    wait.until(lambda d: state("window.convlens.image").startswith("u"))
    wait.until(lambda d: loaded("input", "image=" + state("window.convlens.image")))
    wait.until(lambda d: "espresso" in d.find_element(By.ID, "predictions").text)
    top = driver.find_element(By.ID, "predictions").text.splitlines()[0]
    check("espresso" in top, f"the uploaded coffee photograph became the input (top class: {top})")

    # The webcam (Chromium's fake camera): frames go through the whole loop.
    driver.find_element(By.ID, "cameraButton").click()
    wait.until(lambda d: (state("window.convlens.fps") or 0) > 0)
    time.sleep(8)
    fps = state("window.convlens.fps")
    images = json.load(urllib.request.urlopen(url + "api/images"))
    check(any(i["source"] == "camera" for i in images), f"camera frames reached the server ({fps:.1f} frames/s with the back pane on)")
    driver.find_element(By.ID, "cameraButton").click()
finally:
    driver.quit()
    server.terminate()
    server.wait(timeout=30)

if failures:
    print(f"explorer-check: FAILED — {len(failures)} check(s)")
    sys.exit(1)
print("explorer-check: passed")
