"""Sign-in: local accounts (store), roles, the audit log; `python -m auth` manages them."""
