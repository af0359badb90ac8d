from django.urls import path

from . import views

app_name = "exports"

urlpatterns = [
    path("", views.request_list, name="list"),
    path("exports/<int:pk>/", views.request_detail, name="detail"),
]
