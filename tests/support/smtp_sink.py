"""A real SMTP server for the tests: accepts mail and writes each message to a folder.

Usage: python3 smtp_sink.py FOLDER

Listens on a free port of 127.0.0.1 and prints `ready <port>` once it accepts connections.

Each accepted message is written to FOLDER/<n>.eml (with `X-Envelope-To`), atomically
(written to a temp name, then renamed). Recipients whose address starts with `reject` get a
permanent `550`, those starting with `busy` a temporary `451`, so tests can exercise both
failure paths.
"""
import os
import socket
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 mailbox unavailable"
        if local.startswith("busy"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = os.path.join(self.folder, f"{self.count:05d}.eml")
        tmp = name + ".tmp"
        with open(tmp, "wb") as f:
            f.write(("X-Envelope-To: " + ", ".join(envelope.rcpt_tos) + "\r\n").encode())
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, name)
        return "250 Message accepted"


def main():
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    # Ask the system for a free port; if another process takes it first, try another.
    for _ in range(50):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        controller = Controller(Sink(folder), hostname="127.0.0.1", port=port)
        try:
            controller.start()
            break
        except Exception:  # the port was taken meanwhile
            continue
    else:
        sys.exit("no free port")
    print(f"ready {port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
