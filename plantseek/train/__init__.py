"""Stage 3, train: training configurations, the per-network and batched training engines, readout."""
