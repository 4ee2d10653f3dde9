"""The people's front door: server-rendered pages (Jinja2 + htmx) for customers, store
owners and riders. It holds no domain rule and no data beyond sessions: every decision
and refusal comes from the service that owns it, called with the person's token."""
