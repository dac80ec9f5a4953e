"""The web front end: a Gradio app on the same queue, outbox, limits and models as the bots."""
