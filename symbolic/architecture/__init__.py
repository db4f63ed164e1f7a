"""Step 2, what a model is and how it is counted: the architecture (a model's layers as parts:
attention, MLP or experts, a token mixer with a state), the counting conventions peers disagree
on, the number formats (bytes per element), and the workload (batch, prompt, context, the two
phases of a request)."""
