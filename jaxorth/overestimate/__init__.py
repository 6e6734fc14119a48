"""jaxorth.overestimate: overestimation learning with guarantees (the lead writes this)."""
