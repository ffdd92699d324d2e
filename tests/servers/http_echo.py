"""A real HTTP(S) server for tests/alerts.rs: Python's http.server on 127.0.0.1, an
ephemeral port, printed on stdout once it listens.

  /echo[?...]      200, a JSON echo of the method, path, query, headers and body
  /status/CODE     that status, with a short text body
  /auth            200 with the right basic auth (--user U:P), else 401
  /slow            answers after 5 seconds
  /xml             200, an XML document
With --cert/--key it serves HTTPS.
"""

import argparse
import base64
import json
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--user", default="admin:s3cret")
    a = p.parse_args()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, code, body, ctype="text/plain", extra=()):
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Test", "one")
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def handle_any(self):
            url = urlsplit(self.path)
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
            if url.path == "/echo":
                self.reply(200, json.dumps({
                    "method": self.command,
                    "path": url.path,
                    "query": parse_qs(url.query),
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }), "application/json")
            elif url.path.startswith("/status/"):
                code = int(url.path.rsplit("/", 1)[1])
                self.reply(code, "status %d" % code)
            elif url.path == "/auth":
                want = "Basic " + base64.b64encode(a.user.encode()).decode()
                if self.headers.get("Authorization") == want:
                    self.reply(200, "welcome")
                else:
                    self.reply(401, "who are you", extra=[("WWW-Authenticate", 'Basic realm="t"')])
            elif url.path == "/slow":
                time.sleep(5)
                self.reply(200, "late")
            elif url.path == "/xml":
                self.reply(200, "<a><b>1</b></a>", "application/xml")
            else:
                self.reply(404, "no such page")

        do_GET = do_POST = do_PUT = do_DELETE = handle_any

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if a.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
