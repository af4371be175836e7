"""The domain: customers, dossiers, documents, contracts, loans, consent, grading, reports,
retention — and the one governance gate every read of customer data passes through."""
