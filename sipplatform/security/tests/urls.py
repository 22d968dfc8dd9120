"""The project's URLs with the admin's built again, after ``sipplatform.security.admin``
registered its page (the project's URLconf may have been built before that, while
settings.py does not list the app)."""

from django.contrib import admin
from django.urls import path

from sipplatform.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    path("admin/", admin.site.urls),
    *(pattern for pattern in project_urlpatterns if str(pattern.pattern) != "admin/"),
]
