"""Local services for the lake backend: PostgreSQL catalog and SeaweedFS object store (services.py)."""
