"""The conversation of a seminar date: participants with their own sessions, chat, questions and
consent, held by one owner (:class:`knoten.conversation.hub.ConversationHub`) and pushed to the
pages over one WebSocket each."""
