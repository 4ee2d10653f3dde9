"""Customer context: the read side that shows a customer their orders (CQRS)."""
