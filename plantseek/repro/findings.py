"""The paper's stated findings as data: one :class:`Finding` per statement, each with the grids it needs and the
check that decides it (:mod:`plantseek.repro.checks`). ``FINDINGS`` lists them in the paper's order
(``/work/shared/PAPER_FACTS.md``, "Stated findings of the paper"); :func:`verdict` turns a check's outcome into the
report's verdict (:func:`verdict`). A documented difference from the paper's runs is a candidate :class:`Cause` beside
a verdict, measured by a :class:`Variant` where one is built; it never changes the verdict. Adding a finding is one
record here."""

from __future__ import annotations

from dataclasses import dataclass

from plantseek.repro import checks as c
from plantseek.repro.evidence import MODERATE, SPARSE

SINGLE = ("random", "magnitude", "snip", "grasp", "synflow")
REPRODUCED, NOT_REPRODUCED, UNDECIDED, NOT_CHECKED = (
    "reproduced", "not reproduced", "undecided at this scale", "not checked")
VERDICTS = (REPRODUCED, NOT_REPRODUCED, UNDECIDED, NOT_CHECKED)


@dataclass(frozen=True)
class Variant:
    """A named setting that undoes one documented difference from the paper's runs, so that its effect on a
    finding is *measured*: its grids and the finding's check on them. ``check`` is None for a variant that is not
    built yet (``needs`` says what it needs); the report then says so and the finding's verdict stands as it is."""

    name: str
    undoes: str
    grids: tuple[str, ...] = ()
    check: c.Check | None = None
    needs: str = ""


@dataclass(frozen=True)
class Cause:
    """A documented difference from the paper's runs that might explain a difference in this finding: a candidate
    cause shown beside its verdict, never a verdict of its own. ``variants`` measure it (or say they cannot yet)."""

    choice: str  # what plantseek does differently, in words
    doc: str  # the documentation page (relative to the report) that states the choice
    variants: tuple[Variant, ...] = ()
    applies: str = ""  # which part of the finding it could explain (and which not)


@dataclass(frozen=True)
class Finding:
    id: str
    section: str  # single-shot, multi-shot, edge-popup, ...
    statement: str  # the paper's statement
    reading: str  # how it is checked: which cells, which rule
    grids: tuple[str, ...]
    check: c.Check
    cause: Cause | None = None


def verdict(outcome: c.Outcome) -> str:
    """The verdict of a check's outcome: not checked when cells are missing; reproduced or not reproduced where the
    intervals decide it; otherwise undecided at this scale. A candidate cause never changes it."""
    if outcome.missing:
        return NOT_CHECKED
    if outcome.holds is None:
        return UNDECIDED
    return REPRODUCED if outcome.holds else NOT_REPRODUCED


def _readout_cause(grid: str, tasks: tuple[str, ...] | None = None) -> Cause:
    """The fitted readout as a candidate cause of a strong-ticket finding on ``grid``, with its variant: the same
    check on the strong metric read out as the paper's edge-popup model did (every cell stores it:
    ``strong_metric_paper_readout``, :func:`plantseek.score.evaluation.paper_readout`)."""
    variant = Variant(
        "paper-readout", "the strong metric read through the paper's edge-popup model (a softmax after every output, "
        "Circle accuracy from raw logits)", (grid,), c.no_ticket(grid, "paper-readout", tasks))
    return Cause(
        "strong metrics go through a readout (output scale and offset) fitted per mask on the training split; the "
        "paper's edge-popup model appended a softmax to every output, which no regression ticket survives",
        "../docs/planted-instances.md#how-strong-tickets-are-evaluated-a-readout-fitted-per-mask", (variant,),
        "could explain strong tickets found here on regression tasks that the paper's readout hides")


REVIVAL = Variant(
    "multishot-revival", "multi-shot Magnitude and SNIP rank pruned weights again in later rounds (revival), as the "
    "reference code does", ("multishot-revival", "singleshot"),
    c.sparser_than({"magnitude-multishot-revival": "magnitude", "snip-multishot-revival": "snip",
                    "synflow-multishot": "synflow"}, "multishot-revival", "singleshot", "circle", "synflow-multishot"))
NO_REVIVAL = Cause(
    "multi-shot never revives a pruned weight (the reference code lets Magnitude and SNIP revive them)",
    "../docs/differences-from-the-paper.md", (REVIVAL,),
    "could explain a difference of multi-shot Magnitude and SNIP only, not of SynFlow (which never revives)")


def _ss(grid: str = "singleshot", tasks=("circle", "relu")) -> c.Check:
    return c.weak_somewhere(grid, tasks)


def _pattern(grid: str, tasks_moderate=("circle", "relu")) -> list[tuple[str, c.Check]]:
    """The depth-5 single-shot pattern on ``grid``: moderate-density weak tickets, none on Helix, none sparse."""
    return [("moderate-density weak tickets", c.weak_somewhere(grid, tasks_moderate)),
            ("no weak ticket at density ≤ 0.01", c.no_ticket(grid, "weak", specs=SPARSE))]


FINDINGS: tuple[Finding, ...] = (
    Finding("ss-moderate", "single-shot",
            "All methods, Random included, find weak tickets at moderate density on Circle and ReLU.",
            "every single-shot pruner finds a weak ticket at density 0.1 or 0.5 on Circle and on ReLU",
            ("singleshot",), _ss()),
    Finding("ss-helix", "single-shot", "Single-shot methods fail on Helix.",
            "no single-shot pruner finds a weak ticket on Helix at any density below 1",
            ("singleshot",), c.no_ticket("singleshot", "weak", ("helix",))),
    Finding("ss-magnitude", "single-shot", "Magnitude is on par with SNIP, GraSP and SynFlow.",
            "none of SNIP, GraSP, SynFlow is better than magnitude (weak metric) at densities 0.1 and 0.5 on any task "
            "(the paper's point: the elaborate scores bring nothing over magnitude)", ("singleshot",),
            c.magnitude_on_par("singleshot")),
    Finding("ss-sparse", "single-shot",
            "At density ≤ 0.01 (ticket density included) every method fails; weak tickets only at density ≥ 0.1.",
            "no single-shot pruner finds a weak ticket at the ticket density or 0.01 on any task",
            ("singleshot",), c.no_ticket("singleshot", "weak", specs=SPARSE)),
    Finding("ss-collapse", "single-shot",
            "Layer collapse at sparse densities, SynFlow too; SynFlow over 100 rounds is only slightly better.",
            "most masks of every single-shot pruner (SynFlow included) collapse at the ticket density, and SynFlow "
            "over 100 rounds finds no weak ticket at density ≤ 0.01",
            ("singleshot", "synflow-100"),
            c.all_of(c.collapse(("singleshot",)), c.no_ticket("synflow-100", "weak", specs=SPARSE))),
    Finding("ss-no-strong", "single-shot", "Single-shot pruning finds no strong tickets.",
            "no single-shot pruner's mask is a strong ticket at any density below 1 on any task",
            ("singleshot",), c.no_ticket("singleshot", "strong"), _readout_cause("singleshot")),
    Finding("depth-3", "single-shot", "At depth 3 no tickets are found.",
            "read as: at depth 3 no pruner finds a weak ticket at density ≤ 0.1 (where depth 5 has them) and no "
            "strong ticket at any density below 1", ("depth-3",),
            c.all_of(c.no_ticket("depth-3", "weak", specs=SPARSE + ("0.1",)), c.no_ticket("depth-3", "strong"))),
    Finding("depth-10", "single-shot", "Depth 10 behaves like depth 5.",
            "the depth-5 pattern (moderate-density weak tickets on Circle and ReLU, none on Helix, none at density "
            "≤ 0.01) holds or fails alike at depth 10", ("singleshot", "depth-10"),
            c.same_as("depth 10",
                      _pattern("singleshot") + [("no weak ticket on Helix", c.no_ticket("singleshot", "weak",
                                                                                         ("helix",)))],
                      _pattern("depth-10") + [("no weak ticket on Helix", c.no_ticket("depth-10", "weak",
                                                                                       ("helix",)))])),
    Finding("width", "single-shot", "Width 1000 (Circle, depth 6) barely changes anything.",
            "on Circle at depth 6, the pattern (moderate-density weak tickets, none at density ≤ 0.01) is the same "
            "at the wide width as at width 100", ("width-base", "width-wide"),
            c.same_as("wide host", _pattern("width-base", ("circle",)), _pattern("width-wide", ("circle",)))),
    Finding("noise-0", "single-shot", "No gain without noise.",
            "without noise still no weak ticket at density ≤ 0.01", ("noise-0",),
            c.no_ticket("noise-0", "weak", specs=SPARSE)),
    Finding("noise-large", "single-shot", "Robust to large noise (0.1).",
            "with noise 0.1 every pruner still finds a weak ticket at density 0.1 or 0.5 on Circle and ReLU",
            ("noise-0.1",), _ss("noise-0.1")),
    Finding("ms-circle", "multi-shot",
            "Magnitude, SNIP and SynFlow reach much sparser weak tickets on Circle, SynFlow best and reaching the "
            "ticket density.",
            "on Circle each multi-shot pruner's sparsest weak ticket is sparser than its single-shot counterpart's, "
            "and SynFlow's is the sparsest and at the ticket density", ("multishot", "singleshot"),
            c.sparser_than({"magnitude-multishot": "magnitude", "snip-multishot": "snip",
                            "synflow-multishot": "synflow"}, "multishot", "singleshot", "circle",
                           "synflow-multishot"), NO_REVIVAL),
    Finding("ms-helix", "multi-shot", "Multi-shot pruning finds moderate-density weak tickets on Helix.",
            "some multi-shot pruner finds a weak ticket on Helix at density 0.1 or 0.5", ("multishot",),
            c.weak_somewhere("multishot", ("helix",), MODERATE, every=False)),
    Finding("ms-grasp", "multi-shot", "Multi-shot GraSP is poor, with early layer collapse.",
            "GraSP finds fewer weak tickets (tasks × densities) than every other multi-shot pruner and its masks "
            "collapse at a density where no other's do", ("multishot",),
            c.poorest_with_early_collapse("multishot", "grasp-multishot")),
    Finding("ms-no-strong", "multi-shot", "Multi-shot pruning finds no strong tickets.",
            "no multi-shot pruner's mask is a strong ticket at any density below 1", ("multishot",),
            c.no_ticket("multishot", "strong"), _readout_cause("multishot")),
    Finding("ms-regression", "multi-shot", "Regression weak tickets at best at density 0.1.",
            "on ReLU and Helix the sparsest weak ticket of any multi-shot pruner is at density 0.1",
            ("multishot",), c.best_density("multishot", ("relu", "helix"), "0.1")),
    Finding("ep-circle", "edge-popup", "Edge-popup finds a strong ticket at density 0.5 on Circle, nothing at other "
            "densities.", "edge-popup's mask is a strong ticket on Circle at 0.5 and at no other density below 1",
            ("strong",), c.strong_only_at("strong", "circle", "edge-popup", "0.5")),
    Finding("ep-annealed", "edge-popup", "Annealing gives reasonable accuracy at density 0.1 on Circle.",
            "read as: annealed edge-popup's strong accuracy at 0.1 is better than the untrained dense host's (same "
            "fitted readout) by more than the task's tolerance", ("strong",),
            c.beats_untrained_host("strong", "circle", "edge-popup-annealed", "0.1")),
    Finding("ep-regression", "edge-popup", "Edge-popup finds nothing on ReLU or Helix.",
            "no edge-popup variant's mask is a strong ticket on ReLU or Helix at any density below 1", ("strong",),
            c.no_ticket("strong", "strong", ("relu", "helix")), _readout_cause("strong", ("relu", "helix"))),
    Finding("grasp-local", "single-shot", "GraSP with layer-wise (local) density: the flow stays interrupted.",
            "most GraSP-local masks collapse (no input-to-output path) at the ticket density and at 0.01",
            ("grasp-local",), c.collapse(("grasp-local",), SPARSE)),
    Finding("vgg", "VGG16 / CIFAR-10", "Edge-popup cannot recover the planted 0.01 SynFlow ticket in VGG16: the "
            "missing extremely sparse strong tickets are likely algorithmic, not fundamental.",
            "checked CPU-sized (no VGG16, no CIFAR-10 here): on digits, a 0.01 synflow-multishot CNN ticket trained on "
            "scikit-learn's 8x8 digits planted into a random CNN of its own size (depth 5, 32-64-128 channels), no "
            "edge-popup variant finds a strong ticket at the ticket density or 0.01",
            ("vgg-digits",), c.no_ticket("vgg-digits", "strong", ("digits",), SPARSE)),
)

