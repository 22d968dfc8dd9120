"""The API alone, mounted where the project mounts it: the API's tests exercise this app without
depending on the portal's views; ``test_routing`` proves the project's URLconf mounts it."""

from django.urls import include, path

urlpatterns = [path("api/", include("sipplatform.api.urls"))]
