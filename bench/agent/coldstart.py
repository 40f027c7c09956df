#!/usr/bin/python3
"""coldstart.py: start a server process and time it to its first answered prediction.

    coldstart.py N URL BODY_FILE -- CMD...

Runs CMD N times; each time the clock starts just before the process is spawned and stops when
POST URL with BODY answers 200 (connection attempts in a tight loop on a raw socket, so the
measurement adds well under a millisecond). Prints one JSON line: the N times in ms, min,
median, and the last run's resident memory (VmRSS, kB) after 200 more requests.
"""
import json
import socket
import statistics
import subprocess
import sys
import time


def post(host, port, path, body):
    s = socket.create_connection((host, port), timeout=2)
    req = ("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
           % (path, host, len(body))).encode() + body
    s.sendall(req)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


def main():
    n, url, body_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    hostport, path = url[len("http://"):].split("/", 1)
    host, port = hostport.split(":")
    body = open(body_file, "rb").read()
    times, rss = [], None
    for k in range(n):
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                if post(host, int(port), "/" + path, body) == 200:
                    break
            except OSError:
                pass
            if p.poll() is not None:
                sys.exit("the server exited (%d) before answering" % p.returncode)
            if time.perf_counter() - t0 > 30:
                p.kill()
                sys.exit("no answer in 30 s")
        times.append((time.perf_counter() - t0) * 1000)
        if k == n - 1:
            for _ in range(200):
                post(host, int(port), "/" + path, body)
            for line in open("/proc/%d/status" % p.pid):
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        p.terminate()
        p.wait()
    print(json.dumps({"runs_ms": [round(t, 2) for t in times], "min_ms": round(min(times), 2),
                      "median_ms": round(statistics.median(times), 2), "rss_kb": rss}))


if __name__ == "__main__":
    main()
