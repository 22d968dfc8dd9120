"""Portal forms: thin wrappers over the domain models' own validation, scoped to a customer."""
