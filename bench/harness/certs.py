"""A throw-away test CA and a server certificate for loopback (DNS
localhost, IP 127.0.0.1), made with the openssl command (P-256 keys), so
that every contender verifies the receiver's certificate against the CA."""
import os
import subprocess


def make(directory):
    """Writes ca.pem, ca.key, server.pem (leaf + CA), server.key into
    |directory|; returns a dict of their paths."""
    d = directory
    def run(*args):
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem",
        "-days", "3", "-subj", "/CN=hookline bench test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", *ec, "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr",
        "-subj", "/CN=localhost")
    with open(f"{d}/ext.cnf", "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.pem",
        "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-out", f"{d}/leaf.pem", "-days", "3",
        "-extfile", f"{d}/ext.cnf")
    with open(f"{d}/server.pem", "w") as out:
        for part in ("leaf.pem", "ca.pem"):
            with open(f"{d}/{part}") as f:
                out.write(f.read())
    os.chmod(f"{d}/server.key", 0o600)
    return {"ca": f"{d}/ca.pem", "cert": f"{d}/server.pem", "key": f"{d}/server.key"}
