"""Staff's customer switcher."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from webui.scope import choose_customer


@require_POST
def switch_customer(request: HttpRequest) -> HttpResponse:
    """Act for the posted customer ("" for every customer) and go back to the page."""
    if not request.user.is_authenticated:
        return redirect("webui:login")
    choose_customer(request, request.POST.get("customer", ""))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "webui:dashboard"
    return redirect(target)
