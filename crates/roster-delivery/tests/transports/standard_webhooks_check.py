"""Verifies one webhook Roster sent with the Standard Webhooks reference
library (`pip install standardwebhooks`).

Reads {"secret": ..., "headers": {...}, "body": ...} as JSON on stdin; exits
0 when the library accepts the webhook, 1 with its reason otherwise.
Run by the ignored test `webhook::the_reference_python_library_verifies_what_we_send`.
"""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

case = json.load(sys.stdin)
try:
    Webhook(case["secret"]).verify(case["body"], case["headers"], json_parse=False)
except WebhookVerificationError as e:
    print(f"refused: {e}", file=sys.stderr)
    sys.exit(1)
