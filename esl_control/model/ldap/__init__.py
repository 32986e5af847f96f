"""LDAP directory sync of a PBX (PRODUCT.md §11, issue 13)."""
