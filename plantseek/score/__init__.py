"""Stage 4, score: strong and weak evaluation of masks, recovery metrics against the ticket."""
