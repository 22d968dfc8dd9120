"""Root URLconf: the Django admin for staff, everything else is the portal (``webui``)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("sipplatform.api.urls")),
    path("", include("webui.urls")),
]
