#!/usr/bin/env python3
# fcgi_echo.py — a FastCGI responder for nginx tests: answers every request with its params as JSON.
#
# Usage: fcgi_echo.py SOCKET_DIR GROUP...
# Listens on SOCKET_DIR/GROUP.sock for each GROUP and answers 200 with
#   {"group": "<socket it came in on>", "params": {...}, "body_bytes": N}
# plus its own X-Request-Id header (nginx must hide it and add its own), so a
# test sees exactly what nginx tells a handler: routing, params, body size.
import json
import os
import socket
import struct
import sys
import threading

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def read_exact(conn, size):
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def parse_params(data):
    params, i = {}, 0

    def length():
        nonlocal i
        if data[i] < 128:
            i += 1
            return data[i - 1]
        value = struct.unpack(">I", data[i:i + 4])[0] & 0x7FFFFFFF
        i += 4
        return value

    while i < len(data):
        name_len, value_len = length(), length()
        name = data[i:i + name_len].decode("latin-1")
        i += name_len
        params[name] = data[i:i + value_len].decode("latin-1")
        i += value_len
    return params


def record(kind, request_id, content):
    padding = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", 1, kind, request_id, len(content), padding, 0) + content + b"\0" * padding


def serve_connection(conn, group):
    with conn:
        params_data, body, request_id = b"", b"", 1
        try:
            while True:
                version, kind, request_id, length, padding, _ = struct.unpack(">BBHHBB", read_exact(conn, 8))
                content = read_exact(conn, length)
                read_exact(conn, padding)
                if kind == PARAMS:
                    params_data += content
                elif kind == STDIN:
                    if not content:
                        break
                    body += content
        except EOFError:
            return
        answer = json.dumps({"group": group, "params": parse_params(params_data), "body_bytes": len(body)})
        response = ("Status: 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: from-handler\r\n\r\n"
                    + answer).encode()
        out = b""
        for start in range(0, len(response), 65535):
            out += record(STDOUT, request_id, response[start:start + 65535])
        out += record(STDOUT, request_id, b"")
        out += record(END_REQUEST, request_id, struct.pack(">IB3x", 0, 0))
        conn.sendall(out)


def listen(path, group):
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(128)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve_connection, args=(conn, group), daemon=True).start()


def main():
    socket_dir, groups = sys.argv[1], sys.argv[2:]
    threads = [threading.Thread(target=listen, args=(os.path.join(socket_dir, g + ".sock"), g), daemon=True)
               for g in groups]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
