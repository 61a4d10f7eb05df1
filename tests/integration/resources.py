"""Sample resources on loopback for the end-to-end tests: an HTTP server
with a checksummed payload, a raw stream source and an echo server."""

import hashlib
import http.server
import socket
import socketserver
import threading


def payload(size, seed=b"sallyport"):
    """Deterministic bytes, so both ends can checksum without storing."""
    out = bytearray()
    block = hashlib.sha256(seed).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:size])


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        data = self.server.blob if self.path == "/blob" else b"hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class HTTPResource:
    """GET / says hello; GET /blob returns `size` bytes."""

    def __init__(self, size=8 << 20, host="127.0.0.1"):
        self.server = http.server.ThreadingHTTPServer((host, 0), _Handler)
        self.server.blob = payload(size)
        self.sha256 = hashlib.sha256(self.server.blob).hexdigest()
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                break
            self.request.sendall(data)
        self.request.shutdown(socket.SHUT_WR)


class _Source(socketserver.BaseRequestHandler):
    def handle(self):
        left = self.server.size
        chunk = payload(1 << 20)
        while left > 0:
            n = min(left, len(chunk))
            self.request.sendall(chunk[:n])
            left -= n
        self.request.shutdown(socket.SHUT_WR)


class _Server(socketserver.ThreadingTCPServer):
    # socketserver's default backlog of 5 drops dials when tests open
    # dozens of streams at once.
    request_queue_size = 256
    daemon_threads = True
    allow_reuse_address = True


class TCPResource:
    """`echo` sends back what it reads; `source` sends `size` bytes (the
    1 MiB payload repeated) and half-closes."""

    def __init__(self, kind="echo", size=0):
        handler = _Echo if kind == "echo" else _Source
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.size = size
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def socks5_connect(proxy_port, user, password, host, port, timeout=30):
    """A minimal SOCKS5 client (RFC 1928/1929), independent of curl.
    `user` None offers no authentication (as to `ssh -D`)."""
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=timeout)
    method = b"\x00" if user is None else b"\x02"
    s.sendall(b"\x05\x01" + method)
    if s.recv(2) != b"\x05" + method:
        raise OSError("the proxy refused the offered method")
    if user is not None:
        u, p = user.encode(), password.encode()
        s.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
        if s.recv(2) != b"\x01\x00":
            raise OSError("authentication refused")
    h = host.encode()
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(h)]) + h +
              port.to_bytes(2, "big"))
    reply = s.recv(4)
    if len(reply) < 2 or reply[1] != 0:
        raise OSError(f"connect refused: reply {reply[1] if reply else -1}")
    rest = {1: 6, 4: 18}.get(reply[3], 0)
    if reply[3] == 3:
        rest = s.recv(1)[0] + 2
    while rest > 0:
        rest -= len(s.recv(rest))
    return s
