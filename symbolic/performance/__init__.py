"""Step 5, time on hardware: the roofline of each kernel and collective, a request's prefill and
decode steps summed exactly, capacity and cost (``roofline``), and the same expressions compiled
to NumPy over grids of batch, prompt and context (``sweep``)."""
