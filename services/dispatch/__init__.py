"""The dispatch service: teams sent to service points for shifts, check-in/out, field reports.

``domain/`` is pure (decide/evolve over frozen state); ``facts`` is dispatch's own projection of
registry facts and of its own shifts; ``service`` loads, decides and appends; ``ingest`` validates
outside field reports; ``app`` is the composition root.
"""
