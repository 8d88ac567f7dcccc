"""Page previews: page text, the renderer process and its worker."""
