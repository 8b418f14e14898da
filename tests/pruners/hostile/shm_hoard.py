"""Tries to keep 2 GB outside its address-space limit, where it would outlive the worker or escape
``--memory-limit``: a file in /dev/shm (shared memory, kept after the worker ends), then an anonymous memfd."""
import os

CHUNK = 64 * 2**20
TOTAL = 2 * 2**30


def fill(fd: int) -> None:
    block = b"\xff" * CHUNK
    for _ in range(TOTAL // CHUNK):
        os.write(fd, block)


class ShmHoard:
    name = "shm-hoard"

    def prune(self, model, data, density, *, generator, budget):
        refused = []
        try:
            fd = os.open(f"/dev/shm/plantseek-hoard-{os.getpid()}", os.O_CREAT | os.O_WRONLY, 0o600)
            fill(fd)
            raise RuntimeError("hoarded 2 GB in /dev/shm")
        except OSError as exc:
            refused.append(f"/dev/shm: {type(exc).__name__}")
        try:
            fd = os.memfd_create("hoard")
            fill(fd)
            raise RuntimeError("hoarded 2 GB in a memfd")
        except OSError as exc:
            refused.append(f"memfd: {type(exc).__name__}")
        raise RuntimeError(f"hoarding refused: {refused}")
