"""Domain events the finance services announce, for effects that belong to someone else.

A service sends the event inside its transaction, once the change is made; receivers (a provider's
follow-up, the automatic deposit, a lead's status) subscribe to it instead of being called by the
service, so the service never needs to know they exist. A receiver that talks to a provider starts an
action run, which is enqueued only if the transaction commits.
"""

from django.dispatch import Signal

# quote (Quote, now signed), actor (User | None)
quote_signed = Signal()
# quote (Quote, now rejected), actor (User | None), reason (str)
quote_rejected = Signal()
# project (Project, now active: signed and deposit paid), actor (User | None)
project_activated = Signal()
# payments (list[Payment], just recorded with their allocations), actor (User | None)
payments_recorded = Signal()
# client (Client, its details or contacts just changed in the Hub or through Directus), actor (User | None)
client_changed = Signal()
