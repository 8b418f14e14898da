"""``python -m plantseek plant``: build one planted instance, print a summary and a leak audit."""

from __future__ import annotations

import json
import math

HELP = "build a planted instance and print its summary and leak audit"


def add_arguments(p) -> None:
    from plantseek.core import limits

    from . import arguments as a

    p.add_argument("--task", help="task name (see `list`); required unless --load is given")
    p.add_argument("--load", metavar="FILE", type=a.path, help="summarise a saved instance file instead of planting")
    p.add_argument("--depth", type=a.integer(1, limits.MAX_DEPTH), default=5,
                   help=f"layers including input and output (default 5, at most {limits.MAX_DEPTH})")
    p.add_argument("--width", type=a.integer(1, limits.MAX_WIDTH), default=100,
                   help="hidden width of the host (default 100; width**2 * depth * 8 bytes must fit 1/16 of the "
                        "available memory)")
    p.add_argument("--seed", type=a.integer(0, limits.MAX_SEED), default=0, help="instance seed (default 0)")
    p.add_argument("--noise", type=a.number(0, math.inf), default=None,
                   help="label noise (default: the task's, 0.01; a label-flip probability is at most 1)")
    p.add_argument("--knots", type=a.integer(1, limits.MAX_KNOTS), default=None,
                   help="piecewise-linear knots (circle, helix; the ticket must fit the width)")
    p.add_argument("--out", type=a.path, default=None, help="save the instance to this file")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")


def _options(args) -> dict:
    return {k: v for k, v in (("noise", args.noise), ("knots", args.knots)) if v is not None}


def check(args) -> None:
    from plantseek.core.errors import ConfigError

    from .arguments import host_fits, input_file, output_file

    if args.out:
        output_file("--out", args.out)
    if args.load:
        input_file("--load", args.load)
        from plantseek.planted.instance import check_instance_file

        check_instance_file(args.load)
        return
    if not args.task:
        raise ConfigError("plant needs --task TASK (or --load FILE)")
    from plantseek.planted.task import get_task

    task = get_task(args.task, **_options(args))
    task.check_depth(args.depth)
    host_fits(args.width, args.depth)
    task.check_fits(args.depth, args.width)


def summary(inst) -> dict:
    from plantseek.planted.audit import audit
    from plantseek.score.evaluation import planted_scale_metric, strong_metric, target_metric, ticket_metric

    meta = inst.metadata()
    meta.update(
        ticket_metric=ticket_metric(inst),
        ticket_metric_planted_scales=planted_scale_metric(inst, inst.ticket),
        target_metric=target_metric(inst),
        dense_host_metric=strong_metric(inst, None),
        audit=audit(inst),
    )
    return meta


def run(args) -> int:
    from plantseek.planted.instance import PlantedInstance, plant

    if args.load:
        inst = PlantedInstance.load(args.load)
    else:
        inst = plant(args.task, depth=args.depth, width=args.width, seed=args.seed, **_options(args))
    if args.out:
        inst.save(args.out)
    info = summary(inst)
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"plantseek instance: task {info['task']}, depth {info['depth']}, width {info['width']}, seed {info['seed']}")
    print(f"  options: {info['options']}")
    print(f"  host widths:   {info['widths']}")
    print(f"  ticket widths: {info['ticket_widths']}")
    print(f"  ticket weights per layer: {info['ticket_weights_per_layer']}  (total {info['ticket_weights']}, "
          f"density {info['ticket_density']:.6f})")
    m = info["metric_name"]
    print(f"  test {m}: ticket {info['ticket_metric']:.6g} | target {info['target_metric']:.6g} | "
          f"dense host {info['dense_host_metric']:.6g}   (strong, readout fitted on the training split; "
          f"ticket with the planted scales: {info['ticket_metric_planted_scales']:.6g})")
    print(f"  output scales: {', '.join(f'{s:.3e}' for s in info['output_scales'])}")
    if "projections" in info["audit"]:  # an attention host: per block and projection
        _print_attention_audit(info["audit"])
    else:
        print("  leak audit (KS |planted| vs |other| weights; zero-bias share; placement of ticket neurons):")
    for e in info["audit"].get("layers", []):
        line = f"    layer {e['layer']}: KS {e['ks_planted_vs_other']:.3f}"
        if "zero_bias_neurons" in e:
            zs = e["ticket_share_of_zero_bias"]
            line += (f" | zero-bias neurons {e['zero_bias_neurons']}, ticket share among them "
                     f"{'-' if zs is None else f'{zs:.3f}'} vs {e['ticket_share_of_neurons']:.3f} overall"
                     f" | placement mean {e['placement_mean']:.2f} std {e['placement_std']:.2f}")
        print(line)
    if args.out:
        print(f"  saved to {args.out}")
    return 0


def _print_attention_audit(audit: dict) -> None:
    print("  leak audit (KS |planted| vs |other| weights per projection; placement of the ticket's rows):")
    for e in audit["projections"]:
        where = "read-out" if e["block"] is None else f"block {e['block']} {e['projection']}"
        ks = "-" if e["ks_planted_vs_other"] is None else f"{e['ks_planted_vs_other']:.3f}"
        mean = "-" if e["placement_mean"] is None else f"{e['placement_mean']:.2f}"
        print(f"    {where}: {e['ticket_weights']} ticket weights | KS {ks} | placement mean {mean}")
    print(f"    zero-bias share {audit['zero_bias_share']:.3f} | embedding columns with exact zeros "
          f"{audit['embedding_zero_columns']} | ticket heads per block {audit['ticket_heads']}")
