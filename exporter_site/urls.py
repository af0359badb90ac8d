from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns

from exports.ops.login_throttle import ThrottledLoginView, throttled_admin_login
from exports.views.rq_admin import guarded

# django-rq's pages, each guarded: the rq-scheduler page (a package we do not use) explains
# itself, and unknown queues or workers are 404s (see exports.views.rq_admin).
rq_urlpatterns = get_api_urlpatterns() + get_admin_urlpatterns(view_wrapper=guarded)

urlpatterns = [
    path("admin/rq/", include((rq_urlpatterns, "django_rq"))),
    # The admin's sign-in, with failed attempts limited like the site's (ops.login_throttle).
    path("admin/login/", throttled_admin_login(admin.site), name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/", include("exports.api.urls")),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("notifications.urls")),
    path("", include("exports.urls")),
]
