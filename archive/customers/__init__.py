"""The customer register: profile in clear, sensitive fields sealed per field, blind indexes for exact search."""
