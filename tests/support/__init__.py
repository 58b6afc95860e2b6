"""Test and benchmark support code: a loopback Slack Web API mock and request-signing helpers.

Nothing in here is imported by the app itself; it exists so tests can drive the real app over
real HTTP (as Slack would) instead of patching `WebClient` methods.
"""
