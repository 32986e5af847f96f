"""The process kernel of Pult: settings, logging and metrics, translation, the error type and the
composition root (:mod:`pult.cli`, the only module here that may import the areas).
See docs/architecture.md."""
