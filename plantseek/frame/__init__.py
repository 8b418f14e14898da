"""The prepared results frame: stored cells as one validated pandas frame with derived columns (settings,
families, labels, instance kinds), shared by the statistics and the report. Torch-free."""
