"""Everything that faces the phone network (Twilio): webhooks, dialogues, prompts, senders.

It depends on ``scheduling`` for every booking decision; ``scheduling`` never imports it.
"""
