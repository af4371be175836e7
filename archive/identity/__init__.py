"""Identity: departments, staff users with roles, customer principals."""
