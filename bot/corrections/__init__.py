"""Corrections that reach the threads: where claims were cited, and (later) the replies."""
