"""Report downloads: the file, to whoever may see it."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse

from reports.models import Report
from reports.selectors import can_download


@login_required(login_url="admin:login")
def download(request, pk: int):
    report = Report.objects.filter(pk=pk).first()
    if report is None or not can_download(request.user, report):
        raise Http404("No such report.")  # the same answer for "not yours" as for "not there"
    if report.state == Report.State.EXPIRED:
        return HttpResponse("This file was deleted by the retention rule; request the report again.", status=410, content_type="text/plain")
    if report.state != Report.State.DONE or not report.file:
        return HttpResponse(f"The report is {report.state}, not ready yet.", status=409, content_type="text/plain")
    return FileResponse(report.file.open("rb"), as_attachment=True, filename=report.file_name, content_type=report.content_type)
