"""Parameter identifiability of ReLU networks (issue 15); the lead writes the public API."""
