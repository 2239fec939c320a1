"""Media plane: room sources, FFmpeg supervision, WebRTC fan-out and partner outputs."""
