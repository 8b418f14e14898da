"""The rules and captions the leaderboard states in every README.md and index.html (text only)."""

from __future__ import annotations

SPREAD_RULE = ("Values are mean ± sample standard deviation (ddof = 1) over seeds, from cells with status ok and "
               "a finite value; no ± is shown when only one seed contributes. Failed cells are counted, never "
               "averaged.")
RANKING_RULE = (
    "Overall ranking, like with like: one comparison per (task setting, requested density) with density below 1 "
    "(density 1 keeps every weight, so all methods coincide) and at least two methods. A comparison's seeds are one "
    "method's seed set, the one that most methods hold times how many seeds it has; a method takes part when it has "
    "a cell at every one of them, and only those seeds count. The ranked comparisons are chosen the same way among "
    "the methods' sets of comparisons, and the ranked methods are those taking part in every one: they are ranked on "
    "exactly the same (setting, density, seed) cells (\"ranked on\" names them). In each comparison the methods are "
    "ranked by their mean weak metric over those seeds (weak = the pruned network after training; accuracy: higher "
    "is better, MSE: lower is better) and, separately, by their mean recall (fraction of planted-ticket weights "
    "kept); ties share the average of their ranks; a method whose cells there all failed or have no finite value is "
    "placed last (tied with any others in the same state). A method's score is its mean rank over the ranked "
    "comparisons (lower is better), ordered by the weak metric with recall breaking ties, or by recall with the "
    "weak metric breaking ties (the reader's choice: sort by either column). Every other method (fewer seeds, fewer "
    "settings: a quick submission, a method that only runs on some hosts) is listed below, ranked among the ranked "
    "methods on the subset of comparisons it shares with them, the subset and its place there named; it is never "
    "placed in the main order. Cells, failed and prune CPU s count all of a method's cells. Sanity ablations (a "
    "method's own masks shuffled within each layer, shown as \"P [shuffled]\", or on a re-initialised host, "
    "\"P [reinit]\") are not competitors: they enter no comparison and are not ranked; they are left out of the "
    "per-setting tables and shown in the Sanity ablations section instead.")
SANITY_RULE = (
    "Each pruner's own masks are scored twice more: shuffled at random within each layer (same per-layer counts; "
    "\"P [shuffled]\") and applied to a re-initialised host with nothing planted (\"P [reinit]\": the same mask, so "
    "its recall is P's and only its trained weak metric is shown). These are checks of P, not competitors, and are "
    "not ranked. Values are means ± sample standard deviation over seeds of the weak metric and recall (ok cells, "
    "finite values). \"Beats its shuffled mask\" is a paired test over every seed where both have an ok cell: the "
    "two-sided Wilcoxon signed-rank test of P's weak metric against its shuffled mask's (an MSE on a log10 scale); "
    "yes when p < 0.05 and P is better on average, no otherwise; \"too few seeds\" below 6 pairs, where no outcome "
    "can reach p < 0.05; n/a without a pair. Density 1 is left out: every weight is kept, so a shuffled mask is the "
    "same mask.")
#: how a figure that only the pruner's own worker can report is labelled wherever it is shown (never ranked on)
SELF_REPORTED = "self-reported"
COMPUTE_NOTE = (
    "Compute: prune CPU s = CPU seconds of the prune worker over the prune request, measured by the harness (the "
    "parent process) from the kernel's accounting, so a pruner cannot rewrite it (it depends on the machine). The "
    "pruner worker's FLOP counts (dense runs; self_reported = 1 in results.csv) are self-reported: counted in the "
    "process the pruner's code runs in, so a hostile pruner can forge them; they are labelled so and never ranked on.")
#: what the ranking is computed on, stated above it (plantseek.frame.leak.published_cells)
BOARD_HIDDEN = (
    "Ranked on hidden instances only (planted from the maintainers' leaderboard key, fingerprint(s) {keys}; the key "
    "is never published): a pruner cannot re-plant them from a seed. Cells on public instances form the development "
    "board (Development ranking below); public and hidden recall are compared per method in \"Public vs hidden "
    "instances\".")
BOARD_PUBLIC = (
    "Public instances only: anyone can re-plant them from their seeds, so this is a development board, not the "
    "published leaderboard (which ranks on hidden instances: docs/hidden-instances.md).")
DEVELOPMENT_RULE = (
    "Development ranking: the same rule on the cells of public instances (planted from their seeds). Anyone can "
    "reproduce them, and a pruner can re-plant them: not the leaderboard's ranking.")
#: the words both pages use for density, recall, precision, strong and weak (the page adds how to sort)
GLOSSARY = ("Density = fraction of prunable weights **kept**. Recall = fraction of the planted ticket's weights kept "
            "by a mask; precision = fraction of kept weights that belong to the ticket. Strong = the masked host "
            "network at its initial weights, read out per output with a scale and offset fitted for each mask on the "
            "training split (least squares; minimum cross-entropy for classification); weak = the masked network "
            "after training. ")

PLOT_TITLES = {
    "metric": "Task metric vs density (strong and weak)",
    "recovery": "Ticket recovery (recall, precision) vs density",
    "layers": "Per-layer density against the ticket's",
    "walltime": "Recall vs wall-clock",
    "compute": "Recall vs compute (prune CPU seconds, parent-measured)",
    "heads": "Recall of the planted attention heads",
}
PLOT_CAPTIONS = {
    "metric": "Mean over seeds (line) with min–max band; dashed line: the planted ticket's strong metric.",
    "recovery": "Mean over seeds (line) with min–max band; dotted vertical line: the ticket's density.",
    "layers": "Per weight matrix, mean over seeds; black: the planted ticket.",
    "walltime": "Wall-clock = prune_parent_seconds (the prune request, timed by the harness around the worker) + "
                "train_seconds (weak training, run by the harness); it measures search cost, not inference speed. "
                "Cells without a parent-measured prune time are not drawn.",
    "compute": "Compute = CPU seconds of the prune worker over the prune request, measured by the harness from the "
               "kernel's accounting (prune_cpu_seconds): a pruner cannot rewrite it. The FLOP counts of the pruner's "
               "worker are self-reported and not plotted.",
    "heads": "Attention settings: the mean share of each planted head's query, key, value and output ticket weights "
             "kept, over the ticket's heads and the seeds.",
}
