"""Portal URLs (namespace ``webui``); settings point LOGIN_URL and the redirects here."""

from django.contrib.auth import views as auth_views
from django.urls import path

from webui.views import accounts, customers, dashboard, dialplans, monitor, providers, records
from webui.views import settings as settings_views

app_name = "webui"

urlpatterns = [
    path("", dashboard.DashboardView.as_view(), name="dashboard"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("customer/", customers.switch_customer, name="switch-customer"),
    path("accounts/", accounts.AccountListView.as_view(), name="accounts"),
    path("accounts/new/", accounts.AccountCreateView.as_view(), name="account-create"),
    path("accounts/<int:pk>/", accounts.AccountDetailView.as_view(), name="account-detail"),
    path("accounts/<int:pk>/edit/", accounts.AccountEditView.as_view(), name="account-edit"),
    path(
        "accounts/<int:pk>/contacts/",
        accounts.AccountContactsView.as_view(),
        name="account-contacts",
    ),
    path(
        "accounts/<int:pk>/disable/", accounts.AccountDisableView.as_view(), name="account-disable"
    ),
    path(
        "accounts/<int:pk>/password/",
        accounts.AccountResetPasswordView.as_view(),
        name="account-password",
    ),
    path("providers/", providers.ProviderListView.as_view(), name="providers"),
    path("providers/new/", providers.ProviderFormView.as_view(), name="provider-create"),
    path("providers/<int:pk>/", providers.ProviderFormView.as_view(), name="provider-edit"),
    path(
        "providers/<int:pk>/registration/",
        providers.ProviderRegistrationView.as_view(),
        name="provider-registration",
    ),
    path("dialplans/", dialplans.DialplanListView.as_view(), name="dialplans"),
    path("dialplans/new/", dialplans.DialplanEditorView.as_view(), name="dialplan-create"),
    path("dialplans/<int:pk>/", dialplans.DialplanEditorView.as_view(), name="dialplan-edit"),
    path(
        "dialplans/<int:pk>/delete/",
        dialplans.DialplanDeleteView.as_view(),
        name="dialplan-delete",
    ),
    path(
        "dialplans/<int:pk>/dry-run/",
        dialplans.DialplanDryRunView.as_view(),
        name="dialplan-dry-run",
    ),
    path(
        "settings/transfers/",
        settings_views.TransferDefaultsView.as_view(),
        name="transfer-settings",
    ),
    path("settings/policy/", settings_views.DestinationPolicyView.as_view(), name="policy"),
    path("records/calls/", records.CallRecordListView.as_view(), name="calls"),
    path("records/transfers/", records.TransferRecordListView.as_view(), name="transfers"),
    path(
        "records/transfers/<int:pk>/",
        records.TransferRecordDetailView.as_view(),
        name="transfer-detail",
    ),
    path("monitor/", monitor.MonitorView.as_view(), name="monitor"),
]
