"""The admin page of current SIP bans, with "lift ban" for staff holding ``lift_ban``.

The list is read from the SIP workers' store on every visit (nothing is copied into the
database), so it is what the workers enforce, give or take their refresh interval.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from sipplatform.security import services
from sipplatform.security.models import Ban
from sipplatform.security.stores import is_shared

log = logging.getLogger(__name__)


@admin.register(Ban)
class BanAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_lift_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("security.lift_ban")

    def get_urls(self):  # type: ignore[no-untyped-def]
        lift = self.admin_site.admin_view(require_POST(self.lift_view))
        return [path("lift/", lift, name="security_ban_lift"), *super().get_urls()]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, object] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        error = ""
        try:
            bans = services.current_bans()
        except Exception as exc:  # the store (Redis) is down: say so instead of a 500
            log.warning("could not read the SIP bans", exc_info=True)
            bans, error = [], f"The ban store cannot be read: {exc}"
        rows = [
            {
                "subject": ban.subject.key,
                "kind": ban.subject.kind.value,
                "value": ban.subject.value,
                "reason": ban.reason.value,
                "detail": ban.detail,
                "offence": ban.offence,
                "since": datetime.fromtimestamp(ban.since, UTC),
                "until": datetime.fromtimestamp(ban.until, UTC),
            }
            for ban in bans
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Current SIP bans",
            "rows": rows,
            "error": error,
            "shared": is_shared(),
            "can_lift": self.has_lift_permission(request),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/security/ban/change_list.html", context)

    def lift_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_lift_permission(request):
            raise PermissionDenied
        subject = request.POST.get("subject", "")
        try:
            lifted = services.lift_ban(subject, by=request.user.get_username())
        except ValueError:
            messages.error(request, f"{subject[:300]!r} names no address or account.")
        except Exception as exc:
            log.warning("could not lift the SIP ban of %r", subject, exc_info=True)
            messages.error(request, f"The ban store cannot be reached: {exc}")
        else:
            if lifted is None:
                messages.warning(request, f"{subject} was not banned (any more).")
            else:
                messages.success(request, f"Lifted the ban of {subject}.")
        return HttpResponseRedirect(reverse("admin:security_ban_changelist"))
