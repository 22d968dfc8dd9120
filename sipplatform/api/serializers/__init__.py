"""Serializers: field types and tenant-scoped references; model validation stays on the models."""
