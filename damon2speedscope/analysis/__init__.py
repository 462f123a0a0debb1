"""Analysis on the model: working-set size, memory bursts, clock alignment."""
