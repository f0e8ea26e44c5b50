from django.urls import path

from reports import views

app_name = "reports"
urlpatterns = [path("<id:pk>/download/", views.download, name="download")]
