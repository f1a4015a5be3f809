"""The tools: commands that stand on the core (and the report), never the reverse."""
