from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("d/<str:token>", views.download, name="download"),
    path("jobs/<int:job_id>/revoke-links/", views.revoke_job_links, name="revoke-links"),
    path("notifications/messages/<int:message_id>/test/", views.test_send, name="test-send"),
    path(
        "notifications/deliveries/<int:delivery_id>/resend/",
        views.resend_delivery,
        name="resend-delivery",
    ),
]
