"""Feedback on answers: reading clicks and the "Wrong or outdated" form, and the report."""
