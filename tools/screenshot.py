#!/usr/bin/env python3
"""Full-page PNG screenshot of a local HTML file with headless Chromium.

Chromium's own --screenshot captures the window only; this drives it over the DevTools
protocol (on a pipe: no port, no network, Python's standard library only) to load the
page, measure its full height and capture all of it.

usage: screenshot.py [--chromium PATH] [--top Y] [--clip-height N] PAGE.html OUT.png WIDTH
"""

import argparse
import base64
import json
import os
import pathlib
import subprocess
import sys
import tempfile


class Browser:
    """Chromium with --remote-debugging-pipe: JSON messages ending in NUL on fds 3 and 4."""

    def __init__(self, chromium):
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        self.profile = tempfile.TemporaryDirectory(prefix="permlens-chromium-")
        args = [
            chromium, "--headless=new", "--remote-debugging-pipe", "--disable-gpu",
            "--hide-scrollbars", "--no-first-run", "--no-default-browser-check",
            "--user-data-dir=" + self.profile.name, "about:blank",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox

        def wire():
            # Out of the way first: either end may already be fd 3 or 4.
            read_end, write_end = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.proc = subprocess.Popen(
            args, pass_fds=(3, 4), preexec_fn=wire,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.next_id = 0
        self.buffer = b""
        self.events = []

    def _read(self):
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_child, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, event):
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == event:
                    del self.events[i]
                    return e
            self.events.append(self._read())

    def close(self):
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        self.proc.wait(timeout=30)
        self.profile.cleanup()


def capture(chromium, page, out, width, top=0, clip_height=None):
    browser = Browser(chromium)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call(
            "Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.call("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False,
        }, session)
        browser.call("Page.enable", session=session)
        browser.call("Page.navigate", {"url": pathlib.Path(page).resolve().as_uri()}, session)
        browser.wait_for("Page.loadEventFired")
        size = browser.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
        height = max(1, int(size["height"] + 0.999) - top)
        if clip_height:
            height = min(height, clip_height)
        shot = browser.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": top, "width": width, "height": height, "scale": 1},
        }, session)
        pathlib.Path(out).write_bytes(base64.b64decode(shot["data"]))
        return height
    finally:
        browser.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chromium", default=os.environ.get("CHROMIUM", "chromium"))
    p.add_argument("--top", type=int, default=0, help="capture from this many pixels down")
    p.add_argument("--clip-height", type=int, help="capture at most this many pixels")
    p.add_argument("page")
    p.add_argument("out")
    p.add_argument("width", type=int)
    a = p.parse_args()
    height = capture(a.chromium, a.page, a.out, a.width, a.top, a.clip_height)
    print(f"{a.out}: {a.width}x{height}")


if __name__ == "__main__":
    sys.exit(main())
