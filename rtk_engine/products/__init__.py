"""Reference data about products and satellites that no product file on this machine carries."""
