"""Multi-workspace installs: "Add to Slack", per-team tokens, uninstall and revocation.

Bolt's own OAuth flow and slack_sdk's SQLAlchemy stores do the protocol;
this package supplies the pages people see, the wiring to our database, and
what an uninstall means for our own state (paused digests).
"""
