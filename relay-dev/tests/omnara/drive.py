"""Drives `omnara terminal` against tether-relay; see interop.sh."""
import json, os, pty, select, struct, subprocess, time, urllib.request

import websocket  # installed with omnara

addr, key = os.environ["RELAY_ADDR"], os.environ["RELAY_KEY"]
env = dict(os.environ, PATH=os.environ["AGENT_PATH"] + ":" + os.environ["PATH"], HOME=os.environ["OMNARA_HOME"])
master, slave = pty.openpty()
proc = subprocess.Popen(
    [os.environ["OMNARA_BIN"], "terminal", "--api-key", key, "--base-url", f"http://{addr}",
     "--relay-url", f"ws://{addr}/agent", "--agent", "claude", "--name", "omnara-interop"],
    stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
os.close(slave)


def api(path):
    request = urllib.request.Request(f"http://{addr}{path}", headers={"Authorization": f"Bearer {key}"})
    return json.load(urllib.request.urlopen(request))


deadline, session = time.time() + 60, None
while time.time() < deadline and session is None:
    live = [s for s in api("/api/v1/agent-instances") if s["status"] == "live"]
    session = live[0] if live else None
    time.sleep(0.2)
assert session, "omnara never connected"
assert session["name"] == "omnara-interop", session
sid = session["id"]

ws = websocket.create_connection(f"ws://{addr}/terminal/{sid}?protocol=tether.v1&history=raw", subprotocols=[f"omnara-key.{key}"])
output = b""


def read_until(needle, seconds=20):
    global output
    end = time.time() + seconds
    while needle not in output and time.time() < end:
        ws.settimeout(max(0.1, end - time.time()))
        message = ws.recv()
        assert isinstance(message, bytes), f"text message to a viewer: {message!r}"
        i = 0
        while i < len(message):
            kind, length = struct.unpack("!BI", message[i:i + 5])
            if kind == 0:
                output += message[i + 5:i + 5 + length]
            i += 5 + length
    assert needle in output, (needle, output)


read_until(b"fake claude ready")
ws.send_binary(struct.pack("!BI", 1, 3) + b"hi\r")
read_until(b"got: hi")
# The agent pauses 5 s, past three of the relay's 1 s ping intervals: both
# links must survive them (the viewer answers pings; the Omnara client, which
# breaks on one, gets none).
read_until(b"still here after pings", seconds=30)
shown = api(f"/api/v1/agent-instances/{sid}?message_limit=5")
assert any(m["content"] == "Started Terminal Session" for m in shown["messages"]), shown
proc.wait(timeout=30)
print("omnara interop: ok (output streamed, input delivered, links outlived the ping intervals, start message posted)")
