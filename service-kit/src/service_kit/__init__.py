"""The chassis every service stands on (the plumbing, written once)."""
