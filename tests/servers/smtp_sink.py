"""A real SMTP server for tests/alerts.rs: aiosmtpd on 127.0.0.1, an ephemeral port.

Prints the port on stdout once it listens. Every message accepted is written to
OUT/<n>.json with the envelope, the raw message and how the session was secured.

  --mode starttls   plain, offering STARTTLS (needs --cert/--key)
  --mode smtps      TLS from the first byte (needs --cert/--key)
  --mode plain      no TLS at all
  --mode reject     plain, refusing every recipient with 550
  --auth USER:PASS  offer AUTH (after TLS) and accept only this login
"""

import argparse
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", default="starttls")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--out", required=True)
    p.add_argument("--auth")
    a = p.parse_args()

    ctx = None
    if a.mode in ("starttls", "smtps"):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)

    counter = {"n": 0}

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, options):
            if a.mode == "reject":
                return "550 5.1.1 no such user here"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            counter["n"] += 1
            record = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "data": envelope.content.decode("utf-8", "replace"),
                "tls": server.transport.get_extra_info("sslcontext") is not None,
                "starttls": server._original_transport is not None,
                "login": session.auth_data.login.decode() if session.authenticated else None,
            }
            path = os.path.join(a.out, "%d.json" % counter["n"])
            with open(path + ".tmp", "w") as f:
                json.dump(record, f)
            os.rename(path + ".tmp", path)
            return "250 Message accepted for delivery"

    def authenticator(server, session, envelope, mechanism, auth_data):
        user, _, password = (a.auth or "").partition(":")
        ok = (
            a.auth is not None
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        # handled=False: aiosmtpd answers 535 itself when the login is wrong.
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def factory():
        kw = {}
        if a.mode == "starttls":
            kw["tls_context"] = ctx
        if a.auth:
            kw["authenticator"] = authenticator
            kw["auth_require_tls"] = a.mode != "plain"
        return SMTP(Handler(), hostname="sink.test", **kw)

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            factory, "127.0.0.1", 0, ssl=ctx if a.mode == "smtps" else None
        )
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
