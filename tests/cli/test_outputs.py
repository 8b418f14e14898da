"""Where commands may write (``--out``: :func:`plantseek.core.files.output_folder_refusal`), limits that nothing
turns off by accident (``--memory-limit``, ``--timeout``), and a full disk or read-only destination: one line, a
non-zero exit, no traceback."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from plantseek.cli import main
from plantseek.core import limits
from plantseek.core.files import MARKER, file_folder_problem, output_folder_refusal

REPO = Path(__file__).resolve().parents[2]
HOME = "/home/someone"


def rule(path: str, exists: bool = True, empty: bool = True, marked: bool = False, default: bool = False) -> str:
    return output_folder_refusal(path, home=HOME, exists=exists, empty=empty, marked=marked, default=default)


@pytest.mark.parametrize("path", ["/", "/etc", "/etc/", "/usr/share/x", "/bin", "/boot/grub", "/dev/shm", "/proc/1",
                                  "/sys", "/lib64", "/lib/x", "/sbin", "/var", "/root", "/tmp", "/home", HOME,
                                  HOME + "/"])
def test_system_folders_and_home_are_refused(path):
    assert rule(path, exists=False)
    assert rule(path, empty=False, marked=True, default=True)  # whatever they hold


@pytest.mark.parametrize("path", ["/tmp/x", "/var/tmp/lb", HOME + "/lb", "/srv/site/lb", "/etc2", "/usrx"])
def test_other_folders_are_allowed_when_new_empty_or_plantseeks(path):
    assert rule(path, exists=False) == ""
    assert rule(path, empty=True) == ""
    assert rule(path, empty=False, marked=True) == ""
    assert rule(path, empty=False, default=True) == ""  # the command's own default folder
    assert "plantseek did not write" in rule(path, empty=False)


def test_single_files_are_refused_only_at_the_root_or_in_system_trees():
    assert file_folder_problem("/") and file_folder_problem("/x.md") and file_folder_problem("/etc/x.md")
    assert file_folder_problem("/usr/local/share/x.md")
    assert file_folder_problem("/tmp/x.md") == "" and file_folder_problem("relative/x.md") == ""


@pytest.fixture
def store(tmp_path_factory) -> str:
    from plantseek.run.grid import expand, run_cells
    from plantseek.run.suites import SUITES
    from plantseek.store.results import ResultStore

    path = tmp_path_factory.mktemp("outs") / "s.db"
    with ResultStore(path) as s:
        run_cells(expand(SUITES.get("smoke"))[:2], store=s)
    return str(path)


def call(capsys, *args):
    capsys.readouterr()
    try:
        rc = main(list(args))
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return SimpleNamespace(returncode=rc, stdout=out, stderr=err)


def one_error(r, *fragments: str) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("plantseek: error: "), r.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.mark.parametrize("out", ["/", "/etc", "/usr/lib/lb", "~"])
def test_leaderboard_and_plot_refuse_system_folders(capsys, store, out):
    out = os.path.expanduser(out)
    for command in ("leaderboard", "plot"):
        one_error(call(capsys, command, "--store", store, "--out", out), "--out")
    assert not os.path.exists(os.path.join(out, "index.html")) or out == os.path.expanduser("~")


def test_a_folder_plantseek_did_not_write_is_refused_and_one_it_wrote_is_reused(capsys, store, tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("x")
    one_error(call(capsys, "leaderboard", "--store", store, "--out", str(theirs), "--no-plots"),
              "plantseek did not write")
    assert sorted(os.listdir(theirs)) == ["thesis.tex"]
    ours = tmp_path / "ours"
    assert call(capsys, "leaderboard", "--store", store, "--out", str(ours), "--no-plots").returncode == 0
    assert (ours / MARKER).exists()
    assert call(capsys, "leaderboard", "--store", store, "--out", str(ours), "--no-plots").returncode == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    assert call(capsys, "plot", "--store", store, "--out", str(empty)).returncode == 0 and (empty / MARKER).exists()


def test_the_default_leaderboard_folder_of_a_checkout_is_accepted(capsys, store, tmp_path, monkeypatch):
    shutil.copytree(REPO / "leaderboard", tmp_path / "leaderboard", ignore=shutil.ignore_patterns("*.db", "plots"))
    (tmp_path / "leaderboard" / MARKER).unlink(missing_ok=True)
    monkeypatch.chdir(tmp_path)
    assert call(capsys, "leaderboard", "--store", store, "--no-plots").returncode == 0


@pytest.mark.parametrize("out", ["/", "/x.md", "/etc/x.md"])
def test_reproduce_refuses_a_report_in_a_system_folder(capsys, store, out):
    one_error(call(capsys, "reproduce", "--report-only", "--store", store, "--out", out), "--out")


@pytest.mark.parametrize("value", ["1e-300", "5e-324", "1e-7", "0.1", "-1", "-0", "nan", "inf", "-inf", "", "1e400",
                                   "4097"])
def test_memory_limits_that_would_turn_it_off_are_refused(capsys, value):
    one_error(call(capsys, "evaluate", "--memory-limit", value), "--memory-limit")


@pytest.mark.parametrize("value", ["1e-300", "5e-324", "1e-7", "0", "-0", "-1", "nan", "inf", "604801"])
def test_timeouts_that_would_turn_it_off_are_refused(capsys, value):
    one_error(call(capsys, "evaluate", "--timeout", value), "--timeout")


def test_the_worker_memory_limit_from_the_environment_is_never_turned_off_by_accident():
    assert limits.memory_limit_bytes(0.0, 4.0) is None  # 0 asks for none
    for gb in (1e-300, 5e-324, 1e-9):
        assert limits.memory_limit_bytes(gb, 4.0) == int(limits.MIN_MEMORY_LIMIT_GB * 2**30)
    for gb in (float("nan"), float("inf"), -1.0, 1e300):
        assert limits.memory_limit_bytes(gb, 4.0) == 4 * 2**30


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_failed_write_is_one_line_and_a_non_zero_exit(capsys, store, tmp_path, monkeypatch, code):
    import plantseek.core.files as files

    def fail(src, dst):
        raise OSError(code, os.strerror(code), str(src))

    monkeypatch.setattr(files.os, "replace", fail)
    r = call(capsys, "leaderboard", "--store", store, "--out", str(tmp_path / "lb"), "--no-plots")
    one_error(r, os.strerror(code), str(tmp_path / "lb"))
    assert ".tmp" not in r.stderr  # named after the target, not the temporary file
    r = call(capsys, "plant", "--task", "relu", "--width", "20", "--depth", "4", "--out", str(tmp_path / "i.pt"))
    one_error(r, os.strerror(code), str(tmp_path / "i.pt"))
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_a_full_disk_inside_torch_save_is_one_line(capsys, tmp_path, monkeypatch):
    import builtins

    real_open = builtins.open

    class Full:
        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    def opener(file, mode="r", *a, **k):
        fh = real_open(file, mode, *a, **k)
        return Full(fh) if "w" in mode and str(file).endswith(".tmp") else fh

    monkeypatch.setattr(builtins, "open", opener)
    r = call(capsys, "plant", "--task", "relu", "--width", "20", "--depth", "4", "--out", str(tmp_path / "i.pt"))
    one_error(r, "No space left on device", str(tmp_path / "i.pt"))
