"""Storage: the document store (MongoDB or embedded), media files, scoped repositories."""
