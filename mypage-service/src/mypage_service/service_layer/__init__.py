"""Customer context service layer: the projection policies, unit of work and bus."""
