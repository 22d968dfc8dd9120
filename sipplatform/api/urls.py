"""``/api/v1/…`` resources, ``/api/schema/`` (OpenAPI 3) and ``/api/docs/`` (Swagger UI) and
``/api/redoc/``, whose assets are served locally by drf-spectacular-sidecar."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from sipplatform.api.views.accounts import SIPAccountViewSet
from sipplatform.api.views.bans import BanViewSet
from sipplatform.api.views.customers import CustomerSettingsView, CustomerViewSet
from sipplatform.api.views.dialplans import DestinationPolicyViewSet, DialplanViewSet
from sipplatform.api.views.domains import SIPDomainViewSet
from sipplatform.api.views.providers import ProviderViewSet
from sipplatform.api.views.records import (
    ActiveCallViewSet,
    CallDetailRecordViewSet,
    RegistrationViewSet,
    TransferAuditRecordViewSet,
)
from sipplatform.api.views.tokens import ApiTokenViewSet

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("sip-domains", SIPDomainViewSet, basename="sipdomain")
router.register("sip-accounts", SIPAccountViewSet, basename="sipaccount")
router.register("providers", ProviderViewSet, basename="provider")
router.register("dialplans", DialplanViewSet, basename="dialplan")
router.register("destination-policies", DestinationPolicyViewSet, basename="destinationpolicy")
router.register("registrations", RegistrationViewSet, basename="registration")
router.register("calls", CallDetailRecordViewSet, basename="call")
router.register("active-calls", ActiveCallViewSet, basename="activecall")
router.register("transfers", TransferAuditRecordViewSet, basename="transfer")
router.register("customers", CustomerViewSet, basename="customer")
router.register("tokens", ApiTokenViewSet, basename="apitoken")
router.register("bans", BanViewSet, basename="ban")

urlpatterns = [
    path("v1/customer/settings/", CustomerSettingsView.as_view(), name="customer-settings"),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
]
