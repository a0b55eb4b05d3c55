"""Pure dispatch domain: stdlib, pydantic and the event models only; no clock, no ids, no I/O."""
