"""Certificates made at test time by the openssl command line (installed
by the project's scripts), for wss:// tests and benchmarks."""
import subprocess
from pathlib import Path


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_ca(folder, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", name + ".key", "-out", name + ".pem", "-days", "2",
            "-subj", "/CN=uwebsocket test " + name, cwd=folder)
    # MicroPython's tls takes DER bytes.
    openssl("x509", "-in", name + ".pem", "-outform", "DER", "-out", name + ".der", cwd=folder)
    return folder / (name + ".der")


def make_certs(folder):
    """In `folder`: a CA, a second CA that signed nothing of ours, and a
    server certificate from the first for localhost, 127.0.0.1 and ::1."""
    folder = Path(folder)
    ca = make_ca(folder, "ca")
    other_ca = make_ca(folder, "other-ca")
    (folder / "server.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
        "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=folder)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext",
            cwd=folder)
    return {"ca": ca, "other_ca": other_ca,
            "cert": folder / "server.pem", "key": folder / "server.key"}
