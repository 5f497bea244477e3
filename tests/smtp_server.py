"""A real SMTP server for the email sink's tests (aiosmtpd), on loopback.

Two listeners sharing one certificate: STARTTLS required on the first (submission, port 587
style), implicit TLS on the second (SMTPS, port 465 style); both require AUTH (user
"newshound", password given on the command line) and the STARTTLS one refuses it before TLS. Each mail received
is appended to OUT as one JSON line. Prints {"starttls": PORT, "implicit": PORT} once ready;
exits when its stdin closes.

    python smtp_server.py OUT CERT KEY PASSWORD
"""
import json
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

out, cert, key, password = sys.argv[1:5]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Handler:
    def __init__(self, mode):
        self.mode = mode

    async def handle_DATA(self, server, session, envelope):
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps({
                "mode": self.mode,
                "from": envelope.mail_from,
                "to": envelope.rcpt_tos,
                "data": envelope.content.decode("utf-8", "replace"),
                # The connection's own TLS: after STARTTLS, or from the start (SMTPS).
                "tls": server.transport.get_extra_info("ssl_object") is not None,
                "authenticated": bool(session.authenticated),
            }) + "\n")
        return "250 2.0.0 queued as test"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"newshound"
          and auth_data.password == password.encode())
    return AuthResult(success=ok, handled=False)


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
common = dict(hostname="127.0.0.1", authenticator=authenticate, auth_required=True)
starttls = Controller(Handler("starttls"), port=free_port(), tls_context=ctx,
                      require_starttls=True, auth_require_tls=True, **common)
# aiosmtpd counts only STARTTLS as TLS for auth_require_tls; this listener is TLS throughout.
implicit = Controller(Handler("implicit"), port=free_port(), ssl_context=ctx,
                      auth_require_tls=False, **common)
starttls.start()
implicit.start()
print(json.dumps({"starttls": starttls.port, "implicit": implicit.port}), flush=True)
sys.stdin.read()
starttls.stop()
implicit.stop()
