"""Layer builders: each turns one component's structure into its op list, once.

Shapes are written in the vocabulary's symbols and the step symbols ``B`` (sequences), ``n`` (new
tokens per sequence) and ``c`` (tokens already cached).
"""
