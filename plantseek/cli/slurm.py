"""``evaluate --executor slurm``'s options (``--slurm-*``): parsed here into a
:class:`plantseek.run.executors.slurm.SlurmOptions`, checked with the executor before any work."""

from __future__ import annotations

import argparse

from plantseek.core.errors import ConfigError

CLUSTERS = ("slurm", "local", "debug")  # plantseek.run.executors.slurm.CLUSTERS (that module is not imported here)
MAX_PARTITION = 200
DEFAULT_LOG_FOLDER = "results/slurm"

#: option -> SlurmOptions field (every --slurm-* option)
FIELDS = {"--slurm-cluster": "cluster", "--slurm-partition": "partition", "--slurm-time": "time_min",
          "--slurm-cpus-per-task": "cpus_per_task", "--slurm-mem": "mem_gb", "--slurm-parallelism": "parallelism",
          "--slurm-chunk": "chunk", "--slurm-log-folder": "log_folder"}


def partition(text: str) -> str:
    """An argparse type: a SLURM partition name (one word: no spaces, NUL or ``=``; at most 200 characters)."""
    if not text or len(text) > MAX_PARTITION or any(ch.isspace() or ch in "\0=" for ch in text):
        raise argparse.ArgumentTypeError(f"not a partition name: {text[:60]!r}")
    return text


def add_slurm_arguments(p: argparse.ArgumentParser) -> None:
    from . import arguments as a

    g = p.add_argument_group("SLURM job arrays (with --executor slurm; see docs/running.md)")
    g.add_argument("--slurm-cluster", choices=CLUSTERS, default=None,
                   help="slurm (default: sbatch, on a login node), or submitit's local (each array task a process "
                        "of this machine) or debug (each task in this process) executor, for tests and dry runs")
    g.add_argument("--slurm-partition", type=partition, default=None, help="SLURM partition (default: the cluster's)")
    g.add_argument("--slurm-time", type=a.integer(1, 525600), default=None, metavar="MINUTES",
                   help="time limit of each array task in minutes (default 60); a task past it is lost, its cells "
                        "run again next time")
    g.add_argument("--slurm-cpus-per-task", type=a.integer(1, 256), default=None, metavar="N",
                   help="CPUs per array task: its bundles run on N worker processes (default 1)")
    g.add_argument("--slurm-mem", type=a.number(0, 65536, above=True), default=None, metavar="GB",
                   help="memory per array task in GB (default: the partition's)")
    g.add_argument("--slurm-parallelism", type=a.integer(1, 1 << 20), default=None, metavar="N",
                   help="array tasks running at once (default: submitit's, 256)")
    g.add_argument("--slurm-chunk", type=a.integer(1, 1 << 20), default=None, metavar="BUNDLES",
                   help="bundles of cells per array task (default 1; a bundle: see --max-batch)")
    g.add_argument("--slurm-log-folder", type=a.path, default=None, metavar="FOLDER",
                   help=f"submitit's folder: each task's input, result and logs (default {DEFAULT_LOG_FOLDER})")


def slurm_options(args: argparse.Namespace):
    """The SLURM options of the command line: None when none is given and the executor is not slurm (another
    executor refuses any of them: :func:`plantseek.run.executors.local.refuse_slurm_options`)."""
    given = {field: getattr(args, option[2:].replace("-", "_")) for option, field in FIELDS.items()}
    given = {k: v for k, v in given.items() if v is not None}
    if not given and args.executor != "slurm":
        return None
    from plantseek.run.executors.slurm import SlurmOptions

    return SlurmOptions(**given)


def check_log_folder(options) -> None:
    """The log folder can be written (created if need be), and is not inside the committed leaderboard/."""
    from pathlib import Path

    from plantseek.core.paths import leaderboard_dir

    from .arguments import output_folder

    folder = output_folder("--slurm-log-folder", options.log_folder).resolve()
    board = leaderboard_dir().resolve()
    if folder == board or board in folder.parents:
        raise ConfigError(f"--slurm-log-folder {Path(options.log_folder)}: inside the committed leaderboard/ "
                          f"folder; use a folder under results/")
