"""Step 3, the one description every cost is read from: ops with symbolic shapes (``op``), the
builders that turn each part of a layer into its ops (``layers``), a model's op list in sections
(``model``), and the same list as one device runs it under tensor, expert and pipeline
parallelism, collectives included (``sharding``)."""
