"""The Slack-free core: claims, matching and rendering. Nothing here knows about HTTP."""
