"""The live call monitor page; the events themselves arrive over the ``ws/monitor/`` socket."""

from __future__ import annotations

from typing import Any

from django.views.generic import TemplateView

from sipplatform.monitor.filters import FilterError, parse_filter
from webui.views.base import PortalMixin


class MonitorView(PortalMixin, TemplateView):
    """The filter in ``?filter=`` is checked here too, so a bad one is explained even without
    JavaScript; the page's script sends the same text to the socket, which filters."""

    template_name = "webui/monitor.html"
    section = "monitor"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        expression = self.request.GET.get("filter", "")
        error = ""
        try:
            expression = str(parse_filter(expression))
        except FilterError as exc:
            error = str(exc)
        return super().get_context_data(filter_expression=expression, filter_error=error, **kwargs)
