"""A bounded load on `convlens explore` over loopback (Docs/Explorer.md "Load").

Starts the explorer on port 0, then CLIENTS threads (default 32) send the page's requests for
SECONDS (default 60): model and image lists, activation grids and unit maps of random layers,
projections of random units under random rules, predictions, uploads, camera frames, malformed
parameters, foreign Host headers, oversized uploads. Reports the answers by status, latency
percentiles per kind of request and the server's resident memory over time. An upload may get 429:
the server receives at most 4 upload bodies at once (and holds each until its forward pass is
done), which is its designed backpressure; the page's camera loop retries. Fails (exit 1) on a
5xx, a dropped connection, a server that died, or resident memory still growing in the last third.

    python3 Scripts/explorer-load.py path/to/convlens [CLIENTS] [SECONDS]
"""
import collections
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.parse

BIN = sys.argv[1]
CLIENTS = int(sys.argv[2]) if len(sys.argv) > 2 else 32
SECONDS = float(sys.argv[3]) if len(sys.argv) > 3 else 60
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTO = open(os.path.join(ROOT, "Sources/ConvLens/Resources/images/rocket.jpg"), "rb").read()

server = subprocess.Popen([BIN, "explore", "--port", "0", "--out", "/tmp/convlens-explore-load"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
line = server.stdout.readline()
port = int(line.split()[2].rstrip("/").rsplit(":", 1)[1])


def request(method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
c.request("GET", "/api/model")
model = json.loads(c.getresponse().read())
layers = [l for l in model["layers"] if l["height"] > 1]


def q(**kw):
    return urllib.parse.urlencode(kw)


def one(rng, client):
    l = rng.choice(layers)
    unit = rng.randrange(l["channels"])
    image = rng.choice(["b0", "b1", "b2"])
    kind = rng.choices(["model", "images", "grid", "unit", "projection", "predictions", "upload", "camera", "bad", "host", "big"],
                       weights=[2, 2, 10, 6, 12, 4, 1, 2, 3, 1, 1])[0]
    lane = {"client": client, "lane": kind}
    if kind == "model":
        return kind, request("GET", "/api/model"), {200}
    if kind == "images":
        return kind, request("GET", "/api/images"), {200}
    if kind == "grid":
        return kind, request("GET", "/api/activations.png?" + q(image=image, layer=l["name"], boost=rng.choice([0, 0.5]), **lane)), {200, 409}
    if kind == "unit":
        return kind, request("GET", "/api/unit.png?" + q(image=image, layer=l["name"], unit=unit, **lane)), {200, 409}
    if kind == "projection":
        rule = rng.choice(model["rules"])
        display = rng.choice(model["displays"])
        return kind, request("GET", "/api/projection.png?" + q(image=image, layer=l["name"], unit=unit, rule=rule, display=display, **lane)), {200, 409}
    if kind == "predictions":
        return kind, request("GET", "/api/predictions?" + q(image=image)), {200}
    if kind == "upload":
        return kind, request("POST", "/api/images?name=rocket.jpg", body=PHOTO), {201, 429}
    if kind == "camera":
        return kind, request("POST", "/api/images?name=frame.jpg&source=camera", body=PHOTO), {201, 429}
    if kind == "bad":
        path = rng.choice(["/api/projection.png?" + q(image=image, layer=l["name"], unit=10**6),
                           "/api/activations.png?" + q(image="nope", layer=l["name"]),
                           "/api/activations.png?" + q(image=image, layer="x" * 5000),
                           "/api/activations.png?" + q(image=image, layer=l["name"], gamma="inf")])
        return kind, request("GET", path), {400, 404}
    if kind == "host":
        return kind, request("GET", "/api/model", headers={"Host": "rebind.example"}), {403}
    return kind, request("POST", "/api/images?name=big.png", body=b"\x89PNG" + b"\0" * (17 << 20)), {413}


results = collections.defaultdict(list)
problems = []
stop = time.time() + SECONDS
lock = threading.Lock()


def client(k):
    rng = random.Random(k)
    while time.time() < stop:
        t0 = time.time()
        try:
            kind, code, expected = one(rng, f"load{k}")
        except Exception as e:  # a dropped or refused connection
            with lock:
                problems.append(f"client {k}: {type(e).__name__}: {e}")
            continue
        with lock:
            results[kind].append((code, time.time() - t0))
            if code >= 500 or code not in expected:
                problems.append(f"{kind}: status {code} (expected {sorted(expected)})")


def rss():
    with open(f"/proc/{server.pid}/status") as f:
        return next(int(l.split()[1]) // 1024 for l in f if l.startswith("VmRSS"))


memory = []
threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
for t in threads:
    t.start()
while time.time() < stop:
    time.sleep(SECONDS / 30)
    if server.poll() is not None:
        problems.append(f"the server died (status {server.returncode}): {server.stderr.read()[-500:]}")
        break
    memory.append(rss())
for t in threads:
    t.join()
alive = server.poll() is None
server.terminate()
server.wait(timeout=30)

total = sum(len(v) for v in results.values())
print(f"explorer-load: {CLIENTS} clients, {SECONDS:.0f} s, {total} requests")
for kind, rs in sorted(results.items()):
    times = sorted(t for _, t in rs)
    codes = collections.Counter(c for c, _ in rs)
    p = lambda f: 1000 * times[min(len(times) - 1, int(f * len(times)))]
    print(f"  {kind:12s} {len(rs):6d}  statuses {dict(sorted(codes.items()))}  latency p50 {p(0.5):.0f} ms, p95 {p(0.95):.0f} ms")
if memory:
    third = max(1, len(memory) // 3)
    print(f"  resident memory (MB): start {memory[0]}, max {max(memory)}, end {memory[-1]}; max of the first two thirds {max(memory[:-third] or memory)}, of the last third {max(memory[-third:])}")
    if len(memory) >= 6 and max(memory[-third:]) > 1.25 * max(memory[:-third]):
        problems.append("resident memory still grows in the last third of the run")
if not alive:
    problems.append("the server was not running at the end")
for p in problems[:20]:
    print("  PROBLEM", p)
if problems:
    print(f"explorer-load: FAILED ({len(problems)} problems)")
    sys.exit(1)
print("explorer-load: passed (no 5xx, no dropped connection, memory bounded)")
