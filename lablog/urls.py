from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from lablog import views

urlpatterns = [
    path("accounts/login/", views.ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", views.signup, name="signup"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("search/", include("search.urls")),
    path("runs/", include("workers.urls")),
    path("exchange/", include("exchange.urls")),
    path("api/", include("api.urls")),
    path("", include("notes.urls")),
]
handler500 = "lablog.views.server_error"
