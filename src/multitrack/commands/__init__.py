"""One module per CLI verb: `add_arguments(parser)` and `run(args) -> int`.

Keep imports of heavy packages (torch, lightning, pandas) inside `run`, so that
building the parser stays fast.
"""
