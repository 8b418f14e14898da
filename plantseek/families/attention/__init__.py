"""The attention host family: a transformer host (``network``), attention planting (``planting``, ``scales``), the
base of attention tasks (``task``), its leak audit (``audit``), per-projection and per-head recovery metrics
(``metrics``), the leaderboard's attention section (``report``) and the ``heads`` figure (``plots``)."""

from plantseek.families.registry import HostFamily

FAMILY = HostFamily(
    "attention", order=2,
    audit="plantseek.families.attention.audit:attention_audit",
    recovery="plantseek.families.attention.metrics:architecture_recovery",
    report_section="plantseek.families.attention.report:attention_markdown",
    figures=(("heads", "plantseek.families.attention.plots:figure_heads"),))
