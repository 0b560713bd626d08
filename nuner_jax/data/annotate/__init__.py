"""NuNER's annotation step: an LLM labels raw text with open concepts (see `run.annotate`)."""
