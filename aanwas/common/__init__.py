"""Helpers every package shares (lowest layer, imports no package of ours): typed frozen config
building (:mod:`aanwas.common.config`), crash-safe writing (:mod:`aanwas.common.io`) and the errors that end a
command with exit code 2 (:mod:`aanwas.common.errors`)."""
