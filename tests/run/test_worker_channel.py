"""What the parent holds of a prune worker (plantseek.run.isolation.worker_channel): the output read through its own
descriptor (links and FIFOs in the worker's folder change nothing), CPU seconds from the kernel, the scrubbed
environment."""

import math
import os
import subprocess
import sys
import time

from plantseek.run.isolation.worker_channel import CpuClock, last_output_line, output_file, scrubbed_environment


def test_output_is_read_through_the_descriptor_not_a_path(tmp_path):
    secret = tmp_path / "leaderboard.key"
    secret.write_text("ab" * 32 + "\n")
    out = output_file()
    assert os.fstat(out.fileno()).st_nlink == 0  # unnamed: no path to replace
    out.write(b"first\n\x1b[31mlast line\x1b[0m\n\n")
    out.flush()
    for name in ("output.txt", "stdout"):
        os.symlink(secret, tmp_path / name)
    os.mkfifo(tmp_path / "fifo")
    assert last_output_line(out) == "last line"
    out.write(b"x" * 10_000)
    out.flush()
    assert last_output_line(out) == "x" * 199 + "…"  # a tail, capped
    out.close()
    assert last_output_line(out) == ""


def test_cpu_clock_counts_the_process_cpu_and_survives_a_renamed_command():
    code = "import ctypes, time\nctypes.CDLL(None).prctl(15, b') 9 9 9 9 9 9 9 9 9 9 9 9 9', 0, 0, 0)\n" \
           "t = time.process_time()\nwhile time.process_time() - t < 0.3: pass\ninput()"
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    clock = CpuClock(p.pid)
    try:
        assert 0 <= clock.seconds() < 5
        deadline = time.monotonic() + 60
        while clock.seconds() < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert 0.3 <= clock.seconds() < 5  # the command name ") 9 9 ..." does not shift the fields
    finally:
        p.communicate(b"\n")
    assert math.isnan(clock.seconds())  # reaped: gone
    clock.close()


def test_environment_has_no_key_and_its_own_home(tmp_path):
    environ = {"HOME": "/home/someone", "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "PLANTSEEK_KEY": "aa" * 32,
               "PLANTSEEK_KEY_FILE": str(tmp_path / "k.key"), "PLANTSEEK_SECRET_TOKEN": "t",
               "COPY_OF_KEY_PATH": str(tmp_path / "cfg" / "plantseek" / "leaderboard.key"),
               "COPY_OF_KEY_FILE": f"--key={tmp_path / 'k.key'}", "PLANTSEEK_PRUNE_START": "exec",
               "PYTHONPATH": str(tmp_path), "PATH": "/usr/bin"}
    env = scrubbed_environment(environ, str(tmp_path / "worker"))
    assert env == {"HOME": str(tmp_path / "worker"), "PLANTSEEK_PRUNE_START": "exec", "PYTHONPATH": str(tmp_path),
                   "PATH": "/usr/bin"}
    home_only = scrubbed_environment({"HOME": "/home/someone", "X": "/home/someone/.config/plantseek"}, "/w")
    assert home_only == {"HOME": "/w"}
