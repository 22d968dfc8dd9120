"""The provisioning REST API (``/api/v1/``): tokens, serializers and viewsets on the domain apps."""
