"""AI Race Bot: sourced answers about the US-China AI race, in Slack."""

__version__ = "0.1.0"
