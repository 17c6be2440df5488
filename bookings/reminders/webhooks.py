"""The SMS provider's webhooks: delivery status callbacks and inbound texts. Both are verified with Twilio's
request signature (HMAC-SHA1 of the public URL and the posted fields, keyed with the auth token); a request
that fails it is refused with 403 and changes nothing. The public URL is rebuilt from SITE_URL, because
behind a proxy the host the app sees is not the one Twilio signed."""

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from bookings.reminders import inbound, services
from clinic.links import absolute_url


def signed_by_twilio(request) -> bool:
    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    return RequestValidator(token).validate(absolute_url(request.get_full_path()), request.POST, signature)


@csrf_exempt  # Twilio cannot send our CSRF token; its signature stands in for it
@require_POST
def sms_status(request):
    if not signed_by_twilio(request):
        return HttpResponseForbidden("Bad signature.")
    services.record_provider_status(
        reference=request.GET.get("ref", ""),
        provider_ref=request.POST.get("MessageSid", ""),
        status=request.POST.get("MessageStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def sms_inbound(request):
    if not signed_by_twilio(request):
        return HttpResponseForbidden("Bad signature.")
    if not request.POST.get("MessageSid"):
        return HttpResponseBadRequest("MessageSid is missing.")
    answer = inbound.receive(
        provider_ref=request.POST.get("MessageSid", ""),
        from_number=request.POST.get("From", ""),
        body=request.POST.get("Body", ""),
    )
    reply = MessagingResponse()
    if answer:
        reply.message(answer)
    return HttpResponse(str(reply), content_type="text/xml")
