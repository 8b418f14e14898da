"""Stage 1, plant: tasks, target tickets, planting a ticket into a host, planted instances, leak audit."""
