"""Customer context domain: the customer-visible order status and how events move it."""
