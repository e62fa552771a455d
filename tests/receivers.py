"""Real receivers on loopback for the notifiers' tests: an HTTP server that can fail or stall
its first requests, and an SMTP server (aiosmtpd) that demands STARTTLS and a login."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Post:
    at: float  # time.time() when the request arrived
    answered: int
    body: dict[str, Any]


class WebhookReceiver:
    """Answers 500 to the first `fail` requests of each notice key, then 200."""

    def __init__(self, *, fail: int = 0, stall_s: float = 0.0) -> None:
        self.fail, self.stall_s = fail, stall_s
        self.posts: list[Post] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.time()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver._lock:
                    seen = sum(p.body.get("key") == body.get("key") for p in receiver.posts)
                    status = 500 if seen < receiver.fail else 200
                    receiver.posts.append(Post(arrived, status, body))
                if status == 500 and receiver.stall_s:
                    time.sleep(receiver.stall_s)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def of(self, key: str) -> list[Post]:
        with self._lock:
            return [p for p in self.posts if p.body.get("key") == key]

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost that is its own CA: (cert, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@dataclass
class Mail:
    content: bytes
    tls: bool
    login: str | None


@dataclass
class _Inbox:
    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: Any, envelope: Any) -> str:
        login = session.auth_data.login.decode() if session.authenticated else None
        self.mails.append(Mail(envelope.content, session.ssl is not None, login))
        return "250 OK"


class MailReceiver:
    """An SMTP server on loopback that refuses mail before STARTTLS and a good login."""

    def __init__(self, folder: Path, *, username: str, password: str) -> None:
        self.cert, key = self_signed(folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        self.inbox = _Inbox()
        self.port = free_port()

        def check(
            server: object, session: object, envelope: object, mechanism: str, data: Any
        ) -> AuthResult:
            good = isinstance(data, LoginPassword) and (data.login, data.password) == (
                username.encode(),
                password.encode(),
            )
            return AuthResult(success=good, handled=False, auth_data=data)

        self.controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            authenticator=check,
            auth_require_tls=True,
        )

    @property
    def mails(self) -> list[Mail]:
        return self.inbox.mails

    def __enter__(self) -> MailReceiver:
        self.controller.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.controller.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
