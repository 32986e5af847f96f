"""Signed webhooks of a PBX (issue 13, PRODUCT.md §11): subscriptions, events, signing, delivery."""
