"""Service load test (issue 6): ``pyroute serve --memory`` in its own process on loopback,
driven by an async HTTP client (httpx2) with a fixed number of concurrent workers, each
routing conversations one at a time: ``submit`` (assigned at once), then ``finish``.
Reports routed conversations per second and the latency of submit + finish (median,
p99); then the same conversations sent as batches to ``/v1/commands``. Bounded in count
and time; it stops by itself and only ever talks to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

TARGET = 5000.0          # routed conversations per second (issue 6)
TOKEN = "bench-token"
CONFIG = """
history = 0
[[channels]]
name = "web"
[[groups]]
name = "g"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _drive(base: str, n: int, workers: int, batch: int, limit_s: float,
                 setup: bool) -> dict:
    import httpx2
    headers = {"Authorization": f"Bearer {TOKEN}"}
    lat: list[float] = []
    done = 0
    start = time.perf_counter()
    async with httpx2.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        ops = [{"type": "AddOperator", "operator": f"op{i}", "groups": ["g"], "limit": 5,
                "status": "online"} for i in range(200)]
        if setup:
            r = await client.post("/v1/commands", json=ops)
            r.raise_for_status()

        async def worker(w: int) -> None:
            nonlocal done
            k = 0
            while done < n and time.perf_counter() - start < limit_s:
                if batch == 1:
                    rid = f"w{w}-{k}"
                    t0 = time.perf_counter()
                    a = await client.post("/v1/commands/submit",
                                          json={"request": rid, "channel": "web", "group": "g"})
                    b = await client.post("/v1/commands/finish", json={"request": rid})
                    lat.append(time.perf_counter() - t0)
                    if a.status_code != 200 or b.status_code != 200:
                        raise RuntimeError(f"{a.status_code} {b.status_code}: {a.text} {b.text}")
                    done += 1
                else:
                    ids = [f"w{w}-{k}-{j}" for j in range(batch)]
                    body = [{"type": "Submit", "request": i, "channel": "web", "group": "g"}
                            for i in ids] + [{"type": "Finish", "request": i} for i in ids]
                    t0 = time.perf_counter()
                    r = await client.post("/v1/commands", json=body)
                    lat.append(time.perf_counter() - t0)
                    if r.status_code != 200:
                        raise RuntimeError(f"{r.status_code}: {r.text}")
                    done += batch
                k += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(workers)))
        elapsed = time.perf_counter() - t0
    lat.sort()
    return {"conversations": done, "seconds": elapsed, "per_second": done / elapsed,
            "workers": workers, "batch": batch,
            "median_ms": 1e3 * statistics.median(lat),
            "p99_ms": 1e3 * lat[min(len(lat) - 1, int(0.99 * len(lat)))]}


WRK_SCRIPT = """
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  n = 0
  sent = nil
  to_finish = nil
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %s"}
end
request = function()
  if to_finish ~= nil then
    sent = nil
    return wrk.format("POST", "/v1/commands/finish", headers,
      string.format('{"request":"%%s"}', to_finish))
  end
  n = n + 1
  sent = string.format("t%%d-%%d", tid, n)
  return wrk.format("POST", "/v1/commands/submit", headers,
    string.format('{"request":"%%s","channel":"web","group":"g"}', sent))
end
response = function(status, headers, body)
  if status ~= 200 then
    io.stderr:write(string.format("pyroute-error %%d %%s\\n", status, body))
  end
  if sent ~= nil then
    to_finish = sent      -- the submit was answered: finish it next
  else
    to_finish = nil
  end
end
done = function(summary, latency, requests)
  io.write(string.format("PYROUTE %%d %%d %%d %%d %%d\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status))
end
"""


def _wrk(base: str, seconds: int, threads: int) -> dict:
    """wrk (C) as the client: one connection per thread, each alternating the submit and
    the finish of its own conversations (so a finish never overtakes its submit)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT % TOKEN)
        script = f.name
    try:
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(threads), "-d",
                              f"{seconds}s", "-s", script, base], capture_output=True,
                             text=True, timeout=seconds + 60)
        errs = out.stderr
        out = out.stdout
    finally:
        os.unlink(script)
    line = next(x for x in out.splitlines() if x.startswith("PYROUTE"))
    reqs, dur_us, p50, p99, bad = map(int, line.split()[1:])
    if bad:
        raise RuntimeError(f"wrk saw {bad} error responses: {errs[:500]}")
    secs = dur_us / 1e6
    return {"conversations": reqs // 2, "seconds": secs, "per_second": reqs / 2 / secs,
            "workers": threads, "batch": 1, "median_ms": 2 * p50 / 1e3,
            "p99_ms": 2 * p99 / 1e3, "client": "wrk"}


def run(quick: bool, progress: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    try:
        import httpx2  # noqa: F401
        import uvicorn  # noqa: F401
    except ModuleNotFoundError as e:
        return {"skipped": f"{e.name} is not installed (pip install \".[test]\")"}
    port = _free_port()
    with tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "router.toml"
        cfg.write_text(CONFIG)
        env = {**os.environ, "PYROUTE_TOKENS": f"supervisor:{TOKEN}"}
        server = subprocess.Popen(
            [sys.executable, "-m", "pyroute.cli", "serve", "--memory", "--config", str(cfg),
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "error"], env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("pyroute serve did not start")
                    time.sleep(0.1)
            n = 1000 if quick else 6000
            progress(f"service: {n:,} conversations, one request per command")
            single = asyncio.run(_drive(base, n, 16, 1, 60.0, True))
            progress(f"service: {n * 5:,} conversations in batches of 50")
            batched = asyncio.run(_drive(base, n * 5, 8, 50, 60.0, False))
            wrk = None
            if shutil.which("wrk"):
                progress("service: wrk, one request per command")
                wrk = _wrk(base, 3 if quick else 10, 8)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    return {"single": single, "batched": batched, "wrk": wrk}


HEADER = ("requests", "conversations", "routed / s", "submit + finish median", "p99",
          "target 5,000 / s")


def rows(res: dict[str, Any]) -> list[tuple[str, ...]]:
    if "skipped" in res:
        return [("skipped", res["skipped"], "", "", "", "")]
    out = []
    for label, key in (("one command a request, Python client (16 concurrent)", "single"),
                       ("one command a request, wrk (8 connections)", "wrk"),
                       ("batches of 50 submits + 50 finishes (8 concurrent)", "batched")):
        r = res.get(key)
        if r is None:
            out.append((label, "wrk not installed", "", "", "", ""))
            continue
        unit = "per request" if key == "batched" else ""
        out.append((label, f"{r['conversations']:,}", f"{r['per_second']:,.0f}",
                    f"{r['median_ms']:.2f} ms {unit}".strip(), f"{r['p99_ms']:.2f} ms",
                    "met" if r["per_second"] >= TARGET else "MISSED"))
    return out
