"""The admin's URLs built after ``sipplatform.security.admin`` registered its page (the
project's URLconf may have been built before, while settings.py does not list the app)."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
