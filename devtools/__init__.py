"""Development and test tools that stand in for the outside world (never imported by the app)."""
