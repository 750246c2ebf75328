"""The names of the action runs the Hub starts (`integrations.models.ActionRun.action`), per provider effect.

They live beside the models because two layers need them: the service that starts and executes a run, and
the selectors that show its runs on the pages.
"""

# Revolut (finance.services.revolut)
PAYOUT_ACTION = "revolut.payout"
# DocuSeal (finance.services.docuseal)
SIGN_ACTION = "docuseal.sign"
REMIND_ACTION = "docuseal.remind"
# Invoice Ninja (finance.services.invoice_ninja)
SEND_ACTION = "invoice_ninja.send"
PAYMENT_ACTION = "invoice_ninja.payment"
CLIENT_ACTION = "invoice_ninja.client"
# Mautic (finance.services.mautic)
REMINDER_ACTION = "mautic.reminder"
ACKNOWLEDGEMENT_ACTION = "mautic.project_started"
# OpenAI (finance.services.leads, finance.services.capture)
QUALIFY_ACTION = "lead.qualify"
READ_ACTION = "capture.read"
# The Hub itself (finance.services.automatic_deposit)
DEPOSIT_ACTION = "quote.automatic_deposit"
