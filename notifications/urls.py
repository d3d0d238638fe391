from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("health/", views.health, name="health"),
]
