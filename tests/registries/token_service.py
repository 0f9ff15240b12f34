"""The token service of the Docker registry token authentication
(distribution's docs/spec/auth/token.md and jwt.md), for kiln's tests,
beside a real docker-registry configured with `auth: token`.

GET /token?service=S&scope=repository:NAME:ACTIONS…: with the Basic
credentials given on the command line it answers {"token": JWT}, an RS256
JWT whose header's x5c holds the certificate of the registry's
rootcertbundle and whose `access` grants each scope asked for; without
them, 401. Each request is appended to the log file as one JSON line.

    token_service.py PORT KEY.pem CERT.pem USER PASSWORD LOG
"""
import base64
import json
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

PORT, KEY, CERT, USER, PASSWORD, LOG = sys.argv[1:7]
key = serialization.load_pem_private_key(open(KEY, "rb").read(), None)
cert = x509.load_pem_x509_certificate(open(CERT, "rb").read())
CHAIN = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
WANT = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(service, scopes):
    access = []
    for scope in scopes:
        kind, rest = scope.split(":", 1)
        name, actions = rest.rsplit(":", 1)
        access.append({"type": kind, "name": name, "actions": actions.split(",")})
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": CHAIN}
    claims = {
        "iss": "kiln-test-issuer",
        "sub": USER,
        "aud": service,
        "exp": now + 600,
        "nbf": now - 60,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "access": access,
    }
    signed = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signed + "." + b64url(signature)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        query = parse_qs(urlparse(self.path).query)
        authorized = self.headers.get("Authorization") == WANT
        scopes = query.get("scope", [])
        with open(LOG, "a") as log:
            log.write(json.dumps({"scopes": scopes, "authorized": authorized}) + "\n")
        if not authorized:
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"token": jwt(query["service"][0], scopes)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("127.0.0.1", int(PORT)), Handler).serve_forever()
