"""Errors raised at casegraph's interfaces. Each names what an analyst needs to fix the problem."""

from __future__ import annotations


class CasegraphError(Exception):
    """Base of every error casegraph raises on purpose."""


class SchemaError(CasegraphError):
    """The declared schema (tables, fields, vocabularies) is inconsistent."""


class SettingsError(CasegraphError):
    """casegraph.toml or an environment variable holds an invalid value."""


class IngestError(CasegraphError):
    """A file cannot be imported at all (unreadable, wrong encoding, missing required column)."""


class RefusedField(IngestError):
    """A column holds a concept casegraph refuses to store (nationality, religion, ...)."""


class PolicyDenied(CasegraphError):
    """The acting user may not do this (role, agency ownership, missing purpose)."""


class ClaimRefused(CasegraphError):
    """A membership claim lacks its criteria or evidence."""


class EngineError(CasegraphError):
    """The store's engine failed or cannot be opened (missing key, wrong key, locked file)."""


class StageNotRun(CasegraphError):
    """A result was asked for before the stage that produces it has run."""
