"""Tries what a worker of a harness run as root could do outside its folder: read system files and devices (by
path, through /proc/self/root and through /dev/fd), list system folders, make a device node, raise its own
memory limit, signal pid 1. Also checks that what Python and torch need still works (the null and random
devices, temporary files, threads)."""
import os
import resource
import stat
import tempfile
import threading

READ = ("/etc/passwd", "/etc/shadow", "/etc/hostname", "/etc/ssl/openssl.cnf", "/dev/kmsg", "/dev/mem",
        "/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/loop0", "/dev/tty", "/dev/console", "/dev/kvm",
        "/proc/1/environ", "/proc/1/cmdline", "/proc/kcore", "/proc/sys/kernel/hostname", "/proc/self/root/etc/passwd",
        "/sys/class/dmi/id/product_uuid", "/sys/kernel/notes", "/root/.bash_history", "/var/log/syslog")
LIST = ("/etc", "/dev", "/dev/shm", "/tmp", "/home", "/root", "/proc", "/sys/class", "/var", "/sys/fs/cgroup")
WRITE = ("/dev/kmsg", "/dev/tty", "/dev/shm/plantseek-probe", "/tmp/plantseek-probe", "/etc/plantseek-probe")


class SystemReader:
    name = "system-reader"

    def prune(self, model, data, density, *, generator, budget):
        opened = []
        for path in READ:
            try:
                with open(path, "rb") as f:
                    f.read(16)
                opened.append(path)
            except OSError:
                pass
        for path in LIST:
            try:
                os.listdir(path)
                opened.append(f"ls {path}")
            except OSError:
                pass
        for path in WRITE:
            try:
                with open(path, "wb") as f:
                    f.write(b"x")
                opened.append(f"write {path}")
            except OSError:
                pass
        try:
            os.mknod("disk", stat.S_IFBLK | 0o600, os.makedev(253, 0))
            opened.append("mknod")
        except OSError:
            pass
        try:
            resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            opened.append("raised RLIMIT_AS")
        except (OSError, ValueError):
            pass
        try:
            os.kill(1, 0)
            opened.append("signalled pid 1")
        except OSError:
            pass
        refused = []
        for path, mode in (("/dev/null", "r+b"), ("/dev/zero", "rb"), ("/dev/urandom", "rb"), ("/dev/full", "rb")):
            try:
                with open(path, mode) as f:
                    f.read(8)
            except OSError:
                refused.append(path)
        try:
            with tempfile.TemporaryFile() as f:
                f.write(b"x")
            thread = threading.Thread(target=sum, args=([1, 2],))
            thread.start()
            thread.join()
        except OSError as exc:
            refused.append(type(exc).__name__)
        raise RuntimeError(f"opened: {opened}; refused needed: {refused}")
