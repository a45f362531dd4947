#!/usr/bin/env python3
"""Plays the service manager's end of sd_notify for the install tests.

  notify_listen.py SOCKET OUT

Binds a datagram socket at SOCKET (a path, or @name for an abstract
socket, as $NOTIFY_SOCKET names them), creates OUT once it is bound, and
appends every datagram received to OUT followed by a line "--". Exits after
a datagram holding STOPPING=1, or after 60 seconds of silence.
"""
import socket
import sys


def main():
    name, out = sys.argv[1], sys.argv[2]
    address = "\0" + name[1:] if name.startswith("@") else name
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(60)
    with open(out, "ab", buffering=0) as f:
        while True:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                return 1
            f.write(data + b"\n--\n")
            if b"STOPPING=1" in data.split(b"\n"):
                return 0


if __name__ == "__main__":
    sys.exit(main())
