#!/usr/bin/env python3
"""nats_req.py: one NATS request over a raw socket, for the queue tests to look at JetStream from
outside libnats (the protocol is text: CONNECT, SUB, PUB, MSG/HMSG). Prints the reply payload.

    nats_req.py HOST PORT SUBJECT [PAYLOAD]

e.g. '$JS.API.STREAM.INFO.orders' (stream config and state as JSON),
'$JS.API.STREAM.MSG.GET.orders' '{"seq":1}' (a stored message; its headers, base64 in "hdrs", are
printed decoded after it),
or a plain subject a stream captures (the reply is the PubAck): a message not written by mlship.
"""
import base64
import json
import socket
import sys


def main():
    host, port, subject = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    payload = sys.argv[4].encode() if len(sys.argv) > 4 else b""
    s = socket.create_connection((host, port), timeout=5)
    f = s.makefile("rb")
    f.readline()  # INFO {...}
    inbox = "_INBOX.mlship_test_req"
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n')
    s.sendall(("SUB %s 1\r\n" % inbox).encode())
    s.sendall(("PUB %s %s %d\r\n" % (subject, inbox, len(payload))).encode() + payload + b"\r\n")
    s.sendall(b"PING\r\n")
    while True:
        line = f.readline()
        if not line:
            sys.exit("connection closed before a reply")
        parts = line.split()
        if parts[0] == b"PING":
            s.sendall(b"PONG\r\n")
        elif parts[0] == b"MSG":
            body = f.read(int(parts[-1]) + 2)[:-2].decode("utf-8", "replace")
            sys.stdout.write(body + "\n")
            try:  # a stored message's headers, decoded for the reader
                hdrs = json.loads(body).get("message", {}).get("hdrs")
                if hdrs:
                    sys.stdout.write("hdrs: " + base64.b64decode(hdrs).decode("utf-8", "replace"))
            except ValueError:
                pass
            return
        elif parts[0] == b"HMSG":  # headers then body: a status reply (no responders...)
            total = int(parts[-1])
            data = f.read(total + 2)[:-2]
            sys.stdout.write(data.decode("utf-8", "replace") + "\n")
            return
        elif parts[0] == b"-ERR":
            sys.exit(line.decode().strip())


if __name__ == "__main__":
    main()
