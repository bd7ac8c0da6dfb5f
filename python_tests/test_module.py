"""The firmware has our module built in, under the name uwebsocket."""
from conftest import run_mp


def test_import_uwebsocket_gives_ours_not_the_builtin():
    # MicroPython's built-in websocket module also answers to `uwebsocket`
    # when no module of that name exists: ours must shadow it.
    code, out = run_mp(
        "import uwebsocket, websocket\n"
        "print(uwebsocket is websocket, hasattr(uwebsocket, 'accept'), hasattr(uwebsocket, 'connect'))\n"
        "print(sorted(k for k in dir(uwebsocket) if not k.startswith('_')))\n"
    )
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "False True True"
    for name in ["ConnectionClosed", "HandshakeError", "Request", "WebSocket", "accept", "client",
                 "connect", "read_request", "respond"]:
        assert name in lines[1]


def test_builtin_websocket_is_still_there_for_comparison():
    code, out = run_mp("import websocket; print(websocket.websocket)")
    assert code == 0 and "websocket" in out, out
