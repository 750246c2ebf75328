import json, pytest, responses
from tests.integrations.test_revolut_client import *
from tests.integrations import test_revolut_client as t
from openapi_core.contrib.requests import RequestsOpenAPIResponse

def test_probe(client, http, revolut_spec):
    call_every_endpoint(client, http)
    for call in http.calls:
        try:
            revolut_spec.validate_response(RequestsOpenAPIRequest(call.request), RequestsOpenAPIResponse(call.response))
            print("OK", call.request.url)
        except Exception as e:
            print("FAIL", call.request.url, type(e).__name__, e, getattr(e, "__cause__", None), [str(x)[:200] for x in getattr(getattr(e,'__cause__',None), 'schema_errors', [])][:3])
