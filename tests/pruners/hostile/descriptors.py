"""Looks for open file descriptors beyond its own (stdin, stdout, stderr, the answer pipe), e.g. the socket of the
template process it was forked from, and asks that for a fork outside the sandbox."""
import os
import socket


class Descriptors:
    name = "descriptors"

    def prune(self, model, data, density, *, generator, budget):
        found = []
        for fd in range(4, 1024):
            try:
                os.fstat(fd)
            except OSError:
                continue
            found.append(fd)
            try:
                sock = socket.socket(fileno=fd)
                socket.send_fds(sock, [b'{"op": "fork", "cwd": "/", "env": {}}'], [0, 1, 2])
            except OSError:
                pass
        raise RuntimeError(f"other descriptors: {found}")
