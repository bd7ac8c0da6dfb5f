"""wss:// through the port's own tls module, against CPython's websockets
over TLS with a certificate made at test time by the openssl command line:
a CA, and a server certificate it signs for localhost, 127.0.0.1 and ::1."""
import ssl

import pytest

from clients.certs import make_certs
from clients.peers import WebsocketsServer, echo, run_session

LENGTH_CLASSES = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20]

@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def tls_server(certs):
    """tls_server(handler) -> a running wss:// server; the names clients
    sent by server name indication collect in srv.sni."""
    started = []

    def start(handler=echo, **options):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certs["cert"], certs["key"])
        sni = []
        ctx.sni_callback = lambda sock, name, context: sni.append(name)
        srv = WebsocketsServer(handler, ssl=ctx, **options).__enter__()
        srv.sni = sni
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.__exit__(None, None, None)


def test_every_length_class_without_verification(tls_server):
    srv = tls_server()
    steps = ["max_size=%d" % (2 << 20)] + ["echo=%d" % n for n in LENGTH_CLASSES]
    code, lines = run_session(srv.url(), "insecure=1", *steps, "close=1000,done", timeout=120)
    assert code == 0, lines
    assert lines == ["open None"] + ["echo %d ok" % n for n in LENGTH_CLASSES] + ["closed 1000 done"]
    assert not srv.errors, srv.errors


def test_verified_against_the_ca_with_server_name_indication(tls_server, certs):
    srv = tls_server()
    code, lines = run_session(srv.url("/secure", host="localhost"), "ca=%s" % certs["ca"],
                              "echo=126", "close=1000,")
    assert code == 0, lines
    assert lines == ["open None", "echo 126 ok", "closed 1000 "]
    assert srv.sni == ["localhost"]


def test_certificate_from_another_ca_is_refused(tls_server, certs):
    reached = []
    srv = tls_server(reached.append)
    code, lines = run_session(srv.url(host="localhost"), "ca=%s" % certs["other_ca"], "echo=1")
    assert code == 1, lines
    assert lines[-1].startswith("raised HandshakeError 0 certificate verification failed: "), lines
    assert "not correctly signed" in lines[-1], lines
    assert reached == []


def test_host_name_that_the_certificate_does_not_name_is_refused(tls_server, certs):
    srv = tls_server()
    code, lines = run_session(srv.url(host="localhost").replace("localhost", "device.example"),
                              "resolve=127.0.0.1:%d" % srv.port, "ca=%s" % certs["ca"], "echo=1")
    assert code == 1, lines
    assert lines[0] == "getaddrinfo device.example %d" % srv.port
    assert lines[-1].startswith("raised HandshakeError 0 certificate verification failed: "), lines
    assert srv.sni == ["device.example"]


def test_default_port_is_443_for_wss(tls_server):
    srv = tls_server()
    code, lines = run_session("wss://device.example/", "resolve=127.0.0.1:%d" % srv.port,
                              "insecure=1", "echo=3", "close=1000,")
    assert code == 0, lines
    assert lines == ["getaddrinfo device.example 443", "open None", "echo 3 ok", "closed 1000 "]
    assert srv.sni == ["device.example"]


def test_a_ready_ssl_context_is_used(tls_server, certs):
    srv = tls_server()
    code, lines = run_session(srv.url(host="localhost"), "context=%s" % certs["ca"],
                              "echo=1000", "close=1000,")
    assert code == 0, lines
    assert lines[1] == "echo 1000 ok"
    # The same context with a CA that did not sign the certificate: refused,
    # so the context given was the one used.
    code, lines = run_session(srv.url(host="localhost"), "context=%s" % certs["other_ca"], "echo=1")
    assert code == 1 and "not correctly signed" in lines[-1], lines


def test_tls_stream_made_by_the_script_upgraded_with_client(tls_server, certs):
    srv = tls_server()
    code, lines = run_session(srv.url(host="localhost"), "own_socket=1", "ca=%s" % certs["ca"],
                              "echo=70000", "max_size=100000", "close=1000,")
    assert code == 0, lines
    assert lines[1] == "echo 70000 ok"


def test_fragments_pings_and_closes_over_tls(tls_server):
    seen = []

    def scenario(ws):
        ws.send(["over ", "tls"])
        assert ws.recv(timeout=10) == "ready"
        seen.append(ws.ping(b"tls ping").wait(10))
        ws.send("pinged")
        ws.close(4003, "tls bye")
        seen.append(ws.close_code)

    srv = tls_server(scenario)
    code, lines = run_session(srv.url(), "insecure=1", "recv", "text=ready", "until_close")
    srv.wait_idle()
    assert code == 0, lines
    assert lines == ["open None", "recv text 8 'over tls'", "recv text 6 'pinged'",
                     "peer closed 4003 tls bye"]
    assert seen == [True, 4003]


def test_ipv6_literal_over_tls(tls_server):
    srv = tls_server(host="::1")
    code, lines = run_session(srv.url(), "insecure=1", "echo=10", "close=1000,")
    assert code == 0, lines
    assert lines[1] == "echo 10 ok"
