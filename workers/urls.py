from django.urls import path

app_name = "workers"
urlpatterns: list = []
