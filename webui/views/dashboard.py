"""The dashboard: the chosen customer's (or every customer's) accounts, providers, dialplans."""

from typing import Any

from django.views.generic import TemplateView

from webui.dashboard import overview_for
from webui.views.base import PortalMixin


class DashboardView(PortalMixin, TemplateView):
    template_name = "webui/dashboard.html"
    section = "dashboard"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        overviews = overview_for(self.request.user)
        if self.customer is not None:
            overviews = [item for item in overviews if item.customer.pk == self.customer.pk]
        context["overviews"] = overviews
        return context
