from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render


def home(request: HttpRequest) -> HttpResponse:
    return redirect("web:workbench" if request.user.is_authenticated else "web:login")


class LoginPage(auth_views.LoginView):
    template_name = "web/login.html"


class LogoutPage(auth_views.LogoutView):
    pass


@login_required
def workbench(request: HttpRequest) -> HttpResponse:
    return render(request, "web/workbench.html")
